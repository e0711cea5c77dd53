//! Linearizability of `TreiberStack` and `MsQueue`: small concurrent
//! histories are recorded on a logical clock (threads released together by
//! a spin barrier) and checked against the sequential stack and queue. The
//! tests also require that at least 30% of the histories contain
//! overlapping operations of different threads, or they prove little.

#[path = "common/reclaimers.rs"]
#[macro_use]
mod reclaimers;
mod lin;
#[path = "common/linked.rs"]
mod linked;

use cds::reclaim::Reclaim;
use lin::{
    has_overlap, is_linearizable, require_overlap, Clock, Event, PushPop, QueueSpec, Spec,
    SpinBarrier, StackSpec,
};
use linked::{Kind, Linked};

const THREADS: usize = 2;
const OPS: usize = 6;
const HISTORIES: usize = if cfg!(miri) { 4 } else { 400 };

/// A recorded history (or one thread's part of it).
type History = Vec<Event<PushPop, Option<u32>>>;

/// Thread `t`'s operations in history `seed`, recorded on `clock`.
fn run_ops<P: Linked<u32, R>, R: Reclaim>(s: &P, clock: &Clock, t: usize, seed: u64) -> History {
    let mut bits = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(t as u32 * 8);
    (0..OPS)
        .map(|k| {
            bits = bits.rotate_left(1);
            if bits & 1 == 0 {
                let v = (t * OPS + k) as u32;
                clock.record(t, PushPop::Push(v), || {
                    s.push(v);
                    None
                })
            } else {
                clock.record(t, PushPop::Pop, || s.pop())
            }
        })
        .collect()
}

/// Records `HISTORIES` histories, each on a fresh structure, checks that
/// each is linearizable, and returns how many have overlapping operations.
/// The same `THREADS` threads record every history, meeting at a spin
/// barrier before each.
fn check_batch<
    P: Linked<u32, R>,
    R: Reclaim,
    S: Spec<Op = PushPop, Ret = Option<u32>> + Default,
>(
    what: &str,
    make: &impl Fn() -> P,
) -> usize {
    let structures: Vec<P> = (0..HISTORIES).map(|_| make()).collect();
    let clocks: Vec<Clock> = (0..HISTORIES).map(|_| Clock::default()).collect();
    let barrier = SpinBarrier::new(THREADS);
    // Per thread, per history: that thread's events.
    let per_thread: Vec<Vec<History>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (structures, clocks, barrier) = (&structures, &clocks, &barrier);
                scope.spawn(move || {
                    // Register the thread with the reclaimer (a first pin is
                    // slow) so that it does not skew the start after the
                    // barrier.
                    drop(structures[0].reclaimer().guard());
                    (0..HISTORIES)
                        .map(|h| {
                            barrier.wait(h);
                            run_ops(&structures[h], &clocks[h], t, h as u64)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut overlapping = 0;
    for h in 0..HISTORIES {
        let history: Vec<_> = per_thread
            .iter()
            .flat_map(|t| t[h].iter().cloned())
            .collect();
        assert!(
            is_linearizable(&S::default(), &history),
            "{what}: history {h} is not linearizable: {history:#?}"
        );
        overlapping += usize::from(has_overlap(&history));
    }
    overlapping
}

/// Checks batches of histories (every one must be linearizable) until
/// enough of them overlapped (see [`require_overlap`]).
fn check_many<P: Linked<u32, R>, R: Reclaim, S: Spec<Op = PushPop, Ret = Option<u32>> + Default>(
    what: &str,
    make: impl Fn() -> P,
) {
    // One test at a time in this binary: concurrently running tests would
    // take the cores the barrier-released threads need.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_overlap(what, HISTORIES, || check_batch::<P, R, S>(what, &make));
}

/// Histories of `K`'s structure, checked against the sequential `S`.
fn histories<K: Kind, R: Reclaim, S: Spec<Op = PushPop, Ret = Option<u32>> + Default>(
    what: &str,
    mk: fn() -> R,
) {
    check_many::<K::S<u32, R>, R, S>(what, || Linked::with_reclaimer(mk()));
}

fn stack_histories<R: Reclaim>(mk: fn() -> R) {
    histories::<linked::Stack, R, StackSpec>("TreiberStack", mk);
}

fn queue_histories<R: Reclaim>(mk: fn() -> R) {
    histories::<linked::Queue, R, QueueSpec>("MsQueue", mk);
}

fn faa_queue_histories<R: Reclaim>(mk: fn() -> R) {
    histories::<linked::Faa, R, QueueSpec>("FaaQueue", mk);
}

reclaimer_tests!(stack_histories, queue_histories, faa_queue_histories);

/// Builds an event by hand: `(thread, call, ret, op, result)`.
fn ev(
    thread: usize,
    call: u64,
    ret: u64,
    op: PushPop,
    result: Option<u32>,
) -> Event<PushPop, Option<u32>> {
    Event::new(thread, [call, ret], op, result)
}

#[test]
fn checker_rejects_pop_of_empty_after_completed_push() {
    // push(1) returns before pop is called, yet pop sees an empty stack.
    let h = [
        ev(0, 0, 1, PushPop::Push(1), None),
        ev(1, 2, 3, PushPop::Pop, None),
    ];
    assert!(!is_linearizable(&StackSpec::default(), &h));
    assert!(!is_linearizable(&QueueSpec::default(), &h));
}

#[test]
fn checker_rejects_broken_order() {
    // Sequential push(1), push(2), then pop returning 1: a queue, not a stack.
    let h = [
        ev(0, 0, 1, PushPop::Push(1), None),
        ev(0, 2, 3, PushPop::Push(2), None),
        ev(1, 4, 5, PushPop::Pop, Some(1)),
    ];
    assert!(!is_linearizable(&StackSpec::default(), &h));
    assert!(is_linearizable(&QueueSpec::default(), &h));
    // A value popped twice is never linearizable.
    let h = [
        ev(0, 0, 1, PushPop::Push(1), None),
        ev(1, 2, 5, PushPop::Pop, Some(1)),
        ev(2, 3, 4, PushPop::Pop, Some(1)),
    ];
    assert!(!is_linearizable(&StackSpec::default(), &h));
    assert!(!is_linearizable(&QueueSpec::default(), &h));
}

#[test]
fn checker_accepts_overlapping_reorder() {
    // pop overlaps push(1) and may take effect after it.
    let h = [
        ev(0, 0, 3, PushPop::Push(1), None),
        ev(1, 1, 2, PushPop::Pop, Some(1)),
    ];
    assert!(is_linearizable(&StackSpec::default(), &h));
    assert!(has_overlap(&h));
    // Two overlapping pushes, pops in either order are fine.
    let h = [
        ev(0, 0, 3, PushPop::Push(1), None),
        ev(1, 1, 2, PushPop::Push(2), None),
        ev(0, 4, 5, PushPop::Pop, Some(1)),
        ev(0, 6, 7, PushPop::Pop, Some(2)),
    ];
    assert!(is_linearizable(&StackSpec::default(), &h));
    assert!(is_linearizable(&QueueSpec::default(), &h));
    assert!(!has_overlap(&h[2..]));
}

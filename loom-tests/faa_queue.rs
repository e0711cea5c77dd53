//! Loom models of `FaaQueue` with tiny segments (1 or 2 cells): the
//! overtaken producer, segment installation races, the head swing and
//! retire while `tail` lags and a push protects through `tail`, and
//! message passing — under both reclaimers (`Hazard` with a reclamation
//! threshold of 1, so a segment is freed as soon as nothing protects it).

use cds::reclaim::Reclaim;
use cds::testing::faa_queue::with_segment_len;
use cds::FaaQueue;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

/// One `#[test]` per reclaimer for each generic model `f<R>(mk: fn() -> R)`.
macro_rules! models {
    ($($name:ident),* $(,)?) => {
        mod epoch {
            $( #[test] fn $name() { loom::model(|| super::$name(cds::reclaim::Epoch::new)) } )*
        }
        mod hazard {
            $( #[test] fn $name() { loom::model(|| super::$name(|| cds::reclaim::Hazard::with_threshold(1))) } )*
        }
    };
}

fn drain<T, R: Reclaim>(queue: Arc<FaaQueue<T, R>>) -> Vec<T> {
    Arc::try_unwrap(queue)
        .unwrap_or_else(|_| panic!("queue still shared"))
        .into_iter()
        .collect()
}

/// A pop races a push on an empty queue: the pop may take the push's
/// ticket first (the producer is overtaken and retries); either way the
/// value comes out exactly once.
fn overtaken_producer<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(with_segment_len(2, mk()));
    let popper = {
        let queue = queue.clone();
        thread::spawn(move || queue.pop())
    };
    queue.push(7u8);
    let got = popper.join().unwrap();
    let rest = drain(queue);
    match got {
        Some(v) => {
            assert_eq!(v, 7);
            assert!(rest.is_empty());
        }
        None => assert_eq!(rest, [7]),
    }
}

/// Two pushers on one-cell segments: every push after the first installs a
/// segment, and the installs race (the loser takes its value back and
/// retries). FIFO per producer, exactly once.
fn install_race<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(with_segment_len(1, mk()));
    let other = {
        let queue = queue.clone();
        thread::spawn(move || queue.push(10u8))
    };
    queue.push(1);
    queue.push(2);
    other.join().unwrap();
    let all = drain(queue);
    let ones: Vec<u8> = all.iter().copied().filter(|&v| v < 10).collect();
    assert_eq!(ones, [1, 2], "FIFO per producer");
    let mut sorted = all;
    sorted.sort_unstable();
    assert_eq!(sorted, [1, 2, 10]);
}

/// One-cell segments, the first one full: a pusher installs a second
/// segment (and may be preempted before swinging `tail`, which then lags
/// on the first), while a popper drains the first, moves `tail` off it and
/// swings `head` and retires it; the pusher's second push protects
/// through `tail` meanwhile. Exactly once, FIFO.
fn head_swing_with_lagging_tail<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(with_segment_len(1, mk()));
    queue.push(0u8);
    let pusher = {
        let queue = queue.clone();
        thread::spawn(move || {
            queue.push(1);
            queue.push(2);
        })
    };
    let popper = {
        let queue = queue.clone();
        thread::spawn(move || {
            let a = queue.pop();
            let b = queue.pop();
            queue.reclaimer().flush();
            (a, b)
        })
    };
    pusher.join().unwrap();
    let (a, b) = popper.join().unwrap();
    assert_eq!(a, Some(0), "the first segment's value pops first");
    let mut all: Vec<u8> = [a, b].into_iter().flatten().collect();
    all.extend(drain(queue));
    assert_eq!(all, [0, 1, 2], "FIFO, exactly once");
}

/// Message passing: a non-atomic write before `push` is visible after the
/// `pop` that returns its value (the Release CAS to FULL pairs with the
/// consumer's Acquire swap).
fn message_passing<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(with_segment_len(1, mk()));
    let data = Arc::new(UnsafeCell::new(0u32));
    let producer = {
        let (queue, data) = (queue.clone(), data.clone());
        thread::spawn(move || {
            // SAFETY: only this thread writes, before publishing.
            data.with_mut(|p| unsafe { *p = 42 });
            queue.push(1u8);
        })
    };
    if queue.pop().is_some() {
        // SAFETY: the pop synchronized-with the push, after the write.
        assert_eq!(data.with(|p| unsafe { *p }), 42);
    }
    producer.join().unwrap();
}

models!(
    overtaken_producer,
    install_race,
    head_swing_with_lagging_tail,
    message_passing,
);

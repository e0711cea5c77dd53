//! Reclamation through the seam, under `Epoch` and `Hazard` (global and
//! private domains): every retired object is reclaimed exactly once, a
//! protected object survives, passes are re-entrant, private domains free
//! what they hold, thread exit releases hazard records.
//!
//! Counts come from test-local drop counters, never from `stats()` deltas of
//! a shared collector (other tests in this binary run in parallel).
#![cfg(not(loom))] // std atomics and threads; loom models live in loom-tests/

use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use cds::reclaim::{Guard, Hazard, Reclaim, Slot};

#[path = "common/reclaimers.rs"]
#[macro_use]
mod reclaimers;

/// Per-object drop counts, shared by a test's payloads.
#[derive(Debug)]
struct Ledger {
    drops: Vec<AtomicU8>,
    total: AtomicUsize,
}

impl Ledger {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Self {
            drops: (0..n).map(|_| AtomicU8::new(0)).collect(),
            total: AtomicUsize::new(0),
        })
    }

    fn dropped(&self) -> usize {
        self.total.load(SeqCst)
    }

    /// Every object dropped exactly once.
    fn assert_each_once(&self) {
        for (i, d) in self.drops.iter().enumerate() {
            assert_eq!(
                d.load(SeqCst),
                1,
                "object {i} dropped {} times",
                d.load(SeqCst)
            );
        }
    }
}

/// A retired payload; `child` is retired into `R` when this one is dropped.
struct Node<R: Reclaim + Clone> {
    id: usize,
    magic: u64,
    ledger: Arc<Ledger>,
    child: Option<(R, *mut Node<R>)>,
}

const MAGIC: u64 = 0x5eed_f00d_dead_beef;

fn node<R: Reclaim + Clone>(id: usize, ledger: &Arc<Ledger>) -> *mut Node<R> {
    Box::into_raw(Box::new(Node {
        id,
        magic: MAGIC,
        ledger: ledger.clone(),
        child: None,
    }))
}

unsafe fn drop_node<R: Reclaim + Clone>(p: *mut ()) {
    // SAFETY: every retired pointer in this file is a `Box<Node<R>>` from
    // `node`, reclaimed once.
    let mut b = unsafe { Box::from_raw(p.cast::<Node<R>>()) };
    assert_eq!(b.magic, MAGIC, "reclaimed a corrupted node");
    b.magic = 0;
    b.ledger.drops[b.id].fetch_add(1, SeqCst);
    b.ledger.total.fetch_add(1, SeqCst);
    if let Some((r, child)) = b.child.take() {
        let g = r.guard();
        // SAFETY: `child` was never shared nor retired; `drop_node` frees it
        // on any thread.
        unsafe { g.retire(child.cast(), drop_node::<R>) };
    }
}

/// Retires `p` (unlinked, fresh) through `g`.
fn retire<R: Reclaim + Clone, G: Guard>(g: &G, p: *mut Node<R>) {
    // SAFETY: callers retire each node once, after unlinking it, through a
    // guard of the reclaimer whose guards protect it; `drop_node` is sound
    // on any thread (the payload is `Send + 'static` in effect: an
    // `Arc<Ledger>` and a reclaimer handle).
    unsafe { g.retire(p.cast(), drop_node::<R>) };
}

/// Flushes until `done()` holds; epochs may need several rounds.
fn flush_until<R: Reclaim>(r: &R, done: impl Fn() -> bool) -> bool {
    for _ in 0..10_000 {
        if done() {
            return true;
        }
        r.flush();
        std::thread::yield_now();
    }
    done()
}

const SMALL: usize = if cfg!(miri) { 30 } else { 2_000 };

fn single_thread<R: Reclaim + Clone>(r: R) {
    let ledger = Ledger::new(SMALL);
    for i in 0..SMALL {
        let g = r.guard();
        retire(&g, node::<R>(i, &ledger));
    }
    assert!(flush_until(&r, || ledger.dropped() == SMALL));
    ledger.assert_each_once();
    r.flush();
    assert_eq!(ledger.dropped(), SMALL, "nothing reclaimed twice");
}

fn multi_thread<R: Reclaim + Clone>(r: R) {
    let threads = 4;
    let ledger = Ledger::new(SMALL * threads);
    let src = AtomicPtr::new(node::<R>(0, &ledger));
    std::thread::scope(|s| {
        for t in 0..threads {
            let (r, ledger, src) = (&r, &ledger, &src);
            s.spawn(move || {
                for i in 0..SMALL {
                    let id = t * SMALL + i;
                    if id == 0 {
                        continue;
                    }
                    let mut g = r.guard();
                    let ([mut slot, ..], g) = g.split();
                    // SAFETY: (1) a node leaves `src` before retirement.
                    let p = unsafe { slot.protect(src) }.unwrap();
                    assert_eq!(p.magic, MAGIC);
                    let old = src.swap(node::<R>(id, ledger), SeqCst);
                    retire(g, old);
                }
            });
        }
    });
    let last = src.swap(std::ptr::null_mut(), SeqCst);
    retire(&r.guard(), last);
    assert!(flush_until(&r, || ledger.dropped() == SMALL * threads));
    ledger.assert_each_once();
}

fn protected_survives<R: Reclaim + Clone>(r: R) {
    let ledger = Ledger::new(1);
    let n = node::<R>(0, &ledger);
    let src = AtomicPtr::new(n);
    let mut reader = r.guard();
    let [mut slot, ..] = reader.slots();
    // SAFETY: (1) `n` leaves `src` before it is retired.
    let p = unsafe { slot.protect(&src) }.unwrap();
    src.store(std::ptr::null_mut(), SeqCst);
    // Retire from another thread: under epochs, our own pin must stall it.
    let addr = n as usize; // raw pointers are not `Send`
    std::thread::scope(|s| {
        s.spawn(|| retire(&r.guard(), addr as *mut Node<R>));
    });
    for _ in 0..20 {
        r.flush();
    }
    assert_eq!(ledger.dropped(), 0, "reclaimed while protected");
    assert_eq!(p.magic, MAGIC, "still protected by `reader`");
    drop(slot);
    drop(reader);
    assert!(flush_until(&r, || ledger.dropped() == 1));
    ledger.assert_each_once();
}

fn reentrant<R: Reclaim + Clone>(r: R) {
    let ledger = Ledger::new(3);
    let grandchild = node::<R>(2, &ledger);
    let child = Box::into_raw(Box::new(Node {
        id: 1,
        magic: MAGIC,
        ledger: ledger.clone(),
        child: Some((r.clone(), grandchild)),
    }));
    let parent = Box::into_raw(Box::new(Node {
        id: 0,
        magic: MAGIC,
        ledger: ledger.clone(),
        child: Some((r.clone(), child)),
    }));
    retire(&r.guard(), parent);
    assert!(flush_until(&r, || ledger.dropped() == 3));
    ledger.assert_each_once();
}

reclaimer_value_tests! {
    every_retired_object_reclaimed_once_single_thread => single_thread;
    every_retired_object_reclaimed_once_multi_thread => multi_thread;
    protected_object_survives_until_released => protected_survives;
    reentrant_pass_drop_fn_retires_again => reentrant;
}

#[test]
fn hazard_flush_is_enough_once() {
    // Unlike epochs, one flush reclaims everything unprotected.
    let r = Hazard::with_threshold(1 << 20);
    let ledger = Ledger::new(SMALL);
    let g = r.guard();
    for i in 0..SMALL {
        retire::<Hazard, _>(&g, node(i, &ledger));
    }
    assert_eq!(ledger.dropped(), 0);
    r.flush();
    assert_eq!(ledger.dropped(), SMALL);
    ledger.assert_each_once();
}

/// folly's `destruction` test: a chain of objects, each one's drop
/// retiring the next into the same domain. One `flush` must reclaim the
/// whole chain (it repeats passes until one reclaims nothing), not one link.
fn flush_reclaims_a_chain_of_retires_from_drop_functions(r: Hazard) {
    const CHAIN: usize = if cfg!(miri) { 20 } else { 2_000 };
    let ledger = Ledger::new(CHAIN);
    let mut next: Option<*mut Node<Hazard>> = None;
    for id in (0..CHAIN).rev() {
        next = Some(Box::into_raw(Box::new(Node {
            id,
            magic: MAGIC,
            ledger: ledger.clone(),
            child: next.map(|c| (r.clone(), c)),
        })));
    }
    let head = next.expect("CHAIN > 0");
    retire::<Hazard, _>(&r.guard(), head);
    r.flush();
    assert_eq!(
        ledger.dropped(),
        CHAIN,
        "one flush reclaims every link of the chain"
    );
    ledger.assert_each_once();
}

#[test]
fn hazard_one_flush_reclaims_a_chain_private_domain() {
    // A threshold no chain reaches: only the flush runs passes.
    flush_reclaims_a_chain_of_retires_from_drop_functions(Hazard::with_threshold(1 << 20));
}

#[test]
fn hazard_one_flush_reclaims_a_chain_global_domain() {
    flush_reclaims_a_chain_of_retires_from_drop_functions(Hazard::global());
}

#[test]
fn private_domain_drop_reclaims_everything_pending() {
    let ledger = Ledger::new(SMALL);
    let r = Hazard::with_threshold(1 << 20);
    std::thread::scope(|s| {
        for t in 0..2 {
            let (r, ledger) = (&r, &ledger);
            s.spawn(move || {
                let g = r.guard();
                for i in (t..SMALL).step_by(2) {
                    retire::<Hazard, _>(&g, node(i, ledger));
                }
            });
        }
    });
    assert_eq!(ledger.dropped(), 0);
    assert_eq!(r.stats().pending, SMALL as u64);
    drop(r);
    assert_eq!(ledger.dropped(), SMALL);
    ledger.assert_each_once();
}

#[test]
fn thread_exit_releases_hazard_records() {
    let global = Hazard::global();
    let before = global.record_count();
    let waves = if cfg!(miri) { 3 } else { 50 };
    for _ in 0..waves {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let mut g = global.guard();
                    let mut x = 0u64;
                    assert!(g.slots()[0].publish((&mut x as *mut u64).cast(), || true));
                });
            }
        });
    }
    // 200 threads ran; without release at exit there would be ≥ 200 new
    // records. Parallel tests in this binary hold at most a few dozen.
    let grown = global.record_count() - before;
    assert!(
        grown <= 40,
        "{grown} records created for {} short threads",
        waves * 4
    );

    // The same for a private domain (records released on guard drop).
    let private = Hazard::private();
    for _ in 0..waves {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| drop(private.guard()));
            }
        });
    }
    assert!(private.record_count() <= 4);
}

#[test]
fn guards_in_thread_local_destructors_do_not_panic() {
    struct UsesHazardAtExit(Arc<AtomicUsize>);
    impl Drop for UsesHazardAtExit {
        fn drop(&mut self) {
            // Runs while this thread's thread-locals are being destroyed,
            // before or after the hazard record cache's own destructor.
            let h = Hazard::global();
            let mut outer = h.guard();
            let mut inner = h.guard();
            let mut x = 1u64;
            assert!(outer.slots()[0].publish((&mut x as *mut u64).cast(), || true));
            assert!(inner.slots()[1].publish((&mut x as *mut u64).cast(), || true));
            self.0.fetch_add(1, SeqCst);
        }
    }
    thread_local! {
        static AT_EXIT: std::cell::RefCell<Option<UsesHazardAtExit>> =
            const { std::cell::RefCell::new(None) };
    }
    let ran = Arc::new(AtomicUsize::new(0));
    let before = Hazard::global().record_count();
    for _ in 0..if cfg!(miri) { 2 } else { 20 } {
        let ran = ran.clone();
        std::thread::spawn(move || {
            drop(Hazard::global().guard()); // caches a record first
            AT_EXIT.with(|slot| *slot.borrow_mut() = Some(UsesHazardAtExit(ran)));
        })
        .join()
        .expect("no panic at thread exit");
    }
    assert_eq!(ran.load(SeqCst), if cfg!(miri) { 2 } else { 20 });
    // Records used at exit were released, not leaked per thread.
    assert!(Hazard::global().record_count() - before <= 40);
}

#[test]
fn hazard_handles_are_send_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + Default + std::fmt::Debug>() {}
    assert_send_sync::<Hazard>();
    let h = Hazard::private();
    let h2 = h.clone();
    std::thread::spawn(move || drop(h2.guard())).join().unwrap();
    assert_eq!(h.record_count(), 1);
}

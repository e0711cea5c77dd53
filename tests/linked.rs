//! Integration and stress tests of `TreiberStack` (`stack::…`), `MsQueue`
//! (`queue::…`) and `FaaQueue` (`faa_queue::…`), under every reclaimer: each test is written
//! once, generic over the structure (see `common/linked.rs`), and checks
//! the structure's own order where it has one.

#[path = "common/reclaimers.rs"]
#[macro_use]
mod reclaimers;
#[path = "common/linked.rs"]
mod linked;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cds::reclaim::Reclaim;
use linked::{Kind, Linked, LinkedHandle};

/// A value whose drops are counted: producer `p`'s `i`-th value.
#[derive(Debug)]
struct Counted {
    p: usize,
    i: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

/// `FromIterator`, `Extend` on the structure and on `&` it, then
/// `IntoIterator`: every value, in the structure's pop order.
fn from_iter_extend_into_iter<K: Kind, R: Reclaim + Default>(_mk: fn() -> R) {
    let mut s: K::S<u32, R> = Linked::collect_from(0..5);
    s.extend(5..8);
    s.extend_shared([8]);
    assert_eq!(s.into_iter().collect::<Vec<_>>(), K::pop_order(0..9));
}

/// Pops retire their nodes (or, for `FaaQueue`, drained segments) to the
/// structure's reclaimer.
fn retires_popped_nodes<K: Kind, R: Reclaim>(mk: fn() -> R) {
    let s: K::S<i32, R> = Linked::with_reclaimer(mk());
    let before = s.reclaimer().stats().retired;
    for i in 0..100 {
        s.push(i);
    }
    for _ in 0..100 {
        s.pop().unwrap();
    }
    // Other tests retire concurrently into the same global domain: at
    // least. Segments: every one drained before the last is retired.
    let want = if K::PER_RETIRE == 1 {
        100
    } else {
        100 / K::PER_RETIRE as u64 - 1
    };
    assert!(s.reclaimer().stats().retired - before >= want);
}

/// `producers` threads push `per` counted values each (through a handle)
/// while `consumers` threads pop (half through a fresh handle per pop):
/// every value is popped exactly once and dropped once, and for the queue
/// each consumer sees each producer's values in push order.
fn stress<K: Kind, R: Reclaim>(mk: fn() -> R, producers: usize, consumers: usize, per: usize) {
    let drops = Arc::new(AtomicUsize::new(0));
    let s: K::S<Counted, R> = Linked::with_reclaimer(mk());
    let seen: Vec<AtomicBool> = (0..producers * per)
        .map(|_| AtomicBool::new(false))
        .collect();
    let done = AtomicUsize::new(0);
    let popped = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for p in 0..producers {
            let (s, drops, done) = (&s, &drops, &done);
            scope.spawn(move || {
                let mut h = s.handle();
                for i in 0..per {
                    h.push(Counted {
                        p,
                        i,
                        drops: drops.clone(),
                    });
                }
                done.fetch_add(1, SeqCst);
            });
        }
        for c in 0..consumers {
            let (s, done, seen, popped) = (&s, &done, &seen, &popped);
            scope.spawn(move || {
                let mut last = vec![None::<usize>; producers];
                loop {
                    let finished = done.load(SeqCst) == producers;
                    // Alternate the plain and the handle path.
                    let v = if c % 2 == 0 {
                        s.pop()
                    } else {
                        s.handle().pop()
                    };
                    match v {
                        Some(v) => {
                            if !K::LIFO {
                                assert!(
                                    last[v.p].map_or(true, |l| l < v.i),
                                    "FIFO per producer broken"
                                );
                                last[v.p] = Some(v.i);
                            }
                            let id = v.p * per + v.i;
                            assert!(!seen[id].swap(true, SeqCst), "value {id} popped twice");
                            popped.fetch_add(1, SeqCst);
                        }
                        None if finished => break,
                        None => std::thread::yield_now(),
                    }
                }
            });
        }
    });
    assert!(s.is_empty());
    assert_eq!(popped.load(SeqCst), producers * per);
    assert!(seen.iter().all(|b| b.load(SeqCst)));
    assert_eq!(drops.load(SeqCst), producers * per);
    drop(s);
    assert_eq!(drops.load(SeqCst), producers * per);
}

/// Two producers, two consumers (see [`stress`]).
fn stress_mpmc<K: Kind, R: Reclaim>(mk: fn() -> R) {
    stress::<K, R>(mk, 2, 2, if cfg!(miri) { 50 } else { 20_000 });
}

/// Each thread pushes and pops in pairs; what is left is dropped by `Drop`.
fn stress_pairs_then_drop<K: Kind, R: Reclaim>(mk: fn() -> R) {
    let drops = Arc::new(AtomicUsize::new(0));
    let s: K::S<Counted, R> = Linked::with_reclaimer(mk());
    let per = if cfg!(miri) { 50 } else { 20_000 };
    let popped = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for p in 0..4 {
            let (s, drops, popped) = (&s, &drops, &popped);
            scope.spawn(move || {
                for i in 0..per {
                    s.push(Counted {
                        p,
                        i,
                        drops: drops.clone(),
                    });
                    if i % 3 != 0 && s.pop().is_some() {
                        popped.fetch_add(1, SeqCst);
                    }
                }
            });
        }
    });
    let left = 4 * per - popped.load(SeqCst);
    assert_eq!(drops.load(SeqCst), popped.load(SeqCst));
    drop(s);
    assert_eq!(drops.load(SeqCst), popped.load(SeqCst) + left);
}

/// The long variant: `CDS_STRESS_SECS` seconds (default 10) of rounds.
fn long_stress<K: Kind, R: Reclaim>(mk: fn() -> R) {
    let secs = std::env::var("CDS_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        stress::<K, R>(mk, 3, 3, 50_000);
    }
}

/// The tests above for `$Kind` (the structure `$S`), one `#[test]` per
/// reclaimer, plus the long stress and the rayon traits.
macro_rules! linked_tests {
    ($Kind:ident, $S:ident: $($name:ident),* $(,)?) => {
        use cds::reclaim::Reclaim;

        $(
            fn $name<R: Reclaim + Default>(mk: fn() -> R) {
                super::$name::<crate::linked::$Kind, R>(mk)
            }
        )*

        reclaimer_tests!($($name),*);

        mod long {
            #[test]
            #[ignore = "long stress; CI runs it with --ignored"]
            fn long_stress() {
                for_each_reclaimer!(|mk| super::super::long_stress::<crate::linked::$Kind, _>(mk));
            }
        }

        #[cfg(feature = "rayon")]
        mod par {
            use rayon::prelude::*;

            /// `FromParallelIterator`, then `ParallelExtend` on `&` the
            /// structure and on it: every value exactly once.
            #[test]
            fn par_extend_and_collect() {
                let s: cds::$S<u64> = (0..10_000u64).into_par_iter().collect();
                (&s).par_extend(10_000..20_000u64);
                let mut s = s;
                s.par_extend(20_000..30_000u64);
                let mut all: Vec<u64> = s.into_iter().collect();
                all.sort_unstable();
                assert!(all.iter().copied().eq(0..30_000));
            }
        }
    };
}

mod stack {
    linked_tests!(
        Stack,
        TreiberStack: from_iter_extend_into_iter,
        retires_popped_nodes,
        stress_mpmc,
        stress_pairs_then_drop
    );
}

mod queue {
    linked_tests!(
        Queue,
        MsQueue: from_iter_extend_into_iter,
        retires_popped_nodes,
        stress_mpmc,
        stress_pairs_then_drop
    );
}

mod faa_queue {
    linked_tests!(
        Faa,
        FaaQueue: from_iter_extend_into_iter,
        retires_popped_nodes,
        stress_mpmc,
        stress_pairs_then_drop
    );
}

//! Integration and stress tests of `MsQueue`, under every reclaimer.

#[path = "common/reclaimers.rs"]
#[macro_use]
mod reclaimers;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cds::reclaim::Reclaim;
use cds::MsQueue;

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

fn from_iter_extend_into_iter<R: Reclaim + Default>(_mk: fn() -> R) {
    let mut q: MsQueue<u32, R> = (0..5).collect();
    q.extend(5..8);
    (&q).extend([8]);
    assert_eq!(q.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
}

fn retires_popped_nodes<R: Reclaim>(mk: fn() -> R) {
    let q = MsQueue::with_reclaimer(mk());
    let before = q.reclaimer().stats().retired;
    for i in 0..100 {
        q.push(i);
    }
    for _ in 0..100 {
        q.pop().unwrap();
    }
    assert!(q.reclaimer().stats().retired - before >= 100);
}

/// `producers` threads push `per` counted values each while `consumers`
/// threads pop: every value is popped exactly once, each consumer sees each
/// producer's values in push order, and drops balance.
fn stress<R: Reclaim>(mk: fn() -> R, producers: usize, consumers: usize, per: usize) {
    let drops = Arc::new(AtomicUsize::new(0));
    let queue = MsQueue::with_reclaimer(mk());
    let seen: Vec<AtomicBool> = (0..producers * per).map(|_| AtomicBool::new(false)).collect();
    let done = AtomicUsize::new(0);
    let popped = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for p in 0..producers {
            let (queue, drops, done) = (&queue, &drops, &done);
            s.spawn(move || {
                let mut h = queue.handle();
                for i in 0..per {
                    h.push(Counted { p, i, drops: drops.clone() });
                }
                done.fetch_add(1, SeqCst);
            });
        }
        for c in 0..consumers {
            let (queue, done, seen, popped) = (&queue, &done, &seen, &popped);
            s.spawn(move || {
                let mut last = vec![None::<usize>; producers];
                loop {
                    let finished = done.load(SeqCst) == producers;
                    let v = if c % 2 == 0 { queue.pop() } else { queue.handle().pop() };
                    match v {
                        Some(v) => {
                            assert!(last[v.p].map_or(true, |l| l < v.i), "FIFO per producer broken");
                            last[v.p] = Some(v.i);
                            assert!(!seen[v.p * per + v.i].swap(true, SeqCst), "popped twice");
                            popped.fetch_add(1, SeqCst);
                        }
                        None if finished => break,
                        None => std::thread::yield_now(),
                    }
                }
            });
        }
    });
    assert!(queue.is_empty());
    assert_eq!(popped.load(SeqCst), producers * per);
    assert!(seen.iter().all(|b| b.load(SeqCst)));
    assert_eq!(drops.load(SeqCst), producers * per);
    drop(queue);
    assert_eq!(drops.load(SeqCst), producers * per);
}

fn stress_mpmc<R: Reclaim>(mk: fn() -> R) {
    stress(mk, 2, 2, if cfg!(miri) { 50 } else { 20_000 });
}

/// Each thread pushes and pops in pairs; what is left is dropped by `Drop`.
fn stress_pairs_then_drop<R: Reclaim>(mk: fn() -> R) {
    let drops = Arc::new(AtomicUsize::new(0));
    let queue = MsQueue::with_reclaimer(mk());
    let per = if cfg!(miri) { 50 } else { 20_000 };
    let popped = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for p in 0..4 {
            let (queue, drops, popped) = (&queue, &drops, &popped);
            s.spawn(move || {
                for i in 0..per {
                    queue.push(Counted { p, i, drops: drops.clone() });
                    if i % 3 != 0 && queue.pop().is_some() {
                        popped.fetch_add(1, SeqCst);
                    }
                }
            });
        }
    });
    let left = 4 * per - popped.load(SeqCst);
    assert_eq!(drops.load(SeqCst), popped.load(SeqCst));
    drop(queue);
    assert_eq!(drops.load(SeqCst), popped.load(SeqCst) + left);
}

/// The long variant: `CDS_STRESS_SECS` seconds (default 10) of rounds.
fn long_stress<R: Reclaim>(mk: fn() -> R) {
    let secs = std::env::var("CDS_STRESS_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        stress(mk, 3, 3, 50_000);
    }
}

reclaimer_tests!(from_iter_extend_into_iter, retires_popped_nodes, stress_mpmc, stress_pairs_then_drop);

mod long {
    #[test]
    #[ignore = "long stress; CI runs it with --ignored"]
    fn long_stress() {
        for_each_reclaimer!(|mk| super::long_stress(mk));
    }
}

#[cfg(feature = "rayon")]
mod par {
    use rayon::prelude::*;

    #[test]
    fn par_extend_and_collect() {
        let q: cds::MsQueue<u64> = (0..10_000u64).into_par_iter().collect();
        (&q).par_extend(10_000..20_000u64);
        let mut q = q;
        q.par_extend(20_000..30_000u64);
        let mut all: Vec<u64> = q.into_iter().collect();
        all.sort_unstable();
        assert!(all.iter().copied().eq(0..30_000));
    }
}

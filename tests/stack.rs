//! Integration and stress tests of `TreiberStack`, under every reclaimer.

#[path = "common/reclaimers.rs"]
#[macro_use]
mod reclaimers;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cds::reclaim::Reclaim;
use cds::TreiberStack;

/// A value whose drops are counted.
#[derive(Debug)]
struct Counted {
    id: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

fn from_iter_extend_into_iter<R: Reclaim + Default>(_mk: fn() -> R) {
    let mut s: TreiberStack<u32, R> = (0..5).collect();
    s.extend(5..8);
    (&s).extend([8]);
    assert_eq!(s.into_iter().collect::<Vec<_>>(), [8, 7, 6, 5, 4, 3, 2, 1, 0]);
}

fn retires_popped_nodes<R: Reclaim>(mk: fn() -> R) {
    let s = TreiberStack::with_reclaimer(mk());
    let before = s.reclaimer().stats().retired;
    for i in 0..100 {
        s.push(i);
    }
    for _ in 0..100 {
        s.pop().unwrap();
    }
    // Other tests retire concurrently into the same global domain: at least.
    assert!(s.reclaimer().stats().retired - before >= 100);
}

/// `producers` threads push `per` counted values each while `consumers`
/// threads pop; every value is popped exactly once and dropped once.
fn stress<R: Reclaim>(mk: fn() -> R, producers: usize, consumers: usize, per: usize) {
    let drops = Arc::new(AtomicUsize::new(0));
    let stack = TreiberStack::with_reclaimer(mk());
    let seen: Vec<AtomicBool> = (0..producers * per).map(|_| AtomicBool::new(false)).collect();
    let done = AtomicUsize::new(0);
    let popped = AtomicUsize::new(0);
    let check = |c: Counted| {
        assert!(!seen[c.id].swap(true, SeqCst), "value {} popped twice", c.id);
        popped.fetch_add(1, SeqCst);
    };
    std::thread::scope(|s| {
        for p in 0..producers {
            let (stack, drops, done) = (&stack, &drops, &done);
            s.spawn(move || {
                let mut h = stack.handle();
                for i in 0..per {
                    h.push(Counted { id: p * per + i, drops: drops.clone() });
                }
                done.fetch_add(1, SeqCst);
            });
        }
        for c in 0..consumers {
            let (stack, done, check) = (&stack, &done, &check);
            s.spawn(move || loop {
                let finished = done.load(SeqCst) == producers;
                // Alternate the plain and the handle path.
                let v = if c % 2 == 0 { stack.pop() } else { stack.handle().pop() };
                match v {
                    Some(v) => check(v),
                    None if finished => break,
                    None => std::thread::yield_now(),
                }
            });
        }
    });
    assert!(stack.is_empty());
    assert_eq!(popped.load(SeqCst), producers * per);
    assert!(seen.iter().all(|b| b.load(SeqCst)));
    assert_eq!(drops.load(SeqCst), producers * per);
    drop(stack);
    assert_eq!(drops.load(SeqCst), producers * per);
}

fn stress_mpmc<R: Reclaim>(mk: fn() -> R) {
    stress(mk, 2, 2, if cfg!(miri) { 50 } else { 20_000 });
}

/// Each thread pushes and pops in pairs; what is left is dropped by `Drop`.
fn stress_pairs_then_drop<R: Reclaim>(mk: fn() -> R) {
    let drops = Arc::new(AtomicUsize::new(0));
    let stack = TreiberStack::with_reclaimer(mk());
    let per = if cfg!(miri) { 50 } else { 20_000 };
    let popped = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (stack, drops, popped) = (&stack, &drops, &popped);
            s.spawn(move || {
                for i in 0..per {
                    stack.push(Counted { id: t * per + i, drops: drops.clone() });
                    if i % 3 != 0 && stack.pop().is_some() {
                        popped.fetch_add(1, SeqCst);
                    }
                }
            });
        }
    });
    let left = 4 * per - popped.load(SeqCst);
    assert_eq!(drops.load(SeqCst), popped.load(SeqCst));
    drop(stack);
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
        let s: cds::TreiberStack<u64> = (0..10_000u64).into_par_iter().collect();
        (&s).par_extend(10_000..20_000u64);
        let mut s = s;
        s.par_extend(20_000..30_000u64);
        let mut all: Vec<u64> = s.into_iter().collect();
        all.sort_unstable();
        assert!(all.iter().copied().eq(0..30_000));
    }
}

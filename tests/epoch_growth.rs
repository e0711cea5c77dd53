//! The scenario of `bound_hazard.rs` under `Epoch`: one thread stays pinned
//! while others retire a million nodes. Epoch-based reclamation cannot free
//! anything retired after the pin, so pending grows with every retire; this
//! test prints the growth (and checks that growth is seen, which the
//! algorithm guarantees), then unpins and checks everything is reclaimed.
//!
//! Its own binary: a pin held this long stalls the process-wide collector
//! for every test beside it.
#![cfg(not(loom))] // std atomics and threads; loom models live in loom-tests/

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use cds::reclaim::{Epoch, Guard, Reclaim, Slot};

struct Node {
    drops: Arc<AtomicUsize>,
}

unsafe fn drop_node(p: *mut ()) {
    // SAFETY: every retired pointer here is a `Box<Node>`, reclaimed once.
    let b = unsafe { Box::from_raw(p.cast::<Node>()) };
    b.drops.fetch_add(1, SeqCst);
}

#[test]
fn pending_grows_while_a_thread_stays_pinned() {
    const RETIRERS: usize = 3;
    let total: usize = if cfg!(miri) { 600 } else { 1_000_000 };
    let per_thread = total / RETIRERS;
    let epoch = Epoch::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let retired = AtomicUsize::new(0);
    let src = AtomicPtr::new(Box::into_raw(Box::new(Node {
        drops: drops.clone(),
    })));
    let pinned = AtomicBool::new(false);
    let release = AtomicBool::new(false);

    std::thread::scope(|s| {
        s.spawn(|| {
            let mut g = epoch.guard();
            let [mut slot, ..] = g.slots();
            // SAFETY: (1) a node leaves `src` before it is retired.
            let _p = unsafe { slot.protect(&src) };
            pinned.store(true, SeqCst);
            while !release.load(SeqCst) {
                std::thread::yield_now();
            }
        });
        while !pinned.load(SeqCst) {
            std::thread::yield_now();
        }
        let before = retired.load(SeqCst) - drops.load(SeqCst);
        let retirers: Vec<_> = (0..RETIRERS)
            .map(|t| {
                let (epoch, drops, retired, src) = (&epoch, &drops, &retired, &src);
                s.spawn(move || {
                    for i in 0..per_thread {
                        let g = epoch.guard();
                        let fresh = Box::into_raw(Box::new(Node {
                            drops: drops.clone(),
                        }));
                        let old = src.swap(fresh, SeqCst);
                        // SAFETY: unlinked, retired once, freed on any thread.
                        unsafe { g.retire(old.cast(), drop_node) };
                        let n = retired.fetch_add(1, SeqCst) + 1;
                        if t == 0 && i % (per_thread / 5).max(1) == 0 {
                            let pending = n - drops.load(SeqCst).min(n);
                            println!("epoch: retired {n:>8}, pending {pending:>8}");
                        }
                    }
                })
            })
            .collect();
        for r in retirers {
            r.join().unwrap();
        }
        let n = retired.load(SeqCst);
        let pending = n - drops.load(SeqCst);
        println!("epoch: retired {n:>8}, pending {pending:>8} (pin still held)");
        // Nothing retired after the pin can be freed while it is held: all
        // but the few already in flight when the pin was taken stay pending.
        assert!(
            pending >= n - before - 2 * RETIRERS,
            "expected unbounded growth under a held pin: {pending} of {n} pending"
        );
        release.store(true, SeqCst);
    });

    let last = src.swap(std::ptr::null_mut(), SeqCst);
    // SAFETY: as above.
    unsafe { epoch.guard().retire(last.cast(), drop_node) };
    let n = retired.load(SeqCst) + 1;
    for _ in 0..10_000 {
        if drops.load(SeqCst) == n {
            break;
        }
        epoch.flush();
        std::thread::yield_now();
    }
    println!("epoch: after unpinning, pending {}", n - drops.load(SeqCst));
    assert_eq!(drops.load(SeqCst), n);
}

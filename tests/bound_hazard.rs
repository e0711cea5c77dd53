//! Garbage stays bounded under `Hazard` while one thread protects a node
//! forever: the domain's pending count never exceeds the bound stated in
//! the `cds::reclaim::hazard` docs,
//! `N·(R − 1) + C·(C + 1)·(H·S + 1)` with `R = max(T, k·H·S)`,
//! evaluated with this test's parameters, and the protected node is intact
//! at the end.
//!
//! Its own binary: a private domain, but a million retires deserve their
//! own process.
#![cfg(not(loom))] // std atomics and threads; loom models live in loom-tests/

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use cds::reclaim::{Guard, Hazard, Reclaim, MAX_SLOTS};

const PAYLOAD: u64 = 0xC0FF_EE00_1234_5678;

struct Node {
    payload: u64,
    drops: Arc<AtomicUsize>,
}

unsafe fn drop_node(p: *mut ()) {
    // SAFETY: every retired pointer here is a `Box<Node>`, reclaimed once.
    let mut b = unsafe { Box::from_raw(p.cast::<Node>()) };
    b.payload = 0; // a use after free would read 0 (or trip ASan/miri)
    b.drops.fetch_add(1, SeqCst);
}

fn new_node(drops: &Arc<AtomicUsize>) -> *mut Node {
    Box::into_raw(Box::new(Node {
        payload: PAYLOAD,
        drops: drops.clone(),
    }))
}

/// The documented bound for `threads` concurrent retirers.
fn bound(domain: &Hazard, threads: usize) -> u64 {
    let (n, t, h, s, k) = (
        Hazard::SHARDS as u64,
        domain.threshold() as u64,
        domain.record_count() as u64,
        MAX_SLOTS as u64,
        Hazard::SCAN_MULTIPLIER as u64,
    );
    let c = threads as u64;
    let r = t.max(k * h * s);
    n * (r - 1) + c * (c + 1) * (h * s + 1)
}

#[test]
fn pending_stays_bounded_with_a_node_protected_forever() {
    const THRESHOLD: usize = 8;
    const RETIRERS: usize = 3;
    let total: usize = if cfg!(miri) { 600 } else { 1_000_000 };
    let per_thread = total / RETIRERS;

    let domain = Hazard::with_threshold(THRESHOLD);
    let drops = Arc::new(AtomicUsize::new(0));
    let src = AtomicPtr::new(new_node(&drops));
    let protected = AtomicPtr::new(std::ptr::null_mut::<Node>());
    let done = AtomicBool::new(false);
    let max_seen = AtomicU64::new(0);
    let retired = AtomicUsize::new(0);

    std::thread::scope(|s| {
        // The protector: protects the first node and never lets go.
        let protector = s.spawn(|| {
            let mut g = domain.guard();
            let p = g.protect(0, &src);
            protected.store(p, SeqCst);
            while !done.load(SeqCst) {
                // SAFETY: protected by `g` for the whole loop.
                assert_eq!(unsafe { (*p).payload }, PAYLOAD);
                std::thread::yield_now();
            }
            // SAFETY: still protected.
            unsafe { (*p).payload }
        });
        while protected.load(SeqCst).is_null() {
            std::thread::yield_now();
        }
        // The monitor: samples pending continuously.
        let monitor = s.spawn(|| {
            while !done.load(SeqCst) {
                let pending = domain.stats().pending;
                max_seen.fetch_max(pending, SeqCst);
                let limit = bound(&domain, RETIRERS);
                assert!(pending <= limit, "pending {pending} > bound {limit}");
                std::thread::yield_now();
            }
        });
        let retirers: Vec<_> = (0..RETIRERS)
            .map(|_| {
                s.spawn(|| {
                    for i in 0..per_thread {
                        let g = domain.guard();
                        let old = src.swap(new_node(&drops), SeqCst);
                        // SAFETY: `old` left `src` (unlinked), is retired
                        // once, only this domain protects it, and
                        // `drop_node` frees it on any thread.
                        unsafe { g.retire(old.cast(), drop_node) };
                        retired.fetch_add(1, SeqCst);
                        if i % 64 == 0 {
                            let pending = domain.stats().pending;
                            max_seen.fetch_max(pending, SeqCst);
                            let limit = bound(&domain, RETIRERS);
                            assert!(pending <= limit, "pending {pending} > bound {limit}");
                        }
                    }
                })
            })
            .collect();
        for r in retirers {
            r.join().unwrap();
        }
        // The protected node was retired by the first swap and is still
        // pending: exactly one node is missing from the drop count.
        domain.flush();
        assert_eq!(drops.load(SeqCst), retired.load(SeqCst) - 1);
        done.store(true, SeqCst);
        monitor.join().unwrap();
        assert_eq!(
            protector.join().unwrap(),
            PAYLOAD,
            "the protected node is intact"
        );
    });

    let retired = retired.load(SeqCst);
    assert_eq!(retired, per_thread * RETIRERS);
    let limit = bound(&domain, RETIRERS);
    let max = max_seen.load(SeqCst);
    println!(
        "retired {retired}, max pending seen {max}, bound {limit} \
         (H = {}, T = {THRESHOLD}, N = {}, C = {RETIRERS})",
        domain.record_count(),
        Hazard::SHARDS
    );
    assert!(max <= limit);
    // Nothing left protected: a flush reclaims all but the node in `src`.
    domain.flush();
    assert_eq!(drops.load(SeqCst), retired);
    let last = src.swap(std::ptr::null_mut(), SeqCst);
    // SAFETY: as above.
    unsafe { domain.guard().retire(last.cast(), drop_node) };
    drop(domain);
    assert_eq!(drops.load(SeqCst), retired + 1);
}

//! `FaaQueue` allocates at most one segment per `len` pushes, and a
//! push+pop loop on one thread reuses its segments (the thread's block
//! cache), seen through a counting global allocator. Only allocations of
//! segment size are counted (hazard retire records and the test's own
//! allocations are small).
//!
//! The cache is off under miri, loom, cargo-fuzz and `--cfg cds_no_recycle`,
//! so the reuse half is compiled only where it is on.
#![cfg(not(any(miri, loom)))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use cds::reclaim::{Epoch, Hazard, Reclaim};
use cds::FaaQueue;

/// Allocations of at least this many bytes (a segment of `u64`s is about
/// 16 KiB) since the process started.
const LARGE: usize = 4096;
static LARGE_ALLOCS: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            LARGE_ALLOCS.fetch_add(1, Relaxed);
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Values moved through the queue in each test.
const N: usize = 200_000;

/// Segment allocations made by `f`, on a fresh thread (its block cache
/// starts empty).
fn large_allocs(f: impl FnOnce() + Send) -> usize {
    let before = LARGE_ALLOCS.load(Relaxed);
    std::thread::scope(|s| {
        s.spawn(f);
    });
    LARGE_ALLOCS.load(Relaxed) - before
}

/// Pushes `N` values, then pops them: one segment per `len` values.
fn burst<R: Reclaim + Clone>(r: R) -> (usize, usize) {
    let len = cds::testing::faa_queue::segment_len(&FaaQueue::<u64, R>::with_reclaimer(r.clone()));
    let n = large_allocs(move || {
        let q = FaaQueue::<u64, R>::with_reclaimer(r);
        for i in 0..N as u64 {
            q.push(i);
        }
        for i in 0..N as u64 {
            assert_eq!(q.pop(), Some(i));
        }
    });
    (n, len)
}

/// Push+pop pairs on one thread: a private hazard domain reclaims
/// deterministically on this thread, so drained segments come back to this
/// thread's cache and later installs take them from there.
fn pairs() -> usize {
    large_allocs(|| {
        let q = FaaQueue::<u64, Hazard>::with_reclaimer(Hazard::with_threshold(1));
        for i in 0..N as u64 {
            q.push(i);
            assert_eq!(q.pop(), Some(i));
        }
    })
}

/// One test, so that no other test of this binary allocates meanwhile.
#[test]
fn at_most_one_allocation_per_segment_and_pairs_reuse_segments() {
    for (n, len) in [burst(Epoch::new()), burst(Hazard::private())] {
        // The first segment, then one per `len` values.
        assert!(
            n <= N / len + 2,
            "{n} segment allocations for {N} values in segments of {len}"
        );
    }
    let len = cds::testing::faa_queue::segment_len(&FaaQueue::<u64>::new());
    let used = N / len;
    let n = pairs();
    eprintln!("{n} segment allocations for {N} push+pop pairs ({used} segments used)");
    assert!(n <= used + 2, "at most one allocation per segment");
    #[cfg(not(any(fuzzing, cds_no_recycle)))]
    assert!(
        n < used / 2,
        "pairs reuse segments: {n} allocations for {used} segments"
    );
}

//! Node recycling (`src/recycle.rs`) seen from outside, through a counting
//! global allocator: reclaimed nodes are kept for reuse by the thread that
//! reclaimed them, at most the documented cap is kept, and everything a
//! thread kept is freed when the thread exits.
//!
//! The cache is off under miri, loom, cargo-fuzz and `--cfg cds_no_recycle`
//! (every block then goes straight back to the allocator), so the test is
//! compiled only where it is on.
#![cfg(not(any(miri, loom, fuzzing, cds_no_recycle)))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use cds::reclaim::Hazard;
use cds::TreiberStack;

/// Live blocks of the recycling cache's smallest class (24 bytes, aligned
/// to 16: a `TreiberStack<u64>` node and a hazard retired-record).
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn counted(layout: Layout) -> bool {
    layout.size() == 24 && layout.align() == 16
}

struct Counting;

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && counted(layout) {
            LIVE.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted(layout) {
            LIVE.fetch_sub(1, Relaxed);
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The cache keeps at most 256 KiB per class per thread: 10922 blocks of 24.
const CAP_BLOCKS: isize = 256 * 1024 / 24;

#[test]
fn cached_blocks_are_bounded_reused_and_freed_at_thread_exit() {
    let before = LIVE.load(Relaxed);
    std::thread::spawn(move || {
        // A private domain: dropping the stack drops the domain, which
        // reclaims every pending node on this thread.
        let stack = TreiberStack::<u64, Hazard>::with_reclaimer(Hazard::private());
        for i in 0..100_000 {
            stack.push(i);
            assert_eq!(stack.pop(), Some(i));
        }
        // In steady state push+pop pairs reuse blocks: the live count stays
        // near what one reclamation pass frees (threshold 1024 per shard),
        // far below the 100 000 nodes and 100 000 records allocated.
        let steady = LIVE.load(Relaxed) - before;
        assert!(
            steady <= 3 * CAP_BLOCKS,
            "steady state keeps {steady} blocks"
        );
        // A burst much larger than the cap, then everything reclaimed.
        for i in 0..40_000 {
            stack.push(i);
        }
        while stack.pop().is_some() {}
        drop(stack);
        let kept = LIVE.load(Relaxed) - before;
        eprintln!("live class-0 blocks: steady {steady}, after the burst {kept}");
        assert!(kept > 0, "reclaimed blocks are kept for reuse");
        assert!(
            kept <= CAP_BLOCKS,
            "the cache keeps at most {CAP_BLOCKS} blocks of a class, kept {kept}"
        );
    })
    .join()
    .unwrap();
    assert_eq!(
        LIVE.load(Relaxed),
        before,
        "the exited thread's cached blocks were freed"
    );
}

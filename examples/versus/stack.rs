//! Group `stack`: push+pop pairs on every thread.
//!
//! Peers: `std::sync::Mutex<Vec>`, `parking_lot::Mutex<Vec>`, and a plain
//! Treiber stack written directly on crossbeam-epoch below
//! (`crossbeam_epoch::Treiber(direct)`) with the same allocation strategy
//! as ours (one node per push from the same per-thread block cache, the
//! crate's own cache, `cds::testing::recycle`, freed into it through the
//! global collector): the difference to
//! `cds::TreiberStack<Epoch>` is the cost of the seam.
// The criterion benches include this file and use only part of it.
#![allow(dead_code)]

use std::hint::black_box;
use std::time::Duration;

use cds::reclaim::{Epoch, Hazard, Reclaim};
use cds::TreiberStack;

use crate::harness::{run_parallel, Candidate, Report};

/// A concurrent LIFO the workload drives.
pub trait Stack: Sync {
    fn push(&self, v: u64);
    fn pop(&self) -> Option<u64>;
}

impl<R: Reclaim> Stack for TreiberStack<u64, R> {
    #[inline]
    fn push(&self, v: u64) {
        TreiberStack::push(self, v)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        TreiberStack::pop(self)
    }
}

impl Stack for std::sync::Mutex<Vec<u64>> {
    #[inline]
    fn push(&self, v: u64) {
        self.lock().unwrap().push(v)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.lock().unwrap().pop()
    }
}

impl Stack for parking_lot::Mutex<Vec<u64>> {
    #[inline]
    fn push(&self, v: u64) {
        self.lock().push(v)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.lock().pop()
    }
}

/// A Treiber stack written directly on crossbeam-epoch, as a user would
/// without `cds`: one node per push, `pop` pins and defers the node's
/// release. `push` takes no pin, like ours (it never dereferences a shared
/// node). Nodes come from and go back to the same per-thread block cache
/// as ours (`cds::testing::recycle`, the crate's own cache), so that the
/// comparison measures the seam and not the allocation strategy.
pub mod direct {
    use crossbeam_epoch::{self as epoch, Atomic, Shared};
    use std::mem::ManuallyDrop;
    use std::ptr;
    use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

    use cds::testing::recycle;

    pub struct Treiber<T> {
        head: Atomic<Node<T>>,
    }

    struct Node<T> {
        data: ManuallyDrop<T>,
        next: Atomic<Node<T>>,
    }

    impl<T> Treiber<T> {
        pub fn new() -> Self {
            Treiber {
                head: Atomic::null(),
            }
        }

        #[inline]
        pub fn push(&self, t: T) {
            let node = recycle::alloc_boxed(Node {
                data: ManuallyDrop::new(t),
                next: Atomic::null(),
            });
            // SAFETY: the head is only compared, never dereferenced, here.
            let guard = unsafe { epoch::unprotected() };
            let mut head = self.head.load(Relaxed, guard);
            loop {
                // SAFETY: `node` is ours until the CAS publishes it.
                unsafe { (*node).next.store(head, Relaxed) };
                match self.head.compare_exchange_weak(
                    head,
                    Shared::from(node as *const Node<T>),
                    Release,
                    Relaxed,
                    guard,
                ) {
                    Ok(_) => return,
                    Err(e) => head = e.current,
                }
            }
        }

        #[inline]
        pub fn pop(&self) -> Option<T> {
            let guard = epoch::pin();
            loop {
                let head = self.head.load(Acquire, &guard);
                // SAFETY: pinned: nodes loaded now are not freed before unpin.
                let h = unsafe { head.as_ref() }?;
                let next = h.next.load(Relaxed, &guard);
                if self
                    .head
                    .compare_exchange(head, next, Relaxed, Relaxed, &guard)
                    .is_ok()
                {
                    let p = head.as_raw() as *mut Node<T>;
                    // SAFETY: our CAS unlinked `head`: only we read its data,
                    // and the deferred release frees the block, not the data.
                    unsafe {
                        guard.defer_unchecked(move || recycle::release(p));
                        return Some(ManuallyDrop::into_inner(ptr::read(&h.data)));
                    }
                }
            }
        }
    }

    impl<T> Drop for Treiber<T> {
        fn drop(&mut self) {
            while self.pop().is_some() {}
        }
    }
}

impl Stack for direct::Treiber<u64> {
    #[inline]
    fn push(&self, v: u64) {
        direct::Treiber::push(self, v)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        direct::Treiber::pop(self)
    }
}

/// `threads` threads each run `per_thread` push+pop pairs.
pub fn pairs<S: Stack>(s: &S, threads: usize, per_thread: usize) -> Duration {
    run_parallel(threads, |t| {
        let base = (t * per_thread) as u64;
        for i in 0..per_thread as u64 {
            s.push(base + i);
            black_box(s.pop());
        }
    })
}

/// The same through one `handle()` per thread (one pin across the loop).
pub fn pairs_handle<R: Reclaim>(
    s: &TreiberStack<u64, R>,
    threads: usize,
    per_thread: usize,
) -> Duration {
    run_parallel(threads, |t| {
        let base = (t * per_thread) as u64;
        let mut h = s.handle();
        for i in 0..per_thread as u64 {
            h.push(base + i);
            black_box(h.pop());
        }
    })
}

/// The candidates of one cell.
pub fn candidates<'a>(threads: usize, per: usize) -> Vec<Candidate<'a>> {
    vec![
        Candidate::new("cds::TreiberStack<Epoch>", move || {
            pairs(
                &TreiberStack::<u64, Epoch>::with_reclaimer(Epoch::new()),
                threads,
                per,
            )
        }),
        Candidate::new("cds::TreiberStack<Hazard>", move || {
            pairs(
                &TreiberStack::<u64, Hazard>::with_reclaimer(Hazard::default()),
                threads,
                per,
            )
        }),
        Candidate::new("cds::TreiberStack<Epoch>(handle)", move || {
            pairs_handle(&TreiberStack::<u64, Epoch>::new(), threads, per)
        }),
        Candidate::new("crossbeam_epoch::Treiber(direct)", move || {
            pairs(&direct::Treiber::<u64>::new(), threads, per)
        }),
        Candidate::new("std::sync::Mutex<Vec>", move || {
            pairs(&std::sync::Mutex::new(Vec::<u64>::new()), threads, per)
        }),
        Candidate::new("parking_lot::Mutex<Vec>", move || {
            pairs(&parking_lot::Mutex::new(Vec::<u64>::new()), threads, per)
        }),
    ]
}

/// Runs the group.
pub fn run(report: &mut Report) {
    for threads in report.opts.thread_counts() {
        let per = report.opts.ops(2_000_000) / 2 / threads;
        let mut cands = candidates(threads, per);
        report.cell(
            "stack",
            "push+pop pairs",
            threads,
            2 * per * threads,
            &mut cands,
        );
    }
}

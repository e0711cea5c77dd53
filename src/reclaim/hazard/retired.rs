//! Retired objects and the domain's sharded retired lists.

use core::ptr;

use crate::primitive::sync::atomic::{
    AtomicPtr, AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};

/// One retired object: the erased pointer, its drop function, and the link.
#[derive(Debug)]
pub(crate) struct Retired {
    pub(crate) ptr: *mut (),
    pub(crate) drop_fn: unsafe fn(*mut ()),
    pub(crate) next: *mut Retired,
}

/// One shard: a Treiber list of retired objects plus its counts.
///
/// Invariants: every node reachable from `head` came from
/// `recycle::alloc_boxed` and is owned by the list (a pass that swaps `head` to null owns what it
/// took); `pending` counts objects retired into this shard and not yet
/// reclaimed (incremented after the push, decremented after their drop
/// functions ran), so it is exactly the shard's share of
/// `ReclaimStats::pending`; `reclaimed` only grows.
///
/// `head`, `pending` and `reclaimed` share one cache line on purpose: a
/// retire touches the line for its CAS anyway.
#[derive(Debug)]
pub(crate) struct Shard {
    head: AtomicPtr<Retired>,
    pending: AtomicUsize,
    reclaimed: AtomicU64,
}

impl Shard {
    /// An empty shard.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
            pending: AtomicUsize::new(0),
            reclaimed: AtomicU64::new(0),
        }
    }

    /// An empty shard.
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
            pending: AtomicUsize::new(0),
            reclaimed: AtomicU64::new(0),
        }
    }

    /// Pushes one object; returns the shard's pending count including it.
    #[inline]
    pub(crate) fn push_one(&self, ptr: *mut (), drop_fn: unsafe fn(*mut ())) -> usize {
        // From this thread's block cache (DESIGN §4): a retire would
        // otherwise cost a second allocation beside the node it retires.
        let node = crate::recycle::alloc_boxed(Retired {
            ptr,
            drop_fn,
            next: ptr::null_mut(),
        });
        // SAFETY: `node` is fresh and unshared; it is a one-node chain.
        unsafe { self.push_chain(node, node) };
        // Relaxed: a count; the list itself is published by the CAS.
        self.pending.fetch_add(1, Relaxed) + 1
    }

    /// Pushes the chain `first ..= last` (linked through `next`).
    ///
    /// # Safety
    ///
    /// 1. The chain's nodes came from `recycle::alloc_boxed`, are owned by the
    ///    caller, and `last` is reachable from `first`.
    pub(crate) unsafe fn push_chain(&self, first: *mut Retired, last: *mut Retired) {
        let mut head = self.head.load(Relaxed);
        loop {
            // SAFETY: precondition 1: the caller owns `last`, unshared yet.
            unsafe { (*last).next = head };
            // Release: publishes the nodes to the Acquire swap in `take`.
            match self
                .head
                .compare_exchange_weak(head, first, Release, Relaxed)
            {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Takes the whole list; the caller owns the returned chain.
    #[inline]
    pub(crate) fn take(&self) -> *mut Retired {
        // Relaxed pre-check: skip the RMW on an empty list.
        if self.head.load(Relaxed).is_null() {
            return ptr::null_mut();
        }
        // Acquire: pairs with the Release CAS in `push_chain`.
        self.head.swap(ptr::null_mut(), Acquire)
    }

    /// Records that `n` objects of this shard were reclaimed.
    #[inline]
    pub(crate) fn note_reclaimed(&self, n: usize) {
        if n > 0 {
            // Relaxed: statistics and the trigger heuristic only; the
            // pending count may be read stale, which the bound allows for.
            self.reclaimed.fetch_add(n as u64, Relaxed);
            self.pending.fetch_sub(n, Relaxed);
        }
    }

    /// Objects pending in this shard.
    #[inline]
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Relaxed)
    }

    /// Objects reclaimed from this shard so far.
    #[inline]
    pub(crate) fn reclaimed(&self) -> u64 {
        self.reclaimed.load(Relaxed)
    }
}

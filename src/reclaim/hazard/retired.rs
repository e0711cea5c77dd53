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

/// One shard: a Treiber list of retired objects plus its counts and its
/// pass trigger.
///
/// Invariants: every node reachable from `head` came from
/// `recycle::alloc_boxed` and is owned by the list (a pass that swaps `head` to null owns what it
/// took); `pending` counts objects retired into this shard and not yet
/// reclaimed (incremented after the push, decremented after their drop
/// functions ran), so it is exactly the shard's share of
/// `ReclaimStats::pending`; `reclaimed` only grows; `trigger` is the
/// domain's threshold until the first pass, then the value the last pass
/// to store it computed from the hazards it found (at least the threshold).
///
/// `head`, `pending`, `reclaimed` and `trigger` share one cache line on
/// purpose: a retire touches the line for its CAS anyway.
#[derive(Debug)]
pub(crate) struct Shard {
    head: AtomicPtr<Retired>,
    pending: AtomicUsize,
    reclaimed: AtomicU64,
    trigger: AtomicUsize,
}

impl Shard {
    /// An empty shard whose first pass runs at `trigger` pending objects.
    #[cfg(not(loom))]
    pub(crate) const fn new(trigger: usize) -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
            pending: AtomicUsize::new(0),
            reclaimed: AtomicU64::new(0),
            trigger: AtomicUsize::new(trigger),
        }
    }

    /// An empty shard whose first pass runs at `trigger` pending objects.
    #[cfg(loom)]
    pub(crate) fn new(trigger: usize) -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
            pending: AtomicUsize::new(0),
            reclaimed: AtomicU64::new(0),
            trigger: AtomicUsize::new(trigger),
        }
    }

    /// Pushes one object; returns the shard's pending count including it.
    #[inline]
    pub(crate) fn push_one(&self, ptr: *mut (), drop_fn: unsafe fn(*mut ())) -> usize {
        // From this thread's block cache (`recycle`): a retire would
        // otherwise cost a second allocation beside the node it retires.
        let node = crate::recycle::alloc_boxed(Retired {
            ptr,
            drop_fn,
            next: ptr::null_mut(),
        });
        // SAFETY: `node` is fresh and unshared; it is a one-node chain.
        unsafe { self.push_chain(node, node) };
        // Acquire: pairs with the Release decrement in `finish_pass`, so
        // the caller's next `trigger()` reads the trigger of every pass
        // whose decrement came before this increment, or a newer one (the
        // list itself is published by the CAS above). Every later update of
        // `pending` is an RMW, so the release sequence is never broken.
        self.pending.fetch_add(1, Acquire) + 1
    }

    /// The pending count at which a retire runs a pass.
    #[inline]
    pub(crate) fn trigger(&self) -> usize {
        // Relaxed: ordered after the caller's Acquire increment in
        // `push_one` (see there); a value newer than that only comes from
        // a pass that ran meanwhile, which the garbage bound allows for.
        self.trigger.load(Relaxed)
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

    /// Ends a pass that reclaimed `n` objects and computed `trigger` from
    /// the hazards it found.
    #[inline]
    pub(crate) fn finish_pass(&self, n: usize, trigger: usize) {
        // Relaxed: published by the Release decrement below.
        self.trigger.store(trigger, Relaxed);
        // Relaxed: statistics only.
        self.reclaimed.fetch_add(n as u64, Relaxed);
        // Release: pairs with the Acquire increment in `push_one` (the
        // trigger stored above is seen by every later retire). Done even
        // for `n == 0`, for that pairing.
        self.pending.fetch_sub(n, Release);
    }

    /// Records that `n` objects of this shard were reclaimed outside a pass
    /// (the domain is being dropped: nobody retires any more).
    pub(crate) fn note_reclaimed(&self, n: usize) {
        // Relaxed: `&mut` access to the domain; no other thread reads.
        self.reclaimed.fetch_add(n as u64, Relaxed);
        self.pending.fetch_sub(n, Relaxed);
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

//! Hazard records: `MAX_SLOTS` published pointers owned by one guard at a
//! time, kept on a per-domain list that only grows.

use core::ptr;

use crossbeam_utils::CachePadded;

use crate::primitive::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::reclaim::MAX_SLOTS;

/// One hazard record.
///
/// Invariants: `next` and `shard` are written before the record is
/// published on its list (Release CAS in [`RecordList::acquire`]) and never
/// change; a record is owned by at most one guard (or thread cache) at a
/// time, the one whose CAS set `active`; only the owner stores into `slots`;
/// an inactive record has every slot null.
#[derive(Debug)]
pub(crate) struct Record {
    /// Published hazards (null: empty).
    pub(crate) slots: [AtomicPtr<()>; MAX_SLOTS],
    /// Owned by a guard or a thread cache.
    active: AtomicBool,
    /// Global domain only: the owning thread's cached record is in use by a
    /// guard. Only the owning thread reads or writes it (guards are
    /// `!Send`), hence Relaxed. No thread cache under loom.
    #[cfg(not(loom))]
    busy: AtomicBool,
    /// Which retired-list shard the owner retires into.
    pub(crate) shard: usize,
    /// The next (older) record on the list.
    next: *mut CachePadded<Record>,
    /// The domain this record belongs to (for retire from a guard).
    pub(crate) domain: *const super::domain::Domain,
}

// SAFETY: the raw pointers are written before publication and never
// after; `next` points into the same list and `domain` to the domain that
// owns the list, both outliving every `&Record` handed out. The rest is atomics.
unsafe impl Send for Record {}
// SAFETY: as for `Send`.
unsafe impl Sync for Record {}

impl Record {
    /// Clears the slots whose bit is set in `used` (`fence::clear`): the
    /// owner's reads of formerly protected nodes happen-before a reclaimer
    /// that sees the slot empty frees them.
    #[inline]
    pub(crate) fn clear_used(&self, mut used: u8) {
        while used != 0 {
            let i = used.trailing_zeros() as usize;
            used &= used - 1;
            super::fence::clear(&self.slots[i]);
        }
    }

    /// Whether a guard uses this (cached) record.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn is_busy(&self) -> bool {
        // Relaxed: only the owning thread accesses `busy`.
        self.busy.load(Relaxed)
    }

    /// Marks this (cached) record used by a guard or idle.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn set_busy(&self, busy: bool) {
        // Relaxed: only the owning thread accesses `busy`.
        self.busy.store(busy, Relaxed);
    }

    /// Gives the record back to its list (slots must already be clear).
    #[inline]
    pub(crate) fn release(&self) {
        debug_assert!(self.slots.iter().all(|s| s.load(Relaxed).is_null()));
        // Release: pairs with the Acquire CAS in `acquire` of the next owner.
        self.active.store(false, Release);
    }
}

/// A grow-only lock-free list of records (Treiber push, never popped).
///
/// Invariant: every pointer reachable from `head` came from `Box::into_raw`
/// and stays valid until the list drops.
#[derive(Debug)]
pub(crate) struct RecordList {
    head: AtomicPtr<CachePadded<Record>>,
    /// Number of records on the list (records ever made; only for shard
    /// assignment and `Hazard::record_count`, not in the bound).
    count: AtomicUsize,
}

impl RecordList {
    /// An empty list.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
            count: AtomicUsize::new(0),
        }
    }

    /// An empty list.
    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
            count: AtomicUsize::new(0),
        }
    }

    /// Number of records ever created (never decreases).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        // Relaxed: a statistic; nothing is read through it.
        self.count.load(Relaxed)
    }

    /// Claims a free record, or creates one. Lock-free: the walk is bounded
    /// by the list length and the push retries only when another push won.
    pub(crate) fn acquire(&self, domain: *const super::domain::Domain, shards: usize) -> &Record {
        // Acquire: pairs with the Release CAS below (record initialization).
        let mut cur = self.head.load(Acquire);
        while !cur.is_null() {
            // SAFETY: records on the list stay valid while the list lives
            // (type invariant) and `self` is borrowed.
            let rec = unsafe { &*cur };
            // Acquire: pairs with the Release store in `Record::release`.
            if !rec.active.load(Relaxed)
                && rec
                    .active
                    .compare_exchange(false, true, Acquire, Relaxed)
                    .is_ok()
            {
                return rec;
            }
            cur = rec.next;
        }
        self.push_new(domain, shards)
    }

    #[cold]
    fn push_new(&self, domain: *const super::domain::Domain, shards: usize) -> &Record {
        // Relaxed: only a counter for shard assignment and statistics.
        let index = self.count.fetch_add(1, Relaxed);
        let mut head = self.head.load(Relaxed);
        let fresh = Box::into_raw(Box::new(CachePadded::new(Record {
            slots: core::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            active: AtomicBool::new(true),
            #[cfg(not(loom))]
            busy: AtomicBool::new(false),
            shard: index % shards,
            next: head,
            domain,
        })));
        loop {
            // Release: publishes the record's fields to `acquire` and
            // `snapshot` (their Acquire loads of `head`).
            match self
                .head
                .compare_exchange_weak(head, fresh, Release, Relaxed)
            {
                // SAFETY: `fresh` is now on the list, valid while it lives.
                Ok(_) => return unsafe { &*fresh },
                Err(now) => {
                    head = now;
                    // SAFETY: `fresh` is not yet shared; we own it.
                    unsafe { (&mut *fresh).next = now };
                }
            }
        }
    }

    /// Appends every published hazard to `out` and returns the number of
    /// records in which it found one (records in use: an idle record has
    /// every slot null). The caller issued the heavy fence first.
    pub(crate) fn snapshot(&self, out: &mut Vec<*mut ()>) -> usize {
        let mut in_use = 0;
        // Acquire: pairs with the Release CAS in `push_new`.
        let mut cur = self.head.load(Acquire);
        while !cur.is_null() {
            // SAFETY: see `acquire`.
            let rec = unsafe { &*cur };
            let before = out.len();
            for slot in &rec.slots {
                // Pairs with the publication of `protect_with` and the
                // clearing of `Record::clear_used` (fence.rs: an Acquire
                // load, or an AcqRel RMW under `cds_fence_fallback`): the
                // reader's accesses to a node it stopped protecting
                // happen-before we free it.
                let p = super::fence::read_hazard(slot);
                if !p.is_null() {
                    out.push(p);
                }
            }
            in_use += usize::from(out.len() > before);
            cur = rec.next;
        }
        in_use
    }

    /// Frees every record. The caller has `&mut` access: no guard remains.
    pub(crate) fn free_all(&mut self) {
        let mut cur = self.head.swap(ptr::null_mut(), Relaxed);
        while !cur.is_null() {
            // SAFETY: `cur` came from `Box::into_raw` in `push_new`, is on
            // the list exactly once, and no guard borrows it (`&mut self`).
            let rec = unsafe { Box::from_raw(cur) };
            cur = rec.next;
        }
    }
}

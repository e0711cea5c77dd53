//! A hazard-pointer domain: its records, its retired lists, and the
//! reclamation pass.

use core::ptr;

use crossbeam_utils::CachePadded;

use super::fence;
use super::record::{Record, RecordList};
use super::retired::{Retired, Shard};
use crate::reclaim::{run_drop, ReclaimStats, MAX_SLOTS};

/// Retired-list shards per domain (N in the bound).
pub(crate) const SHARDS: usize = if cfg!(loom) { 1 } else { 8 };

/// A pass sets its shard's trigger to
/// `max(threshold, SCAN_MULTIPLIER × in_use × MAX_SLOTS)`, `in_use` being the
/// records in which it found a hazard (k in the bound).
pub(crate) const SCAN_MULTIPLIER: usize = 2;

/// The default per-shard threshold (T in the bound); small under loom and
/// miri so that models and interpreted tests reach passes quickly.
///
/// 1024 (folly's hazptr uses 1000): every pass issues a `membarrier`, which
/// interrupts every core running a thread of the process. Measured on the
/// 2-core VM (`versus --group stack`, push+pop pairs): with 128 the
/// `Hazard` stack ran 30.3 ns/op at 1 thread and 58.7 at 2; with 1024,
/// 9.7 and 25.7. The bound grows with `T` (8 shards × 1023 objects, plus
/// the hazard term).
pub(crate) const DEFAULT_THRESHOLD: usize = if cfg!(any(loom, miri)) { 2 } else { 1024 };

/// A hazard-pointer domain.
///
/// Invariants: every record on `records` has `domain == self` (set when it
/// is created by [`Domain::acquire`]); a retired object sits in exactly one
/// place (a shard list, or the chain a running pass took); the domain's
/// address is stable (a static, or inside an `Arc`) while records exist.
#[derive(Debug)]
pub(crate) struct Domain {
    records: RecordList,
    shards: [CachePadded<Shard>; SHARDS],
    threshold: usize,
}

impl Domain {
    /// A domain with per-shard threshold `threshold` (at least 1).
    #[cfg(not(loom))]
    pub(crate) const fn new(threshold: usize) -> Self {
        let threshold = if threshold == 0 { 1 } else { threshold };
        let mut shards = [const { CachePadded::new(Shard::new(0)) }; SHARDS];
        let mut i = 0;
        while i < SHARDS {
            shards[i] = CachePadded::new(Shard::new(threshold));
            i += 1;
        }
        Self {
            records: RecordList::new(),
            shards,
            threshold,
        }
    }

    /// A domain with per-shard threshold `threshold` (at least 1).
    #[cfg(loom)]
    pub(crate) fn new(threshold: usize) -> Self {
        let threshold = threshold.max(1);
        Self {
            records: RecordList::new(),
            shards: core::array::from_fn(|_| CachePadded::new(Shard::new(threshold))),
            threshold,
        }
    }

    /// Claims a record for a guard.
    #[inline]
    pub(crate) fn acquire(&self) -> &Record {
        self.records.acquire(self, SHARDS)
    }

    /// Number of hazard records ever made (reused, never freed while the
    /// domain lives; not in the bound).
    pub(crate) fn record_count(&self) -> usize {
        self.records.len()
    }

    /// The configured threshold (T).
    pub(crate) fn threshold(&self) -> usize {
        self.threshold
    }

    /// The trigger a pass stores after finding hazards in `in_use` records:
    /// at least twice the hazards it can have kept, so that the retires
    /// until the next pass pay for it.
    #[inline]
    fn trigger_for(&self, in_use: usize) -> usize {
        self.threshold.max(
            SCAN_MULTIPLIER
                .saturating_mul(in_use)
                .saturating_mul(MAX_SLOTS),
        )
    }

    /// Retires `ptr` into `shard`; runs a pass on it if the shard's pending
    /// count reached the trigger its last pass stored.
    ///
    /// # Safety
    ///
    /// The preconditions of [`Guard::retire`](crate::reclaim::Guard::retire)
    /// for this domain.
    #[inline]
    pub(crate) unsafe fn retire(&self, shard: usize, ptr: *mut (), drop_fn: unsafe fn(*mut ())) {
        let s = &self.shards[shard];
        let pending = s.push_one(ptr, drop_fn);
        if pending >= s.trigger() {
            self.pass(shard);
        }
    }

    /// Runs rounds of passes over every shard until a whole round reclaims
    /// nothing. A drop function run by one round may retire more objects
    /// (a chain of owners): the next round, with a fresh hazard snapshot,
    /// reclaims those, so one flush leaves nothing unprotected behind, however
    /// deep the chain. Each extra round follows a round that reclaimed at
    /// least one object, so the number of rounds is at most one more than
    /// the number of objects reclaimed.
    pub(crate) fn flush(&self) {
        loop {
            let mut reclaimed = 0;
            for shard in 0..SHARDS {
                reclaimed += self.pass(shard);
            }
            if reclaimed == 0 {
                return;
            }
        }
    }

    /// One reclamation pass over `shard`: take its list, fence, snapshot the
    /// hazards, reclaim the unprotected, push the protected back, and store
    /// the shard's next trigger, computed from the records found in use.
    ///
    /// Re-entrant: the list is taken before any drop function runs, so a
    /// drop function that retires (even into this shard, even triggering a
    /// nested pass) finds a consistent domain. Returns the number of objects
    /// reclaimed.
    #[cold]
    #[inline(never)]
    fn pass(&self, shard: usize) -> usize {
        let shard = &self.shards[shard];
        let mut cur = shard.take();
        if cur.is_null() {
            return 0;
        }
        // Every object on the taken chain was unlinked before it was
        // retired, so before this fence; a reader whose witness ran after
        // the unlink fails, and one whose witness ran before has its hazard
        // visible to the snapshot below (fence.rs explains the pairing).
        fence::heavy();
        let mut hazards = Vec::new();
        let in_use = self.records.snapshot(&mut hazards);
        hazards.sort_unstable();

        let mut kept_first: *mut Retired = ptr::null_mut();
        let mut kept_last: *mut Retired = ptr::null_mut();
        let mut reclaimed = 0;
        while !cur.is_null() {
            let node = cur;
            // SAFETY: the chain came from `take`, so this pass owns every
            // node on it (Shard invariant); `node` is valid.
            let (obj, drop_fn, next) = unsafe { ((*node).ptr, (*node).drop_fn, (*node).next) };
            cur = next;
            if hazards.binary_search(&obj).is_ok() {
                // SAFETY: as above; relinking nodes this pass owns.
                unsafe { (*node).next = kept_first };
                if kept_last.is_null() {
                    kept_last = node;
                }
                kept_first = node;
            } else {
                // SAFETY: `node` came from `alloc_boxed` in `push_one`, is
                // owned here (see above), its fields were read above and
                // have no drop glue; freed once.
                unsafe { crate::recycle::release(node) };
                // SAFETY: retire preconditions 1–4 held for `obj`; it was
                // unlinked before the heavy fence and no hazard published
                // before its unlink holds it, so no reader can still use it.
                unsafe { run_drop(obj, drop_fn) };
                reclaimed += 1;
            }
        }
        if !kept_first.is_null() {
            // SAFETY: `kept_first ..= kept_last` is a chain of nodes
            // this pass owns.
            unsafe { shard.push_chain(kept_first, kept_last) };
        }
        // At most `in_use × MAX_SLOTS` objects were kept: the next pass on
        // this shard runs once at least as many again were retired.
        shard.finish_pass(reclaimed, self.trigger_for(in_use));
        reclaimed
    }

    /// Retired / reclaimed / pending, summed over shards.
    pub(crate) fn stats(&self) -> ReclaimStats {
        let (mut pending, mut reclaimed) = (0u64, 0u64);
        for shard in &self.shards {
            pending += shard.pending() as u64;
            reclaimed += shard.reclaimed();
        }
        ReclaimStats::from_counts(reclaimed + pending, reclaimed)
    }
}

impl Drop for Domain {
    /// Reclaims everything still pending and frees the records. Only a
    /// private domain drops (when its last handle goes), and no guard can
    /// exist then: guards borrow a handle.
    fn drop(&mut self) {
        for shard in &self.shards {
            let mut reclaimed = 0;
            // A drop function cannot retire into a domain with no handle
            // left, but loop anyway rather than leak.
            loop {
                let mut cur = shard.take();
                if cur.is_null() {
                    break;
                }
                while !cur.is_null() {
                    // SAFETY: the chain came from `take` (owned nodes from
                    // `alloc_boxed`): `cur` is valid.
                    let node = unsafe { cur.read() };
                    // SAFETY: owned, read above (`Retired` has no drop
                    // glue), released once.
                    unsafe { crate::recycle::release(cur) };
                    cur = node.next;
                    // SAFETY: retire preconditions held; no guard of this
                    // domain exists, so nothing protects `node.ptr`.
                    unsafe { run_drop(node.ptr, node.drop_fn) };
                    reclaimed += 1;
                }
            }
            shard.note_reclaimed(reclaimed);
        }
        self.records.free_all();
    }
}

//! Memory reclamation: the seam between structures and reclaimers.
//!
//! A lock-free structure unlinks a node while other threads may still be
//! reading it; the node may be freed only once no thread can. A [`Reclaim`]
//! scheme decides when. Two are provided:
//!
//! | scheme | protection | garbage bound | cost |
//! |---|---|---|---|
//! | [`Epoch`] (crossbeam-epoch's global collector) | everything loaded while pinned | **none**: one thread pinned forever stalls all reclamation | one RMW per pin |
//! | [`Hazard`] (ours, Michael 2004) | one pointer per slot, validated | `N·(R − 1) + C·(N + C + 1)·(A·S + 1)` objects per domain, `R = max(T, k·A·S)`, `A` records in use ([`hazard`](hazard#garbage-bound)) | a store, a compiler fence and a re-read per protect |
//!
//! Pick `Epoch` (the default) for throughput; pick `Hazard` when a stalled
//! or long-running reader must not grow memory without bound, for a private
//! domain whose garbage is freed when it drops, and for loom models of your
//! own code unless you can set `--cfg crossbeam_loom`.
//!
//! # Vocabulary
//!
//! A node is **unlinked** when no thread can newly reach it from the
//! structure, **retired** when handed to the scheme with [`Guard::retire`],
//! and **reclaimed** when its drop function runs. A node is either linked
//! (the structure's `Drop` frees it) or retired (the scheme frees it), never
//! both.
//!
//! # Protection needs a witness
//!
//! Under epochs everything a pinned thread loads stays valid until it
//! unpins. A hazard pointer protects one address, and only if, *after* the
//! address was published and fenced, something shows the node had not yet
//! been unlinked: the **witness**. Re-reading the root-reachable field the
//! pointer came from is a witness when nodes are always unlinked from that
//! field before retirement ([`Guard::protect`]). A pointer read out of
//! another node needs its parent's position as the witness (Michael–Scott
//! pop: `head == h` still holds), never the field itself: `h.next` does not
//! change when `h` is unlinked, so re-reading it proves nothing
//! ([`Guard::protect_with`]).
//!
//! # Rules for structures
//!
//! - Witnesses have no side effects (epochs never call them).
//! - No guard creation and no retire while a structure lock is held: both
//!   may run user `Drop` code.
//! - A drop function that panics aborts the process (with a message): it
//!   runs on an arbitrary thread inside an unrelated operation, where
//!   unwinding would leak the rest of the batch.
//! - A reclamation pass is re-entrant: a drop function may retire more.

use crate::primitive::sync::atomic::{AtomicPtr, Ordering::Acquire};

pub(crate) mod counters;
mod epoch;
pub mod hazard;

pub use epoch::{Epoch, EpochGuard};
pub use hazard::{Hazard, HazardGuard};

/// The number of protection slots every [`Guard`] offers (indices
/// `0..MAX_SLOTS`). Epoch guards accept and ignore the index.
pub const MAX_SLOTS: usize = 4;

/// A memory-reclamation scheme.
///
/// A value of this type is a handle to one reclamation domain; structures
/// store one and create a [`Guard`] from it per operation (or per batch of
/// operations, through their amortized handles).
///
/// # Safety
///
/// An implementation promises that an object retired through a guard of
/// this reclaimer is reclaimed only after every guard that protected it
/// (under the rules of [`Guard`]) has released that protection, and that
/// every retired object is reclaimed at most once.
pub unsafe trait Reclaim: Send + Sync + 'static {
    /// The guard type; it borrows the reclaimer.
    type Guard<'r>: Guard
    where
        Self: 'r;

    /// Starts a critical section (epoch: pin; hazard: acquire a record with
    /// [`MAX_SLOTS`] slots).
    fn guard(&self) -> Self::Guard<'_>;

    /// Forces a reclamation pass: everything retired and not protected by a
    /// live guard anywhere is reclaimed, as far as the scheme allows (epochs
    /// need every pinned thread to move on; call it a few times in tests).
    ///
    /// Under [`Hazard`] one call is enough, also for objects retired by the
    /// drop functions it runs: it repeats rounds of passes over every shard,
    /// each with a fresh snapshot of the hazards, until a round reclaims
    /// nothing, so a chain of owners each retiring the next goes in one
    /// flush. It returns once a round finds nothing to reclaim: while other
    /// threads keep retiring unprotected objects it keeps reclaiming them
    /// (every extra round reclaims at least one object).
    fn flush(&self);

    /// Retired / reclaimed / pending counts, summed from per-thread counters
    /// (a snapshot while threads run; exact when quiescent).
    fn stats(&self) -> ReclaimStats;
}

/// A critical section of a [`Reclaim`] scheme: protects loaded pointers and
/// retires unlinked ones.
///
/// # Safety
///
/// An implementation promises that a pointer for which `protect_with` /
/// `protect_tagged_with` returned `true`, or that `protect` returned, is not
/// reclaimed while the protection stands: until the slot is reused,
/// [`refresh`](Guard::refresh) is called, or the guard drops. Under epochs
/// every pointer loaded while the guard lives is protected.
pub unsafe trait Guard {
    /// Publishes `ptr` in `slot`, fences, then calls `witness`; returns true
    /// iff the protection holds (the witness showed `ptr` was not yet
    /// unlinked). Epoch guards return `true` without calling the witness.
    ///
    /// # Panics
    ///
    /// If `slot >= MAX_SLOTS`.
    fn protect_with<T>(&mut self, slot: usize, ptr: *mut T, witness: impl FnMut() -> bool) -> bool;

    /// Loads `src` and protects what it held, retrying until the protection
    /// holds; the witness is `src` still holding the same pointer. Sound only
    /// for a root-reachable `src` from which nodes are always unlinked before
    /// being retired. The load is `Acquire`, pairing with the `Release` store
    /// or CAS that published the node.
    #[inline]
    fn protect<T>(&mut self, slot: usize, src: &AtomicPtr<T>) -> *mut T {
        // Acquire: pairs with the Release that published the node in `src`.
        let mut ptr = src.load(Acquire);
        loop {
            // Acquire (inside the witness): the same pairing as above.
            let mut seen = ptr;
            if self.protect_with(slot, ptr, || {
                seen = src.load(Acquire);
                seen == ptr
            }) {
                return ptr;
            }
            ptr = seen;
        }
    }

    /// The same as [`protect_with`](Guard::protect_with) for an address
    /// carried in `word` with tag bits: `word & mask` is the address
    /// protected. The witness is the caller's (a map slot word is not
    /// root-reachable; the witness is `table == T && T[i] == word`).
    fn protect_tagged_with(
        &mut self,
        slot: usize,
        word: usize,
        mask: usize,
        witness: impl FnMut() -> bool,
    ) -> bool;

    /// Drops every protection this guard holds (hazard: clears the slots;
    /// epoch: repins, letting the global epoch advance, and runs a
    /// collection step). Call it in long loops.
    fn refresh(&mut self);

    /// Hands `ptr` to the scheme; `drop_fn(ptr)` runs once nobody can hold a
    /// protection on it.
    ///
    /// # Safety
    ///
    /// 1. `ptr` is unlinked: no thread can newly reach it from a structure.
    /// 2. `ptr` was not retired before.
    /// 3. Every guard that could have protected `ptr` came from the same
    ///    reclaimer (the same domain) as `self`.
    /// 4. `drop_fn(ptr)` is sound exactly once, on any thread, at any later
    ///    time: whatever it drops is `Send + 'static`.
    unsafe fn retire(&self, ptr: *mut (), drop_fn: unsafe fn(*mut ()));
}

/// Counts reported by [`Reclaim::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReclaimStats {
    /// Objects handed to [`Guard::retire`].
    pub retired: u64,
    /// Objects whose drop function has run.
    pub reclaimed: u64,
    /// `retired - reclaimed` (saturating: the sums are taken while threads
    /// run).
    pub pending: u64,
}

impl ReclaimStats {
    /// Builds stats from the two sums.
    pub(crate) fn from_counts(retired: u64, reclaimed: u64) -> Self {
        Self {
            retired,
            reclaimed,
            pending: retired.saturating_sub(reclaimed),
        }
    }
}

/// Runs a drop function; a panic in it aborts the process with a message.
///
/// # Safety
///
/// 1. `drop_fn(ptr)` is sound to call now (the preconditions of
///    [`Guard::retire`] held when `ptr` was retired, and no protection on it
///    remains).
#[inline]
pub(crate) unsafe fn run_drop(ptr: *mut (), drop_fn: unsafe fn(*mut ())) {
    struct AbortOnUnwind;
    impl Drop for AbortOnUnwind {
        fn drop(&mut self) {
            eprintln!(
                "cds: a destructor panicked during deferred reclamation; \
                 aborting (unwinding here would leak the rest of the batch)"
            );
            std::process::abort();
        }
    }
    let bomb = AbortOnUnwind;
    // SAFETY: precondition 1 of this function.
    unsafe { drop_fn(ptr) };
    core::mem::forget(bomb);
}

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
//! field before retirement ([`Slot::protect`]). A pointer read out of
//! another node needs its parent's position as the witness (Michael–Scott
//! pop: `head == h` still holds), never the field itself: `h.next` does not
//! change when `h` is unlinked, so re-reading it proves nothing
//! ([`Slot::protect_with`]).
//!
//! # The seam, step by step
//!
//! A structure holds an `R: Reclaim`, takes a [`Guard`] per operation (or
//! one per batch through a [`Handle`]), borrows the guard's [`Slot`]s,
//! protects what it reads into [`Shared`] pointers (safe to dereference
//! while the slot is borrowed), unlinks with its own CAS, and retires the
//! unlinked node through the guard.
//!
//! | step | trait item | `Epoch` | `Hazard` |
//! |---|---|---|---|
//! | start a critical section | [`Reclaim::guard`] | `epoch.rs`: a crossbeam pin | `hazard/mod.rs` (`global` / `Domain::acquire` in `hazard/domain.rs`): a record with `MAX_SLOTS` hazard pointers |
//! | lend slots | [`Guard::split`] / [`Guard::slots`] | `epoch.rs`: zero-sized `EpochSlot`s | `hazard/mod.rs`: `HazardSlot`s, one per hazard pointer |
//! | protect | [`Slot::publish`] (behind `protect` / `protect_with`) | nothing to do | store, fence, witness: `hazard/fence.rs` (`publish`, `light`) |
//! | the protected pointer | [`Shared`] (`shared.rs`) | — | — |
//! | retire | [`Guard::retire`] | `epoch.rs`: a per-thread batch, deferred to crossbeam when full | `hazard/domain.rs` `retire` into a shard's list (`hazard/retired.rs`) |
//! | reclaim | (inside the scheme) | crossbeam's collector runs the batch | `hazard/domain.rs` `pass`: heavy fence, hazard snapshot, free the rest |
//! | end or renew | [`Guard::refresh`], drop; [`Handle`] every [`Handle::REFRESH_EVERY`] operations (`handle.rs`) | repin + hand the open batch over | clear the used slots |
//! | count | [`Reclaim::stats`] | `counters.rs` | `hazard/retired.rs` |
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

use core::ptr::NonNull;

use crate::primitive::sync::atomic::{AtomicPtr, Ordering::Acquire};

pub(crate) mod counters;
mod epoch;
mod handle;
pub mod hazard;
mod shared;
#[cfg(all(test, not(loom)))]
pub(crate) mod test_matrix;

pub use epoch::{Epoch, EpochGuard, EpochSlot};
pub use handle::Handle;
pub use hazard::{Hazard, HazardGuard, HazardSlot};
pub use shared::Shared;

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

/// A critical section of a [`Reclaim`] scheme: lends protection slots and
/// retires unlinked nodes.
///
/// A guard lends its [`MAX_SLOTS`] slots as separate values
/// ([`split`](Guard::split) / [`slots`](Guard::slots)); each slot protects
/// one pointer at a time and hands it out as a [`Shared`] that borrows the
/// slot. So several pointers can be protected at once, reusing a slot while
/// its pointer lives is a compile error, and [`refresh`](Guard::refresh)
/// (which takes `&mut self`) ends every borrow.
///
/// # Safety
///
/// An implementation promises that a pointer its slot protected (a
/// [`Slot::publish`] that returned `true`) is not reclaimed while the
/// protection stands: until the slot publishes again or is cleared,
/// [`refresh`](Guard::refresh) is called, or the guard drops. Under epochs
/// every pointer loaded while the guard lives is protected.
pub unsafe trait Guard {
    /// A protection slot lent by this guard for `'g`.
    type Slot<'g>: Slot
    where
        Self: 'g;

    /// Lends every slot, together with a shared view of the guard for
    /// [`retire`](Guard::retire) while the slots are in use.
    fn split(&mut self) -> ([Self::Slot<'_>; MAX_SLOTS], &Self);

    /// Lends every slot.
    #[inline(always)]
    fn slots(&mut self) -> [Self::Slot<'_>; MAX_SLOTS] {
        self.split().0
    }

    /// Drops every protection this guard holds (hazard: clears the slots;
    /// epoch: repins, letting the global epoch advance, and runs a
    /// collection step). Call it in long loops; handles do, every
    /// [`REFRESH_EVERY`](Handle::REFRESH_EVERY) operations.
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

/// One protection slot of a [`Guard`]: protects one pointer at a time.
///
/// The `protect*` methods are `unsafe` because the slot cannot know what a
/// pointer points to: the caller vouches that what it protects is a live
/// node of a structure that retires through this guard's reclaimer. In
/// return the [`Shared`] they hand out dereferences safely.
///
/// # Safety
///
/// An implementation promises that when [`publish`](Slot::publish) returns
/// `true` the address stays protected (see [`Guard`]) until this slot
/// publishes again or is cleared, or its guard is refreshed or dropped.
pub unsafe trait Slot {
    /// Publishes `addr` in the slot (ending its previous protection),
    /// fences, then calls `witness`; returns true iff the protection holds
    /// (the witness showed `addr` was not yet unlinked). Epoch slots
    /// return `true` without calling the witness, so a witness must have no
    /// side effects.
    fn publish(&mut self, addr: *mut (), witness: impl FnMut() -> bool) -> bool;

    /// Ends this slot's protection (hazard: clears it; epoch: nothing).
    fn clear(&mut self);

    /// Loads `src` and protects what it held, retrying until the
    /// protection holds; `None` if `src` held null (the slot is then
    /// cleared: its previous protection ends either way). The witness is `src`
    /// still holding the same pointer. The load is `Acquire`, pairing with
    /// the `Release` store or CAS that published the node.
    ///
    /// # Safety
    ///
    /// 1. Every non-null pointer `src` holds points to a live `T` that is
    ///    retired only through this slot's reclaimer, and only after `src`
    ///    stopped holding it (`src` is root-reachable: a node is always
    ///    unlinked from it before being retired).
    #[inline]
    unsafe fn protect<T>(&mut self, src: &AtomicPtr<T>) -> Option<Shared<'_, T>> {
        // Acquire: pairs with the Release that published the node in `src`.
        let mut ptr = src.load(Acquire);
        loop {
            let Some(p) = NonNull::new(ptr) else {
                // Nothing to protect: end the slot's previous protection,
                // as publishing any other pointer would.
                self.clear();
                return None;
            };
            // Acquire (inside the witness): the same pairing as above.
            let mut seen = ptr;
            if self.publish(ptr.cast(), || {
                seen = src.load(Acquire);
                seen == ptr
            }) {
                // SAFETY: published and witnessed: `src` still held `p`
                // after publication, so (precondition 1) it was not yet
                // retired, and it stays protected while the slot is
                // borrowed.
                return Some(unsafe { Shared::new_unchecked(p) });
            }
            ptr = seen;
        }
    }

    /// Protects `ptr` if `witness` (called after publication) shows it was
    /// not yet unlinked; `None` otherwise (hazard only: an epoch slot never
    /// fails). For a pointer read out of another node the witness is the
    /// parent's position (Michael–Scott pop: `head == h` still holds), never
    /// the field itself.
    ///
    /// # Safety
    ///
    /// 1. If `witness` returns true after publication, `ptr` points to a
    ///    live `T` not yet retired, that is retired only through this
    ///    slot's reclaimer.
    #[inline]
    unsafe fn protect_with<T>(
        &mut self,
        ptr: NonNull<T>,
        witness: impl FnMut() -> bool,
    ) -> Option<Shared<'_, T>> {
        if self.publish(ptr.as_ptr().cast(), witness) {
            // SAFETY: published and witnessed (precondition 1); protected
            // while the slot is borrowed.
            Some(unsafe { Shared::new_unchecked(ptr) })
        } else {
            None
        }
    }
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

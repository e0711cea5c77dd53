//! The asymmetric fence pair of the hazard-pointer protocol.
//!
//! A reader publishes a hazard and then re-reads its witness; the reclaimer
//! unlinks, then reads every hazard. Each side needs a store→load barrier
//! between its two steps, and at least one of the two must see the other's
//! store. Readers run far more often than reclaimers, so the barrier is made
//! asymmetric (folly's `asymmetric_thread_fence_light/heavy`):
//!
//! | mode | reader ([`light`]) | reclaimer ([`heavy`]) |
//! |---|---|---|
//! | asymmetric (Linux, membarrier registered) | `compiler_fence(SeqCst)` | `membarrier(PRIVATE_EXPEDITED)` + `fence(SeqCst)` |
//! | symmetric (fallback) | `fence(SeqCst)` | `fence(SeqCst)` |
//!
//! `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` makes every thread of the
//! process that is running at the time execute a full memory barrier (an
//! IPI), and a thread that is not running passes through the scheduler,
//! which is one; so the reader's compiler fence is upgraded to a real fence
//! exactly when a reclaimer needs it. The process must register with
//! `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED` first; [`init`] does, once per
//! process, before the first hazard domain hands out a guard.
//!
//! The symmetric fallback is used when registration fails (old kernel,
//! seccomp), off Linux, and always under `cfg(loom)`, `cfg(miri)` and
//! `--cfg cds_fence_fallback` (the thread-sanitizer run). Loom therefore
//! checks only the symmetric protocol.
//!
//! # Under the thread sanitizer
//!
//! TSan models atomic loads, stores and RMWs with their orderings, but
//! neither standalone fences (`fence(SeqCst)` adds no happens-before edge
//! for it) nor `membarrier`. So `--cfg cds_fence_fallback`, which the TSan
//! job sets, also changes how slots are accessed:
//!
//! | step | default | `cds_fence_fallback` |
//! |---|---|---|
//! | publish or clear a hazard ([`publish`], [`clear`]) | `store(Release)` | `swap(AcqRel)` |
//! | read a slot for a snapshot ([`read_hazard`]) | `load(Acquire)` | `compare_exchange(v, v, AcqRel)` until it succeeds |
//!
//! Every write to a slot is then an RMW, and the pass reads each slot with
//! an RMW, so the slot's modification order puts the reader's publication
//! and the pass's read in one order, and each side acquires what the other
//! released: if the pass's read comes first, everything before it (the
//! unlinks of the objects it took) happens-before the reader's
//! publication, hence before its witness, which fails; if the publication
//! comes first, the pass reads the hazard, or a later clear or overwrite
//! that the reader released after its last access. This is the store→load
//! argument of the fences carried by the atomic words instead (as
//! crossbeam-epoch does under `crossbeam_sanitize_thread`); the fences stay,
//! redundant there. Every happens-before edge the safety argument uses is
//! then one TSan tracks, so a report on a node's memory is a real missing
//! edge, not the fence blind spot.
//!
//! What TSan then checks, in the executions it happens to see: that a
//! reader's accesses to a node happen-before the drop function that frees
//! it, through the slot RMWs above, the retired lists' Release pushes and
//! Acquire takes, and the records' `active` handoff. What it leaves
//! unchecked: the fence protocol shipped everywhere else (symmetric
//! fences, checked by loom, and `membarrier`, argued only here), any
//! ordering that only a weaker CPU than the x86 it runs on would expose,
//! and interleavings that did not occur during the run.
//!
//! # Mode word
//!
//! | `MODE` | meaning | reader | reclaimer |
//! |---|---|---|---|
//! | `UNINIT` | [`init`] not finished | `fence(SeqCst)` | runs [`init`] first |
//! | `ASYMMETRIC` | registered | compiler fence | membarrier |
//! | `SYMMETRIC` | registration failed or not attempted | `fence(SeqCst)` | `fence(SeqCst)` |
//!
//! `MODE` moves once, from `UNINIT` to a final value. A reader that sees
//! `UNINIT` fences fully, which pairs with either reclaimer fence; a
//! reclaimer always acts on the final value, so a reader that used a
//! compiler fence (it saw `ASYMMETRIC`) meets a membarrier.

use core::ptr;

#[cfg(cds_fence_fallback)]
use crate::primitive::sync::atomic::Ordering::{AcqRel, Relaxed};
#[cfg(not(cds_fence_fallback))]
use crate::primitive::sync::atomic::Ordering::{Acquire, Release};
use crate::primitive::sync::atomic::{fence, AtomicPtr, Ordering::SeqCst};

#[cfg(all(target_os = "linux", not(any(loom, miri, cds_fence_fallback))))]
mod sys {
    use core::sync::atomic::AtomicU8;
    use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

    pub(super) const UNINIT: u8 = 0;
    pub(super) const ASYMMETRIC: u8 = 1;
    pub(super) const SYMMETRIC: u8 = 2;

    /// See the state table in the module docs.
    pub(super) static MODE: AtomicU8 = AtomicU8::new(UNINIT);

    // From linux/membarrier.h (stable kernel ABI since 4.14); defined here
    // so that older libc releases without them still build.
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier(cmd: libc::c_long) -> bool {
        // SAFETY: `membarrier(cmd, flags = 0, cpu_id = 0)` reads and writes
        // no user memory; an unsupported command returns -1 (EINVAL/ENOSYS).
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_long,
                0 as libc::c_long,
            ) == 0
        }
    }

    /// Registers once; returns the final mode.
    #[cold]
    pub(super) fn register() -> u8 {
        let mode = if membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) {
            ASYMMETRIC
        } else {
            SYMMETRIC
        };
        // Release/Acquire: pairs with the Acquire loads in `mode()`, so a
        // thread that sees ASYMMETRIC also sees the registration done.
        match MODE.compare_exchange(UNINIT, mode, Release, Acquire) {
            Ok(_) => mode,
            // Another thread finished first; registration is idempotent.
            Err(now) => now,
        }
    }

    /// The final mode, registering if needed.
    #[inline]
    pub(super) fn mode() -> u8 {
        // Acquire: pairs with the Release CAS in `register`.
        match MODE.load(Acquire) {
            UNINIT => register(),
            m => m,
        }
    }

    /// Reader side: true iff the compiler fence suffices.
    #[inline(always)]
    pub(super) fn reader_may_skip_fence() -> bool {
        // Relaxed: the value is write-once; a stale UNINIT only makes the
        // reader take the full fence (see the module's state table).
        MODE.load(Relaxed) == ASYMMETRIC
    }

    /// The heavy side in asymmetric mode.
    pub(super) fn expedited() {
        if !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
            // Readers already rely on it: continuing would be unsound.
            eprintln!("cds: membarrier(PRIVATE_EXPEDITED) failed after registration; aborting");
            std::process::abort();
        }
    }
}

/// Registers the process for expedited membarrier (once; later calls are a
/// load). Called when a domain is created, before it hands out a guard.
#[inline]
pub(crate) fn init() {
    #[cfg(all(target_os = "linux", not(any(loom, miri, cds_fence_fallback))))]
    let _ = sys::mode();
}

/// True when readers use only a compiler fence (for docs and tests).
pub(crate) fn is_asymmetric() -> bool {
    #[cfg(all(target_os = "linux", not(any(loom, miri, cds_fence_fallback))))]
    return sys::mode() == sys::ASYMMETRIC;
    #[allow(unreachable_code)]
    false
}

/// The reader's fence, between publishing a hazard and reading the witness.
#[inline(always)]
pub(crate) fn light() {
    #[cfg(all(target_os = "linux", not(any(loom, miri, cds_fence_fallback))))]
    if sys::reader_may_skip_fence() {
        // SeqCst compiler fence: the hazard store and the witness load are
        // not reordered by the compiler; the CPU ordering comes from the
        // reclaimer's membarrier (`heavy`).
        crate::primitive::sync::atomic::compiler_fence(SeqCst);
        return;
    }
    // SeqCst fence: pairs with the SeqCst fence in `heavy` (store→load
    // barrier on both sides, Michael 2004's symmetric protocol).
    fence(SeqCst);
}

/// The reclaimer's fence, between unlinking (retire) and reading hazards.
#[inline]
pub(crate) fn heavy() {
    #[cfg(all(target_os = "linux", not(any(loom, miri, cds_fence_fallback))))]
    if sys::mode() == sys::ASYMMETRIC {
        sys::expedited();
    }
    // SeqCst fence: pairs with the reader's fence in `light` (symmetric
    // mode), and orders this thread's own accesses around the membarrier.
    fence(SeqCst);
}

/// Stores `p` in a hazard slot (the reader's publication, followed by
/// [`light`]; or null, to end a protection). Only the slot's owner calls it.
#[inline(always)]
pub(crate) fn publish(slot: &AtomicPtr<()>, p: *mut ()) {
    // Release: overwriting or clearing the slot ends the previous
    // protection; pairs with `read_hazard`, so the owner's accesses to a node
    // it stopped protecting happen-before a pass that no longer sees it
    // frees the node. The store→load order with the witness comes from the
    // fences.
    #[cfg(not(cds_fence_fallback))]
    slot.store(p, Release);
    // AcqRel swap: pairs with the AcqRel RMW of `read_hazard`; every write
    // to a slot is an RMW, so the two are ordered by the slot itself (see
    // "Under the thread sanitizer" in the module docs).
    #[cfg(cds_fence_fallback)]
    let _ = slot.swap(p, AcqRel);
}

/// Ends the protection held in `slot`.
#[inline(always)]
pub(crate) fn clear(slot: &AtomicPtr<()>) {
    publish(slot, ptr::null_mut());
}

/// Reads a hazard slot for a pass's snapshot (after [`heavy`]).
#[inline]
pub(crate) fn read_hazard(slot: &AtomicPtr<()>) -> *mut () {
    // Acquire: pairs with the Release store of `publish`.
    #[cfg(not(cds_fence_fallback))]
    return slot.load(Acquire);
    // An AcqRel RMW that leaves the value unchanged: Acquire pairs with the
    // owner's `publish` swaps; Release makes this pass's earlier steps
    // (the unlinks of everything it took) happen-before the owner's next
    // publication, whose witness then sees them.
    #[cfg(cds_fence_fallback)]
    {
        // Relaxed: only a first guess; the CAS below reads the value again.
        let mut cur = slot.load(Relaxed);
        loop {
            // Relaxed on failure: the loop retries with the value seen.
            match slot.compare_exchange_weak(cur, cur, AcqRel, Relaxed) {
                Ok(_) => return cur,
                Err(now) => cur = now,
            }
        }
    }
}

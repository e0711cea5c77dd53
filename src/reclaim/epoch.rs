//! [`Epoch`]: an adapter over crossbeam-epoch's global collector.
//!
//! Epoch-based reclamation (Fraser 2004, *Practical lock-freedom*; crossbeam's
//! variant): a thread pins the global epoch for the length of an operation,
//! and garbage retired in epoch *e* is freed once every pinned thread has
//! observed *e + 2*. Everything loaded while pinned is protected, so
//! protection is free and witnesses are never called. The price: a thread
//! that stays pinned (a long-held [`EpochGuard`] or a structure's `Ref`)
//! stops all reclamation in the process, and garbage grows without bound.
//!
//! Costs, from crossbeam-epoch: `pin` is one lock-prefixed RMW on the
//! thread's own epoch word, and every 128th pin runs a collection step
//! (which runs other threads' retired drop functions). The collector is
//! the process-wide default one, shared with rayon, crossbeam-deque and
//! anything else using crossbeam-epoch: a long-held guard stalls their
//! reclamation too (crossbeam-epoch issue 566 shows the OOM this causes).
//! No private collectors: crossbeam caches a thread's participant only for
//! the default collector.
//!
//! # Under loom
//!
//! crossbeam-epoch switches to loom only with `--cfg crossbeam_loom`.
//! Without it all loom model threads would share one OS thread's
//! participant and the model would be meaningless, so [`Epoch::guard`]
//! panics under `--cfg loom` unless `--cfg crossbeam_loom` is also set. Use
//! [`Hazard`](crate::reclaim::Hazard) in your own loom models if you cannot
//! set both.

use core::marker::PhantomData;

use crate::reclaim::counters::per_thread_counters;
use crate::reclaim::{run_drop, Guard, Reclaim, ReclaimStats};

per_thread_counters!(static epoch_counters);

/// Epoch-based reclamation on crossbeam-epoch's global collector (the
/// default reclaimer of every structure).
///
/// Zero-sized: every `Epoch` is the same domain.
///
/// # Examples
///
/// ```
/// use cds::reclaim::{Epoch, Reclaim};
/// let epoch = Epoch::default();
/// let before = epoch.stats();
/// drop(epoch.guard()); // pin and unpin
/// assert!(epoch.stats().retired >= before.retired);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Epoch;

impl Epoch {
    /// The global epoch domain (the same as `Epoch::default()`).
    pub const fn new() -> Self {
        Epoch
    }
}

/// A pinned critical section of [`Epoch`]. `!Send`: a pin belongs to its
/// thread.
///
/// # Examples
///
/// A guard cannot outlive its reclaimer:
///
/// ```compile_fail
/// use cds::reclaim::{Epoch, Reclaim};
/// let guard = {
///     let epoch = Epoch::new();
///     epoch.guard()
/// };
/// drop(guard);
/// ```
#[must_use]
pub struct EpochGuard<'r> {
    guard: crossbeam_epoch::Guard,
    _reclaimer: PhantomData<&'r Epoch>,
}

impl core::fmt::Debug for EpochGuard<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EpochGuard").finish_non_exhaustive()
    }
}

#[inline]
fn pin() -> crossbeam_epoch::Guard {
    #[cfg(all(loom, not(crossbeam_loom)))]
    panic!(
        "cds::reclaim::Epoch under loom needs crossbeam-epoch on loom too: build with \
         RUSTFLAGS=\"--cfg loom --cfg crossbeam_loom\", or use cds::reclaim::Hazard \
         in loom models"
    );
    #[allow(unreachable_code)]
    crossbeam_epoch::pin()
}

// SAFETY: crossbeam-epoch reclaims a deferred function only after every
// thread pinned when it was deferred has unpinned; `EpochGuard` holds a pin,
// so whatever it loads stays valid while it lives. Each retired pointer is
// deferred once (retire precondition 2), so it is reclaimed at most once.
unsafe impl Reclaim for Epoch {
    type Guard<'r> = EpochGuard<'r>;

    #[inline]
    fn guard(&self) -> EpochGuard<'_> {
        EpochGuard {
            guard: pin(),
            _reclaimer: PhantomData,
        }
    }

    fn flush(&self) {
        // Each `flush` may advance the global epoch by at most one step, and
        // garbage needs two steps past its epoch: a few rounds, as
        // crossbeam's own tests do.
        for _ in 0..4 {
            pin().flush();
        }
    }

    fn stats(&self) -> ReclaimStats {
        epoch_counters::sum()
    }
}

// SAFETY: every pointer loaded while the pin is held stays valid until the
// pin is released (`refresh` or drop); the witness is never needed.
unsafe impl Guard for EpochGuard<'_> {
    #[inline(always)]
    fn protect_with<T>(
        &mut self,
        slot: usize,
        _ptr: *mut T,
        _witness: impl FnMut() -> bool,
    ) -> bool {
        debug_assert!(slot < super::MAX_SLOTS, "protection slot out of range");
        true
    }

    #[inline(always)]
    fn protect_tagged_with(
        &mut self,
        slot: usize,
        _word: usize,
        _mask: usize,
        _witness: impl FnMut() -> bool,
    ) -> bool {
        debug_assert!(slot < super::MAX_SLOTS, "protection slot out of range");
        true
    }

    /// Repins, then pushes this thread's garbage bag to the global queue
    /// and runs a collection step. crossbeam collects only from `pin()`
    /// (every 128 pins) and `flush()`; a guard kept alive across many
    /// operations and only `repin`ned would never collect, and its garbage
    /// would pile up for the next thread that pins to pay (measured: a
    /// handle loop of 1M map writes left ~0.9M entries behind).
    #[inline]
    fn refresh(&mut self) {
        self.guard.repin();
        self.guard.flush();
    }

    #[inline]
    unsafe fn retire(&self, ptr: *mut (), drop_fn: unsafe fn(*mut ())) {
        epoch_counters::add_retired(1);
        // The closure holds two words (pointer and function), inside
        // crossbeam's inline `Deferred` storage: no allocation per retire.
        let run = move || {
            // SAFETY: crossbeam runs this after every thread pinned at
            // retirement has unpinned; with retire preconditions 1 and 3 no
            // protection on `ptr` remains, and 4 makes the call sound once.
            unsafe { run_drop(ptr, drop_fn) };
            epoch_counters::add_reclaimed(1);
        };
        // SAFETY: `defer_unchecked` requires the closure to be sound to run
        // later on any thread: retire precondition 4 says `drop_fn(ptr)` is.
        unsafe { self.guard.defer_unchecked(run) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    unsafe fn drop_box(p: *mut ()) {
        // SAFETY: `p` came from `Box::into_raw(Box<u64>)` in the test and is
        // reclaimed once.
        drop(unsafe { Box::from_raw(p.cast::<u64>()) });
        DROPS.fetch_add(1, Relaxed);
    }

    #[test]
    fn retire_then_flush_reclaims() {
        let epoch = Epoch::new();
        let n = if cfg!(miri) { 10 } else { 1000 };
        let before = epoch.stats();
        for i in 0..n {
            let g = epoch.guard();
            let p = Box::into_raw(Box::new(i as u64)).cast::<()>();
            // SAFETY: `p` was never shared (1, 3), is retired once (2), and
            // `drop_box` frees a `Box<u64>` on any thread (4).
            unsafe { g.retire(p, drop_box) };
        }
        for _ in 0..64 {
            if DROPS.load(Relaxed) >= n {
                break;
            }
            epoch.flush();
        }
        assert!(DROPS.load(Relaxed) >= n);
        assert!(epoch.stats().retired - before.retired >= n as u64);
    }

    #[test]
    fn protect_returns_current_value() {
        use crate::primitive::sync::atomic::AtomicPtr;
        let mut x = 5u32;
        let src = AtomicPtr::new(&mut x as *mut u32);
        let epoch = Epoch::new();
        let mut g = epoch.guard();
        assert_eq!(g.protect(0, &src), &mut x as *mut u32);
        g.refresh();
    }
}

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
//! Retirements are batched per thread: up to 32 retired objects wait in a
//! buffer of the retiring thread and go to crossbeam as one deferred call
//! (see the `batch` module below for why that is sound and what it costs:
//! at most 31 objects per thread wait until the batch fills, the thread
//! calls [`Reclaim::flush`] or refreshes a guard ([`Guard::refresh`], which
//! every structure's handle does periodically), or it exits).
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
use crate::reclaim::{run_drop, Guard, Reclaim, ReclaimStats, Slot, MAX_SLOTS};

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
        hand_over_open_batch(&pin());
        for _ in 0..4 {
            pin().flush();
        }
    }

    fn stats(&self) -> ReclaimStats {
        epoch_counters::sum()
    }
}

/// A protection slot of an [`EpochGuard`]: the pin protects everything, so
/// the slot only carries the borrow of the guard.
#[derive(Debug)]
pub struct EpochSlot<'g> {
    _guard: PhantomData<&'g mut ()>,
}

// SAFETY: the guard's pin protects every pointer loaded while it is held,
// until the guard is refreshed or dropped, which the slot's borrow of the
// guard excludes; the witness is never needed.
unsafe impl Slot for EpochSlot<'_> {
    #[inline(always)]
    fn publish(&mut self, _addr: *mut (), _witness: impl FnMut() -> bool) -> bool {
        true
    }

    #[inline(always)]
    fn clear(&mut self) {}
}

// SAFETY: every pointer loaded while the pin is held stays valid until the
// pin is released (`refresh` or drop); the witness is never needed.
unsafe impl Guard for EpochGuard<'_> {
    type Slot<'g>
        = EpochSlot<'g>
    where
        Self: 'g;

    #[inline(always)]
    fn split(&mut self) -> ([EpochSlot<'_>; MAX_SLOTS], &Self) {
        let slots = core::array::from_fn(|_| EpochSlot {
            _guard: PhantomData,
        });
        (slots, self)
    }

    /// Repins, hands this thread's open retire batch to crossbeam, then
    /// pushes this thread's garbage bag to the global queue and runs a
    /// collection step. crossbeam collects only from `pin()`
    /// (every 128 pins) and `flush()`; a guard kept alive across many
    /// operations and only `repin`ned would never collect, and its garbage
    /// would pile up for the next thread that pins to pay (measured: a
    /// handle loop of 1M map writes left ~0.9M entries behind).
    #[inline]
    fn refresh(&mut self) {
        self.guard.repin();
        hand_over_open_batch(&self.guard);
        self.guard.flush();
    }

    #[inline(always)]
    unsafe fn retire(&self, ptr: *mut (), drop_fn: unsafe fn(*mut ())) {
        epoch_counters::add_retired(1);
        #[cfg(not(loom))]
        {
            // Into this thread's batch; a full batch goes to crossbeam as one
            // deferred call (see `batch`).
            // SAFETY: retire preconditions 1–4, passed on.
            match unsafe { batch::push(ptr, drop_fn) } {
                batch::Pushed::Kept => return,
                batch::Pushed::Full(full) => {
                    // SAFETY: `full` came from `push` and is ours now;
                    // `self.guard` is pinned.
                    unsafe { batch::defer(&self.guard, full) };
                    return;
                }
                batch::Pushed::NoThreadLocal => {}
            }
        }
        // SAFETY: retire preconditions 1–4, passed on; pinned.
        unsafe { defer_one(&self.guard, ptr, drop_fn) };
    }
}

/// Defers this thread's open retire batch (if any) under `guard`, so that
/// a refresh or a flush leaves none of this thread's garbage waiting for
/// the batch to fill. Sound for the reason batching is (see `batch`):
/// deferring under a later pin only postpones reclamation.
#[inline]
fn hand_over_open_batch(guard: &crossbeam_epoch::Guard) {
    #[cfg(not(loom))]
    if let Some(b) = batch::take() {
        // SAFETY: `b` came from `take` and is ours; `guard` is pinned.
        unsafe { batch::defer(guard, b) };
    }
    #[cfg(loom)]
    let _ = guard;
}

/// Hands one retired object to crossbeam.
///
/// # Safety
///
/// The preconditions of [`Guard::retire`] for `ptr` and `drop_fn`.
#[inline]
unsafe fn defer_one(guard: &crossbeam_epoch::Guard, ptr: *mut (), drop_fn: unsafe fn(*mut ())) {
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
    unsafe { guard.defer_unchecked(run) };
}

/// Per-thread batching of retirements.
///
/// crossbeam's `defer` costs ≈ 45 instructions per object (a 4-word
/// `Deferred` in the thread's bag, and every 64 objects a sealed 2 KiB bag
/// copied into a freshly allocated global-queue node), and its collection
/// calls every `Deferred` through a pointer. A push+pop pair or a map write
/// retires one object each. Here a thread collects up to [`BATCH`]
/// retired objects in a buffer of its own and defers the whole buffer as
/// one closure (one word: the buffer's pointer).
///
/// Why it is sound: an object may be reclaimed once every thread pinned at
/// its retirement has unpinned. Deferring it later, under a guard pinned
/// at that later time, only postpones that moment: crossbeam stamps the
/// batch with the epoch of the `defer`, which is no earlier than each
/// object's retirement epoch.
///
/// Cost: up to `BATCH - 1` objects per thread wait in the buffer until it
/// fills, [`Epoch::flush`] runs on that thread, a guard of that thread is
/// refreshed, or the thread exits (its
/// thread-local's destructor defers the rest, pinning through crossbeam's
/// fallback participant if crossbeam's own thread-local is gone) — the same
/// kind of delay crossbeam's own 64-object bag has. A thread whose
/// thread-local is already destroyed defers each object alone.
#[cfg(not(loom))]
mod batch {
    use core::cell::Cell;
    use core::mem::MaybeUninit;
    use core::ptr;

    use super::{epoch_counters, run_drop};

    /// Objects per deferred batch.
    pub(super) const BATCH: usize = 32;

    /// One retired object.
    #[derive(Clone, Copy)]
    struct Item {
        ptr: *mut (),
        drop_fn: unsafe fn(*mut ()),
    }

    /// A heap buffer of retired objects; `items[..len]` are initialized.
    pub(super) struct Batch {
        len: usize,
        items: [MaybeUninit<Item>; BATCH],
    }

    /// This thread's open batch (null: none yet). Its destructor defers
    /// what is left when the thread exits.
    struct Slot(Cell<*mut Batch>);

    impl Drop for Slot {
        fn drop(&mut self) {
            let b = self.0.replace(ptr::null_mut());
            if !b.is_null() {
                let guard = crossbeam_epoch::pin();
                // SAFETY: `b` was this thread's open batch and is no longer
                // reachable from the slot; `guard` is pinned.
                unsafe { defer(&guard, b) };
            }
        }
    }

    crate::primitive::thread_local! {
        static OPEN: Slot = const { Slot(Cell::new(ptr::null_mut())) };
    }

    /// What [`push`] did.
    pub(super) enum Pushed {
        /// The object waits in this thread's batch.
        Kept,
        /// The object completed this batch, which the caller must defer.
        Full(*mut Batch),
        /// No thread-local any more (thread exit): the caller defers the
        /// object alone.
        NoThreadLocal,
    }

    /// Adds a retired object to this thread's batch.
    ///
    /// # Safety
    ///
    /// The preconditions of [`Guard::retire`](crate::reclaim::Guard::retire)
    /// for `ptr` and `drop_fn` (they travel with the batch to [`defer`]).
    #[inline]
    pub(super) unsafe fn push(ptr: *mut (), drop_fn: unsafe fn(*mut ())) -> Pushed {
        OPEN.try_with(|slot| {
            let mut b = slot.0.get();
            if b.is_null() {
                b = Box::into_raw(Box::new(Batch {
                    len: 0,
                    items: [MaybeUninit::uninit(); BATCH],
                }));
                slot.0.set(b);
            }
            // SAFETY: `b` is this thread's open batch: allocated above or
            // by an earlier push on this thread, reachable only from the
            // slot, and `len < BATCH` (a full batch leaves the slot).
            let batch = unsafe { &mut *b };
            batch.items[batch.len].write(Item { ptr, drop_fn });
            batch.len += 1;
            if batch.len == BATCH {
                slot.0.set(ptr::null_mut());
                Pushed::Full(b)
            } else {
                Pushed::Kept
            }
        })
        .unwrap_or(Pushed::NoThreadLocal)
    }

    /// Takes this thread's open batch, if any (for `Epoch::flush`).
    pub(super) fn take() -> Option<*mut Batch> {
        OPEN.try_with(|slot| slot.0.replace(ptr::null_mut()))
            .ok()
            .filter(|b| !b.is_null())
    }

    /// Defers a whole batch as one closure.
    ///
    /// # Safety
    ///
    /// 1. `b` came from [`push`] (`Full`) or [`take`], is owned by the
    ///    caller and passed here once; every item in it was pushed under
    ///    the retire preconditions.
    /// 2. `guard` is pinned.
    pub(super) unsafe fn defer(guard: &crossbeam_epoch::Guard, b: *mut Batch) {
        let run = move || {
            // SAFETY: precondition 1: we own the batch; it came from
            // `Box::into_raw` in `push`.
            let batch = unsafe { Box::from_raw(b) };
            for item in &batch.items[..batch.len] {
                // SAFETY: `items[..len]` are initialized (`push`).
                let item = unsafe { item.assume_init() };
                // SAFETY: crossbeam runs this after every thread pinned at
                // the `defer` has unpinned, which is no earlier than for
                // each item's retirement (module docs); the retire
                // preconditions make the call sound, once.
                unsafe { run_drop(item.ptr, item.drop_fn) };
            }
            epoch_counters::add_reclaimed(batch.len as u64);
        };
        // SAFETY: the closure is sound to run later on any thread: it owns
        // the batch, and every item's drop function is (retire
        // precondition 4); precondition 2 for the pin.
        unsafe { guard.defer_unchecked(run) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    static DROPS: AtomicUsize = AtomicUsize::new(0);

    /// Flushes until `done()` holds, for up to about 10 s. The global
    /// epoch advances only while every pinned thread moves on, and other
    /// tests of this binary run in parallel and may hold a pin for a while
    /// (a map test checks invariants in a loop under one guard): a fixed
    /// number of back-to-back flushes can all fall inside such a stretch.
    fn flush_until(done: impl Fn() -> bool) {
        let epoch = Epoch::new();
        for _ in 0..10_000 {
            if done() {
                return;
            }
            epoch.flush();
            if !cfg!(miri) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }

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
        flush_until(|| DROPS.load(Relaxed) >= n);
        assert!(DROPS.load(Relaxed) >= n);
        assert!(epoch.stats().retired - before.retired >= n as u64);
    }

    static EXIT_DROPS: AtomicUsize = AtomicUsize::new(0);

    unsafe fn drop_box_exit(p: *mut ()) {
        // SAFETY: `p` came from `Box::<u64>::into_raw` and is retired once.
        drop(unsafe { Box::from_raw(p.cast::<u64>()) });
        EXIT_DROPS.fetch_add(1, Relaxed);
    }

    /// Fewer retirements than a batch holds, on a thread that then exits
    /// without flushing: its thread-local hands the open batch to crossbeam,
    /// and a flush elsewhere reclaims it.
    #[test]
    fn an_exiting_threads_open_batch_is_reclaimed() {
        let n = 5;
        std::thread::spawn(move || {
            let epoch = Epoch::new();
            for i in 0..n {
                let g = epoch.guard();
                let p = Box::into_raw(Box::new(i as u64)).cast::<()>();
                // SAFETY: a fresh box, unreachable by anyone else, retired
                // once with its matching drop function.
                unsafe { g.retire(p, drop_box_exit) };
            }
        })
        .join()
        .unwrap();
        flush_until(|| EXIT_DROPS.load(Relaxed) == n);
        assert_eq!(EXIT_DROPS.load(Relaxed), n);
    }

    #[test]
    fn protect_returns_current_value() {
        use crate::primitive::sync::atomic::AtomicPtr;
        let mut x = 5u32;
        let src = AtomicPtr::new(&mut x as *mut u32);
        let epoch = Epoch::new();
        let mut g = epoch.guard();
        let [mut slot, ..] = g.slots();
        // SAFETY: (1) `src` holds `x`, never retired.
        let p = unsafe { slot.protect(&src) }.unwrap();
        assert_eq!(p.as_ptr(), &mut x as *mut u32);
        g.refresh();
    }
}

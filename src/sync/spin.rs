//! A test-and-test-and-set spin lock with bounded spinning.
//!
//! # Algorithm
//!
//! The lock is one `AtomicBool`. [`lock`](SpinMutex::lock) first tries one
//! compare-and-swap `false → true` (the uncontended case costs one atomic
//! RMW). If that fails it *tests* before it *sets* again: it waits with plain
//! loads, which keep the cache line shared among the waiters instead of
//! bouncing it between them with failed writes, and retries the CAS only when
//! the lock looks free. This is the test-and-test-and-set lock with
//! exponential backoff discussed by Anderson (IEEE TPDS 1990) and by
//! Mellor-Crummey and Scott, "Algorithms for Scalable Synchronization on
//! Shared-Memory Multiprocessors" (ACM TOCS 1991).
//!
//! Waiting is bounded exponential spinning (1, 2, 4 … 64 spin hints between
//! loads) followed by [`std::thread::yield_now`] between loads. The yield
//! matters when there are more threads than cores: a waiter that only spins
//! can burn its whole time slice while the holder is descheduled, and the
//! throughput of a pure spin lock collapses. With the yield, 6 threads on 2
//! cores make steady progress (tested).
//!
//! # Progress
//!
//! Blocking: a thread holding the lock and descheduled delays every other
//! thread that wants it. There is no queue, so there is no fairness: a thread
//! may in principle lose every race. Use it for short critical sections;
//! for long ones or heavy oversubscription a parking mutex (std's or
//! parking_lot's) is the better tool.
//!
//! # Orderings
//!
//! | operation | ordering | pairs with |
//! |---|---|---|
//! | acquiring CAS | `Acquire` | the `Release` store of the previous unlock |
//! | unlock store | `Release` | the next acquiring CAS |
//! | waiting loads, `is_locked` | `Relaxed` | nothing: only a hint to retry the CAS |
//!
//! So everything written under the lock is visible to the next thread that
//! locks it (checked with loom).
//!
//! # State
//!
//! | `locked` | meaning |
//! |---|---|
//! | `false` | free |
//! | `true` | held by exactly one guard (or raw owner) |
//!
//! # Poisoning
//!
//! None. A panic while a [`SpinMutexGuard`] is alive unlocks the mutex during
//! unwinding; the next thread gets the data as the panicking thread left it.
//! If the critical section can leave the data half-updated when it panics,
//! restore an invariant yourself (for example with a drop guard).

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use crate::primitive::cell::UnsafeCell;
use crate::primitive::sync::atomic::{
    AtomicBool,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::primitive::Backoff;

/// The raw lock under [`SpinMutex`]: one `AtomicBool`, no data.
///
/// It is the building block for a guard-based API; most users want
/// [`SpinMutex`]. With the `lock_api` feature it implements
/// `lock_api::RawMutex`, and `cds::LockApiMutex` is the
/// `lock_api::Mutex` over it.
///
/// # Examples
///
/// ```
/// use cds::sync::spin::RawSpinMutex;
///
/// let raw = RawSpinMutex::new();
/// raw.lock();
/// assert!(raw.is_locked());
/// assert!(!raw.try_lock());
/// // SAFETY: (1) this thread locked `raw` above and has not unlocked it.
/// unsafe { raw.unlock() };
/// assert!(!raw.is_locked());
/// ```
pub struct RawSpinMutex {
    /// `true` while held. See the state table in the module docs.
    locked: AtomicBool,
}

impl RawSpinMutex {
    /// A new, unlocked lock.
    ///
    /// `const` (usable in a `static`) except under `--cfg loom`, whose
    /// atomics cannot be built in a const context.
    ///
    /// # Examples
    ///
    /// ```
    /// static LOCK: cds::sync::spin::RawSpinMutex = cds::sync::spin::RawSpinMutex::new();
    /// assert!(!LOCK.is_locked());
    /// ```
    #[cfg(not(loom))]
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Self {
            locked: AtomicBool::new(false),
        }
    }

    /// A new, unlocked lock (not `const` under loom).
    #[cfg(loom)]
    #[must_use]
    pub fn new() -> Self {
        Self {
            locked: AtomicBool::new(false),
        }
    }

    /// Acquires the lock, spinning and then yielding until it is free.
    ///
    /// # Examples
    ///
    /// ```
    /// let raw = cds::sync::spin::RawSpinMutex::new();
    /// raw.lock();
    /// // SAFETY: (1) locked by this thread just above.
    /// unsafe { raw.unlock() };
    /// ```
    #[inline]
    pub fn lock(&self) {
        // Acquire: pairs with the Release store in `unlock`.
        if self
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut backoff = Backoff::new();
        loop {
            // Test: wait with plain loads (the line stays shared) until the
            // lock looks free. Relaxed: only a hint; the CAS decides.
            while self.locked.load(Relaxed) {
                backoff.snooze();
            }
            // Set. Acquire: pairs with the Release store in `unlock`.
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
            backoff.snooze();
        }
    }

    /// Acquires the lock if it is free; returns whether it did.
    ///
    /// # Examples
    ///
    /// ```
    /// let raw = cds::sync::spin::RawSpinMutex::new();
    /// assert!(raw.try_lock());
    /// assert!(!raw.try_lock());
    /// // SAFETY: (1) the first `try_lock` above succeeded on this thread.
    /// unsafe { raw.unlock() };
    /// ```
    #[inline]
    pub fn try_lock(&self) -> bool {
        // Relaxed pre-check keeps a failing `try_lock` from writing the line.
        // Acquire: pairs with the Release store in `unlock`.
        !self.locked.load(Relaxed)
            && self
                .locked
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
    }

    /// Releases the lock.
    ///
    /// # Safety
    ///
    /// 1. The lock is held, and the caller owns that hold: it acquired it
    ///    (on any thread) and no other unlock has released it since.
    ///
    /// # Examples
    ///
    /// ```
    /// let raw = cds::sync::spin::RawSpinMutex::new();
    /// raw.lock();
    /// // SAFETY: (1) locked just above and not released since.
    /// unsafe { raw.unlock() };
    /// ```
    #[inline]
    pub unsafe fn unlock(&self) {
        debug_assert!(
            self.locked.load(Relaxed),
            "unlock of an unlocked RawSpinMutex"
        );
        // Release: pairs with the Acquire CAS of the next `lock`/`try_lock`.
        self.locked.store(false, Release);
    }

    /// Whether the lock is held right now (a snapshot, for diagnostics).
    ///
    /// # Examples
    ///
    /// ```
    /// let raw = cds::sync::spin::RawSpinMutex::new();
    /// assert!(!raw.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        // Relaxed: a snapshot that orders nothing.
        self.locked.load(Relaxed)
    }
}

impl Default for RawSpinMutex {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RawSpinMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSpinMutex")
            .field("locked", &self.is_locked())
            .finish()
    }
}

// The `lock_api` feature's code lives in its own module; its names stay
// reachable here, where they have always been.
#[cfg(all(feature = "lock_api", not(loom)))]
pub use super::lock_api::{LockApiMutex, LockApiMutexGuard};

/// A mutual-exclusion lock that spins (then yields) instead of parking.
///
/// See the [module docs](self) for the algorithm. Locking returns a
/// [`SpinMutexGuard`] that gives `&mut T` and unlocks when dropped, also
/// during unwinding. There is **no poisoning**: after a panic under the lock
/// the next locker sees the data as it was left.
///
/// # Examples
///
/// ```
/// use cds::SpinMutex;
///
/// let counter = SpinMutex::new(0u64);
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| {
///             for _ in 0..1000 {
///                 *counter.lock() += 1;
///             }
///         });
///     }
/// });
/// assert_eq!(counter.into_inner(), 4000);
/// ```
///
/// Data that must not cross threads cannot be shared through the lock:
///
/// ```compile_fail
/// let m = cds::SpinMutex::new(std::rc::Rc::new(0));
/// std::thread::scope(|s| {
///     s.spawn(|| drop(m.lock())); // `Rc` is not `Send`: `SpinMutex<Rc<_>>` is not `Sync`
/// });
/// ```
///
/// # Why not `lock_api::Mutex<RawSpinMutex, T>`
///
/// parking_lot defines its `Mutex<T>` as `lock_api::Mutex<RawMutex, T>`, so
/// all the guard code is lock_api's. Here that would break the loom build,
/// which is how this crate checks its orderings and how users model-check
/// their own code against it: `lock_api::RawMutex` requires a
/// `const INIT: Self`, and under `--cfg loom` the lock word is a loom atomic,
/// which cannot be created in a const context. `SpinMutex` would have to be
/// a different type under loom, and the code loom checks would no longer be
/// the code users run. lock_api's `Mutex` also keeps the data in a plain
/// `UnsafeCell` that loom does not track, so loom could no longer report a
/// data race on the guarded data. (It would also make `lock_api` a
/// required dependency.) So `SpinMutex` keeps its own thin guard, and
/// every operation on the lock word is [`RawSpinMutex`]'s: `lock`,
/// `try_lock` and `is_locked` call it, the guard's drop calls its `unlock`.
/// With the `lock_api` feature, `cds::LockApiMutex` is lock_api's `Mutex`
/// over the same `RawSpinMutex`.
///
/// # Unwind safety
///
/// A `SpinMutex<T>` is [`UnwindSafe`](std::panic::UnwindSafe) when `T` is,
/// but it is not [`RefUnwindSafe`](std::panic::RefUnwindSafe): through
/// `&SpinMutex<T>` a closure gets `&mut T`, and since the lock does not
/// poison, data left half-updated by a panic is handed to the next locker
/// without a sign. The lock itself stays consistent (the guard unlocks
/// during unwinding); whether the data does is up to the caller, who says
/// so with [`AssertUnwindSafe`](std::panic::AssertUnwindSafe). std's
/// `Mutex` claims `RefUnwindSafe` because it poisons; non-poisoning locks
/// (`parking_lot`, `lock_api`) do not claim it, and neither does this one.
///
/// ```compile_fail
/// let m = cds::SpinMutex::new(0);
/// // `&SpinMutex` is not `UnwindSafe`: wrap the closure in `AssertUnwindSafe`.
/// let _ = std::panic::catch_unwind(|| *m.lock() += 1);
/// ```
pub struct SpinMutex<T: ?Sized> {
    raw: RawSpinMutex,
    /// Accessed only through a guard (which proves `raw` is held by it) or
    /// through `&mut self`.
    data: UnsafeCell<T>,
}

// SAFETY: the mutex owns its `T`; sending it sends the `T`.
unsafe impl<T: ?Sized + Send> Send for SpinMutex<T> {}
// SAFETY: `&SpinMutex` only gives `&mut T` to one lock holder at a time, so
// sharing it moves `T` between threads but never shares it: `T: Send` is
// exactly what is needed (as for `std::sync::Mutex`).
unsafe impl<T: ?Sized + Send> Sync for SpinMutex<T> {}

impl<T> SpinMutex<T> {
    /// A new, unlocked mutex holding `value`.
    ///
    /// `const` except under `--cfg loom`.
    ///
    /// # Examples
    ///
    /// ```
    /// static COUNT: cds::SpinMutex<u32> = cds::SpinMutex::new(0);
    /// *COUNT.lock() += 1;
    /// assert_eq!(*COUNT.lock(), 1);
    /// ```
    #[cfg(not(loom))]
    #[inline]
    pub const fn new(value: T) -> Self {
        Self {
            raw: RawSpinMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// A new, unlocked mutex holding `value` (not `const` under loom).
    #[cfg(loom)]
    pub fn new(value: T) -> Self {
        Self {
            raw: RawSpinMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = cds::SpinMutex::new(String::from("x"));
    /// assert_eq!(m.into_inner(), "x");
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> SpinMutex<T> {
    /// Locks the mutex, spinning and then yielding while another thread
    /// holds it. The guard unlocks when dropped.
    ///
    /// Locking again on the same thread while holding the guard deadlocks
    /// (the lock is not reentrant).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = cds::SpinMutex::new(vec![1]);
    /// m.lock().push(2);
    /// assert_eq!(*m.lock(), [1, 2]);
    /// ```
    #[inline]
    pub fn lock(&self) -> SpinMutexGuard<'_, T> {
        self.raw.lock();
        SpinMutexGuard {
            mutex: self,
            marker: PhantomData,
        }
    }

    /// Locks the mutex if it is free right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = cds::SpinMutex::new(0);
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<SpinMutexGuard<'_, T>> {
        if self.raw.try_lock() {
            Some(SpinMutexGuard {
                mutex: self,
                marker: PhantomData,
            })
        } else {
            None
        }
    }

    /// Whether some thread holds the lock right now (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = cds::SpinMutex::new(());
    /// let g = m.lock();
    /// assert!(m.is_locked());
    /// drop(g);
    /// assert!(!m.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Mutable access without locking: `&mut self` proves no guard exists.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = cds::SpinMutex::new(1);
    /// *m.get_mut() = 5;
    /// assert_eq!(*m.lock(), 5);
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard and every other borrow of
        // the data for the returned lifetime.
        self.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: Default> Default for SpinMutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for SpinMutex<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for SpinMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SpinMutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Exclusive access to a [`SpinMutex`]'s data; unlocks when dropped.
///
/// `Send` when `T: Send` (a spin lock may be released from any thread),
/// `Sync` when `T: Send + Sync`.
///
/// # Examples
///
/// ```
/// let m = cds::SpinMutex::new(1);
/// {
///     let mut g = m.lock();
///     *g += 1;
/// } // unlocked here
/// assert_eq!(*m.lock(), 2);
/// ```
#[must_use = "if unused the SpinMutex will immediately unlock"]
pub struct SpinMutexGuard<'a, T: ?Sized> {
    /// Invariant: `mutex.raw` is held, and this guard owns the hold.
    mutex: &'a SpinMutex<T>,
    /// The guard hands out `&mut T`: make auto traits follow that.
    marker: PhantomData<&'a mut T>,
}

impl<T: ?Sized> Deref for SpinMutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard's invariant: the lock is held by this guard, so
        // no other reference to the data exists outside this guard's borrows.
        self.mutex.data.with(|p| unsafe { &*p })
    }
}

impl<T: ?Sized> DerefMut for SpinMutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this borrow unique.
        self.mutex.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: ?Sized> Drop for SpinMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: (1) the guard's invariant: this guard owns the hold, and it
        // is dropped once.
        unsafe { self.mutex.raw.unlock() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for SpinMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for SpinMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    #[test]
    fn lock_and_try_lock() {
        let m = SpinMutex::new(0);
        let g = m.lock();
        assert!(m.is_locked());
        assert!(m.try_lock().is_none());
        drop(g);
        assert!(!m.is_locked());
        *m.try_lock().unwrap() = 3;
        assert_eq!(m.into_inner(), 3);
    }

    #[test]
    fn unsized_data() {
        let m: &SpinMutex<[u32]> = &SpinMutex::new([1, 2, 3]);
        m.lock()[1] = 7;
        assert_eq!(&*m.lock(), &[1, 7, 3]);
        let b: Box<SpinMutex<dyn fmt::Debug + Send>> = Box::new(SpinMutex::new(5));
        assert_eq!(format!("{:?}", &*b.lock()), "5");
    }

    #[test]
    fn debug_shows_data_or_locked() {
        let m = SpinMutex::new(4);
        assert!(format!("{m:?}").contains('4'));
        let _g = m.lock();
        assert!(format!("{m:?}").contains("<locked>"));
    }

    #[test]
    fn exclusion_under_threads() {
        let threads = 4;
        let per = if cfg!(miri) { 50 } else { 20_000 };
        // Non-atomic read-modify-write under the lock; a second atomic counts
        // concurrent holders.
        let m = SpinMutex::new(0usize);
        let inside = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for _ in 0..per {
                        let mut g = m.lock();
                        assert_eq!(inside.fetch_add(1, SeqCst), 0);
                        *g += 1;
                        inside.fetch_sub(1, SeqCst);
                    }
                });
            }
        });
        assert_eq!(m.into_inner(), threads * per);
    }

    #[test]
    fn drops_value_once() {
        let rc = std::rc::Rc::new(());
        let m = SpinMutex::new(rc.clone());
        assert_eq!(std::rc::Rc::strong_count(&rc), 2);
        drop(m);
        assert_eq!(std::rc::Rc::strong_count(&rc), 1);
    }
}

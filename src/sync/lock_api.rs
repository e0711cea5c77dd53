//! The `lock_api` feature: [`RawSpinMutex`] as a `lock_api::RawMutex`, and
//! [`LockApiMutex`], the `lock_api::Mutex` over it.
//!
//! One lock, two front ends. Every method of the trait impl forwards to
//! `RawSpinMutex`'s inherent method of the same name, which
//! [`SpinMutex`](super::spin::SpinMutex) calls too; the only code
//! `LockApiMutex` does not share with `SpinMutex` is lock_api's guard
//! instead of ours (which adds `MutexGuard::map`, `try_map`, `unlocked`
//! and the rest of lock_api's guard API).
//!
//! Not built under `--cfg loom`: `lock_api::RawMutex` requires a
//! `const INIT: Self`, and loom's atomics cannot be created in a const
//! context (see `SpinMutex`'s docs for why `SpinMutex` itself is not this
//! alias).

use super::spin::RawSpinMutex;

// SAFETY: `lock`/`try_lock` return only once `locked` went false → true by
// this call's CAS, so at most one owner exists at a time; `unlock` is only
// called by that owner (the trait's contract), which makes the lock free
// again. Unlocking from another thread is sound, hence `GuardSend`.
unsafe impl ::lock_api::RawMutex for RawSpinMutex {
    // A constant *value* to initialize each mutex from, as the trait asks;
    // no one shares the constant itself.
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self::new();

    type GuardMarker = ::lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        RawSpinMutex::lock(self);
    }

    #[inline]
    fn try_lock(&self) -> bool {
        RawSpinMutex::try_lock(self)
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: (1) the trait's contract: the lock is held in the current
        // context, which is the owner.
        unsafe { RawSpinMutex::unlock(self) }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        RawSpinMutex::is_locked(self)
    }
}

/// A `lock_api::Mutex` over [`RawSpinMutex`] (feature `lock_api`; not under
/// loom, where `lock_api`'s `const INIT` cannot be built).
///
/// The same lock as [`SpinMutex`](crate::SpinMutex) with lock_api's guard
/// API. Like `SpinMutex` it does not poison, and so is not
/// `RefUnwindSafe`.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "lock_api")] {
/// let m = cds::LockApiMutex::new(1);
/// *m.lock() += 1;
/// assert_eq!(*m.lock(), 2);
///
/// // `const`, so usable in a `static`:
/// static GLOBAL: cds::LockApiMutex<u8> =
///     cds::LockApiMutex::const_new(cds::RawSpinMutex::new(), 1);
/// assert_eq!(*GLOBAL.lock(), 1);
/// # }
/// ```
pub type LockApiMutex<T> = ::lock_api::Mutex<RawSpinMutex, T>;

/// The guard of [`LockApiMutex`] (feature `lock_api`).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "lock_api")] {
/// let m = cds::LockApiMutex::new(vec![1]);
/// let mut g: cds::LockApiMutexGuard<'_, Vec<u8>> = m.lock();
/// g.push(2);
/// drop(g);
/// assert_eq!(*m.lock(), [1, 2]);
/// # }
/// ```
pub type LockApiMutexGuard<'a, T> = ::lock_api::MutexGuard<'a, RawSpinMutex, T>;

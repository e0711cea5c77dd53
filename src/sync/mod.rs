//! Blocking synchronization primitives built from atomics.
//!
//! - [`SpinMutex`](spin::SpinMutex): a test-and-test-and-set spin lock
//!   with bounded exponential spinning that falls back to yielding.
//! - [`Semaphore`](semaphore::Semaphore): a counting semaphore with a
//!   one-CAS fast path, an intrusive queue of parked waiters and
//!   eventual fairness (direct hand-off to a waiter that has waited too
//!   long), or strict FIFO order with [`Semaphore::new_fifo`](semaphore::Semaphore::new_fifo).
//!
//! Both are re-exported at the crate root. Neither poisons: a panic while a
//! lock guard or permit is held releases it during unwinding.
//!
//! With the `lock_api` feature (not under loom), the spin lock's raw type
//! [`RawSpinMutex`](spin::RawSpinMutex) also implements
//! `lock_api::RawMutex`, and `LockApiMutex` is the `lock_api::Mutex` over it
//! (re-exported from [`spin`] and the crate root; the code lives in the
//! private `lock_api` module).

#[cfg(all(feature = "lock_api", not(loom)))]
mod lock_api;
pub mod semaphore;
pub mod spin;

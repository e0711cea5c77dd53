//! The one place that names std or loom synchronization primitives.
//!
//! Every other module imports atomics, cells, fences, thread and time
//! functions, thread-locals and lazy statics from here. Under `--cfg loom`
//! they are loom's, so the whole crate (and a user's loom model over it) runs
//! on loom's scheduler; otherwise they are std's, wrapped where loom's API
//! differs so that both builds compile the same call sites.
//!
//! Differences papered over:
//! - loom has no `compiler_fence`: [`sync::atomic::compiler_fence`] is
//!   `fence(SeqCst)` under loom (stronger, never weaker).
//! - loom's `UnsafeCell` exposes `with`/`with_mut` closures instead of `get`:
//!   [`cell::UnsafeCell`] wraps std's with the same closures.
//! - loom has no clock and no `park_timeout`: neither is offered under loom
//!   (see [`time`]); the semaphore keeps a mock clock of its own there.
//! - crossbeam-utils' `Backoff` calls std's spin hint and `yield_now` even
//!   under loom, so a loom model would never see a scheduling point in a spin
//!   loop: [`Backoff`] is ours.
#![allow(dead_code, unused_imports)]

/// Atomics and fences (std paths).
pub(crate) mod sync {
    /// Atomic types, fences and orderings.
    pub(crate) mod atomic {
        #[cfg(loom)]
        pub(crate) use loom::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
        };
        #[cfg(not(loom))]
        pub(crate) use std::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
        };

        /// A compiler-only fence; `fence(SeqCst)` under loom, which has none.
        #[inline(always)]
        pub(crate) fn compiler_fence(order: Ordering) {
            #[cfg(loom)]
            {
                let _ = order;
                loom::sync::atomic::fence(Ordering::SeqCst);
            }
            #[cfg(not(loom))]
            std::sync::atomic::compiler_fence(order);
        }
    }

    #[cfg(loom)]
    pub(crate) use loom::sync::Arc;
    #[cfg(not(loom))]
    pub(crate) use std::sync::Arc;
}

/// Std atomics that loom does not model, even under `cfg(loom)`: for
/// statistics only, never for synchronization. They live in plain statics
/// that survive loom's teardown of an execution (crossbeam-epoch runs
/// deferred functions after loom's lazy statics are dropped).
pub(crate) mod unmodeled {
    pub(crate) use core::sync::atomic::{AtomicU64, Ordering};
}

/// Interior mutability with loom's closure-based access API.
pub(crate) mod cell {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;

    /// `std::cell::UnsafeCell` with loom's `with`/`with_mut` API.
    #[cfg(not(loom))]
    #[derive(Debug, Default)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        #[inline(always)]
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        #[inline(always)]
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    #[cfg(not(loom))]
    impl<T: ?Sized> UnsafeCell<T> {
        /// Runs `f` with a shared raw pointer to the contents.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` with a unique raw pointer to the contents.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }

        /// Exclusive access through `&mut self` (no synchronization needed).
        #[inline(always)]
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut()
        }
    }
}

/// Spin-loop hint (a scheduling point under loom).
pub(crate) mod hint {
    #[cfg(loom)]
    pub(crate) use loom::hint::spin_loop;
    #[cfg(not(loom))]
    pub(crate) use std::hint::spin_loop;
}

/// Thread handles, yielding and parking.
pub(crate) mod thread {
    #[cfg(loom)]
    pub(crate) use loom::thread::{current, park, yield_now, Thread};
    #[cfg(not(loom))]
    pub(crate) use std::thread::{current, park, park_timeout, yield_now, Thread};
}

/// Monotonic time. Loom has no clock, and none is offered under loom: a
/// mock clock in a loom lazy static would be torn down while an unjoined
/// model thread may still read it. A structure that needs time under loom
/// keeps its own (the semaphore's `Clock`).
pub(crate) mod time {
    pub(crate) use core::time::Duration;
    #[cfg(not(loom))]
    pub(crate) use std::time::Instant;
}

#[cfg(loom)]
pub(crate) use loom::lazy_static;
#[cfg(loom)]
pub(crate) use loom::thread_local;
#[cfg(not(loom))]
pub(crate) use std::thread::LocalKey;
#[cfg(not(loom))]
pub(crate) use std::thread_local;

/// Exponential backoff for spin loops, visible to loom.
///
/// `spin` busy-waits 2^step iterations of the spin hint (capped); `snooze`
/// does the same until the cap and then yields the thread. Under loom every
/// call is a single `spin_loop`/`yield_now`, one scheduling point.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    /// Doubling stops here: at most 2^6 = 64 spin hints per call.
    const SPIN_LIMIT: u32 = 6;
    /// After this many `snooze` steps the caller should block instead.
    const YIELD_LIMIT: u32 = 10;

    /// A fresh backoff.
    #[inline]
    pub(crate) const fn new() -> Self {
        Self { step: 0 }
    }

    /// Starts over (after progress was made).
    #[inline]
    pub(crate) fn reset(&mut self) {
        self.step = 0;
    }

    /// Backs off in a lock-free loop after a failed CAS: spins only.
    #[inline]
    pub(crate) fn spin(&mut self) {
        #[cfg(loom)]
        hint::spin_loop();
        #[cfg(not(loom))]
        for _ in 0..1u32 << self.step.min(Self::SPIN_LIMIT) {
            hint::spin_loop();
        }
        if self.step <= Self::SPIN_LIMIT {
            self.step += 1;
        }
    }

    /// Backs off while waiting for another thread: spins, then yields.
    #[inline]
    pub(crate) fn snooze(&mut self) {
        if self.step <= Self::SPIN_LIMIT {
            #[cfg(loom)]
            hint::spin_loop();
            #[cfg(not(loom))]
            for _ in 0..1u32 << self.step {
                hint::spin_loop();
            }
        } else {
            thread::yield_now();
        }
        if self.step <= Self::YIELD_LIMIT {
            self.step += 1;
        }
    }

    /// True once `snooze` has started yielding long enough that the caller
    /// should park instead.
    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        self.step > Self::YIELD_LIMIT
    }
}

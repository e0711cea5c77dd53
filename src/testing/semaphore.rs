//! Test probes for [`Semaphore`](crate::Semaphore).
//!
//! - [`queued_waiters`]: how many threads are parked in the queue. Always
//!   compiled: integration tests, the loom models and the fuzz target use it.
//! - `with_fairness_clock`: a default-mode semaphore whose fairness bound
//!   (0.5 ms) is measured on a clock the test steps by hand, so a test can
//!   put the first waiter just before or just past the bound without
//!   sleeping. Compiled only in this crate's unit tests (`cfg(test)`) and
//!   under `--cfg cds_hooks`, so integration tests that need it live in
//!   `tests/stall_semaphore.rs` (which CI builds with that flag).
//!
//! Why the injected clock is not available in ordinary builds: it needs a
//! place to live in the semaphore, and every choice there costs users
//! something. A boxed closure field (what this replaced) made every
//! `Semaphore` two words larger, gave it drop glue, stood in the way of a
//! `const fn new` and could hold a closure that is not `RefUnwindSafe`. A
//! cheap `Option<fn() -> Duration>` field would cost one word and none of
//! the rest, but would still be a test-only field on every semaphore and a
//! branch on every slow-path clock read. A process-wide or per-thread clock
//! cannot be scoped to one semaphore: tests run in parallel in one process,
//! and the clock is read by waiter threads (enqueue time) and releaser
//! threads alike. So the field exists only in test builds, where its cost
//! does not matter, and holds a closure there (tests capture their own
//! counter).

#[cfg(any(test, cds_hooks))]
use crate::primitive::time::Duration;
use crate::Semaphore;

/// The number of threads queued in `sem` right now (a snapshot; takes the
/// semaphore's internal list lock for a moment).
///
/// # Examples
///
/// ```
/// let sem = cds::Semaphore::new(1);
/// assert_eq!(cds::testing::semaphore::queued_waiters(&sem), 0);
/// ```
pub fn queued_waiters(sem: &Semaphore) -> usize {
    sem.queued_waiters()
}

/// A default-mode semaphore with `permits` permits whose fairness bound is
/// measured on `clock` (time since an arbitrary origin) instead of the
/// monotonic clock. Timeouts still use the monotonic clock. The clock is
/// read outside the semaphore's internal lock, by waiters (when they queue),
/// releasers and newcomers; it must not panic (a release reads it while
/// returning permits).
///
/// Only under `cfg(test)` (this crate's unit tests) and `--cfg cds_hooks`.
///
/// # Panics
///
/// If `permits > Semaphore::MAX_PERMITS`.
///
/// # Examples
///
/// ```
/// # #[cfg(cds_hooks)] {
/// use std::time::Duration;
/// let sem = cds::testing::semaphore::with_fairness_clock(1, || Duration::ZERO);
/// drop(sem.acquire());
/// # }
/// ```
#[cfg(any(test, cds_hooks))]
#[track_caller]
pub fn with_fairness_clock(
    permits: usize,
    clock: impl Fn() -> Duration + Send + Sync + 'static,
) -> Semaphore {
    Semaphore::with_fairness_clock(permits, Box::new(clock))
}

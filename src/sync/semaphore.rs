//! A counting semaphore: a one-CAS fast path, an intrusive queue of parked
//! waiters, and eventual fairness by direct hand-off.
//!
//! # Algorithm
//!
//! One atomic word holds the available permits and a `PARKED` bit that says
//! the waiter queue is non-empty. An acquire that finds enough permits and
//! nobody queued takes them with one compare-and-swap. With waiters queued,
//! a newcomer ("barging") may still take permits from the count, but only in
//! the default mode and only while the first waiter has waited less than the
//! fairness bound (0.5 ms): it reads the clock and the first waiter's
//! enqueue time, which the list lock's holder publishes in `head_since`.
//! Otherwise it spins briefly, then links a waiter record that lives **on
//! its own stack** (thread handle, wanted count, enqueue time, state) at the
//! tail of a doubly linked list guarded by an internal lock word (a
//! [`SpinMutex`]; no user code ever runs under it) and parks.
//!
//! A release on a word without `PARKED` adds to the count with one CAS.
//! With `PARKED` it takes the list lock and either
//!
//! - **hands the permits directly to the head waiter** (they never enter the
//!   count, so no newcomer can take them) when the semaphore is strict FIFO
//!   ([`Semaphore::new_fifo`]) or when the head has waited at least the
//!   fairness bound, or
//! - adds them to the count and unparks the head, which then **competes**
//!   with newcomers: a newcomer may win (no convoy: the lock-holder-preemption
//!   and wake-up latency of a strict hand-off are paid only by waiters that
//!   already waited long), and a head that loses stays first in line with its
//!   original enqueue time.
//!
//! Permits left in the count while waiters are queued ("banked") belong to
//! the queue once the head has waited the bound: newcomers no longer take
//! them, the head takes them when it wakes (it was unparked when they were
//! added) and a release hands them over with its own. So once the first
//! waiter has waited the bound, nobody overtakes it.
//!
//! This is the "eventual fairness" of parking_lot's `RawMutex` (Amanieu
//! d'Antras, parking_lot `src/raw_mutex.rs`: a fair unlock at least every
//! 0.5 ms on average) applied to a counting semaphore. Keeping a `PARKED`
//! bit in the same word as the state, so that the uncontended paths never
//! touch the queue, follows WebKit's `ParkingLot` (Filip Pizlo, "Locking in
//! WebKit", 2016), from which parking_lot descends; here the queue is
//! private to the semaphore and intrusive. The list lock is this crate's
//! test-and-test-and-set [`SpinMutex`] (Mellor-Crummey and Scott, ACM TOCS
//! 1991), held only for a few pointer updates.
//!
//! A hand-off that does not cover the head's whole request accumulates on the
//! head (and drains the count into it): **an [`acquire_many`] blocks the
//! queue behind it** until its whole request is covered (head-of-line
//! blocking, as in any FIFO semaphore). In the default mode newcomers may
//! still take permits released while the head is younger than the bound.
//!
//! # Limits
//!
//! A second word, `total`, counts the permits in existence: in the count,
//! held by `Permit`s, or handed to a queued waiter. Only `add_permits` (up,
//! checked against [`Semaphore::MAX_PERMITS`] in one read-modify-write) and
//! `Permit::forget` (down) change it; acquires and releases move permits
//! between those places without touching it. `add_permits` raises `total`
//! before its permits exist and `forget` lowers it only after its permits
//! are gone, so `total` never counts fewer than exist: the count never
//! exceeds `MAX_PERMITS`, and a release (a `Permit` drop) can neither
//! overflow nor panic.
//!
//! # Progress
//!
//! Blocking. `try_acquire*` and a release without queued waiters are one CAS
//! loop (lock-free); a release with queued waiters and every queue change
//! take the internal list lock for a few pointer updates.
//!
//! # State
//!
//! The state word (`permits << 1 | PARKED`):
//!
//! | field | meaning | written by |
//! |---|---|---|
//! | bit 0 `PARKED` | the waiter list is non-empty | set by an enqueuer and cleared by whoever unlinks the last waiter, both under the list lock |
//! | bits 1.. | permits in the count: neither held nor handed to a waiter | acquire CAS (−n), release CAS (+n) |
//!
//! The other shared words:
//!
//! | word | meaning | written by |
//! |---|---|---|
//! | `total` | permits in existence (count + held + handed to waiters), ≤ `MAX_PERMITS` | `add_permits` (+n, checked), `Permit::forget` (−n) |
//! | `head_since` | the first waiter's enqueue time (nanoseconds on the fairness clock); meaningful while `PARKED` is set; default mode only | the list lock's holder, whenever the head changes |
//!
//! A waiter's `state` word:
//!
//! | value | meaning | next |
//! |---|---|---|
//! | `WAITING` | linked in the list; its `links` belong to the list lock | `GRANTED` by a releaser, or unlinked by its own thread (success or timeout) |
//! | `GRANTED` | unlinked by a releaser, which gave it all its permits; the store is the releaser's last touch of the record | the waiter returns |
//!
//! The timed-out state ("cancelled") needs no value: the waiter unlinks
//! itself under the list lock while still `WAITING`, so no releaser can find
//! it afterwards.
//!
//! # Orderings
//!
//! | operation | ordering | pairs with |
//! |---|---|---|
//! | taking permits from the count (CAS) | `Acquire` | the `Release` CAS that added them |
//! | adding permits to the count (CAS) | `Release` | the `Acquire` CAS that takes them |
//! | draining the count into a waiter | `AcqRel` | as both of the above |
//! | storing `GRANTED` | `Release` | the waiter's `Acquire` load of its state |
//! | setting/clearing `PARKED` | `Relaxed` | nothing: the bit only sends releasers to the list lock, whose Acquire/Release orders the list |
//! | `total` | `Relaxed` | nothing: it only bounds the count; read-modify-writes never lose an update |
//! | `head_since` | `Relaxed` | nothing: exact under the list lock (written there); a newcomer outside it that reads a stale value reads an earlier head's (older) time and only defers more |
//!
//! So a successful acquire synchronizes-with the release that provided its
//! permits (checked with loom), whichever path they took.
//!
//! # Time
//!
//! Timeouts and the fairness bound use the monotonic clock, read outside
//! the list lock. Under loom they use a mock clock owned by the semaphore
//! (see `Clock`), so that a thread still inside the semaphore after a loom
//! model's main thread returned (loom allows unjoined threads) never reaches
//! for loom state that is already torn down.
//!
//! [`acquire_many`]: Semaphore::acquire_many

use core::fmt;
use core::panic::{RefUnwindSafe, UnwindSafe};
use core::ptr;

use crate::primitive::cell::UnsafeCell;
use crate::primitive::sync::atomic::{
    AtomicU64, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use crate::primitive::thread::{self, Thread};
use crate::primitive::time::Duration;
#[cfg(not(loom))]
use crate::primitive::time::Instant;
#[cfg(loom)]
use crate::primitive::unmodeled;
use crate::primitive::Backoff;
use crate::sync::spin::SpinMutex;

/// State-word bit: the waiter list is non-empty.
const PARKED: usize = 1;
/// Permits are stored above the `PARKED` bit.
const SHIFT: u32 = 1;
/// The most permits the count could represent. The count never exceeds
/// `total ≤ Semaphore::MAX_PERMITS`, well below.
const COUNT_LIMIT: usize = usize::MAX >> SHIFT;
const _: () = assert!(Semaphore::MAX_PERMITS <= COUNT_LIMIT);
/// A head waiter that has waited this long is served by direct hand-off,
/// and newcomers leave the count to it.
const FAIRNESS_BOUND: Duration = Duration::from_micros(500);
/// Brief spinning before queueing (a CAS retry each, with exponential
/// backoff: about 320 spin hints in all). None under loom: each spin is a
/// yield there, which would spend the preemption bound. Measured with
/// `versus --group semaphore` (2 cores, 2 runs each): 10 tries instead of 6
/// took the 1-permit, 4-thread cell from ≈ 30–50 to ≈ 14 ns/op (std `Mutex`
/// on the same section: 26–35) without hurting the 1- and 2-thread cells;
/// 3 tries was no better than 6.
const SPIN_TRIES: u32 = if cfg!(loom) { 0 } else { 10 };

/// Waiter state: linked, waiting.
const WAITING: usize = 0;
/// Waiter state: unlinked by a releaser with all permits given.
const GRANTED: usize = 1;

/// The semaphore's time, as a `Duration` since it was built: for timeouts
/// and the fairness bound.
///
/// Normally the monotonic clock. Under loom, a mock clock owned by the
/// semaphore: it starts at zero and only a timed wait moves it, by the time
/// it would have slept (see [`park_for`](Self::park_for)), so timeouts fire
/// in a bounded number of model steps. It lives in the semaphore, not in a
/// loom lazy static: loom drops its statics when the model's main thread
/// returns, and an unjoined thread may still be inside the semaphore then
/// (the semaphore itself stays alive while any thread can use it). It is a
/// plain atomic that loom does not model: reading the time is not a
/// scheduling point and orders nothing, and loom runs a model's threads one
/// at a time, so every read sees the latest value.
///
/// In this crate's own test builds (`cfg(test)`, `--cfg cds_hooks`) it may
/// also carry a fairness clock injected through
/// `crate::testing::semaphore::with_fairness_clock`; ordinary builds have no
/// such field (see that module for why).
struct Clock {
    #[cfg(not(loom))]
    origin: Instant,
    /// Nanoseconds since the semaphore was built (saturating).
    #[cfg(loom)]
    mock_nanos: unmodeled::AtomicU64,
    /// Replaces the clock for the fairness bound only (timeouts keep the
    /// real one), so tests can step time past the bound deterministically.
    #[cfg(any(test, cds_hooks))]
    fairness: Option<FairnessClock>,
}

/// A fairness clock injected by a test: time since an arbitrary origin.
#[cfg(any(test, cds_hooks))]
pub(crate) type FairnessClock = Box<dyn Fn() -> Duration + Send + Sync>;

impl Clock {
    fn new() -> Self {
        Self {
            #[cfg(not(loom))]
            origin: Instant::now(),
            #[cfg(loom)]
            mock_nanos: unmodeled::AtomicU64::new(0),
            #[cfg(any(test, cds_hooks))]
            fairness: None,
        }
    }

    /// Time since the semaphore was built.
    #[cfg(not(loom))]
    fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Time since the semaphore was built, on the mock clock.
    #[cfg(loom)]
    fn elapsed(&self) -> Duration {
        // Relaxed: not modeled by loom and ordering nothing (see the type).
        Duration::from_nanos(self.mock_nanos.load(unmodeled::Ordering::Relaxed))
    }

    /// Time on the fairness clock.
    fn fairness_now(&self) -> Duration {
        #[cfg(any(test, cds_hooks))]
        if let Some(f) = &self.fairness {
            return f();
        }
        self.elapsed()
    }

    /// The deadline `timeout` from now, or `None` (wait forever) if it lies
    /// beyond the clock's range.
    fn deadline(&self, timeout: Duration) -> Option<Duration> {
        let deadline = self.elapsed().checked_add(timeout);
        #[cfg(loom)]
        let deadline = deadline.filter(|d| u64::try_from(d.as_nanos()).is_ok());
        deadline
    }

    /// Parks the calling thread for at most `dur` (it may wake earlier).
    #[cfg(not(loom))]
    fn park_for(&self, dur: Duration) {
        thread::park_timeout(dur);
    }

    /// Loom has no timed park: yields (a spurious wake-up, which every
    /// caller tolerates) and moves the mock clock forward by `dur`.
    #[cfg(loom)]
    fn park_for(&self, dur: Duration) {
        let add = nanos(dur);
        // Relaxed: as in `elapsed`.
        let _ = self.mock_nanos.fetch_update(
            unmodeled::Ordering::Relaxed,
            unmodeled::Ordering::Relaxed,
            |t| Some(t.saturating_add(add)),
        );
        thread::yield_now();
    }
}

/// `d` in whole nanoseconds, saturating (585 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A counting semaphore whose waiters park.
///
/// `acquire` takes a permit, blocking (parking the thread, not spinning)
/// until one is available; the returned [`Permit`] gives it back when
/// dropped. A successful acquire synchronizes-with the release that provided
/// its permits: writes made before the release are visible after the
/// acquire.
///
/// # Fairness
///
/// Queued waiters are served in FIFO order. In the default mode
/// ([`new`](Self::new)) a thread that arrives while others are queued may
/// still take free permits while the first queued waiter has waited less
/// than 0.5 ms (the fairness bound); once it has waited that long, nobody
/// can overtake it: releases hand their permits directly to it, and
/// newcomers leave the free permits to it too (`try_acquire` fails, an
/// `acquire` queues). This avoids the convoys of strict hand-off (every
/// release waiting for a sleeping thread to wake) while bounding how long a
/// waiter can be overtaken. [`new_fifo`](Self::new_fifo) never lets anyone
/// overtake a queued waiter: releases always hand off, and `try_acquire`
/// fails while anyone waits. Acquiring zero permits never waits, in either
/// mode.
///
/// A queued [`acquire_many`](Self::acquire_many) holds up the waiters behind
/// it until its whole request is covered (head-of-line blocking); released
/// permits accumulate on it.
///
/// # Limits
///
/// At most [`MAX_PERMITS`](Self::MAX_PERMITS) permits in existence: free,
/// held by a [`Permit`], or already handed to a queued waiter. `new`,
/// `add_permits` and `acquire_many` beyond it panic (see each method);
/// [`Permit::forget`] makes room again. So returning permits can never
/// overflow: dropping a `Permit` never panics. `acquire_many(n)` with `n`
/// above the current total waits until enough permits are added.
///
/// No poisoning: a panic while a `Permit` is held releases it during
/// unwinding.
///
/// # Examples
///
/// ```
/// use cds::Semaphore;
/// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
///
/// // At most 2 of 4 threads inside at once.
/// let sem = Semaphore::new(2);
/// let inside = AtomicUsize::new(0);
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| {
///             let _permit = sem.acquire();
///             assert!(inside.fetch_add(1, SeqCst) < 2);
///             inside.fetch_sub(1, SeqCst);
///         });
///     }
/// });
/// assert_eq!(sem.available_permits(), 2);
/// ```
pub struct Semaphore {
    /// `permits << SHIFT | PARKED`; see the state table in the module docs.
    state: AtomicUsize,
    /// Permits in existence: in the count, held, or handed to waiters.
    /// Invariant: `≤ MAX_PERMITS`, and never below what exists.
    total: AtomicUsize,
    /// The head waiter's `since`, in nanoseconds (default mode; see the
    /// module docs). Written only under the list lock.
    head_since: AtomicU64,
    /// The queue of parked waiters. Invariant: `PARKED` is set exactly when
    /// it is non-empty, as seen by a holder of this lock.
    list: SpinMutex<WaitList>,
    /// Strict FIFO: always hand off, no barging while anyone waits.
    fifo: bool,
    clock: Clock,
}

// Unwind safety. The auto traits are missing only because of interior
// mutability the user never sees: the waiter list behind its internal lock
// and each waiter's links are in `UnsafeCell`s (and a test build may hold an
// injected clock closure). A panic cannot leave the semaphore inconsistent:
// no user code runs inside it, so nothing can unwind out of the list lock's
// critical sections or between the steps of an acquire or release (`new`,
// `add_permits` and `acquire_many` panic on bad input before they change
// anything). A panic while a `Permit` is held drops the permit during
// unwinding, which returns its permits as any release does. What code
// after `catch_unwind` observes is therefore a semaphore whose counts are
// exact, as after any other sequence of calls: like an atomic, it may cross
// the boundary by value and by reference. `Permit` follows through
// `&Semaphore`.
impl UnwindSafe for Semaphore {}
impl RefUnwindSafe for Semaphore {}

/// What a newcomer's attempt to take permits from the count found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Take {
    /// It took them.
    Taken,
    /// The count holds too few.
    Short,
    /// Waiters are queued and the first has priority over newcomers.
    Barred,
}

/// A waiter record, on the stack of the thread that waits.
///
/// Invariants: it stays at its address and alive while linked (its thread
/// returns only after a releaser unlinked it and stored `GRANTED`, or after
/// unlinking it itself under the list lock); `links` is read and written only
/// under the list lock.
struct Waiter {
    /// `WAITING` or `GRANTED`; see the module docs.
    state: AtomicUsize,
    /// Cloned by a releaser (under the list lock) before it unparks.
    thread: Thread,
    /// Permits requested (≥ 1).
    wanted: usize,
    /// Enqueue time on the fairness clock.
    since: Duration,
    links: UnsafeCell<Links>,
}

/// The list-lock-protected part of a waiter.
struct Links {
    prev: *const Waiter,
    next: *const Waiter,
    /// Permits handed off to it so far (< `wanted` while linked).
    got: usize,
    /// A releaser unparked it to compete for the count and it has not yet
    /// looked (saves redundant unparks).
    notified: bool,
}

/// The intrusive waiter queue; only touched under the semaphore's list lock.
struct WaitList {
    head: *const Waiter,
    tail: *const Waiter,
    len: usize,
}

// SAFETY: the pointers refer to waiter records whose threads keep them alive
// while linked (see `Waiter`), and every access goes through the list lock,
// which orders it with the record's owner thread; moving the list between
// threads (inside the lock) therefore moves only those accesses.
unsafe impl Send for WaitList {}

impl Waiter {
    fn new(wanted: usize, since: Duration) -> Self {
        Self {
            state: AtomicUsize::new(WAITING),
            thread: thread::current(),
            wanted,
            since,
            links: UnsafeCell::new(Links {
                prev: ptr::null(),
                next: ptr::null(),
                got: 0,
                notified: false,
            }),
        }
    }

    /// Runs `f` on the waiter's links.
    ///
    /// # Safety
    ///
    /// 1. `w` points to a live waiter.
    /// 2. The caller holds the list lock of the semaphore `w` waits on (or
    ///    `w` is not yet linked and owned by the caller).
    unsafe fn with_links<R>(w: *const Waiter, f: impl FnOnce(&mut Links) -> R) -> R {
        // SAFETY: (1) `w` is live; (2) every access to `links` is serialized
        // by the list lock, so this `&mut` is the only one.
        unsafe { (*w).links.with_mut(|l| f(&mut *l)) }
    }

    /// Permits the waiter still needs.
    ///
    /// # Safety
    ///
    /// As for [`with_links`](Self::with_links).
    unsafe fn need(w: *const Waiter) -> usize {
        // SAFETY: forwarded (1) and (2).
        unsafe { (*w).wanted - Self::with_links(w, |l| l.got) }
    }
}

impl WaitList {
    const fn new() -> Self {
        Self {
            head: ptr::null(),
            tail: ptr::null(),
            len: 0,
        }
    }

    /// Links `w` at the tail.
    ///
    /// # Safety
    ///
    /// 1. `w` points to a live waiter that stays put and alive until it is
    ///    unlinked, and is not linked now.
    /// 2. `self` is the list of the semaphore `w` waits on (so holding
    ///    `&mut self` is holding its lock).
    unsafe fn push_back(&mut self, w: *const Waiter) {
        let tail = self.tail;
        // SAFETY: (1) `w` is live and (2) we hold the lock.
        unsafe { Waiter::with_links(w, |l| (l.prev, l.next) = (tail, ptr::null())) };
        if tail.is_null() {
            self.head = w;
        } else {
            // SAFETY: linked waiters are live (their invariant); lock held.
            unsafe { Waiter::with_links(tail, |l| l.next = w) };
        }
        self.tail = w;
        self.len += 1;
    }

    /// Unlinks `w`.
    ///
    /// # Safety
    ///
    /// 1. `w` points to a waiter linked in `self`.
    /// 2. As (2) of [`push_back`](Self::push_back).
    unsafe fn remove(&mut self, w: *const Waiter) {
        // SAFETY: (1) linked, hence live; (2) lock held.
        let (prev, next) = unsafe { Waiter::with_links(w, |l| (l.prev, l.next)) };
        if prev.is_null() {
            self.head = next;
        } else {
            // SAFETY: linked waiters are live; lock held.
            unsafe { Waiter::with_links(prev, |l| l.next = next) };
        }
        if next.is_null() {
            self.tail = prev;
        } else {
            // SAFETY: linked waiters are live; lock held.
            unsafe { Waiter::with_links(next, |l| l.prev = prev) };
        }
        self.len -= 1;
    }
}

/// Threads to unpark once the list lock is released.
#[derive(Default)]
struct Wake(Option<Thread>);

impl Wake {
    fn push(&mut self, t: Thread) {
        // A second wake in one pass (a large release serving several
        // waiters) unparks the earlier thread right away.
        if let Some(prev) = self.0.replace(t) {
            prev.unpark();
        }
    }

    fn flush(self) {
        if let Some(t) = self.0 {
            t.unpark();
        }
    }
}

impl Semaphore {
    /// The largest number of permits a semaphore has in existence, free or
    /// held together: `usize::MAX >> 3`.
    ///
    /// [`new`](Self::new) and [`acquire_many`](Self::acquire_many) panic
    /// beyond it, and so does [`add_permits`](Self::add_permits) when the
    /// free permits, the held ones and the new ones together would exceed
    /// it. Bounding the total rather than the free permits is what keeps a
    /// release from ever overflowing.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` permits and eventual fairness (see the
    /// type docs).
    ///
    /// # Panics
    ///
    /// If `permits > Semaphore::MAX_PERMITS`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = cds::Semaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Self {
        Self::build("Semaphore::new", permits, false)
    }

    /// A strictly FIFO semaphore: permits go to queued waiters in arrival
    /// order, and [`try_acquire`](Self::try_acquire) fails while anyone
    /// waits. Slower than [`new`](Self::new) under contention (every
    /// release to a waiter waits for that thread to wake up).
    ///
    /// # Panics
    ///
    /// If `permits > Semaphore::MAX_PERMITS`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = cds::Semaphore::new_fifo(1);
    /// let p = sem.acquire();
    /// assert!(sem.try_acquire().is_none());
    /// drop(p);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn new_fifo(permits: usize) -> Self {
        Self::build("Semaphore::new_fifo", permits, true)
    }

    /// A default-mode semaphore whose fairness bound is measured on `clock`
    /// (for `crate::testing::semaphore::with_fairness_clock`).
    ///
    /// # Panics
    ///
    /// If `permits > Semaphore::MAX_PERMITS`.
    #[cfg(any(test, cds_hooks))]
    #[track_caller]
    pub(crate) fn with_fairness_clock(permits: usize, clock: FairnessClock) -> Self {
        let mut sem = Self::build(
            "cds::testing::semaphore::with_fairness_clock",
            permits,
            false,
        );
        sem.clock.fairness = Some(clock);
        sem
    }

    #[track_caller]
    fn build(what: &str, permits: usize, fifo: bool) -> Self {
        if permits > Self::MAX_PERMITS {
            too_many(what, permits);
        }
        Self {
            state: AtomicUsize::new(permits << SHIFT),
            total: AtomicUsize::new(permits),
            head_since: AtomicU64::new(0),
            list: SpinMutex::new(WaitList::new()),
            fifo,
            clock: Clock::new(),
        }
    }

    /// Whether this semaphore is strictly FIFO ([`new_fifo`](Self::new_fifo)).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cds::Semaphore::new_fifo(0).is_fifo());
    /// assert!(!cds::Semaphore::new(0).is_fifo());
    /// ```
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    /// Takes one permit, parking until one is available.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = cds::Semaphore::new(1);
    /// let permit = sem.acquire();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[inline]
    pub fn acquire(&self) -> Permit<'_> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, parking until all are available (never a
    /// part of them: no deadlock between two partial holders). `n = 0`
    /// returns an empty `Permit` at once, in either mode and even while
    /// waiters are queued (it synchronizes with nothing). With `n` above the
    /// current total it waits until [`add_permits`](Self::add_permits) makes
    /// up the difference. While it is first in the queue, the waiters behind
    /// it wait too (see the type docs).
    ///
    /// # Panics
    ///
    /// If `n > Semaphore::MAX_PERMITS`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = cds::Semaphore::new(3);
    /// let p = sem.acquire_many(2);
    /// assert_eq!(p.num_permits(), 2);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[inline]
    pub fn acquire_many(&self, n: usize) -> Permit<'_> {
        if n > Self::MAX_PERMITS {
            too_many("Semaphore::acquire_many", n);
        }
        if n > 0 && !self.try_take_once(n) {
            let took = self.acquire_slow(n, None);
            debug_assert!(took);
        }
        Permit { sem: self, n }
    }

    /// Takes one permit if a newcomer may take one now: one is free and
    /// nobody queued has priority (see the type docs: in FIFO mode, nobody
    /// is queued; in the default mode, the first waiter has waited less than
    /// the fairness bound).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = cds::Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(p);
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if a newcomer may take them now (as for
    /// [`try_acquire`](Self::try_acquire)). `n = 0` always succeeds with an
    /// empty `Permit`. `None` for `n > MAX_PERMITS` (no semaphore ever has
    /// that many), without panicking.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = cds::Semaphore::new(2);
    /// assert!(sem.try_acquire_many(3).is_none());
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    #[inline]
    pub fn try_acquire_many(&self, n: usize) -> Option<Permit<'_>> {
        let ok = n == 0 || (n <= Self::MAX_PERMITS && self.try_take(n) == Take::Taken);
        ok.then(|| Permit { sem: self, n })
    }

    /// Takes one permit, parking at most `timeout`.
    ///
    /// On `None` the waiter has left the queue and holds nothing: permits
    /// handed to it meanwhile (only possible for `acquire_many_timeout`)
    /// are released again, and the next release goes to a live waiter. If
    /// the permits were granted in full before the waiter noticed its
    /// deadline, it keeps them and returns `Some`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = cds::Semaphore::new(1);
    /// let p = sem.acquire_timeout(Duration::from_millis(1)).unwrap();
    /// assert!(sem.acquire_timeout(Duration::from_millis(1)).is_none());
    /// drop(p);
    /// ```
    #[inline]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<Permit<'_>> {
        self.acquire_many_timeout(1, timeout)
    }

    /// Takes `n` permits, parking at most `timeout`; see
    /// [`acquire_timeout`](Self::acquire_timeout) for what a timeout does
    /// with permits already handed to the waiter (they are released).
    /// `n = 0` returns an empty `Permit` at once; a `timeout` too large for
    /// the clock waits without limit.
    ///
    /// # Panics
    ///
    /// If `n > Semaphore::MAX_PERMITS`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = cds::Semaphore::new(1);
    /// assert!(sem.acquire_many_timeout(2, Duration::from_millis(1)).is_none());
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn acquire_many_timeout(&self, n: usize, timeout: Duration) -> Option<Permit<'_>> {
        if n > Self::MAX_PERMITS {
            too_many("Semaphore::acquire_many_timeout", n);
        }
        if n == 0 || self.try_take_once(n) {
            return Some(Permit { sem: self, n });
        }
        // A deadline past the clock's range waits forever.
        let deadline = self.clock.deadline(timeout);
        self.acquire_slow(n, deadline)
            .then(|| Permit { sem: self, n })
    }

    /// The free permits right now (a snapshot): those neither held by a
    /// [`Permit`] nor already handed to a queued waiter.
    ///
    /// While waiters are queued, a newcomer may not be allowed to take them:
    /// in FIFO mode, and in the default mode once the first waiter has
    /// waited the fairness bound, free permits are reserved for the queue
    /// (the first waiter takes them when they cover its request, or a
    /// release hands them over with its own). Then `try_acquire` fails
    /// although this is non-zero. With nobody queued, all of them can be
    /// taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = cds::Semaphore::new(2);
    /// let _p = sem.acquire();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        // Relaxed: a snapshot that orders nothing.
        self.state.load(Relaxed) >> SHIFT
    }

    /// Adds `n` permits (served to queued waiters first, as a release).
    ///
    /// # Panics
    ///
    /// If the permits in existence (free, held by `Permit`s, handed to
    /// waiters) plus `n` would exceed [`MAX_PERMITS`](Self::MAX_PERMITS),
    /// for instance `n > MAX_PERMITS`. The check is exact, also against
    /// racing calls; on panic nothing was added. Permits given up with
    /// [`Permit::forget`] no longer count.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = cds::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        if n == 0 {
            return;
        }
        // Relaxed: `total` orders nothing (see the orderings table); the
        // read-modify-write makes the check exact among racing calls.
        let admitted = self.total.fetch_update(Relaxed, Relaxed, |t| {
            t.checked_add(n).filter(|&t| t <= Self::MAX_PERMITS)
        });
        if let Err(total) = admitted {
            add_overflow(total, n);
        }
        self.release(n);
    }

    /// The number of queued waiters (takes the list lock). Crate-private:
    /// tests reach it through `crate::testing::semaphore::queued_waiters`.
    pub(crate) fn queued_waiters(&self) -> usize {
        self.list.lock().len
    }

    /// With waiters queued: whether the first has priority over a newcomer
    /// at fairness time `now()` (always in FIFO mode; in the default mode
    /// once it has waited the fairness bound). Reads the clock only in the
    /// default mode.
    fn newcomer_barred(&self, now: impl FnOnce() -> Duration) -> bool {
        if self.fifo {
            return true;
        }
        // Relaxed: see the orderings table (a stale value is older, so it
        // errs towards deferring; under the list lock it is exact).
        let since = self.head_since.load(Relaxed);
        nanos(now()).saturating_sub(since) >= nanos(FAIRNESS_BOUND)
    }

    /// Publishes the head's enqueue time for newcomers (the default mode's
    /// barging check). Call whenever the head of `list` (this semaphore's,
    /// so its lock is held) changed.
    fn publish_head(&self, list: &WaitList) {
        if self.fifo || list.head.is_null() {
            return;
        }
        // SAFETY: linked waiters are live, and `list` borrows the lock, so
        // the head stays linked meanwhile; `since` is immutable.
        let since = unsafe { (*list.head).since };
        // Relaxed: see the orderings table.
        self.head_since.store(nanos(since), Relaxed);
    }

    /// The fast path: one CAS, only while nobody is queued.
    #[inline]
    fn try_take_once(&self, n: usize) -> bool {
        let s = self.state.load(Relaxed);
        // Acquire: pairs with the Release CAS in `release`/`add_to_count`
        // that added these permits.
        s & PARKED == 0
            && s >> SHIFT >= n
            && self
                .state
                .compare_exchange(s, s - (n << SHIFT), Acquire, Relaxed)
                .is_ok()
    }

    /// Takes `n` permits as a newcomer may (see `newcomer_barred`); retries
    /// lost races. Reads the clock at most once.
    fn try_take(&self, n: usize) -> Take {
        let mut s = self.state.load(Relaxed);
        let mut barred = None;
        loop {
            if s >> SHIFT < n {
                // FIFO: behind a queue, permits go to the queue anyway.
                return if self.fifo && s & PARKED != 0 {
                    Take::Barred
                } else {
                    Take::Short
                };
            }
            if s & PARKED != 0
                && *barred.get_or_insert_with(|| self.newcomer_barred(|| self.clock.fairness_now()))
            {
                return Take::Barred;
            }
            // Acquire: pairs with the Release CAS that added these permits.
            match self
                .state
                .compare_exchange_weak(s, s - (n << SHIFT), Acquire, Relaxed)
            {
                Ok(_) => return Take::Taken,
                Err(actual) => s = actual,
            }
        }
    }

    #[cold]
    fn acquire_slow(&self, n: usize, deadline: Option<Duration>) -> bool {
        let mut backoff = Backoff::new();
        // `SPIN_TRIES` is 0 under loom: the range is empty on purpose there.
        #[allow(clippy::reversed_empty_ranges)]
        for _ in 0..SPIN_TRIES {
            match self.try_take(n) {
                Take::Taken => return true,
                // Releases go to the queue now: spinning is pointless.
                Take::Barred => break,
                // In the default mode releases may still feed the count.
                Take::Short => backoff.spin(),
            }
        }
        let waiter = Waiter::new(n, self.clock.fairness_now());
        if self.enqueue(&waiter) {
            return true;
        }
        // Linked and PARKED set, not yet parked: the lost-wake-up window.
        crate::hooks::stall_point!("semaphore.acquire.before_park");
        self.wait(&waiter, deadline)
    }

    /// Under the list lock, either takes the permits (returns `true`) or
    /// links `waiter` and makes sure `PARKED` is set — one step, so a release
    /// either came before it (its permits are seen here) or sees `PARKED`
    /// and takes the lock (and so finds the waiter). A newcomer takes only
    /// what `newcomer_barred` allows, judged at `waiter.since` (the clock is
    /// not read under the lock).
    fn enqueue(&self, waiter: &Waiter) -> bool {
        let n = waiter.wanted;
        let mut list = self.list.lock();
        let mut s = self.state.load(Relaxed);
        loop {
            let parked = s & PARKED != 0;
            if s >> SHIFT >= n && !(parked && self.newcomer_barred(|| waiter.since)) {
                // Acquire: pairs with the Release CAS that added the permits.
                match self
                    .state
                    .compare_exchange_weak(s, s - (n << SHIFT), Acquire, Relaxed)
                {
                    Ok(_) => return true,
                    Err(actual) => s = actual,
                }
            } else if parked {
                break;
            } else {
                // Relaxed: the bit only sends releasers to the list lock; a
                // failure means the count moved: look again.
                match self
                    .state
                    .compare_exchange_weak(s, s | PARKED, Relaxed, Relaxed)
                {
                    Ok(_) => break,
                    Err(actual) => s = actual,
                }
            }
        }
        // SAFETY: (1) `waiter` lives on our stack and `wait` returns only
        // once it is unlinked; (2) we hold this semaphore's list lock.
        unsafe { list.push_back(waiter) };
        if list.len == 1 {
            // The list was empty: we are the new head.
            self.publish_head(&list);
        }
        false
    }

    /// Parks until `waiter` holds its permits (`true`) or the deadline
    /// passes and it has left the queue (`false`).
    fn wait(&self, waiter: &Waiter, deadline: Option<Duration>) -> bool {
        loop {
            // Acquire: pairs with the Release store of GRANTED in `hand_off`.
            if waiter.state.load(Acquire) == GRANTED {
                return true;
            }
            match deadline {
                None => thread::park(),
                Some(deadline) => {
                    let now = self.clock.elapsed();
                    if now >= deadline {
                        // Timed out but still linked: a release may grant it.
                        crate::hooks::stall_point!("semaphore.timeout.before_cancel");
                        return self.cancel(waiter);
                    }
                    self.clock.park_for(deadline - now);
                }
            }
            // Acquire: as above.
            if waiter.state.load(Acquire) == GRANTED || self.compete(waiter) {
                return true;
            }
        }
    }

    /// After a wake-up: if `waiter` is the head, try to take what it still
    /// needs from the count. A head that loses stays first.
    fn compete(&self, waiter: &Waiter) -> bool {
        let w: *const Waiter = waiter;
        let mut wake = Wake::default();
        let mut list = self.list.lock();
        // Acquire: pairs with the Release store of GRANTED (also ordered by
        // the list lock, under which it was made).
        if waiter.state.load(Acquire) == GRANTED {
            return true;
        }
        if list.head != w {
            return false;
        }
        // SAFETY: `waiter` is live (ours) and linked; list lock held.
        let need = unsafe { Waiter::need(w) };
        if !self.take_exact(need) {
            // SAFETY: as above.
            unsafe { Waiter::with_links(w, |l| l.notified = false) };
            return false;
        }
        // SAFETY: (1) `w` is linked in `list` (not granted, so not unlinked
        // by a releaser; only we unlink ourselves); (2) lock held.
        unsafe { list.remove(w) };
        self.after_head_unlinked(&list, &mut wake);
        drop(list);
        wake.flush();
        true
    }

    /// Timeout: leave the queue, returning permits handed to us so far.
    fn cancel(&self, waiter: &Waiter) -> bool {
        let w: *const Waiter = waiter;
        let mut wake = Wake::default();
        let mut list = self.list.lock();
        // Acquire: pairs with the Release store of GRANTED.
        if waiter.state.load(Acquire) == GRANTED {
            // Granted in full before we noticed the deadline: keep them.
            return true;
        }
        let was_head = list.head == w;
        // SAFETY: ours, live, linked (not granted); lock held.
        let got = unsafe { Waiter::with_links(w, |l| l.got) };
        // SAFETY: (1) linked in `list`, as above; (2) lock held.
        unsafe { list.remove(w) };
        if was_head {
            self.after_head_unlinked(&list, &mut wake);
        }
        drop(list);
        wake.flush();
        if got > 0 {
            self.release(got);
        }
        false
    }

    /// The head changed: clear `PARKED` if the list emptied, else wake the
    /// new head if the count already covers it (a wake-up the old head may
    /// have consumed).
    fn after_head_unlinked(&self, list: &WaitList, wake: &mut Wake) {
        let head = list.head;
        if head.is_null() {
            // Relaxed: see the orderings table; we hold the list lock.
            self.state.fetch_and(!PARKED, Relaxed);
            return;
        }
        self.publish_head(list);
        // SAFETY: linked waiters are live; lock held (`list` borrows it).
        let need = unsafe { Waiter::need(head) };
        if self.available_permits() >= need {
            self.notify(head, wake);
        }
    }

    /// Marks `head` notified and queues an unpark, unless already notified.
    fn notify(&self, head: *const Waiter, wake: &mut Wake) {
        // SAFETY: the callers pass the live head and hold the list lock.
        let first =
            unsafe { Waiter::with_links(head, |l| !core::mem::replace(&mut l.notified, true)) };
        if first {
            // SAFETY: as above; the clone happens while it is linked.
            wake.push(unsafe { (*head).thread.clone() });
        }
    }

    /// Takes exactly `n` from the count if it holds that many (`AcqRel`
    /// because a hand-off passes them on).
    fn take_exact(&self, n: usize) -> bool {
        self.state
            .fetch_update(AcqRel, Relaxed, |s| {
                (s >> SHIFT >= n).then(|| s - (n << SHIFT))
            })
            .is_ok()
    }

    /// Takes up to `n` from the count; returns how many.
    fn take_up_to(&self, n: usize) -> usize {
        // AcqRel: Acquire pairs with the Release that added them; the
        // permits are passed on by the Release store of GRANTED.
        match self.state.fetch_update(AcqRel, Acquire, |s| {
            let k = (s >> SHIFT).min(n);
            (k > 0).then(|| s - (k << SHIFT))
        }) {
            Ok(s) => (s >> SHIFT).min(n),
            Err(_) => 0,
        }
    }

    /// Adds `n` to the count, keeping the `PARKED` bit. Never overflows:
    /// see `release`.
    fn add_to_count(&self, n: usize) {
        let add = |s: usize| {
            let c = (s >> SHIFT) + n;
            debug_assert!(c <= Self::MAX_PERMITS, "count above total");
            Some(c << SHIFT | (s & PARKED))
        };
        // Release: pairs with the Acquire CAS of whoever takes the permits.
        let _ = self.state.fetch_update(Release, Relaxed, add);
    }

    /// Returns `n` permits: to the count when nobody is queued (one CAS),
    /// else through the queue. Never panics: the permits returned and those
    /// in the count all exist, so together they are at most `total ≤
    /// MAX_PERMITS`, far below `COUNT_LIMIT` (the sum cannot wrap either).
    #[inline]
    fn release(&self, n: usize) {
        let mut s = self.state.load(Relaxed);
        while s & PARKED == 0 {
            let c = (s >> SHIFT) + n;
            debug_assert!(c <= Self::MAX_PERMITS, "count above total");
            // Release: pairs with the Acquire CAS of whoever takes them.
            match self
                .state
                .compare_exchange_weak(s, c << SHIFT, Release, Relaxed)
            {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
        self.release_slow(n);
    }

    #[cold]
    fn release_slow(&self, mut n: usize) {
        // Read the clock outside the lock (an injected clock is test code).
        let now = if self.fifo {
            Duration::ZERO
        } else {
            self.clock.fairness_now()
        };
        let mut wake = Wake::default();
        let mut list = self.list.lock();
        while n > 0 {
            let head = list.head;
            if head.is_null() {
                // `PARKED` is clear now (list empty, lock held).
                self.add_to_count(n);
                break;
            }
            // SAFETY: linked waiters are live; lock held.
            let since = unsafe { (*head).since };
            if self.fifo || now.saturating_sub(since) >= FAIRNESS_BOUND {
                // SAFETY: `head` is linked in `list`, whose lock we hold.
                n = unsafe { self.hand_off(&mut list, head, n, &mut wake) };
            } else {
                self.add_to_count(n);
                self.notify(head, &mut wake);
                break;
            }
        }
        drop(list);
        wake.flush();
    }

    /// Gives the head up to `n` permits, topping up from the count; grants
    /// and unlinks it once covered. Returns the permits left over.
    ///
    /// # Safety
    ///
    /// 1. `head` is the head of `list`, which is this semaphore's list
    ///    (held through `&mut`).
    unsafe fn hand_off(
        &self,
        list: &mut WaitList,
        head: *const Waiter,
        n: usize,
        wake: &mut Wake,
    ) -> usize {
        // SAFETY: (1) the head is linked, so live; lock held.
        let need = unsafe { Waiter::need(head) };
        let give = n.min(need);
        let top_up = if give < need {
            self.take_up_to(need - give)
        } else {
            0
        };
        // SAFETY: as above.
        let covered = unsafe {
            Waiter::with_links(head, |l| {
                l.got += give + top_up;
                l.got
            })
        };
        // SAFETY: as above (`wanted` is immutable).
        if covered == unsafe { (*head).wanted } {
            // SAFETY: (1) linked in `list`; lock held.
            unsafe { list.remove(head) };
            self.after_head_unlinked(list, wake);
            // Clone first: the GRANTED store below is our last touch.
            // SAFETY: still live: its thread waits for GRANTED or the lock.
            wake.push(unsafe { (*head).thread.clone() });
            // Release: pairs with the waiter's Acquire load in `wait`. After
            // this store the waiter may return and its record vanish.
            // SAFETY: as above; nothing touches `head` after this line.
            unsafe { (*head).state.store(GRANTED, Release) };
        }
        n - give
    }
}

#[cold]
#[track_caller]
fn too_many(what: &str, n: usize) -> ! {
    panic!(
        "{what}: {n} permits exceeds Semaphore::MAX_PERMITS ({})",
        Semaphore::MAX_PERMITS
    )
}

#[cold]
#[track_caller]
fn add_overflow(total: usize, n: usize) -> ! {
    panic!(
        "Semaphore::add_permits: adding {n} to the {total} permits in existence (free or held) exceeds Semaphore::MAX_PERMITS ({})",
        Semaphore::MAX_PERMITS
    )
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.load(Relaxed);
        f.debug_struct("Semaphore")
            .field("available_permits", &(s >> SHIFT))
            .field("waiters_queued", &(s & PARKED != 0))
            .field("fifo", &self.fifo)
            .finish()
    }
}

/// Permits taken from a [`Semaphore`]; dropping it releases them.
///
/// # Examples
///
/// ```
/// let sem = cds::Semaphore::new(2);
/// let p = sem.acquire_many(2);
/// assert_eq!(p.num_permits(), 2);
/// drop(p);
/// assert_eq!(sem.available_permits(), 2);
/// ```
///
/// A permit cannot outlive its semaphore:
///
/// ```compile_fail
/// let permit = {
///     let sem = cds::Semaphore::new(1);
///     sem.acquire() // `sem` does not live long enough
/// };
/// ```
#[must_use = "dropping a Permit releases it at once"]
pub struct Permit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl Permit<'_> {
    /// How many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = cds::Semaphore::new(1);
    /// assert_eq!(sem.acquire().num_permits(), 1);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Consumes the permit without releasing it: the semaphore has that
    /// many fewer permits from now on, which also makes room for as many
    /// under [`Semaphore::MAX_PERMITS`] (undo with
    /// [`Semaphore::add_permits`]). An empty permit changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = cds::Semaphore::new(2);
    /// sem.acquire().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        let n = core::mem::take(&mut self.n);
        if n > 0 {
            // Relaxed: `total` orders nothing (see the orderings table). The
            // permits are gone (never released) before they leave the
            // total, so it never counts fewer than exist.
            self.sem.total.fetch_sub(n, Relaxed);
        }
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.release(self.n);
        }
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("num_permits", &self.n)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    fn wait_queued(sem: &Semaphore, n: usize) {
        while sem.queued_waiters() < n {
            std::thread::yield_now();
        }
    }

    #[test]
    fn fast_path_accounting() {
        let sem = Semaphore::new(3);
        let a = sem.acquire();
        let b = sem.try_acquire_many(2).unwrap();
        assert!(sem.try_acquire().is_none());
        assert_eq!(sem.available_permits(), 0);
        drop(a);
        assert_eq!(sem.available_permits(), 1);
        b.forget();
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.acquire_many(0).num_permits(), 0);
    }

    #[test]
    fn waiter_is_woken_by_release() {
        for fifo in [false, true] {
            let sem = if fifo {
                Semaphore::new_fifo(0)
            } else {
                Semaphore::new(0)
            };
            std::thread::scope(|s| {
                let h = s.spawn(|| sem.acquire().forget());
                wait_queued(&sem, 1);
                assert_ne!(sem.state.load(SeqCst) & PARKED, 0);
                sem.add_permits(1);
                h.join().unwrap();
            });
            assert_eq!(sem.state.load(SeqCst), 0, "no permits, PARKED cleared");
        }
    }

    #[test]
    fn timeout_leaves_queue_clean() {
        let sem = Semaphore::new(0);
        assert!(sem.acquire_timeout(Duration::from_millis(1)).is_none());
        assert_eq!(sem.queued_waiters(), 0);
        assert_eq!(sem.state.load(SeqCst), 0);
    }

    #[test]
    fn counter_never_exceeds_permits() {
        let permits = 2;
        let sem = Semaphore::new(permits);
        let inside = AtomicUsize::new(0);
        let per = if cfg!(miri) { 20 } else { 2_000 };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..per {
                        let _p = sem.acquire();
                        assert!(inside.fetch_add(1, SeqCst) < permits);
                        inside.fetch_sub(1, SeqCst);
                    }
                });
            }
        });
        assert_eq!(sem.available_permits(), permits);
    }

    /// Plain (non-atomic) data passed from releaser to acquirer; miri
    /// reports a data race if an acquire does not synchronize-with the
    /// release that fed it (count path, hand-off path, fast path).
    #[test]
    fn acquire_synchronizes_with_release() {
        struct Shared(std::cell::UnsafeCell<usize>);
        // SAFETY: test-only; accesses are ordered by the semaphores under test.
        unsafe impl Sync for Shared {}
        impl Shared {
            fn ptr(&self) -> *mut usize {
                self.0.get()
            }
        }
        let rounds = if cfg!(miri) { 30 } else { 2_000 };
        for fifo in [false, true] {
            let make = |n| {
                if fifo {
                    Semaphore::new_fifo(n)
                } else {
                    Semaphore::new(n)
                }
            };
            let (to_b, to_a) = (make(0), make(0));
            let data = Shared(std::cell::UnsafeCell::new(0));
            std::thread::scope(|s| {
                s.spawn(|| {
                    for i in 0..rounds {
                        to_b.acquire().forget();
                        // SAFETY: A wrote before its release that fed this acquire.
                        let v = unsafe { *data.ptr() };
                        assert_eq!(v, 2 * i + 1);
                        // SAFETY: A reads only after acquiring from our release.
                        unsafe { *data.ptr() = v + 1 };
                        to_a.add_permits(1);
                    }
                });
                for i in 0..rounds {
                    // SAFETY: B wrote before the release that fed our acquire
                    // (or nothing happened yet, i == 0).
                    unsafe { *data.ptr() = 2 * i + 1 };
                    to_b.add_permits(1);
                    to_a.acquire().forget();
                    // SAFETY: as above.
                    assert_eq!(unsafe { *data.ptr() }, 2 * i + 2);
                }
            });
        }
    }

    /// `total` moves only with `add_permits` and `forget`; acquires,
    /// releases, hand-offs and timeouts leave it alone.
    #[test]
    fn total_counts_permits_in_existence() {
        let total = |sem: &Semaphore| sem.total.load(SeqCst);
        let sem = Semaphore::new_fifo(3);
        let p = sem.acquire_many(2);
        assert_eq!(total(&sem), 3);
        p.forget();
        assert_eq!(total(&sem), 1);
        sem.acquire_many(0).forget();
        sem.add_permits(4);
        assert_eq!((total(&sem), sem.available_permits()), (5, 5));
        let all = sem.acquire_many(5);
        std::thread::scope(|s| {
            let h = s.spawn(|| sem.acquire_many_timeout(2, Duration::from_secs(60)));
            wait_queued(&sem, 1);
            drop(all); // FIFO: 2 handed to the waiter, 3 left in the count
            assert!(h.join().unwrap().is_some_and(|p| p.num_permits() == 2));
        });
        assert_eq!((total(&sem), sem.available_permits()), (5, 5));
    }

    /// The fairness bound on an injected clock, in the plain `cargo test`
    /// run and under miri (more cases in `tests/stall_semaphore.rs`): a
    /// release before the head has waited 0.5 ms goes to the count, where
    /// the head (wanting 2) cannot use it; from 0.5 ms on newcomers are
    /// barred and a release hands off to the head, draining the count.
    #[test]
    fn fairness_bound_on_injected_clock() {
        use std::sync::{atomic::AtomicU64, Arc};
        let nanos = Arc::new(AtomicU64::new(0));
        let clock = nanos.clone();
        let clock = move || Duration::from_nanos(clock.load(SeqCst));
        let sem = Semaphore::with_fairness_clock(0, Box::new(clock));
        std::thread::scope(|s| {
            let head = s.spawn(|| sem.acquire_many(2).forget());
            wait_queued(&sem, 1);
            nanos.store(499_999, SeqCst);
            sem.add_permits(1);
            assert_eq!(sem.available_permits(), 1, "young head: in the count");
            assert_eq!(sem.queued_waiters(), 1);
            nanos.store(500_000, SeqCst);
            assert!(
                sem.try_acquire().is_none(),
                "a newcomer overtook a due head"
            );
            sem.add_permits(1);
            head.join().unwrap();
        });
        assert_eq!(sem.available_permits(), 0, "both permits went to the head");
        assert_eq!(sem.queued_waiters(), 0);
    }

    #[test]
    #[should_panic(expected = "exceeds Semaphore::MAX_PERMITS")]
    fn new_beyond_max_panics() {
        let _ = Semaphore::new(Semaphore::MAX_PERMITS + 1);
    }
}

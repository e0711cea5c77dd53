//! [`Hazard`]: hazard-pointer reclamation (ours).
//!
//! # Algorithm
//!
//! Michael, *Hazard pointers: safe memory reclamation for lock-free
//! objects*, IEEE TPDS 15(6), 2004, with the domain organisation of folly's
//! `hazptr` (records reused through a per-domain list, retired lists owned
//! by the domain, asymmetric fences).
//!
//! - A **domain** owns a grow-only lock-free list of **hazard records**, each
//!   with [`MAX_SLOTS`] slots, and `N` sharded lists of retired objects.
//!   Records are acquired by a [`HazardGuard`] and released when it drops;
//!   an idle record is reused by the next guard, and records are freed only
//!   with the domain (they are walked without locks, so none can be freed
//!   earlier). The process-wide global domain
//!   ([`Hazard::global`], the `Default`) caches one record per thread, so a
//!   guard costs a thread-local access (guards are therefore `!Send`, like
//!   epoch guards); private domains ([`Hazard::private`]) do not cache (their
//!   records must not outlive them in other threads' caches).
//! - **Protect**: store the pointer in a slot, fence, then run the caller's
//!   witness (see [the seam](crate::reclaim#protection-needs-a-witness)).
//!   The fence is asymmetric: a compiler fence on the reader and
//!   `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` on the reclaimer (Linux,
//!   registered when a domain is created), `fence(SeqCst)` on both sides
//!   otherwise, under loom, under miri and under `--cfg cds_fence_fallback`
//!   (which also turns every slot access into an RMW, for the thread
//!   sanitizer: see `fence.rs`). **Loom checks only the symmetric protocol.**
//! - **Retire** pushes the object onto the shard of the retiring guard's
//!   record and bumps that shard's pending count. When the count reaches
//!   the shard's **trigger** the retiring thread runs a **pass** over the
//!   shard: take the whole list, issue the heavy fence, snapshot every slot
//!   of every record, run the drop function of every object not in the
//!   snapshot, push the others back. The pass counts the records in which
//!   it found a hazard (`a`, records *in use*: idle ones hold none) and
//!   stores `max(T, k·a·S)` as the shard's next trigger (the trigger starts
//!   at `T`). The list is taken before any drop function runs, so a
//!   drop function that retires again (re-entrant pass) is fine. A drop
//!   function that panics aborts the process (see [`crate::reclaim`]).
//! - [`Reclaim::flush`] runs rounds of passes over every shard, each with a
//!   fresh snapshot, until a round reclaims nothing: objects retired by the
//!   drop functions it ran (a chain of owners) go in the same flush. Under
//!   a continuous stream of unprotected retires from other threads it keeps
//!   reclaiming (each extra round reclaims at least one object) and returns
//!   after the first round that finds nothing.
//! - When the last handle of a private domain drops, everything still pending
//!   is reclaimed and the records are freed.
//!
//! # Garbage bound
//!
//! Let `T` be the threshold (default 1024 per shard, [`Hazard::with_threshold`]),
//! `S =` [`MAX_SLOTS`], `k =` [`Hazard::SCAN_MULTIPLIER`] `= 2`, `N =`
//! [`Hazard::SHARDS`], and `C` the largest number of threads concurrently
//! inside `retire` or `flush` on the domain (a re-entrant pass counts as
//! one more).
//!
//! `A` counts records in use, not records ever made
//! ([`Hazard::record_count`]). For a shard and a moment `t`, let `t₀` be
//! the last retire into the shard before `t` that ran no pass. The passes
//! that matter at `t` are the one whose trigger `t₀` read (none if it read
//! the initial `T`) and every pass that took the shard's list after `t₀`;
//! `A` is the largest count `a` found by one of them, over all shards.
//! A pass counts a record when it reads a hazard in it, and only a live
//! guard's record holds hazards, so `a` is at most the number of guards
//! alive (holding a protection) while the pass walked the list; records
//! left idle by guards that have dropped, and a thread's idle cached
//! record in the global domain, never count. `t₀` read the trigger of the
//! shard's last pass to finish before it, or a newer one (a pass stores
//! its trigger before its Release decrement of the pending count; a retire
//! reads it after its Acquire increment). Roughly: `A` is the most
//! guards holding protections during the shard's last pass before its
//! last pass-free retire, and during every pass since. With
//! `R = max(T, k·A·S)`, at every moment the domain's pending count
//! (retired, drop function not yet run) satisfies
//!
//! ```text
//! pending ≤ N·(R − 1) + C·(N + C + 1)·(A·S + 1)
//! ```
//!
//! whatever the protecting threads do, including holding a protection
//! forever or stalling anywhere. When at most one thread retires into each
//! shard and nobody flushes concurrently, each shard stays at `≤ R`.
//!
//! Why, per shard at `t`. (1) `t₀`'s increment returned `p <` its trigger
//! `≤ R`: at most `R − 1` objects counted by then are still pending.
//! (2) At most `C − 1` more had been pushed by then but not yet counted
//! (their retirers were inside `retire`). (3) Every other pending object was
//! pushed after `t₀`, by a retire that runs a pass, and every pass that
//! took it is one that matters, so keeps at most `A·S` objects (a pass
//! keeps only addresses in its snapshot, at most `a·S` of them, and two
//! pending objects never share an address). Such an
//! object is (a) not yet taken by its retirer's pass (at most one per
//! thread in `retire`), (b) in the chain of a pass in flight (at most one
//! per thread; a chain holds what was pushed since the previous take: at
//! most `C` fresh objects whose retirers had not taken yet, and what at
//! most `C` passes in flight at that take pushed back, `≤ C·A·S`), or
//! (c) on the list, pushed back since the last take by at most `C` passes
//! in flight at that take (`≤ C·A·S`). Terms (1), (2) and (c) are per
//! shard: `N·(R − 1) + N·(C − 1) + N·C·A·S`; (a) and (b) count threads in
//! flight at `t`, at most `C` in all: `C + C·(C + C·A·S)`. Their sum is
//! within the formula. With one retirer per shard and no concurrent pass,
//! a pass leaves at most `a·S ≤ R/2` objects and the next runs at the
//! trigger, `≤ R`. The bound counts objects, not bytes;
//! `tests/bound_hazard.rs` checks it with one node protected forever and
//! a million retires, also after thousands of readers came and went.
//!
//! # Progress
//!
//! - `protect_with` is wait-free: a store, a fence and the caller's witness
//!   (the [`Slot::protect`] loop is lock-free: it retries only when the
//!   source changed).
//! - `guard()` is lock-free: a thread-local cache hit (global domain) or a
//!   walk of the record list and one CAS per free record tried, pushing a new
//!   record if none is free. Dropping a guard is wait-free.
//! - `retire` is lock-free (one CAS push); a pass it triggers is bounded by
//!   the list it took and the records ever made (plus the drop functions
//!   it runs), never waiting for another thread.
//! - `flush` never waits for another thread; it returns after the first
//!   round of passes that reclaims nothing (see above).
//!
//! # Costs
//!
//! A protect is a store, a compiler fence (asymmetric mode) and the witness
//! load; a guard on the global domain is a thread-local read and a flag on
//! its cached record, and dropping it clears the slots it used (about 26
//! instructions for guard + protect + drop, against 42 for crossbeam-epoch's
//! `pin` + load, measured with callgrind); a retire allocates one small
//! node, and compares the shard's pending count with its trigger (one
//! relaxed load on a line the push already touched); a pass costs a
//! `membarrier` syscall (hundreds of nanoseconds, amortized over at least
//! `R/2` retires) plus a walk of every record ever made (idle ones too:
//! `O(H)` for `H =` [`Hazard::record_count`]) plus
//! `O(a·S·log(a·S) + list)`. After a burst of readers the walk stays
//! longer than the bound needs: records are never freed while the domain
//! lives.
//!
//! # Under loom
//!
//! Use private domains in loom models ([`Hazard::private`] or
//! [`Hazard::with_threshold`]). The global domain works under loom (it lives
//! in a loom lazy static and caches no records thread-locally), but loom
//! drops it at the end of every execution.

mod domain;
mod fence;
mod record;
mod retired;

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;

use self::domain::Domain;
use self::record::Record;
use crate::primitive::sync::atomic::AtomicPtr;
use crate::primitive::sync::Arc;
use crate::reclaim::{Guard, Reclaim, ReclaimStats, Slot, MAX_SLOTS};

/// A handle to a hazard-pointer domain: the process-wide global one
/// ([`Hazard::global`], the `Default`) or a private one ([`Hazard::private`]).
///
/// Clones are handles to the same domain. A private domain reclaims
/// everything still pending when its last handle drops. See the
/// [module docs](self) for the algorithm, the garbage bound and costs.
///
/// # Examples
///
/// ```
/// use cds::reclaim::{Guard, Hazard, Reclaim, Slot};
/// use std::sync::atomic::AtomicPtr;
///
/// let domain = Hazard::private();
/// let node = Box::into_raw(Box::new(7u64));
/// let src = AtomicPtr::new(node);
///
/// let mut owned = domain.guard();
/// let ([mut slot, ..], guard) = owned.split();
/// // SAFETY: `src` holds a live box, retired only after it is unlinked.
/// let p = unsafe { slot.protect(&src) }.unwrap();
/// assert_eq!(*p, 7);
///
/// unsafe fn free(p: *mut ()) {
///     // SAFETY: `p` came from `Box::into_raw(Box<u64>)`, reclaimed once.
///     drop(unsafe { Box::from_raw(p.cast::<u64>()) });
/// }
/// src.store(std::ptr::null_mut(), std::sync::atomic::Ordering::Release); // unlink
/// // SAFETY: unlinked, retired once, only this domain's guards protect it,
/// // and `free` may run on any thread.
/// unsafe { guard.retire(node.cast(), free) };
/// domain.flush();
/// assert_eq!(domain.stats().pending, 1); // still protected by `slot`
/// assert_eq!(*p, 7);
/// drop(slot);
/// drop(owned);
/// domain.flush();
/// assert_eq!(domain.stats().reclaimed, 1);
/// ```
#[derive(Clone)]
pub struct Hazard {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Global,
    Private(Arc<Domain>),
}

impl Hazard {
    /// Retired-list shards per domain (`N` in the garbage bound).
    pub const SHARDS: usize = domain::SHARDS;

    /// `k` in the pass trigger `max(T, k·a·MAX_SLOTS)` (`a`: records in use
    /// found by the shard's last pass).
    pub const SCAN_MULTIPLIER: usize = domain::SCAN_MULTIPLIER;

    /// The default threshold `T` (per shard); smaller under loom and miri.
    pub const DEFAULT_THRESHOLD: usize = domain::DEFAULT_THRESHOLD;

    /// A handle to the process-wide global domain (the same as
    /// `Hazard::default()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::reclaim::{Hazard, Reclaim};
    /// let h = Hazard::global();
    /// drop(h.guard());
    /// assert!(h.record_count() >= 1);
    /// ```
    pub const fn global() -> Self {
        Self {
            inner: Inner::Global,
        }
    }

    /// A new **private** domain with the default threshold: its own
    /// records and retired lists, and everything still retired in it is
    /// reclaimed when its last handle drops. [`Hazard::default`] and
    /// [`Hazard::global`] are the process-wide domain instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::reclaim::{Hazard, Reclaim};
    /// let h = Hazard::private();
    /// assert_eq!(h.stats().retired, 0);
    /// assert!(!h.same_domain(&Hazard::default()));
    /// ```
    pub fn private() -> Self {
        Self::with_threshold(Self::DEFAULT_THRESHOLD)
    }

    /// The old name of [`Hazard::private`]: a new private domain (not the
    /// global one, which [`Hazard::default`] returns).
    #[deprecated(
        since = "0.2.0",
        note = "`Hazard::new` reads like the default domain but builds a private one: use `Hazard::private` (or `Hazard::default` for the global domain)"
    )]
    pub fn new() -> Self {
        Self::private()
    }

    /// A new private domain whose shards run a pass once
    /// `max(threshold, k·a·MAX_SLOTS)` objects are pending in them, `a`
    /// being the records in use found by the shard's last pass (a
    /// threshold of 0 counts as 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::reclaim::Hazard;
    /// let h = Hazard::with_threshold(16);
    /// assert_eq!(h.threshold(), 16);
    /// ```
    pub fn with_threshold(threshold: usize) -> Self {
        // Register for membarrier before the domain hands out any guard.
        fence::init();
        Self {
            inner: Inner::Private(Arc::new(Domain::new(threshold))),
        }
    }

    #[inline]
    fn domain(&self) -> &Domain {
        match &self.inner {
            Inner::Global => global::domain(),
            Inner::Private(d) => d,
        }
    }

    /// The number of hazard records the domain has created: at most the
    /// largest number of guards alive at once, plus one cached per thread
    /// for the global domain. Never decreases: idle records are kept for
    /// reuse. Not the `A` of the [garbage bound](self#garbage-bound),
    /// which counts records in use.
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::reclaim::{Hazard, Reclaim};
    /// let h = Hazard::private();
    /// let (a, b) = (h.guard(), h.guard());
    /// assert_eq!(h.record_count(), 2);
    /// drop((a, b));
    /// drop(h.guard()); // reuses a record
    /// assert_eq!(h.record_count(), 2);
    /// ```
    pub fn record_count(&self) -> usize {
        self.domain().record_count()
    }

    /// The threshold `T` of the domain.
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::reclaim::Hazard;
    /// assert_eq!(Hazard::global().threshold(), Hazard::DEFAULT_THRESHOLD);
    /// ```
    pub fn threshold(&self) -> usize {
        self.domain().threshold()
    }

    /// True if both handles refer to the same domain.
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::reclaim::Hazard;
    /// let a = Hazard::private();
    /// assert!(a.same_domain(&a.clone()));
    /// assert!(!a.same_domain(&Hazard::private()));
    /// assert!(Hazard::global().same_domain(&Hazard::default()));
    /// ```
    pub fn same_domain(&self, other: &Hazard) -> bool {
        core::ptr::eq(self.domain(), other.domain())
    }
}

impl Default for Hazard {
    /// The global domain.
    fn default() -> Self {
        Self::global()
    }
}

impl fmt::Debug for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            Inner::Global => "global",
            Inner::Private(_) => "private",
        };
        f.debug_struct("Hazard")
            .field("domain", &kind)
            .field("threshold", &self.threshold())
            .field("records", &self.record_count())
            .field(
                "fence",
                &if fence::is_asymmetric() {
                    "asymmetric (membarrier)"
                } else {
                    "symmetric (SeqCst)"
                },
            )
            .field("stats", &self.stats())
            .finish()
    }
}

// SAFETY: an object retired through a `HazardGuard` of this domain is
// reclaimed only by a pass whose snapshot, taken after the heavy fence that
// follows its unlink, does not contain its address; a guard whose protection
// validated (witness after its own fence) has its hazard in every such
// snapshot until it clears the slot (fence.rs). Each retired object sits in
// exactly one list or pass chain, so it is reclaimed at most once.
unsafe impl Reclaim for Hazard {
    type Guard<'r> = HazardGuard<'r>;

    #[inline]
    fn guard(&self) -> HazardGuard<'_> {
        let (record, cached) = match &self.inner {
            Inner::Global => global::acquire(),
            Inner::Private(d) => (d.acquire(), false),
        };
        HazardGuard {
            record,
            cached,
            used: Cell::new(0),
            _handle: PhantomData,
        }
    }

    fn flush(&self) {
        self.domain().flush();
    }

    fn stats(&self) -> ReclaimStats {
        self.domain().stats()
    }
}

/// A critical section of [`Hazard`]: one hazard record with [`MAX_SLOTS`]
/// protection slots.
///
/// A protection holds until its slot is reused, [`Guard::refresh`] is called
/// or the guard drops. Under `Hazard` every live guard (and every `Ref` a
/// structure hands out, which owns a guard) holds one record; records are
/// reused, never freed while their domain lives. Like an epoch guard, a
/// `HazardGuard` is `!Send`: on the global domain it borrows its thread's
/// cached record.
///
/// # Examples
///
/// A guard cannot outlive its reclaimer:
///
/// ```compile_fail
/// use cds::reclaim::{Hazard, Reclaim};
/// let guard = {
///     let domain = Hazard::private();
///     domain.guard()
/// };
/// drop(guard);
/// ```
///
/// A guard stays on its thread:
///
/// ```compile_fail
/// use cds::reclaim::{Hazard, Reclaim};
/// let domain = Hazard::global();
/// let guard = domain.guard();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(guard));
/// });
/// ```
#[must_use]
pub struct HazardGuard<'r> {
    /// The record this guard owns (its `active` flag is set for us).
    record: &'r Record,
    /// The record is this thread's cached one (global domain): dropping
    /// the guard only marks it idle.
    cached: bool,
    /// Bit `i` set: slot `i` may hold a hazard (cleared on drop/refresh).
    /// Set by the lent slots through a shared borrow, hence a `Cell`.
    used: Cell<u8>,
    /// Borrows the handle; `!Send`: a cached record belongs to its thread.
    _handle: PhantomData<(&'r Hazard, *const ())>,
}

impl fmt::Debug for HazardGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HazardGuard")
            .field("slots", &self.record.slots)
            .finish_non_exhaustive()
    }
}

impl HazardGuard<'_> {
    #[inline]
    fn domain(&self) -> &Domain {
        // SAFETY: a record's `domain` points to the domain owning it
        // (Domain invariant), which outlives the handle this guard borrows.
        unsafe { &*self.record.domain }
    }
}

/// A protection slot of a [`HazardGuard`]: one hazard pointer of its
/// record, lent for `'g`.
pub struct HazardSlot<'g> {
    /// The record's hazard pointer this slot publishes in.
    hazard: &'g AtomicPtr<()>,
    /// The guard's mask of slots that may hold a hazard.
    used: &'g Cell<u8>,
    /// This slot's bit in `used`.
    bit: u8,
}

impl fmt::Debug for HazardSlot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HazardSlot").field(&self.hazard).finish()
    }
}

// SAFETY: see `Reclaim for Hazard`: `publish` returns true only after
// publishing, fencing and a successful witness, and the hazard stays
// published until the slot publishes again or is cleared, or the guard is
// refreshed or drops (both need the guard back from every lent slot).
unsafe impl Slot for HazardSlot<'_> {
    #[inline]
    fn publish(&mut self, addr: *mut (), mut witness: impl FnMut() -> bool) -> bool {
        // Ends the previous protection of the slot and publishes the new
        // one (fence.rs: the orderings and how the pass reads it); the
        // store→load order with the witness comes from the fence below.
        fence::publish(self.hazard, addr);
        self.used.set(self.used.get() | self.bit);
        fence::light();
        // A failed witness leaves the stale hazard in place until the slot is
        // reused or cleared: harmless (it only delays one object), and the
        // retry loop of `protect` overwrites it anyway.
        witness()
    }

    #[inline]
    fn clear(&mut self) {
        if self.used.get() & self.bit != 0 {
            fence::clear(self.hazard);
            self.used.set(self.used.get() & !self.bit);
        }
    }
}

// SAFETY: the slots it lends publish in this guard's record, which stays
// owned by the guard (and scanned by every pass) until it drops.
unsafe impl Guard for HazardGuard<'_> {
    type Slot<'g>
        = HazardSlot<'g>
    where
        Self: 'g;

    #[inline]
    fn split(&mut self) -> ([HazardSlot<'_>; MAX_SLOTS], &Self) {
        let (record, used) = (self.record, &self.used);
        let slots = core::array::from_fn(|i| HazardSlot {
            hazard: &record.slots[i],
            used,
            bit: 1 << i,
        });
        (slots, self)
    }

    #[inline]
    fn refresh(&mut self) {
        self.record.clear_used(self.used.get());
        self.used.set(0);
    }

    #[inline]
    unsafe fn retire(&self, ptr: *mut (), drop_fn: unsafe fn(*mut ())) {
        // SAFETY: the caller upholds `Guard::retire`'s preconditions, and
        // this guard's record belongs to the domain we retire into (3).
        unsafe { self.domain().retire(self.record.shard, ptr, drop_fn) };
    }
}

impl Drop for HazardGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.record.clear_used(self.used.get());
        if self.cached {
            global::release_cached(self.record);
        } else {
            self.record.release();
        }
    }
}

/// The global domain and its per-thread record cache.
///
/// `FAST` holds the thread's cached record; it has no destructor, so it is
/// readable at any time, also while other thread-locals are being destroyed
/// (a drop function running in crossbeam's thread-exit destructor may create
/// a guard). `EXIT` is registered with the first cached record and gives it
/// back to the domain when the thread exits. A guard on the cached record
/// marks it `busy`; a nested guard finds it busy and takes a record from
/// the domain instead.
#[cfg(not(loom))]
mod global {
    use core::cell::Cell;
    use core::ptr;

    use super::domain::{Domain, DEFAULT_THRESHOLD};
    use super::fence;
    use super::record::Record;

    static GLOBAL: Domain = Domain::new(DEFAULT_THRESHOLD);

    crate::primitive::thread_local! {
        /// Invariant: null, or a record of `GLOBAL` owned by this thread
        /// (its `active` flag set for us) whose exit hook is registered.
        static FAST: Cell<*const Record> = const { Cell::new(ptr::null()) };
        static EXIT: ExitHook = const { ExitHook };
    }

    /// Releases the cached record at thread exit.
    struct ExitHook;

    impl Drop for ExitHook {
        fn drop(&mut self) {
            let record = FAST.with(|c| c.replace(ptr::null()));
            if record.is_null() {
                return;
            }
            // SAFETY: FAST invariant: a record of the static domain, which
            // is never freed.
            let record = unsafe { &*record };
            // A guard still using it releases it on drop instead (it finds
            // FAST no longer pointing to its record).
            if !record.is_busy() {
                record.release();
            }
        }
    }

    #[inline(always)]
    pub(super) fn domain() -> &'static Domain {
        &GLOBAL
    }

    /// The thread's cached record if idle (`cached == true`), else a record
    /// from the domain. Never panics, also during thread exit.
    #[inline]
    pub(super) fn acquire() -> (&'static Record, bool) {
        let cached = FAST.with(Cell::get);
        if !cached.is_null() {
            // SAFETY: FAST invariant.
            let record = unsafe { &*cached };
            if !record.is_busy() {
                record.set_busy(true);
                return (record, true);
            }
        }
        acquire_slow()
    }

    #[cold]
    fn acquire_slow() -> (&'static Record, bool) {
        fence::init();
        let record = GLOBAL.acquire();
        // Cache it if this thread has none and can still register the exit
        // hook (not while its thread-locals are being destroyed).
        if FAST.with(Cell::get).is_null() && EXIT.try_with(|_| ()).is_ok() {
            record.set_busy(true);
            FAST.with(|c| c.set(record));
            return (record, true);
        }
        (record, false)
    }

    /// Marks the thread's cached record idle (slots already clear), or
    /// releases it if the exit hook has run meanwhile.
    #[inline]
    pub(super) fn release_cached(record: &Record) {
        record.set_busy(false);
        if !ptr::eq(FAST.with(Cell::get), record) {
            record.release();
        }
    }
}

/// The global domain under loom: a loom lazy static, no thread cache (loom
/// drops lazy statics before thread-locals, so a cached record could
/// outlive its domain).
#[cfg(loom)]
mod global {
    use super::domain::{Domain, DEFAULT_THRESHOLD};
    use super::record::Record;

    crate::primitive::lazy_static! {
        static ref GLOBAL: Domain = Domain::new(DEFAULT_THRESHOLD);
    }

    pub(super) fn domain() -> &'static Domain {
        &GLOBAL
    }

    pub(super) fn acquire() -> (&'static Record, bool) {
        (GLOBAL.acquire(), false)
    }

    pub(super) fn release_cached(record: &Record) {
        record.release();
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

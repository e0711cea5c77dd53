//! The unsafe core of [`HashMap`](super::HashMap): a Robin Hood table of
//! tagged pointers to immutable entries, segment-locked writers, lock-free
//! hits, version-validated misses and blocking-free growth for readers.
//!
//! # Layout
//!
//! A [`Table`] has 2^`log2` *home* slots plus a tail of `max_probe` slots
//! (no wrap-around: a probe only moves to higher indices, so every lock
//! chain is ascending). Slots are tagged pointers (null = empty, otherwise
//! fingerprint | distance | address, see [`probe`]). Home slots are grouped
//! into segments of [`SEG_SIZE`](probe::SEG_SIZE); the tail belongs to the
//! last segment. Each segment has a state word and an entry count.
//!
//! # Segment state word
//!
//! | bits | meaning |
//! |------|---------|
//! | 0 `LOCKED`  | a writer (or a grower) owns the segment |
//! | 1 `MOVED`   | the table is frozen: a newer table is published; set by the grower with its unlock |
//! | 2..  version | bit 2 set (`WRITING`, "odd") while the owner is changing the segment's key positions |
//!
//! Transitions: `unlocked/even` →(CAS, Acquire)→ `LOCKED/even` →(store,
//! Relaxed, before the first slot store)→ `LOCKED/odd` →(store, Release:
//! version + 1 and unlock in one)→ `unlocked/even`. A writer that changes
//! no key position (replacing an entry in its slot) never makes it odd.
//! The grower locks every segment, never bumps versions, and unlocks with
//! `MOVED` set; a `MOVED` segment is never locked again.
//!
//! # Invariants (between writers' critical sections)
//!
//! 1. Robin Hood order: entries are sorted by home slot along the array;
//!    a slot word's distance is its index minus its entry's home, and is at
//!    most the table's `max_probe`.
//! 2. Every slot is written only by the holder of its segment's lock, and a
//!    writer locks a contiguous ascending range of segments starting at the
//!    home segment of the key it works on (so the count of a key's home
//!    segment changes only under that lock).
//! 3. A published entry is immutable; it is unlinked (replaced, removed,
//!    or its table cleared) exactly once and retired only after the unlink
//!    and after its writer unlocked.
//! 4. A frozen (`MOVED`) table is never written again; entries belong to the
//!    newest table. Old tables are retired as bare slot arrays.
//! 5. No user code (`Hash`, `Eq`, `Clone`, closures, `Drop`), no guard
//!    creation and no retire while any segment lock is held.
//! 6. An entry is linked in exactly one place of the current table: one
//!    slot (at rest), or one item of the table's spill array (the entries
//!    that fit in no run, see [`spill`]). The spill changes only under the
//!    home segment lock of the key concerned, and never in a frozen table.
//!
//! # Why readers are right
//!
//! *Hits.* Writers shift entries so that every entry is in at least one
//! slot at every instant: an insert shifts the run right starting from its
//! far end (each entry is copied forward before its old slot is
//! overwritten), a removal shifts left starting at the hole (each entry is
//! copied back before its old slot is overwritten by its successor). Every
//! distance a probe passes only grows during an insert's shift, so early
//! exit never stops short of an entry in a static intermediate state: a
//! writer parked mid-shift does not hide keys, and a hit never waits. A hit
//! linearizes at its slot load (`Acquire`, pairing with the `Release` slot
//! store that published or re-published the entry). A hit on a frozen table
//! is still linearizable: the reader loaded the table while it was current,
//! and the abstract map equals the frozen contents from the freeze until the
//! new table's publication.
//!
//! *Misses.* A concurrent scan can still race a backward shift (it reads a
//! slot before the entry moves into it and the next slot after its
//! successor moved in). A miss therefore validates, seqlock-style, every
//! segment it read: versions loaded (`Acquire`) before the segment's slots
//! and reloaded after them must be equal and even; otherwise the reader
//! backs off and retries (a miss may wait for a writer in its segments).
//! Slot loads are `Acquire`, so the reload cannot move before them, and a
//! slot store the reader saw was preceded by the odd-version store.
//!
//! # Writers
//!
//! A writer probes like a reader (running `Eq` outside any lock), then
//! locks the segments from its home to the slot it found, checks that the
//! table is not `MOVED`, and re-validates: a replacement or removal checks
//! that the slot still holds the very word it found (the entry is protected,
//! so its address cannot be reused); an insertion checks that the versions
//! it validated are unchanged. It then extends its locks forward to the end
//! of the run it will shift, checks for probe overflow *before writing any
//! slot*, writes, and unlocks. On overflow it unlocks, grows and retries;
//! when growing cannot help (the longest tail, at low load: a degenerate
//! hasher) it puts the entry in the spill instead (see [`spill`]).
//!
//! # Growth
//!
//! The grower locks every segment in ascending order, copies the entry
//! pointers, spilled ones included, into a private table (a plain Robin
//! Hood insert; entries that fit in no run of it go to its own spill, so a
//! copy never fails), publishes it
//! (`Release`), and unlocks every segment with `MOVED` set. Readers do not
//! wait: they finish on the frozen table. Writers that find `MOVED` reload
//! the table and retry. Under hazard pointers the witness of an entry is
//! `table == T && T[i] == word`, so a reader of a frozen table fails its
//! protection and moves on to the new table.

use core::marker::PhantomData;

use crossbeam_utils::CachePadded;

use super::probe::{self, MAX_PROBE_SEGS};
use crate::primitive::sync::atomic::{
    AtomicPtr, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::primitive::Backoff;
use crate::reclaim::{Guard, Reclaim, Shared, Slot};
use crate::recycle;

mod spill;
use spill::{Spill, SpillItem, NOT_SPILLED};

/// The protection slots of one map operation, taken from its guard once
/// per operation ([`Guard::split`]); the guard's fourth slot is unused.
///
/// Contract (the `RawMap` contract): the guard they come from was created
/// from the map's reclaimer, so what they protect is retired only through
/// that reclaimer (precondition 1 of every `protect*`, and 3 of `retire`).
struct MapSlots<S> {
    /// The entry a probe found (and a `Ref` or a handle returns), or a new
    /// entry an insert protects before linking it.
    entry: S,
    /// The table the operation works on.
    table: S,
    /// The spill array the operation searched (a degenerate hasher's).
    spill: S,
}

/// Splits `g` into the map's slots and a shared view that retires.
#[inline(always)]
fn split<G: Guard>(g: &mut G) -> (MapSlots<G::Slot<'_>>, &G) {
    let ([entry, table, spill, _], retirer) = g.split();
    (
        MapSlots {
            entry,
            table,
            spill,
        },
        retirer,
    )
}

/// Ends `g`'s table protection, leaving only its entry slot set: a guard
/// handed to a `Ref` must not keep the table it probed alive (a held `Ref`
/// would otherwise hold back every table retired by later growth). Map
/// operations leave the spill slot clear when they return.
#[inline]
pub(crate) fn release_table<G: Guard>(g: &mut G) {
    split(g).0.table.clear();
}

/// A segment is owned by a writer or grower.
const LOCKED: usize = 1;
/// The table is frozen; a newer one is published.
const MOVED: usize = 2;
/// The version is odd: key positions in the segment are changing.
const WRITING: usize = 4;

/// An immutable key-value pair; slots point to these. Never changed after
/// publication: an update publishes a new entry in the same slot.
pub(crate) struct Entry<K, V> {
    pub(crate) hash: u64,
    pub(crate) key: K,
    pub(crate) value: V,
}

/// An entry allocated by an operation and not yet linked: owned through
/// the raw pointer `recycle::alloc_boxed` returned (so the provenance exposed in
/// slot words allows reading and, later, freeing it). Freed on drop
/// (unwinding from a user `Eq` included) unless [`Pending::link`]ed.
pub(crate) struct Pending<K, V> {
    ptr: core::ptr::NonNull<Entry<K, V>>,
}

impl<K, V> Pending<K, V> {
    /// Allocates an entry.
    ///
    /// # Panics
    ///
    /// If its address does not fit in a slot word (48 bits); the entry is
    /// freed first.
    #[inline]
    pub(crate) fn new(hash: u64, key: K, value: V) -> Self {
        let ptr = recycle::alloc_boxed(Entry { hash, key, value });
        // SAFETY: `alloc_boxed` never returns null.
        let ptr = unsafe { core::ptr::NonNull::new_unchecked(ptr) };
        let this = Pending { ptr };
        let _ = probe::tag(this.ptr.as_ptr(), 0, 0); // panics (after freeing) if too wide
        this
    }

    /// The entry.
    #[inline]
    pub(crate) fn entry(&self) -> &Entry<K, V> {
        // SAFETY: we own the allocation and nobody else can see it yet.
        unsafe { self.ptr.as_ref() }
    }

    /// Hands ownership to the table (called right before the slot store).
    #[inline]
    fn link(self) -> *mut Entry<K, V> {
        let p = self.ptr.as_ptr();
        core::mem::forget(self);
        p
    }
}

impl<K, V> Drop for Pending<K, V> {
    fn drop(&mut self) {
        // SAFETY: still owned (not linked), live, from `alloc_boxed`;
        // dropped once (the block is given back even if `K`/`V` panic).
        unsafe { recycle::drop_boxed(self.ptr.as_ptr()) };
    }
}

/// The entry an occupied slot word points to.
#[inline(always)]
pub(crate) fn entry_of<K, V>(word: *mut Entry<K, V>) -> *mut Entry<K, V> {
    probe::untag(word)
}

/// Reclaims a retired entry.
///
/// # Safety
///
/// 1. `p` came from `recycle::alloc_boxed::<Entry<K, V>>` (`Pending::new`)
///    and is dropped once.
unsafe fn drop_entry<K, V>(p: *mut ()) {
    // SAFETY: precondition 1. The block goes to this thread's node cache
    // (see `recycle`) or back to the allocator.
    unsafe { recycle::drop_boxed(p.cast::<Entry<K, V>>()) };
}

/// Reclaims a retired table (its arrays only; the entries moved on).
///
/// # Safety
///
/// 1. `p` came from `Box::<Table<K, V>>::into_raw` and is dropped once.
unsafe fn drop_table<K, V>(p: *mut ()) {
    // SAFETY: precondition 1.
    drop(unsafe { Box::from_raw(p.cast::<Table<K, V>>()) });
}

/// One segment's state word and entry count (entries whose *home* lies in
/// the segment; changed only under the segment lock).
#[derive(Debug, Default)]
struct Segment {
    state: AtomicUsize,
    count: AtomicUsize,
}

/// Returned when a segment is `MOVED`: retry on the newer table.
#[derive(Debug)]
struct Moved;

/// One generation of the table.
///
/// Invariant: slot words are `0` or point to live `Entry<K, V>`s owned by
/// the map (when this is the current table) or shared with the newer table
/// (when frozen); the table owns none of them. `spill` is null or an array
/// owned by the table (freed with it, or retired when a writer replaces
/// it); its entries are linked like the slots' (see [`spill`]).
pub(crate) struct Table<K, V> {
    log2: u32,
    max_probe: usize,
    slots: Box<[AtomicPtr<Entry<K, V>>]>,
    segs: Box<[CachePadded<Segment>]>,
    spill: AtomicPtr<Spill<K, V>>,
    _entries: PhantomData<*const Entry<K, V>>,
}

/// A boxed slice of `n` values of `f()`, or `None` if it cannot be
/// allocated (the caller panics with a clear message, outside any lock).
fn try_boxed<T>(n: usize, f: impl FnMut() -> T) -> Option<Box<[T]>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).ok()?;
    v.extend(core::iter::repeat_with(f).take(n));
    Some(v.into_boxed_slice())
}

impl<K, V> Table<K, V> {
    /// An empty table, or `None` if its arrays cannot be allocated.
    fn try_new(log2: u32, max_probe: usize) -> Option<Self> {
        let n = (1usize << log2) + max_probe;
        Some(Table {
            log2,
            max_probe,
            slots: try_boxed(n, || AtomicPtr::new(core::ptr::null_mut()))?,
            segs: try_boxed(probe::segments(log2), || {
                CachePadded::new(Segment::default())
            })?,
            spill: AtomicPtr::new(core::ptr::null_mut()),
            _entries: PhantomData,
        })
    }

    /// An empty table.
    ///
    /// # Panics
    ///
    /// If its arrays cannot be allocated. Call it outside every lock.
    fn new(log2: u32, max_probe: usize) -> Self {
        Self::try_new(log2, max_probe).unwrap_or_else(|| alloc_failed(log2))
    }

    #[inline(always)]
    fn seg_of(&self, slot: usize) -> usize {
        probe::seg_of(slot, self.segs.len())
    }

    /// Entries counted in every segment (a snapshot unless all are locked).
    fn count(&self) -> usize {
        // Relaxed: a statistic; exact only when quiescent (documented).
        self.segs.iter().map(|s| s.count.load(Relaxed)).sum()
    }

    /// Inserts an entry into a table no other thread can see yet (Robin
    /// Hood with swaps). On probe overflow the entry carried at that point
    /// goes to `spill` if given; without it, `false`.
    fn insert_private(
        &self,
        entry: *mut Entry<K, V>,
        hash: u64,
        spill: &mut Option<Vec<SpillItem<K, V>>>,
    ) -> bool {
        let home = probe::home(hash, self.log2);
        let seg = &self.segs[self.seg_of(home)];
        seg.count.store(seg.count.load(Relaxed) + 1, Relaxed);
        let mut word = probe::tag(entry, 0, probe::fingerprint(hash));
        let mut slot = home;
        loop {
            let overflow = match self.slots.get(slot) {
                None => true,
                Some(s) => {
                    // Relaxed: private table, published later with a Release
                    // store.
                    let cur = s.load(Relaxed);
                    if cur.is_null() {
                        s.store(word, Relaxed);
                        return true;
                    }
                    if probe::dist(cur) < probe::dist(word) {
                        s.store(word, Relaxed);
                        word = cur;
                    }
                    probe::dist(word) >= self.max_probe
                }
            };
            if overflow {
                let Some(items) = spill else {
                    return false;
                };
                let e = probe::untag(word);
                // SAFETY: every entry placed here is linked in the table
                // being copied, all of whose segments the caller holds, so
                // it cannot be unlinked (and retired) meanwhile.
                items.push((unsafe { (*e).hash }, e));
                return true;
            }
            word = probe::farther(word);
            slot += 1;
        }
    }

    /// Copies every entry of `old` (all of whose segments the caller has
    /// locked), the spilled ones included, into this private table. Without
    /// `allow_spill`, `false` on probe overflow; with it, entries that do
    /// not fit go to this table's spill and the copy always succeeds.
    fn copy_from(&self, old: &Table<K, V>, allow_spill: bool) -> bool {
        let mut spill = allow_spill.then(Vec::new);
        let half = old.slots.len() / 2;
        for (i, s) in old.slots.iter().enumerate() {
            if i == half {
                crate::hooks::stall_point!("map.grow.mid_copy");
            }
            // Relaxed: every segment of `old` is locked by us (Acquire CAS).
            let w = s.load(Relaxed);
            if w.is_null() {
                continue;
            }
            // SAFETY: `w` is linked in `old`, whose segments are all locked
            // by us, so nobody can unlink (and retire) it meanwhile.
            let hash = unsafe { (*probe::untag(w)).hash };
            if !self.insert_private(probe::untag(w), hash, &mut spill) {
                return false;
            }
        }
        // Relaxed: the spill changes only under a segment lock, and we hold
        // them all (their Acquire CASes order the last change before us).
        let sp = old.spill.load(Relaxed);
        // SAFETY: `sp` is `old`'s array, which cannot be replaced (and
        // retired) while we hold its segments; its entries are linked in
        // `old` like the slots'.
        for &(hash, e) in unsafe { spill::items(sp) } {
            if !self.insert_private(e, hash, &mut spill) {
                return false;
            }
        }
        if let Some(items) = spill {
            // Relaxed: private table, published with a Release store.
            self.spill.store(spill::alloc(items), Relaxed);
        }
        true
    }
}

impl<K, V> Drop for Table<K, V> {
    fn drop(&mut self) {
        // Relaxed: the table is being dropped, nobody else can reach it.
        let sp = self.spill.load(Relaxed);
        // SAFETY: the table owns its current spill array (type invariant)
        // and nobody can reach it any more; the entries are not owned.
        unsafe { spill::free(sp) };
    }
}

/// Panics because a table of 2^`log2` home slots could not be allocated.
#[cold]
fn alloc_failed(log2: u32) -> ! {
    panic!("cds::HashMap: cannot allocate a table of 2^{log2} slots")
}

/// Debug builds: checks the probe-distance invariant over the slots a
/// writer just changed, `from..=to`, all in segments it holds locked (so no
/// other writer can change them, and their entries cannot be unlinked):
/// each distance is the slot's offset from its entry's home, at most
/// `max_probe`, and homes never decrease along the run. No user code runs.
#[cfg_attr(not(debug_assertions), allow(unused_variables))]
fn debug_check_run<K, V>(t: &Table<K, V>, from: usize, to: usize) {
    #[cfg(debug_assertions)]
    {
        let mut prev_home = None;
        for j in from..=to {
            // Relaxed: under the slot's segment lock.
            let w = t.slots[j].load(Relaxed);
            if w.is_null() {
                prev_home = None;
                continue;
            }
            // SAFETY: linked in a locked segment: cannot be unlinked or
            // retired meanwhile.
            let hash = unsafe { (*probe::untag(w)).hash };
            let home = probe::home(hash, t.log2);
            debug_assert_eq!(probe::dist(w), j - home, "slot {j}: distance");
            debug_assert!(probe::dist(w) <= t.max_probe, "slot {j}: past max probe");
            debug_assert!(
                prev_home.map_or(true, |h| h <= home),
                "slot {j}: Robin Hood order"
            );
            prev_home = Some(home);
        }
    }
}

/// Locks a segment, waiting for its owner; `Err(Moved)` if it is frozen.
#[inline]
fn lock_segment(seg: &Segment) -> Result<(), Moved> {
    let mut backoff = Backoff::new();
    loop {
        let st = seg.state.load(Relaxed);
        if st & MOVED != 0 {
            return Err(Moved);
        }
        // Acquire: pairs with the Release unlock store in `Locks::release`
        // (the previous owner's slot stores and count happen-before ours).
        if st & LOCKED == 0
            && seg
                .state
                .compare_exchange_weak(st, st | LOCKED, Acquire, Relaxed)
                .is_ok()
        {
            return Ok(());
        }
        backoff.snooze();
    }
}

/// One locked segment whose key positions do not change (a replacement in
/// place); unlocks on drop.
struct SegLock<'t>(&'t Segment);

impl<'t> SegLock<'t> {
    #[inline]
    fn new(seg: &'t Segment) -> Result<Self, Moved> {
        lock_segment(seg).map(|()| SegLock(seg))
    }
}

impl Drop for SegLock<'_> {
    #[inline]
    fn drop(&mut self) {
        // Relaxed load: only the lock holder writes the word.
        let st = self.0.state.load(Relaxed);
        debug_assert!(st & LOCKED != 0 && st & WRITING == 0);
        // Release: pairs with the Acquire CAS in `lock_segment` (the next
        // owner sees our slot store).
        self.0.state.store(st & !LOCKED, Release);
    }
}

/// A contiguous ascending range of locked segments; unlocks on drop (ending
/// any write in progress), so even a bug's panic cannot leave a lock held.
struct Locks<'t, K, V> {
    t: &'t Table<K, V>,
    first: usize,
    /// One past the last locked segment.
    next: usize,
    /// Set the `MOVED` bit when unlocking (the grower).
    moved: bool,
}

impl<'t, K, V> Locks<'t, K, V> {
    fn new(t: &'t Table<K, V>, first: usize) -> Self {
        Locks {
            t,
            first,
            next: first,
            moved: false,
        }
    }

    /// Locks every segment up to and including `last` (ascending order).
    fn extend_to(&mut self, last: usize) -> Result<(), Moved> {
        while self.next <= last {
            lock_segment(&self.t.segs[self.next])?;
            self.next += 1;
        }
        Ok(())
    }

    /// Makes the versions of segments `from..=to` (all locked) odd; call
    /// before the first slot store.
    fn begin_write(&self, from: usize, to: usize) {
        debug_assert!(self.first <= from && to < self.next);
        for seg in &self.t.segs[from..=to] {
            let st = seg.state.load(Relaxed);
            debug_assert!(st & LOCKED != 0 && st & WRITING == 0);
            // Relaxed: ordered before the slot stores by their Release.
            seg.state.store(st + WRITING, Relaxed);
        }
    }
}

impl<K, V> Drop for Locks<'_, K, V> {
    fn drop(&mut self) {
        for seg in &self.t.segs[self.first..self.next] {
            let mut st = seg.state.load(Relaxed);
            if st & WRITING != 0 {
                st += WRITING; // odd → next even version
            }
            if self.moved {
                st |= MOVED;
            }
            // Release: pairs with the Acquire CAS in `lock_segment` and with
            // readers' Acquire version loads in `probe_once` (a reader that sees
            // the new even version sees every slot store before it).
            seg.state.store(st & !LOCKED, Release);
        }
    }
}

/// Segment versions a probe read, oldest segment first.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Versions {
    first: usize,
    len: usize,
    v: [usize; MAX_PROBE_SEGS],
}

impl Versions {
    fn new(first: usize) -> Self {
        Versions {
            first,
            len: 0,
            v: [0; MAX_PROBE_SEGS],
        }
    }

    #[inline(always)]
    fn last_seg(&self) -> usize {
        self.first + self.len - 1
    }

    #[inline(always)]
    fn push(&mut self, state: usize) {
        self.v[self.len] = state;
        self.len += 1;
    }

    /// True iff every version read was even and is unchanged now (the
    /// `LOCKED` and `MOVED` bits do not matter: a lock without a write
    /// changes nothing, and a frozen table is a consistent snapshot).
    fn still_valid<K, V>(&self, t: &Table<K, V>) -> bool {
        self.v[..self.len].iter().enumerate().all(|(k, &v)| {
            // Relaxed: after the probe's Acquire slot loads, so it cannot be
            // reordered before them.
            let now = t.segs[self.first + k].state.load(Relaxed);
            v & WRITING == 0 && (now ^ v) & !(LOCKED | MOVED) == 0
        })
    }
}

/// What a probe of a table `t` found. The probe holds no borrow of the
/// table or of the entry slot (the caller has `t`, and an insert protects
/// its new entry in the entry slot while it still uses a miss's probe); it
/// borrows the spill slot for `'s`, which protects the array it searched.
pub(crate) struct Probe<'s, K, V> {
    home: usize,
    /// The slot of the hit, or where the key would be inserted (after the
    /// last slot the key may occupy if the probe ran past `max_probe`).
    slot: usize,
    /// The slot word of the hit, or 0 on a (validated) miss. For a hit in
    /// the spill, the entry pointer. A hit's entry is protected in the
    /// entry slot (raw: the probe does not borrow that slot, but operations
    /// publish there again only on a miss, or after they are done with
    /// the hit).
    word: *mut Entry<K, V>,
    versions: Versions,
    /// The spill array the probe searched (`None` if the table had none),
    /// and the index of the hit in it ([`NOT_SPILLED`] for a hit in the
    /// run, or a miss).
    spill: Option<Shared<'s, Spill<K, V>>>,
    spill_idx: usize,
}

impl<K, V> Probe<'_, K, V> {
    /// The entry of a hit (protected in the entry slot), or null.
    #[inline(always)]
    fn entry(&self) -> *mut Entry<K, V> {
        probe::untag(self.word)
    }
}

/// Why a write must be retried.
enum Retry {
    /// Something changed (or the table is frozen): probe again.
    Again,
    /// The probe sequence would overflow the table: grow, then probe again.
    Grow,
}

/// A linked entry and its home segment's new count.
type Linked<K, V> = (*mut Entry<K, V>, usize);
/// An entry that could not be linked, and why.
type Unlinked<K, V> = (Pending<K, V>, Retry);

/// Result of [`RawMap::insert`]: `E` is the entry, protected in the entry
/// slot of the operation's guard (a `&'g Entry` once `insert` lends it for
/// the guard's borrow).
pub(crate) enum Inserted<E, K, V> {
    /// The new entry was linked (it is protected when `replace` was false).
    New(E),
    /// The old entry was replaced, unlinked and retired (it stays
    /// protected).
    Replaced(E),
    /// The key was present (protected); the new entry comes back unlinked.
    Existing(E, Pending<K, V>),
}

impl<E, K, V> Inserted<E, K, V> {
    #[inline(always)]
    fn map<F>(self, f: impl FnOnce(E) -> F) -> Inserted<F, K, V> {
        match self {
            Inserted::New(e) => Inserted::New(f(e)),
            Inserted::Replaced(e) => Inserted::Replaced(f(e)),
            Inserted::Existing(e, back) => Inserted::Existing(f(e), back),
        }
    }
}

/// What an insert whose run overflowed does next.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Overflow {
    /// The table grew (or another thread changed it): probe again.
    Grew,
    /// Growing cannot help: put the entry in the spill.
    Spill,
}

/// Why the map grows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Why {
    Load,
    Overflow,
}

/// A segment snapshot taken by [`RawMap::snapshot_segment`]: its table
/// and spill array and the cursor after it. Raw pointers: the guard that
/// took the snapshot protects the table in its table slot and the array in
/// its spill slot, and the iterator keeps that guard, unused, while it
/// reads them.
pub(crate) struct Snapshot<K, V> {
    table: *const Table<K, V>,
    spill: *const Spill<K, V>,
    pub(crate) next: u128,
}

/// The `slot` of a snapshot item found in the spill.
pub(crate) const IN_SPILL: usize = usize::MAX;

/// Probe statistics of the current table (see `HashMap::probe_stats`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawStats {
    /// Entries in the slots (not counting the spill).
    pub(crate) len: usize,
    pub(crate) home_slots: usize,
    pub(crate) sum_dist: usize,
    pub(crate) max_dist: usize,
    /// Entries in the spill.
    pub(crate) spilled: usize,
}

/// A segment of `homes` home slots' share of the maximum load.
fn seg_share(homes: usize, max_load: f64) -> usize {
    ((homes as f64 * max_load) as usize).max(1)
}

/// The table root and the reclaimer.
///
/// Contract for every method taking a guard: the guard was created from
/// `self.reclaimer` (so every `protect*` precondition 1 and retire
/// precondition 3 hold: tables, spill arrays and entries are retired only
/// through it); only `HashMap` calls these.
pub(crate) struct RawMap<K, V, R> {
    /// The current table; never null. Old tables are retired after being
    /// replaced here.
    table: AtomicPtr<Table<K, V>>,
    pub(crate) reclaimer: R,
    max_load: f64,
    /// A full segment's share of the maximum load, `⌊SEG_SIZE·max_load⌋`
    /// (at least 1), computed once: the float conversion cost ≈ 50
    /// instructions on every insert of a new key.
    seg_share: usize,
}

impl<K, V, R> RawMap<K, V, R> {
    /// A map whose first table holds `capacity` entries at `max_load`.
    pub(crate) fn new(capacity: usize, max_load: f64, reclaimer: R) -> Self {
        let log2 = probe::log2_for(capacity, max_load);
        let t = Box::new(Table::<K, V>::new(log2, probe::max_probe(log2)));
        RawMap {
            table: AtomicPtr::new(Box::into_raw(t)),
            reclaimer,
            max_load,
            seg_share: seg_share(probe::SEG_SIZE, max_load),
        }
    }

    /// Replaces the (empty) table by one holding `capacity` entries at
    /// `max_load`.
    pub(crate) fn reset_empty(&mut self, capacity: usize, max_load: f64) {
        let log2 = probe::log2_for(capacity, max_load);
        let new = Box::into_raw(Box::new(Table::<K, V>::new(log2, probe::max_probe(log2))));
        // Relaxed: `&mut self`, no other thread can see the map.
        let old = self.table.swap(new, Relaxed);
        // SAFETY: the old table came from `Box::into_raw`, is unreachable now
        // (`&mut self`), and holds no entries (the caller checked emptiness;
        // a table owns none anyway).
        drop(unsafe { Box::from_raw(old) });
        self.max_load = max_load;
        self.seg_share = seg_share(probe::SEG_SIZE, max_load);
    }

    /// Protects the current table in `slot`.
    #[inline(always)]
    fn protect_table<'s, S: Slot>(&self, slot: &'s mut S) -> Shared<'s, Table<K, V>> {
        // Acquire (inside `protect`): pairs with the Release root store in
        // `publish` (a reader of the new table sees its slots).
        // SAFETY: (1) the root holds a live table, retired (by `publish`)
        // only after another replaced it there, through `self.reclaimer`
        // (the RawMap contract: `slot` is from a guard of it). The root is
        // never null (type invariant), so `protect` returns `Some`; saying
        // so spares every operation a null check.
        unsafe { slot.protect(&self.table).unwrap_unchecked() }
    }

    /// Entries in the current table (a snapshot: exact when quiescent).
    pub(crate) fn len<G: Guard>(&self, g: &mut G) -> usize {
        self.protect_table(&mut split(g).0.table).count()
    }

    /// Entries the current table holds before it grows.
    pub(crate) fn capacity<G: Guard>(&self, g: &mut G) -> usize {
        let (mut s, _) = split(g);
        let t = self.protect_table(&mut s.table);
        probe::max_entries(t.log2, self.max_load)
    }

    /// The hash-space width of one segment of the current table (a
    /// boundary of it is a boundary in every later table).
    #[cfg(feature = "rayon")]
    pub(crate) fn segment_span<G: Guard>(&self, g: &mut G) -> u128 {
        let (mut s, _) = split(g);
        let t = self.protect_table(&mut s.table);
        probe::first_hash_of(probe::seg_homes(t.log2), t.log2)
    }

    /// Slot statistics of the current table.
    pub(crate) fn stats<G: Guard>(&self, g: &mut G) -> RawStats {
        let (mut s, _) = split(g);
        let t = self.protect_table(&mut s.table);
        let spill = self.protect_spill(t, &mut s.spill);
        let mut st = RawStats {
            len: 0,
            home_slots: 1 << t.log2,
            sum_dist: 0,
            max_dist: 0,
            spilled: spill::items_of(spill).len(),
        };
        s.spill.clear();
        for s in t.slots.iter() {
            // Relaxed: statistics, no entry is dereferenced.
            let w = s.load(Relaxed);
            if !w.is_null() {
                st.len += 1;
                st.sum_dist += probe::dist(w);
                st.max_dist = st.max_dist.max(probe::dist(w));
            }
        }
        st
    }

    /// The entry of `hash`/`eq` (a hit), or `None` after a validated miss;
    /// the entry is protected in `g`'s entry slot, and lent for `g`'s
    /// borrow. `eq` runs outside any lock, only on entries with the same
    /// full hash.
    #[inline]
    pub(crate) fn get<'g, G: Guard>(
        &self,
        g: &'g mut G,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Option<&'g Entry<K, V>> {
        let (mut s, _) = split(g);
        let e = self.find(&mut s, hash, &mut eq);
        // SAFETY: a hit is protected in `g`'s entry slot (published and
        // witnessed by `probe_once` or `search_spill`); nothing publishes in
        // that slot or clears it, nor refreshes or drops `g`, while `g` stays
        // borrowed for `'g`. Entries are immutable once published.
        (!e.is_null()).then(|| unsafe { &*e })
    }

    /// Probes for `hash`: a hit's entry (protected in `s.entry`), or null
    /// after a validated miss; leaves `s.spill` clear (a reader needs only
    /// the entry: it must not keep a spill array alive). A first probe reads
    /// no segment version and returns on a hit (the common case, and all a
    /// hit needs); only a miss probes again, reading and validating the
    /// versions (writers validate from their first probe: their miss must
    /// be validated anyway, and the segment states they load are the lines
    /// they are about to lock).
    #[inline]
    fn find<S: Slot>(
        &self,
        s: &mut MapSlots<S>,
        hash: u64,
        eq: &mut impl FnMut(&K) -> bool,
    ) -> *mut Entry<K, V> {
        let t = self.protect_table(&mut s.table);
        let p = match self.probe_once::<S, false>(t, &mut s.entry, &mut s.spill, hash, eq) {
            Some(p) => p,
            None => {
                let mut backoff = Backoff::new();
                loop {
                    let t = self.protect_table(&mut s.table);
                    if let Some(p) =
                        self.probe_once::<S, true>(t, &mut s.entry, &mut s.spill, hash, eq)
                    {
                        break p;
                    }
                    backoff.snooze();
                }
            }
        };
        let (e, spilled) = (p.entry(), p.spill.is_some());
        if spilled {
            s.spill.clear();
        }
        e
    }

    /// One probe attempt on the table `t` (protected by the caller); `None`
    /// if a protection failed, or on a miss that failed validation
    /// (`VALIDATE`) or that was not validated at all. A hit's entry is
    /// protected in `entry`, the spill array searched in `spill`.
    #[inline]
    fn probe_once<'s, S: Slot, const VALIDATE: bool>(
        &self,
        t: Shared<'_, Table<K, V>>,
        entry: &mut S,
        spill: &'s mut S,
        hash: u64,
        eq: &mut impl FnMut(&K) -> bool,
    ) -> Option<Probe<'s, K, V>> {
        let home = probe::home(hash, t.log2);
        let fp = probe::fingerprint(hash);
        let nsegs = t.segs.len();
        let mut vs = Versions::new(t.seg_of(home));
        if VALIDATE {
            // Acquire: pairs with the Release unlock in `Locks::drop` (a miss
            // validated against this version saw every slot store before it).
            vs.push(t.segs[vs.first].state.load(Acquire));
        }
        // Every slot a probe may visit, `home ..= home + max_probe`, lies in
        // the table (2^log2 homes + a tail of `max_probe`): one bounds check.
        let run = &t.slots[home..=home + t.max_probe];
        let mut slot = home;
        for (d, cell) in run.iter().enumerate() {
            // The probe enters a new segment exactly at a multiple of
            // SEG_SIZE below the tail (the tail belongs to the last segment).
            if VALIDATE
                && d > 0
                && slot & (probe::SEG_SIZE - 1) == 0
                && slot >> probe::SEG_SHIFT < nsegs
            {
                debug_assert_eq!(t.seg_of(slot), vs.last_seg() + 1);
                // Acquire: as above, for the next segment.
                vs.push(t.segs[slot >> probe::SEG_SHIFT].state.load(Acquire));
            }
            // Acquire: pairs with the Release slot stores of writers (an
            // insert publishes the entry; shifts and growth re-publish it).
            let w = cell.load(Acquire);
            if w.is_null() || probe::dist(w) < d {
                break;
            }
            if probe::fp(w) == fp {
                let ptr = probe::untag(w);
                let (root, here, tp) = (&self.table, cell, t.as_ptr());
                // Witness (hazard pointers): the slot still holds the word and
                // the table is still current, so the entry was linked after
                // the protection was published. Acquire: as above.
                // SAFETY: (1) `ptr` is non-null (the word is); if the witness
                // holds, the entry was linked in the current table after the
                // publication, so not yet retired, and entries are retired only
                // through `self.reclaimer` (RawMap contract).
                let e = unsafe {
                    entry.protect_with(core::ptr::NonNull::new_unchecked(ptr), || {
                        here.load(Acquire) == w && core::ptr::eq(root.load(Acquire), tp)
                    })
                }?;
                if e.hash == hash && eq(&e.key) {
                    return Some(Probe {
                        home,
                        slot,
                        word: w,
                        versions: vs,
                        spill: None,
                        spill_idx: NOT_SPILLED,
                    });
                }
            }
            slot += 1;
        }
        // Not in the run: in the spill, if the table has one (a degenerate
        // hasher's overflow; read under the versions already loaded: a
        // change of the spill's key set makes the home segment's odd).
        let (spill, hit) = self.search_spill(t, entry, spill, hash, eq)?;
        if let Some((spill_idx, e)) = hit {
            return Some(Probe {
                home,
                slot,
                word: e,
                versions: vs,
                spill,
                spill_idx,
            });
        }
        (VALIDATE && vs.still_valid(&t)).then_some(Probe {
            home,
            slot,
            word: core::ptr::null_mut(),
            versions: vs,
            spill,
            spill_idx: NOT_SPILLED,
        })
    }

    /// Replaces the hit `p` by `new` in the same slot. `Err` gives `new`
    /// back when the slot changed or the table froze.
    #[inline(always)]
    fn replace_at(
        &self,
        t: &Table<K, V>,
        p: &Probe<'_, K, V>,
        new: Pending<K, V>,
    ) -> Result<*mut Entry<K, V>, Pending<K, V>> {
        let word = probe::tag(new.ptr.as_ptr(), probe::dist(p.word), probe::fp(p.word));
        let (home_seg, seg) = (t.seg_of(p.home), t.seg_of(p.slot));
        if home_seg == seg {
            // The common case, one segment: the same locking as `Locks`
            // without its range bookkeeping (no version change: no key
            // moves).
            let Ok(_held) = SegLock::new(&t.segs[seg]) else {
                return Err(new);
            };
            // Relaxed: we hold the slot's segment lock (Acquire CAS).
            let here = &t.slots[p.slot];
            if here.load(Relaxed) != p.word {
                return Err(new);
            }
            let _ = new.link();
            // Release: pairs with the Acquire slot loads in `probe_once`.
            here.store(word, Release);
            return Ok(probe::untag(p.word));
        }
        let mut locks = Locks::new(t, home_seg);
        // Relaxed: we hold the slot's segment lock (Acquire CAS).
        if locks.extend_to(t.seg_of(p.slot)).is_err() || t.slots[p.slot].load(Relaxed) != p.word {
            return Err(new);
        }
        let _ = new.link();
        // Release: pairs with the Acquire slot loads in `probe_once`.
        t.slots[p.slot].store(word, Release);
        drop(locks);
        Ok(probe::untag(p.word))
    }

    /// Links `new` at the miss `p`, shifting the run after it right.
    #[inline]
    fn link_at(
        &self,
        t: &Table<K, V>,
        p: &Probe<'_, K, V>,
        new: Pending<K, V>,
    ) -> Result<Linked<K, V>, Unlinked<K, V>> {
        let d = p.slot - p.home;
        if d > t.max_probe {
            return Err((new, Retry::Grow));
        }
        let word = probe::tag(new.ptr.as_ptr(), d, probe::fingerprint(new.entry().hash));
        let home_seg = t.seg_of(p.home);
        let mut locks = Locks::new(t, home_seg);
        if locks.extend_to(t.seg_of(p.slot)).is_err() || !p.versions.still_valid(t) {
            return Err((new, Retry::Again));
        }
        // The run to shift ends at the first empty slot.
        let mut end = p.slot;
        loop {
            if end >= t.slots.len() {
                return Err((new, Retry::Grow));
            }
            if locks.extend_to(t.seg_of(end)).is_err() {
                return Err((new, Retry::Again));
            }
            // Relaxed: under the slot's segment lock.
            let w = t.slots[end].load(Relaxed);
            if w.is_null() {
                break;
            }
            if probe::dist(w) >= t.max_probe {
                return Err((new, Retry::Grow));
            }
            end += 1;
        }
        locks.begin_write(t.seg_of(p.slot), t.seg_of(end));
        for k in (p.slot + 1..=end).rev() {
            // Relaxed load: under the lock. Release store: pairs with the
            // Acquire slot loads in `probe_once` (re-publishes the entry).
            t.slots[k].store(probe::farther(t.slots[k - 1].load(Relaxed)), Release);
            if k == end && end > p.slot + 1 {
                crate::hooks::stall_point!("map.shift.mid");
            }
        }
        let ptr = new.link();
        // Release: publishes the entry's contents to `probe_once`'s Acquire.
        t.slots[p.slot].store(word, Release);
        debug_check_run(t, p.slot, end);
        let seg = &t.segs[home_seg];
        let count = seg.count.load(Relaxed) + 1;
        // Relaxed: the count is written only under this segment's lock.
        seg.count.store(count, Relaxed);
        drop(locks);
        Ok((ptr, count))
    }

    /// Unlinks the hit `p`, shifting the run after it left.
    fn unlink_at(&self, t: &Table<K, V>, p: &Probe<'_, K, V>) -> Result<*mut Entry<K, V>, Retry> {
        let home_seg = t.seg_of(p.home);
        let mut locks = Locks::new(t, home_seg);
        // Relaxed: under the slot's segment lock.
        if locks.extend_to(t.seg_of(p.slot)).is_err() || t.slots[p.slot].load(Relaxed) != p.word {
            return Err(Retry::Again);
        }
        // The run to shift back: followers not at their home.
        let mut last = p.slot;
        while last + 1 < t.slots.len() {
            if locks.extend_to(t.seg_of(last + 1)).is_err() {
                return Err(Retry::Again);
            }
            // Relaxed: under the slot's segment lock.
            let w = t.slots[last + 1].load(Relaxed);
            if w.is_null() || probe::dist(w) == 0 {
                break;
            }
            last += 1;
        }
        locks.begin_write(t.seg_of(p.slot), t.seg_of(last));
        for k in p.slot..last {
            // Relaxed load: under the lock. Release store: pairs with the
            // Acquire slot loads in `probe_once` (re-publishes the entry).
            t.slots[k].store(probe::nearer(t.slots[k + 1].load(Relaxed)), Release);
            if k == p.slot && last > p.slot + 1 {
                crate::hooks::stall_point!("map.shift.mid");
            }
        }
        // Release: orders the shifted copies before the hole (readers that
        // see the hole see them).
        t.slots[last].store(core::ptr::null_mut(), Release);
        debug_check_run(t, p.slot, last);
        let seg = &t.segs[home_seg];
        // Relaxed: the count is written only under this segment's lock.
        seg.count.store(seg.count.load(Relaxed) - 1, Relaxed);
        drop(locks);
        Ok(probe::untag(p.word))
    }

    /// Replaces the hit `p` (in the run or in the spill) by `new`; `Err`
    /// gives `new` back when the entry moved or the table froze. Inlined:
    /// it is the write path of every replacing insert (the spill is cold).
    #[inline(always)]
    fn replace_hit<G: Guard>(
        &self,
        retirer: &G,
        t: &Table<K, V>,
        p: &Probe<'_, K, V>,
        new: Pending<K, V>,
    ) -> Result<*mut Entry<K, V>, Pending<K, V>>
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        match p.spill {
            Some(spill) if p.spill_idx != NOT_SPILLED => {
                self.spill_replace(retirer, t, p, spill, new)
            }
            _ => self.replace_at(t, p, new),
        }
    }

    /// Unlinks the hit `p` (in the run or in the spill).
    #[inline]
    fn unlink_hit<G: Guard>(
        &self,
        retirer: &G,
        t: &Table<K, V>,
        p: &Probe<'_, K, V>,
    ) -> Result<*mut Entry<K, V>, Retry>
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        match p.spill {
            Some(spill) if p.spill_idx != NOT_SPILLED => self.spill_remove(retirer, t, p, spill),
            _ => self.unlink_at(t, p),
        }
    }

    /// An insert found its probe run full (`Retry::Grow`): grow, or, when
    /// that cannot help (the longest tail at under a quarter of the maximum
    /// load: a degenerate hasher), tell the caller to spill the entry.
    fn on_overflow<G: Guard>(&self, retirer: &G, t: Shared<'_, Table<K, V>>) -> Overflow
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        let limit = probe::max_entries(t.log2, self.max_load);
        // A snapshot decides the common degenerate case without locking the
        // whole table; `grow` decides again, exactly, under its locks.
        if t.max_probe >= probe::max_tail() && t.count() < limit / 4 {
            return Overflow::Spill;
        }
        self.grow(retirer, t, Why::Overflow)
    }

    /// Inserts `new`. With `replace`, an entry of the same key is replaced
    /// (and retired, still protected in `g`'s entry slot); without, it is
    /// kept and `new` comes back. The entry returned is protected in `g`'s
    /// entry slot and lent for `g`'s borrow. `K::eq` runs outside locks.
    #[inline]
    pub(crate) fn insert<'g, G: Guard>(
        &self,
        g: &'g mut G,
        new: Pending<K, V>,
        replace: bool,
    ) -> Inserted<&'g Entry<K, V>, K, V>
    where
        K: Eq + Send + 'static,
        V: Send + 'static,
    {
        let (mut s, retirer) = split(g);
        let out = self.insert_in(retirer, &mut s, new, replace);
        // The caller needs only the entry: do not keep a spill array alive.
        s.spill.clear();
        // SAFETY: the entry is protected in `g`'s entry slot (`insert_in`);
        // nothing publishes in that slot or clears it, nor refreshes or
        // drops `g`, while `g` stays borrowed for `'g`. Entries are
        // immutable once published (and a new one was built before).
        out.map(|e| unsafe { &*e })
    }

    /// [`insert`](Self::insert) on the slots `s` of a guard of which
    /// `retirer` is the shared view; the entry returned is protected in
    /// `s.entry`.
    #[inline]
    fn insert_in<S: Slot, G: Guard>(
        &self,
        retirer: &G,
        s: &mut MapSlots<S>,
        mut new: Pending<K, V>,
        replace: bool,
    ) -> Inserted<*mut Entry<K, V>, K, V>
    where
        K: Eq + Send + 'static,
        V: Send + 'static,
    {
        let hash = new.entry().hash;
        let mut backoff = Backoff::new();
        loop {
            let t = self.protect_table(&mut s.table);
            let eq = &mut |k: &K| *k == new.entry().key;
            let Some(p) = self.probe_once::<S, true>(t, &mut s.entry, &mut s.spill, hash, eq)
            else {
                backoff.snooze();
                continue;
            };
            let old = p.entry();
            if !old.is_null() {
                if !replace {
                    return Inserted::Existing(old, new);
                }
                match self.replace_hit(retirer, &t, &p, new) {
                    Ok(old) => {
                        // SAFETY: (1) unlinked by `replace_hit`, (2) only the
                        // unlinker retires, (3) `retirer` is a guard of our
                        // reclaimer (RawMap contract), (4) `drop_entry` drops
                        // a boxed entry of `Send + 'static` parts.
                        unsafe { retirer.retire(old.cast(), drop_entry::<K, V>) };
                        return Inserted::Replaced(old);
                    }
                    Err(back) => new = back,
                }
            } else {
                if !replace {
                    // Protect the new entry before it is reachable: the
                    // returned entry must survive a concurrent removal.
                    // Nothing to witness: not linked yet, so not retired.
                    let _ = s.entry.publish(new.ptr.as_ptr().cast(), || true);
                }
                match self.link_at(&t, &p, new) {
                    Ok((ptr, count)) => {
                        self.after_insert(retirer, t, count);
                        return Inserted::New(ptr);
                    }
                    Err((back, Retry::Again)) => new = back,
                    Err((back, Retry::Grow)) => {
                        new = back;
                        if self.on_overflow(retirer, t) == Overflow::Spill {
                            match self.spill_insert(retirer, &t, &p, new) {
                                Ok((ptr, count)) => {
                                    self.after_insert(retirer, t, count);
                                    return Inserted::New(ptr);
                                }
                                Err(back) => new = back,
                            }
                        }
                    }
                }
            }
            backoff.spin();
        }
    }

    /// The entry of `hash`/`eq`, or else the entry of `make()` inserted
    /// under `key` (without replacing: of racing inserts of one key exactly
    /// one links its entry; `make` runs at most once, outside locks). The
    /// entry is protected in `g`'s entry slot and lent for `g`'s borrow.
    pub(crate) fn get_or_insert_with<'g, G: Guard>(
        &self,
        g: &'g mut G,
        hash: u64,
        key: K,
        make: impl FnOnce() -> V,
    ) -> &'g Entry<K, V>
    where
        K: Eq + Send + 'static,
        V: Send + 'static,
    {
        let (mut s, retirer) = split(g);
        let mut e = self.find(&mut s, hash, &mut |k: &K| *k == key);
        if e.is_null() {
            let new = Pending::new(hash, key, make());
            e = match self.insert_in(retirer, &mut s, new, false) {
                Inserted::New(e) => e,
                Inserted::Existing(e, rejected) => {
                    drop(rejected);
                    e
                }
                Inserted::Replaced(_) => unreachable!("insert without replace"),
            };
        }
        s.spill.clear();
        // SAFETY: as in `insert` (a hit of `find` or the entry of
        // `insert_in`, protected in `g`'s entry slot).
        unsafe { &*e }
    }

    /// Removes the entry of `hash`/`eq`; returns it unlinked and retired,
    /// still protected in `g`'s entry slot and lent for `g`'s borrow.
    #[inline]
    pub(crate) fn remove<'g, G: Guard>(
        &self,
        g: &'g mut G,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Option<&'g Entry<K, V>>
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        let (mut s, retirer) = split(g);
        let old = self.remove_in(retirer, &mut s, hash, &mut eq);
        s.spill.clear();
        // SAFETY: as in `insert`.
        (!old.is_null()).then(|| unsafe { &*old })
    }

    /// [`remove`](Self::remove) on slots (as [`insert_in`](Self::insert_in));
    /// null if absent.
    #[inline]
    fn remove_in<S: Slot, G: Guard>(
        &self,
        retirer: &G,
        s: &mut MapSlots<S>,
        hash: u64,
        eq: &mut impl FnMut(&K) -> bool,
    ) -> *mut Entry<K, V>
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        let mut backoff = Backoff::new();
        loop {
            let t = self.protect_table(&mut s.table);
            let Some(p) = self.probe_once::<S, true>(t, &mut s.entry, &mut s.spill, hash, eq)
            else {
                backoff.snooze();
                continue;
            };
            if p.word.is_null() {
                return core::ptr::null_mut();
            }
            if let Ok(old) = self.unlink_hit(retirer, &t, &p) {
                // SAFETY: (1) unlinked by `unlink_hit`, (2) only the unlinker
                // retires, (3) RawMap contract, (4) `drop_entry` drops a boxed
                // entry of `Send + 'static` parts.
                unsafe { retirer.retire(old.cast(), drop_entry::<K, V>) };
                return old;
            }
            backoff.spin();
        }
    }

    /// Replaces the value of `hash`/`eq` by `f(old)`; false if absent. `f`
    /// and `K::clone` run outside locks and rerun if the entry changed.
    pub(crate) fn update<G: Guard>(
        &self,
        g: &mut G,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
        mut f: impl FnMut(&V) -> V,
    ) -> bool
    where
        K: Clone + Send + 'static,
        V: Send + 'static,
    {
        let (mut s, retirer) = split(g);
        let mut backoff = Backoff::new();
        let found = loop {
            let t = self.protect_table(&mut s.table);
            let Some(p) = self.probe_once::<_, true>(t, &mut s.entry, &mut s.spill, hash, &mut eq)
            else {
                backoff.snooze();
                continue;
            };
            let old = p.entry();
            if old.is_null() {
                break false;
            }
            // SAFETY: a hit is protected in `s.entry` by `probe_once`, which
            // nothing publishes again before this iteration ends.
            let old = unsafe { &*old };
            let new = Pending::new(hash, old.key.clone(), f(&old.value));
            match self.replace_hit(retirer, &t, &p, new) {
                Ok(old) => {
                    // SAFETY: as in `insert_in`.
                    unsafe { retirer.retire(old.cast(), drop_entry::<K, V>) };
                    break true;
                }
                // Dropped outside locks (`replace_hit` released them).
                Err(back) => drop(back),
            }
            backoff.spin();
        };
        s.spill.clear();
        found
    }

    /// After an insert raised its home segment's count to `count`: when the
    /// count crosses the segment's share of the maximum load, estimate the
    /// table's load from a sample of segments, confirm with a full sum, and
    /// grow. No global counter: writers to different segments never share a
    /// cache line here.
    fn after_insert<G: Guard>(&self, retirer: &G, t: Shared<'_, Table<K, V>>, count: usize)
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        let homes = probe::seg_homes(t.log2);
        let share = if homes == probe::SEG_SIZE {
            self.seg_share
        } else {
            seg_share(homes, self.max_load) // tables smaller than a segment
        };
        if count < share {
            return;
        }
        let limit = probe::max_entries(t.log2, self.max_load);
        let n = t.segs.len();
        if n > 16 {
            // Large tables: look at the crossing and every 8th entry above
            // it, and only sample first.
            if count != share && count % 8 != 0 {
                return;
            }
            let step = n / 16;
            // Relaxed: an estimate.
            let sample: usize = (0..16).map(|k| t.segs[k * step].count.load(Relaxed)).sum();
            if sample * n / 16 < limit {
                return;
            }
        }
        if t.count() >= limit {
            self.grow(retirer, t, Why::Load);
        }
    }

    /// Replaces `t` by a larger (or longer-tailed) table, unless another
    /// thread already did. An overflow at under a quarter of the maximum
    /// load that the longest tail cannot absorb (a degenerate hasher) grows
    /// nothing and returns [`Overflow::Spill`]. Entries that fit in no run
    /// of the new table go to its spill, so growth never fails for them.
    ///
    /// # Panics
    ///
    /// Beyond 2^[`MAX_LOG2`](probe::MAX_LOG2) home slots, or if the new
    /// table cannot be allocated (after unlocking).
    #[cold]
    fn grow<G: Guard>(&self, retirer: &G, table: Shared<'_, Table<K, V>>, why: Why) -> Overflow
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        let t = table.get();
        let mut locks = Locks::new(t, 0);
        if locks.extend_to(t.segs.len() - 1).is_err() {
            return Overflow::Grew; // someone else grew it; the caller retries
        }
        let n = t.count();
        let limit = probe::max_entries(t.log2, self.max_load);
        if why == Why::Load && n < limit {
            return Overflow::Grew;
        }
        let (log2, mut tail) = if why == Why::Overflow && n < limit / 4 {
            // A cluster overflowed at low load: a long tail, not more slots;
            // with the longest tail already, the entry goes to the spill.
            if t.max_probe >= probe::max_tail() {
                return Overflow::Spill;
            }
            (t.log2, probe::max_tail())
        } else {
            (t.log2 + 1, probe::max_probe(t.log2 + 1).max(t.max_probe))
        };
        if log2 > probe::MAX_LOG2 {
            drop(locks);
            panic!(
                "cds::HashMap: capacity overflow (more than 2^{} slots)",
                probe::MAX_LOG2
            );
        }
        // The default tail; if a run overflows it, the longest tail; if even
        // that overflows (a degenerate hasher), the spill takes the rest.
        let mut allow_spill = false;
        let new = loop {
            let Some(nt) = Table::try_new(log2, tail) else {
                drop(locks);
                alloc_failed(log2);
            };
            if nt.copy_from(t, allow_spill) {
                break nt;
            }
            if tail < probe::max_tail() {
                tail = probe::max_tail();
            } else {
                allow_spill = true;
            }
        };
        self.publish(retirer, table, new, locks);
        Overflow::Grew
    }

    /// Publishes `new` in place of `t` (all of whose segments `locks`
    /// holds), unlocks with `MOVED`, and retires `t` (its pointer is the
    /// root as loaded: its provenance frees it later).
    fn publish<G: Guard>(
        &self,
        retirer: &G,
        t: Shared<'_, Table<K, V>>,
        new: Table<K, V>,
        mut locks: Locks<'_, K, V>,
    ) where
        K: Send + 'static,
        V: Send + 'static,
    {
        let old = t.as_ptr();
        // Release: pairs with the Acquire root loads in `protect_table`
        // (inside `Slot::protect`) and in the witnesses of `probe_once`
        // (readers of the new table see its slots, and
        // through our Acquire lock CASes, the entries' contents).
        self.table.store(Box::into_raw(Box::new(new)), Release);
        locks.moved = true;
        drop(locks);
        // SAFETY: (1) `old` was replaced in the root above and only
        // frozen readers can still reach it, (2) the grower that published
        // is the only one to retire it (others saw `MOVED`), (3) RawMap
        // contract, (4) `drop_table` frees two boxed arrays of atomics.
        unsafe { retirer.retire(old.cast(), drop_table::<K, V>) };
    }

    /// Unlinks every entry at once: a fresh empty table of the same size
    /// replaces the current one; the old entries are retired.
    pub(crate) fn clear<G: Guard>(&self, g: &mut G)
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        let (mut s, retirer) = split(g);
        loop {
            let t = self.protect_table(&mut s.table);
            // Allocated before locking: a failed allocation panics with no
            // lock held.
            let fresh = Table::new(t.log2, t.max_probe);
            let mut locks = Locks::new(t.get(), 0);
            if locks.extend_to(t.segs.len() - 1).is_err() {
                continue;
            }
            let mut entries = Vec::with_capacity(t.count());
            // Relaxed: every segment is locked by us.
            entries.extend(
                t.slots
                    .iter()
                    .map(|s| probe::untag(s.load(Relaxed)))
                    .filter(|&e| !e.is_null()),
            );
            // Relaxed: the spill changes only under a segment lock (we hold
            // them all).
            let sp = t.spill.load(Relaxed);
            // SAFETY: `t`'s array cannot be replaced (and retired) while we
            // hold its segments.
            entries.extend(unsafe { spill::items(sp) }.iter().map(|&(_, e)| e));
            self.publish(retirer, t, fresh, locks);
            for e in entries {
                // SAFETY: (1) `t` is frozen and no longer the root, so the
                // entry is unreachable for new readers, (2) each entry is in
                // exactly one slot or spill item of `t` at rest and we
                // unlinked them all at once, (3) RawMap contract, (4) as in
                // `insert_in`.
                unsafe { retirer.retire(e.cast(), drop_entry::<K, V>) };
            }
            return;
        }
    }

    /// A validated snapshot of the entries whose homes lie in the segment
    /// of the current table holding hash `from`, restricted to hashes
    /// below `to`: pushes their (slot, word) pairs to `out` (spilled ones
    /// as ([`IN_SPILL`], entry)) and returns the table (protected in `g`'s
    /// table slot), its spill array (protected in `g`'s spill slot) and the
    /// next cursor. `from` and `to` must be home boundaries of every table
    /// from now on (multiples of a segment's hash range of this or an
    /// earlier table).
    pub(crate) fn snapshot_segment<G: Guard>(
        &self,
        g: &mut G,
        from: u128,
        to: u128,
        out: &mut Vec<(usize, *mut Entry<K, V>)>,
    ) -> Snapshot<K, V> {
        let (mut s, _) = split(g);
        let mut backoff = Backoff::new();
        loop {
            out.clear();
            let t = self.protect_table(&mut s.table);
            let shift = 64 - t.log2;
            let cap = 1usize << t.log2;
            let lo = (from >> shift) as usize;
            let seg = t.seg_of(lo);
            let seg_end = if seg + 1 == t.segs.len() {
                cap
            } else {
                (seg + 1) << probe::SEG_SHIFT
            };
            let hi = seg_end.min(((to + (1 << shift) - 1) >> shift) as usize);
            let last = (hi - 1 + t.max_probe).min(t.slots.len() - 1);
            let mut vs = Versions::new(seg);
            for slot in lo..=last {
                let s = t.seg_of(slot);
                if vs.len == 0 || s != vs.last_seg() {
                    // Acquire: as in `probe_once`.
                    vs.push(t.segs[s].state.load(Acquire));
                }
                // Acquire: as in `probe_once`.
                let w = t.slots[slot].load(Acquire);
                if !w.is_null() && (lo..hi).contains(&(slot - probe::dist(w).min(slot))) {
                    out.push((slot, w));
                }
            }
            // The spill after the slots, under the versions loaded: a change
            // of its key set makes the key's home segment odd.
            let spill = self.protect_spill(t, &mut s.spill);
            for &(hash, e) in spill::items_of(spill) {
                if (lo..hi).contains(&probe::home(hash, t.log2)) {
                    out.push((IN_SPILL, e));
                }
            }
            if vs.still_valid(&t) {
                return Snapshot {
                    table: t.as_ptr(),
                    spill: spill.map_or(core::ptr::null(), |a| a.as_ptr()),
                    next: probe::first_hash_of(hi, t.log2).min(to),
                };
            }
            backoff.snooze();
        }
    }

    /// Protects the entry of `word`, found at `slot` of snapshot `snap`
    /// (or in its spill: `slot == IN_SPILL`), in `g2`'s entry slot; false if
    /// it is no longer there (or the table is no longer current, under
    /// hazard pointers).
    pub(crate) fn protect_found<G2: Guard>(
        &self,
        g2: &mut G2,
        snap: &Snapshot<K, V>,
        slot: usize,
        word: *mut Entry<K, V>,
    ) -> bool {
        let tp = snap.table;
        // SAFETY: the caller keeps the snapshot's table protected (in the
        // table slot of the guard that took it) while calling this.
        let t = unsafe { &*tp };
        let ptr = probe::untag(word).cast::<()>();
        let root = &self.table;
        let (mut s, _) = split(g2);
        if slot == IN_SPILL {
            // Witness as in `search_spill`. Acquire: as there.
            return s.entry.publish(ptr, || {
                core::ptr::eq(t.spill.load(Acquire), snap.spill)
                    && core::ptr::eq(root.load(Acquire), tp)
            });
        }
        let here = &t.slots[slot];
        // Witness as in `probe_once`. Acquire: as there.
        s.entry.publish(ptr, || {
            here.load(Acquire) == word && core::ptr::eq(root.load(Acquire), tp)
        })
    }
}

impl<K, V, R: Reclaim> RawMap<K, V, R> {
    /// Checks invariants 1 and 2 of the module docs and the per-segment
    /// counts of the current table; panics with the broken invariant.
    ///
    /// Sound and exact while other threads use the map: it holds every
    /// segment lock of the current table while it reads (writers wait for
    /// it; readers do not), so no entry it reads can be unlinked, let alone
    /// retired, meanwhile (invariant 3), and no count or position changes.
    /// It runs no user code under the locks and panics only after
    /// unlocking.
    pub(crate) fn check_invariants(&self) {
        let mut g = self.reclaimer.guard();
        let (mut s, _) = split(&mut g);
        let mut backoff = Backoff::new();
        loop {
            let t = self.protect_table(&mut s.table);
            let mut locks = Locks::new(t.get(), 0);
            if locks.extend_to(t.segs.len() - 1).is_err() {
                // A grower froze the table: check the new one.
                drop(locks);
                backoff.snooze();
                continue;
            }
            let verdict = check_locked(&t);
            drop(locks);
            if let Err(broken) = verdict {
                panic!("cds::HashMap: invariant broken: {broken}");
            }
            return;
        }
    }
}

/// The checks of [`RawMap::check_invariants`] on `t`, every segment of
/// which the caller holds locked (and `t` is the current table: the locks
/// were taken without finding `MOVED`).
fn check_locked<K, V>(t: &Table<K, V>) -> Result<(), String> {
    let mut counts = vec![0usize; t.segs.len()];
    let mut prev_home = 0;
    for (i, s) in t.slots.iter().enumerate() {
        // Relaxed: every segment is locked by us (Acquire CASes).
        let w = s.load(Relaxed);
        if w.is_null() {
            continue;
        }
        crate::hooks::stall_point!("map.check.entry");
        // SAFETY: `w` is linked in the current table, all of whose segments
        // we hold: nobody can unlink it, so it is not retired (invariant 3),
        // and our Acquire lock CASes see its contents.
        let e = unsafe { &*probe::untag(w) };
        let home = probe::home(e.hash, t.log2);
        let d = probe::dist(w);
        if i.checked_sub(home) != Some(d) {
            return Err(format!("slot {i}: distance {d}, home {home}"));
        }
        if d > t.max_probe {
            return Err(format!("slot {i}: distance {d} past max probe"));
        }
        if probe::fp(w) != probe::fingerprint(e.hash) {
            return Err(format!("slot {i}: fingerprint"));
        }
        if home < prev_home {
            return Err(format!("slot {i}: Robin Hood order"));
        }
        // Relaxed: locked, as above.
        if d != 0 && t.slots[i - 1].load(Relaxed).is_null() {
            return Err(format!("slot {i}: hole before a displaced entry"));
        }
        prev_home = home;
        counts[t.seg_of(home)] += 1;
    }
    check_spill_locked(t, &mut counts)?;
    for (k, seg) in t.segs.iter().enumerate() {
        // Relaxed: locked by us.
        let st = seg.state.load(Relaxed);
        if st & (LOCKED | WRITING | MOVED) != LOCKED {
            return Err(format!("segment {k}: state {st:#x}"));
        }
        let count = seg.count.load(Relaxed);
        if count != counts[k] {
            return Err(format!("segment {k}: count {count}, {} entries", counts[k]));
        }
    }
    Ok(())
}

/// The spill part of [`check_locked`]: each item's hash is its entry's,
/// no entry is twice in the table, and each counts in its home segment.
fn check_spill_locked<K, V>(t: &Table<K, V>, counts: &mut [usize]) -> Result<(), String> {
    // Relaxed: the spill changes only under a segment lock; we hold them all.
    let sp = t.spill.load(Relaxed);
    // SAFETY: `t`'s array cannot be replaced (and retired) while we hold its
    // segments.
    let items = unsafe { spill::items(sp) };
    if !sp.is_null() && items.is_empty() {
        return Err("an empty spill array is published".into());
    }
    let mut seen: Vec<*mut Entry<K, V>> = t
        .slots
        .iter()
        .map(|s| probe::untag(s.load(Relaxed))) // Relaxed: locked
        .filter(|e| !e.is_null())
        .collect();
    for (i, &(hash, e)) in items.iter().enumerate() {
        // SAFETY: linked in the current table, all of whose segments we
        // hold (as in `check_locked`).
        let entry_hash = unsafe { (*e).hash };
        if entry_hash != hash {
            return Err(format!("spill item {i}: hash"));
        }
        counts[t.seg_of(probe::home(hash, t.log2))] += 1;
        seen.push(e);
    }
    let n = seen.len();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != n {
        return Err("an entry is linked twice".into());
    }
    Ok(())
}

impl<K, V, R> Drop for RawMap<K, V, R> {
    fn drop(&mut self) {
        // Relaxed: `&mut self` (loom's atomics have no `get_mut`).
        let tp = self.table.load(Relaxed);
        // SAFETY: `&mut self`: no other thread can reach the map; the root
        // table came from `Box::into_raw` and owns (through the map) every
        // linked entry exactly once; old tables and unlinked entries belong
        // to the reclaimer.
        let t = unsafe { Box::from_raw(tp) };
        // Relaxed: exclusive access.
        let linked = t.slots.iter().map(|s| probe::untag(s.load(Relaxed)));
        let sp = t.spill.load(Relaxed);
        // SAFETY: the current table's array, owned by it, nobody else can
        // reach it.
        let spilled = unsafe { spill::items(sp) }.iter().map(|&(_, e)| e);
        let mut rest = DropLinked {
            entries: linked.chain(spilled).filter(|e| !e.is_null()).collect(),
            next: 0,
        };
        rest.run();
    }
}

/// Drops the entries `entries[next..]` of a map nobody else can reach,
/// like a `Vec` drops its elements: if a `K` or `V` drop panics, the
/// remaining entries are still dropped (by this guard's own `Drop`, during
/// the unwinding) and the first panic goes on; a second panic aborts, as
/// in `Vec`.
struct DropLinked<K, V> {
    entries: Vec<*mut Entry<K, V>>,
    next: usize,
}

impl<K, V> DropLinked<K, V> {
    fn run(&mut self) {
        while let Some(&e) = self.entries.get(self.next) {
            // Past this entry before its drop runs: a panicking entry is not
            // dropped twice.
            self.next += 1;
            // SAFETY: linked entries come from `alloc_boxed` and are owned
            // by the map, which nobody else can reach; each is linked once
            // (one slot or one spill item of the current table at rest), and
            // each is visited once.
            unsafe { recycle::drop_boxed(e) };
        }
    }
}

impl<K, V> Drop for DropLinked<K, V> {
    fn drop(&mut self) {
        // Nothing left after a normal `run`; after a panic, the rest.
        self.run();
    }
}

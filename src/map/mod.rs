//! [`HashMap`]: a concurrent Robin Hood hash map with lock-free reads.
//!
//! # Algorithm
//!
//! Open addressing with linear probing and the Robin Hood policy (Celis,
//! *Robin Hood Hashing*, PhD thesis, Waterloo 1986): an inserted key takes
//! the slot of the first resident whose probe distance is *smaller* than its
//! own and shifts the rest of the run one slot on; a lookup stops at the
//! first resident whose distance is smaller than its own (early exit);
//! removal shifts the following run back (backward-shift deletion, no
//! tombstones). Mean successful probe count is ½(1 + 1/(1 − α)) at load α
//! like any linear probing; Robin Hood shrinks the variance and the maximum
//! and makes misses cheap. [`HashMap::probe_stats`] reports the figures.
//!
//! Concurrency (details and proofs in `raw.rs`; the crate-wide rules for
//! reclamation and locks are in ARCHITECTURE.md):
//!
//! - Slots hold tagged words (8-bit hash fingerprint, 8-bit probe distance,
//!   48-bit address) pointing to **immutable** heap entries. An update
//!   publishes a new entry in the same slot; unlinked entries are retired
//!   through the reclaimer `R` ([`Epoch`] by default, or
//!   [`Hazard`](crate::reclaim::Hazard)).
//! - The table (capacity + a tail of `max_probe` slots, no wrap-around) is
//!   cut into segments of 64 home slots, each with a state word (a version
//!   that is odd while a writer moves keys, `LOCKED`, `MOVED`) and an entry
//!   count. Writers lock the segments from their key's home to the end of
//!   the run they shift, in ascending order.
//! - Readers take no lock and write nothing shared: a **hit** linearizes at
//!   its slot load; a **miss** validates the versions of the segments it
//!   read, seqlock-style, and retries if a writer moved keys meanwhile.
//! - Growth locks every segment, copies the pointers into a new table,
//!   publishes it and marks the old one `MOVED`. Readers do not wait for it;
//!   writers retry on the new table.
//!
//! The next design step is a table whose writers never block either: the
//! multi-word-CAS Robin Hood table of Kelly, Pearlmutter and Maguire,
//! *Concurrent Robin Hood Hashing* (OPODIS 2018), whose table is
//! fixed-size (no growth). This design trades that for growth and plain
//! single-word atomics; it is measured against std, dashmap and papaya in
//! BENCHMARKS.md.
//!
//! # Progress
//!
//! - `get`, `contains_key`, `get_cloned`: no lock, and no write to memory
//!   other threads write, apart from the reclaimer's per-thread record (an
//!   epoch pin). **Hits are lock-free**, even while a writer is parked in
//!   the middle of a shift or a growth. **A miss may wait** for a writer that
//!   is moving keys in one of the (at most a few) segments it probed.
//! - Writers block each other per segment (spinning, then yielding).
//!   Writers to different segments do not contend: there is no global
//!   counter. Growth blocks writers of the whole table for its copy.
//!
//! # Orderings
//!
//! A slot store is `Release` and a slot load `Acquire`: a successful `get`
//! synchronizes-with the `insert` (or `update`) whose entry it observed.
//! Segment lock CAS `Acquire` / unlock store `Release`; version loads
//! `Acquire`, reloads after the probe `Relaxed` behind the `Acquire` slot
//! loads; the new table's root store `Release`.
//!
//! # Reclamation and `Ref`
//!
//! Methods returning an entry hand out a [`Ref`], which owns its own guard:
//! under [`Epoch`] a nested pin (cheap, `!Send`; a `Ref` held for long
//! stalls every epoch-based reclamation in the process), under `Hazard` one
//! hazard record per live `Ref`, protecting that entry only (not the table
//! it was found in: a held `Ref` does not keep tables retired by growth
//! alive). An [`Iter`] protects each entry as it hands it out: it holds the
//! records of the `Ref`s alive plus one. For loops, [`HashMap::handle`]
//! gives a [`MapHandle`] that reuses one guard (the [`Handle`] every
//! structure has, with its refresh policy). A panic in `K` or `V`'s `Drop`
//! while the reclaimer runs deferred drops aborts the process (see
//! [`crate::reclaim`]).
//!
//! # Panics and user code
//!
//! `Hash`, `Eq`, `Clone` and the closures passed to the map run outside
//! every lock: a panic in them unwinds through the caller and leaves the map
//! consistent (nothing lost, duplicated or leaked). A panic in `K` or `V`'s
//! `Drop` where the map drops inline (the map's own drop, a key the caller
//! passed that is not stored) also reaches the caller; the map's drop first
//! drops every other entry, as `Vec` does (a second panic aborts).
//! `remove`, `clear` and replacements drop nothing inline: the reclaimer
//! drops later, and aborts on a panic (above). Entry addresses must fit
//! in 48 bits (true on x86-64 and AArch64 Linux); otherwise inserting panics.
//! A degenerate hasher (every key hashing alike) is correct, just slow: the
//! keys that fit in no probe run go to a per-table *spill*, scanned
//! linearly (std's map degrades to linear time too). Growing past 2^40 home
//! slots panics ("capacity overflow"), and so does failing to allocate a
//! table. The map exists on 64-bit targets only (tags live in a pointer's
//! high bits).
//!
//! # Design decisions (beyond the outline above)
//!
//! - **Homes are the hash's top bits**, fingerprints its low 8 bits.
//!   Doubling refines the prefix, so a hash range is a home range in every
//!   table size: iteration and rayon jobs keep their place across growth by
//!   remembering a hash, not a slot.
//! - **Slot words are tagged pointers** (`AtomicPtr`, tags added with
//!   `wrapping_add`): no integer-to-pointer cast, so Miri checks provenance.
//! - **Segments** have 64 home slots; the default tail (= maximum probe
//!   distance) is `2·log2(capacity) + 32` slots, so a probe touches at most
//!   five segments. A cluster that overflows the tail while the table is
//!   under a quarter of its maximum load gets a 255-slot tail instead of
//!   more slots (degenerate hashers do not double the table forever).
//! - **A spill for runs longer than any tail**: a slot word's distance has
//!   8 bits, so when even the 255-slot tail overflows at low load (a
//!   degenerate hasher) the entry goes to an immutable `(hash, entry)`
//!   array of its table, replaced whole by a CAS under the key's home
//!   segment lock (whose version it bumps, like a shift). Lookups read it
//!   only after a miss in the run (one null load when there is none).
//! - **Readers probe twice only on a miss**: the first probe reads no
//!   version (a hit needs none); a miss probes again reading and
//!   validating the versions.
//! - **Replacing an entry** (`insert` of a present key, `update`) stores into
//!   the same slot without making the version odd: the key set does not
//!   change, so no miss needs invalidating.
//! - **Growth is decided from per-segment counts**: when an insert raises
//!   its home segment's count past the segment's share of the maximum load,
//!   16 evenly spaced segments are sampled, and only a sample over the
//!   limit triggers an exact sum (small tables sum at once).
//! - **`update` needs `K: Clone`**: entries are immutable, so the new
//!   entry carries a clone of the key.
//! - **`len` is a sum of segment counts**: exact when quiescent, a snapshot
//!   while writers run.

mod probe;
mod raw;

use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;
use std::collections::hash_map::RandomState;

use crate::reclaim::{Epoch, Handle, Reclaim};
use raw::{Entry, Inserted, Pending, RawMap};

/// Default maximum load factor.
const DEFAULT_MAX_LOAD: f64 = 0.875;

/// A concurrent Robin Hood hash map: lock-free hits, segment-locked
/// writers, growth that readers do not wait for. See the [module
/// docs](self) for the algorithm and its guarantees.
///
/// Every method takes `&self`. Lookups take any `Q` that `K` borrows as,
/// like std's map.
///
/// # Examples
///
/// ```
/// use cds::HashMap;
/// let map = HashMap::new();
/// std::thread::scope(|s| {
///     for t in 0..4u64 {
///         let map = &map;
///         s.spawn(move || {
///             for i in 0..100 {
///                 map.insert(t * 100 + i, i);
///             }
///         });
///     }
/// });
/// assert_eq!(map.len(), 400);
/// assert_eq!(*map.get(&205).unwrap(), 5);
/// ```
pub struct HashMap<K, V, S = RandomState, R: Reclaim = Epoch> {
    /// The unsafe core (crate-visible for `testing::map` and the rayon
    /// support in `external`).
    pub(crate) raw: RawMap<K, V, R>,
    hasher: S,
    // The map owns entries (dropped on any thread: `Send` below asks for
    // `K, V: Send`) and shares `&K`/`&V` across threads (`Sync` asks for
    // `Sync`).
    _owns: PhantomData<*const Entry<K, V>>,
}

// SAFETY: moving the map moves ownership of its entries; retired entries
// are dropped on arbitrary threads, hence `K, V: Send`.
unsafe impl<K: Send, V: Send, S: Send, R: Reclaim> Send for HashMap<K, V, S, R> {}
// SAFETY: through `&HashMap` threads insert (move `K`, `V` in), remove
// (entries dropped elsewhere) and read (`&K`, `&V` shared): `Send + Sync`.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Sync, R: Reclaim> Sync for HashMap<K, V, S, R> {}

/// A protected entry of a [`HashMap`]: dereferences to the value, and
/// [`key`](Ref::key) gives the key. It owns its own reclamation guard, so
/// the entry stays valid after it is replaced or removed, until the `Ref`
/// drops.
///
/// Under [`Epoch`] a `Ref` is a nested pin: `!Send`, and holding it stalls
/// epoch reclamation process-wide. Under `Hazard` it holds one hazard
/// record.
///
/// # Examples
///
/// ```
/// let map = cds::HashMap::new();
/// map.insert("k", 1);
/// let r = map.get("k").unwrap();
/// map.remove("k");
/// assert_eq!((*r.key(), *r), ("k", 1)); // still valid after removal
/// ```
///
/// An `Epoch` `Ref` cannot move to another thread (its pin belongs to this
/// one):
///
/// ```compile_fail
/// let map = cds::HashMap::<u32, u32>::new();
/// map.insert(1, 1);
/// let r = map.get(&1).unwrap();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(r));
/// });
/// ```
///
/// and cannot outlive its map:
///
/// ```compile_fail
/// let r = {
///     let map = cds::HashMap::<u32, u32>::new();
///     map.insert(1, 1);
///     map.get(&1).unwrap()
/// };
/// ```
#[must_use]
pub struct Ref<'m, K, V, R: Reclaim + 'm> {
    _guard: R::Guard<'m>,
    entry: NonNull<Entry<K, V>>,
}

// SAFETY: a `Ref` gives `&K` and `&V` on whichever thread holds it; the
// guard decides whether the protection may move threads.
unsafe impl<'m, K: Sync, V: Sync, R: Reclaim> Send for Ref<'m, K, V, R> where R::Guard<'m>: Send {}
// SAFETY: sharing a `Ref` shares `&K` and `&V`.
unsafe impl<'m, K: Sync, V: Sync, R: Reclaim> Sync for Ref<'m, K, V, R> where R::Guard<'m>: Sync {}

impl<'m, K, V, R: Reclaim> Ref<'m, K, V, R> {
    /// Wraps an entry protected by `guard`'s entry slot, after ending the
    /// guard's table protection (a `Ref` protects its entry only, so that
    /// holding it does not keep retired tables alive).
    ///
    /// # Safety
    ///
    /// 1. `entry` is protected by `guard`'s entry slot, and stays so until
    ///    the guard drops (nothing else uses the guard meanwhile).
    unsafe fn new(mut guard: R::Guard<'m>, entry: NonNull<Entry<K, V>>) -> Self {
        raw::release_table(&mut guard);
        Ref {
            _guard: guard,
            entry,
        }
    }

    /// Wraps an entry protected by `guard`'s entry slot; `guard` protects
    /// nothing else.
    ///
    /// # Safety
    ///
    /// 1. `entry` is non-null and protected by `guard`'s entry slot until
    ///    the guard drops (nothing else uses the guard meanwhile).
    unsafe fn wrap(guard: R::Guard<'m>, entry: *mut Entry<K, V>) -> Self {
        // SAFETY: precondition 1 (non-null).
        let entry = unsafe { NonNull::new_unchecked(entry) };
        Ref {
            _guard: guard,
            entry,
        }
    }

    #[inline]
    fn entry(&self) -> &Entry<K, V> {
        // SAFETY: protected by our guard (construction contract) and never
        // mutated after publication.
        unsafe { self.entry.as_ref() }
    }

    /// The entry's key.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert(String::from("k"), 1);
    /// assert_eq!(map.get("k").unwrap().key(), "k");
    /// ```
    pub fn key(&self) -> &K {
        &self.entry().key
    }

    /// The entry's value (the same as `&*self`).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert(1, "one");
    /// assert_eq!(*map.get(&1).unwrap().value(), "one");
    /// ```
    pub fn value(&self) -> &V {
        &self.entry().value
    }
}

impl<K, V, R: Reclaim> Deref for Ref<'_, K, V, R> {
    type Target = V;
    fn deref(&self) -> &V {
        &self.entry().value
    }
}

impl<K: fmt::Debug, V: fmt::Debug, R: Reclaim> fmt::Debug for Ref<'_, K, V, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ref")
            .field(self.key())
            .field(self.value())
            .finish()
    }
}

/// Probe statistics of a [`HashMap`]'s current table (a snapshot).
///
/// # Examples
///
/// ```
/// let map: cds::HashMap<u32, u32> = (0..1000).map(|i| (i, i)).collect();
/// let s = map.probe_stats();
/// assert_eq!(s.len, 1000);
/// assert!(s.load_factor <= 0.875 && s.mean_probe_count() >= 1.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeStats {
    /// Entries in the table.
    pub len: usize,
    /// Home slots (the table also has a tail of `max_probe` slots).
    pub home_slots: usize,
    /// `len / home_slots`.
    pub load_factor: f64,
    /// Mean probe distance (slot − home) of the entries.
    pub mean_distance: f64,
    /// Largest probe distance.
    pub max_distance: usize,
    /// Entries kept in the table's spill because they fit in no probe run
    /// (only with a degenerate hasher; 0 otherwise). They count in `len`,
    /// not in the distances.
    pub spilled: usize,
}

impl ProbeStats {
    /// Mean successful probe count (distance + 1): ≈ ½(1 + 1/(1 − α)).
    pub fn mean_probe_count(&self) -> f64 {
        self.mean_distance + 1.0
    }

    /// The mean successful probe count linear probing is expected to have at
    /// this load factor α: ½(1 + 1/(1 − α)).
    ///
    /// ```
    /// let map: cds::HashMap<u32, u32> = cds::HashMap::new();
    /// assert_eq!(map.probe_stats().expected_mean_probe_count(), 1.0);
    /// ```
    pub fn expected_mean_probe_count(&self) -> f64 {
        probe::expected_mean_probes(self.load_factor)
    }
}

impl<K, V> HashMap<K, V> {
    /// An empty map (std's `RandomState`, [`Epoch`] reclamation).
    ///
    /// # Examples
    ///
    /// ```
    /// let map: cds::HashMap<u64, u64> = cds::HashMap::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty map that holds `capacity` entries before it grows.
    ///
    /// # Panics
    ///
    /// With "capacity overflow" if `capacity` exceeds 2^40 · 0.875 (2^24
    /// on 32-bit targets; before allocating anything), and with "cannot
    /// allocate" if the table cannot be allocated.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: cds::HashMap<u64, u64> = cds::HashMap::with_capacity(1000);
    /// assert!(map.capacity() >= 1000);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_hasher_and_reclaimer(capacity, RandomState::new(), Epoch::new())
    }
}

impl<K, V, S> HashMap<K, V, S> {
    /// An empty map using `hasher`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// let map: cds::HashMap<u8, u8, _> = cds::HashMap::with_hasher(RandomState::new());
    /// map.insert(1, 2);
    /// assert_eq!(*map.get(&1).unwrap(), 2);
    /// ```
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_capacity_and_hasher(0, hasher)
    }

    /// An empty map using `hasher` that holds `capacity` entries before it
    /// grows.
    ///
    /// # Panics
    ///
    /// As [`HashMap::with_capacity`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// let map: cds::HashMap<u8, u8, _> =
    ///     cds::HashMap::with_capacity_and_hasher(100, RandomState::new());
    /// assert!(map.capacity() >= 100);
    /// ```
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        Self::with_capacity_hasher_and_reclaimer(capacity, hasher, Epoch::new())
    }
}

impl<K, V, R: Reclaim> HashMap<K, V, RandomState, R> {
    /// An empty map reclaiming through `reclaimer` (for example a private
    /// [`Hazard`](crate::reclaim::Hazard) domain).
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::reclaim::Epoch;
    /// let map: cds::HashMap<u8, u8, _, Epoch> = cds::HashMap::with_reclaimer(Epoch::new());
    /// map.insert(1, 1);
    /// assert!(map.contains_key(&1));
    /// ```
    pub fn with_reclaimer(reclaimer: R) -> Self {
        Self::with_capacity_hasher_and_reclaimer(0, RandomState::new(), reclaimer)
    }
}

impl<K, V, S, R: Reclaim> HashMap<K, V, S, R> {
    /// The general constructor.
    ///
    /// # Panics
    ///
    /// As [`HashMap::with_capacity`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// let map: cds::HashMap<u8, u8> = cds::HashMap::with_capacity_hasher_and_reclaimer(
    ///     8, RandomState::new(), cds::reclaim::Epoch::new());
    /// assert!(map.capacity() >= 8);
    /// ```
    pub fn with_capacity_hasher_and_reclaimer(capacity: usize, hasher: S, reclaimer: R) -> Self {
        HashMap {
            raw: RawMap::new(capacity, DEFAULT_MAX_LOAD, reclaimer),
            hasher,
            _owns: PhantomData,
        }
    }

    /// Sets the maximum load factor (default 0.875) of an empty map,
    /// keeping at least its capacity.
    ///
    /// # Panics
    ///
    /// If `max_load` is not within `0.25..=0.95`, or the map is not empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: cds::HashMap<u8, u8> = cds::HashMap::with_capacity(100).with_max_load(0.5);
    /// assert!(map.capacity() >= 100);
    /// assert_eq!(map.probe_stats().home_slots, 256);
    /// ```
    pub fn with_max_load(mut self, max_load: f64) -> Self {
        assert!(
            (0.25..=0.95).contains(&max_load),
            "cds::HashMap: max_load {max_load} outside 0.25..=0.95"
        );
        assert!(
            self.is_empty(),
            "cds::HashMap::with_max_load on a non-empty map"
        );
        let capacity = self.capacity();
        self.raw.reset_empty(capacity, max_load);
        self
    }

    /// The number of entries: the sum of per-segment counts, exact when no
    /// writer runs concurrently, a snapshot otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert(1, 1);
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.raw.len(&mut self.raw.reclaimer.guard())
    }

    /// True if [`len`](HashMap::len) is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: cds::HashMap<u8, u8> = cds::HashMap::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of entries the current table holds before it grows.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: cds::HashMap<u8, u8> = cds::HashMap::with_capacity(50);
    /// assert!(map.capacity() >= 50);
    /// ```
    pub fn capacity(&self) -> usize {
        self.raw.capacity(&mut self.raw.reclaimer.guard())
    }

    /// Load factor and probe distances of the current table (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let map: cds::HashMap<u8, u8> = cds::HashMap::new();
    /// assert_eq!(map.probe_stats().max_distance, 0);
    /// ```
    pub fn probe_stats(&self) -> ProbeStats {
        let s = self.raw.stats(&mut self.raw.reclaimer.guard());
        let len = s.len + s.spilled;
        ProbeStats {
            len,
            home_slots: s.home_slots,
            load_factor: len as f64 / s.home_slots as f64,
            mean_distance: if s.len == 0 {
                0.0
            } else {
                s.sum_dist as f64 / s.len as f64
            },
            max_distance: s.max_dist,
            spilled: s.spilled,
        }
    }

    /// The reclaimer this map retires entries through.
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::reclaim::Reclaim;
    /// let map: cds::HashMap<u8, u8> = cds::HashMap::new();
    /// map.reclaimer().flush();
    /// ```
    pub fn reclaimer(&self) -> &R {
        &self.raw.reclaimer
    }

    /// An amortized handle: one guard held across many operations,
    /// refreshed every [`Handle::REFRESH_EVERY`] of them (call
    /// [`refresh`](MapHandle::refresh) yourself between bursts). References
    /// it returns live until its next operation. While a handle lives,
    /// entries this thread could see are not reclaimed: drop it when the
    /// loop ends. `!Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// let mut h = map.handle();
    /// for i in 0..100 {
    ///     h.insert(i, i);
    /// }
    /// assert_eq!(h.get(&7), Some(&7));
    /// ```
    #[inline]
    pub fn handle(&self) -> MapHandle<'_, K, V, S, R> {
        Handle::new(self, &self.raw.reclaimer)
    }
}

impl<K, V, S, R> HashMap<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    R: Reclaim,
{
    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Inserts `key → value`. If the key was present, its entry is replaced
    /// in place and returned (still valid through the returned [`Ref`]; a
    /// value is never moved out of a published entry).
    ///
    /// # Panics
    ///
    /// If `K::hash` or `K::eq` panics (the map is unchanged, `key` and
    /// `value` are dropped), or if the map must grow past 2^40 home slots
    /// or cannot allocate its new table (it keeps its current one).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// assert!(map.insert(1, "a").is_none());
    /// assert_eq!(*map.insert(1, "b").unwrap(), "a");
    /// assert_eq!(*map.get(&1).unwrap(), "b");
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<Ref<'_, K, V, R>> {
        let mut g = self.raw.reclaimer.guard();
        let new = Pending::new(self.hash(&key), key, value);
        let Inserted::Replaced(old) = self.raw.insert(&mut g, new, true) else {
            return None;
        };
        let old = NonNull::from(old);
        // SAFETY: a replaced entry stays protected in `g`'s entry slot, and
        // the `Ref` owns `g` from now on.
        Some(unsafe { Ref::new(g, old) })
    }

    /// The entry of `key`, protected by the returned [`Ref`].
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert(String::from("a"), 1);
    /// assert_eq!(*map.get("a").unwrap(), 1);
    /// assert!(map.get("b").is_none());
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<Ref<'_, K, V, R>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut g = self.raw.reclaimer.guard();
        let e = NonNull::from(
            self.raw
                .get(&mut g, self.hash(key), |k| k.borrow() == key)?,
        );
        // SAFETY: a hit is protected in `g`'s entry slot, and the `Ref`
        // owns `g` from now on.
        Some(unsafe { Ref::new(g, e) })
    }

    /// A clone of the value of `key` (no guard outlives the call).
    ///
    /// # Panics
    ///
    /// If `Hash`, `Eq` or `V::clone` panics; the map is unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert(1, vec![1, 2]);
    /// assert_eq!(map.get_cloned(&1), Some(vec![1, 2]));
    /// ```
    pub fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.get(key).map(|r| r.value().clone())
    }

    /// True if `key` is present.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert(1, ());
    /// assert!(map.contains_key(&1) && !map.contains_key(&2));
    /// ```
    #[inline]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut g = self.raw.reclaimer.guard();
        self.raw
            .get(&mut g, self.hash(key), |k| k.borrow() == key)
            .is_some()
    }

    /// Removes `key`; returns its entry (valid through the [`Ref`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert(1, "a");
    /// assert_eq!(*map.remove(&1).unwrap(), "a");
    /// assert!(map.remove(&1).is_none());
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<Ref<'_, K, V, R>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut g = self.raw.reclaimer.guard();
        let old = self
            .raw
            .remove(&mut g, self.hash(key), |k| k.borrow() == key)?;
        let old = NonNull::from(old);
        // SAFETY: the removed entry stays protected in `g`'s entry slot, and
        // the `Ref` owns `g` from now on.
        Some(unsafe { Ref::new(g, old) })
    }

    /// The entry of `key`, inserting `make()` first if it is absent.
    /// `make` runs at most once per call, outside every lock; when several
    /// threads race on one absent key exactly one entry ends up inserted and
    /// the losers' values are dropped.
    ///
    /// # Panics
    ///
    /// If `Hash`, `Eq` or `make` panics (the map is unchanged, `key` is
    /// dropped), if dropping `key` (when present already) or a losing
    /// value panics, or as [`insert`](HashMap::insert) when growing.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// assert_eq!(*map.get_or_insert_with(1, || 10), 10);
    /// assert_eq!(*map.get_or_insert_with(1, || unreachable!()), 10);
    /// ```
    pub fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> Ref<'_, K, V, R> {
        let mut g = self.raw.reclaimer.guard();
        let hash = self.hash(&key);
        let e = NonNull::from(self.raw.get_or_insert_with(&mut g, hash, key, make));
        // SAFETY: the entry (found or linked) is protected in `g`'s entry
        // slot, and the `Ref` owns `g` from now on.
        unsafe { Ref::new(g, e) }
    }

    /// Replaces the value of `key` by `f(&old)`, atomically per key; false
    /// if the key is absent. `f` runs outside every lock and may run more
    /// than once (when another writer changes the entry meanwhile); `K` is
    /// cloned into the new entry (entries are immutable).
    ///
    /// # Panics
    ///
    /// If `Hash`, `Eq`, `K::clone` or `f` panics (in any of its runs); the
    /// entry keeps the value it had.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert("hits", 0);
    /// assert!(map.update("hits", |v| v + 1));
    /// assert!(!map.update("misses", |v| v + 1));
    /// assert_eq!(*map.get("hits").unwrap(), 1);
    /// ```
    pub fn update<Q>(&self, key: &Q, f: impl FnMut(&V) -> V) -> bool
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
    {
        let mut g = self.raw.reclaimer.guard();
        self.raw
            .update(&mut g, self.hash(key), |k| k.borrow() == key, f)
    }

    /// Keeps only the entries for which `keep` returns true. Each entry
    /// present throughout is offered once; `keep` runs outside every lock,
    /// and an entry is removed only if it was not replaced meanwhile.
    ///
    /// # Panics
    ///
    /// If `keep` panics: the entries already removed stay removed, the
    /// others stay.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: cds::HashMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    /// map.retain(|k, _| k % 2 == 0);
    /// assert_eq!(map.len(), 5);
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        for r in self.iter() {
            if !keep(r.key(), r.value()) {
                let mut g = self.raw.reclaimer.guard();
                let target: *const K = r.key();
                // Identity, not `Eq`: only this very entry is removed.
                let _ = self
                    .raw
                    .remove(&mut g, r.entry().hash, |k| core::ptr::eq(k, target));
            }
        }
    }

    /// Removes every entry at once (a fresh empty table replaces the
    /// current one; the old entries are retired).
    ///
    /// # Examples
    ///
    /// ```
    /// let map: cds::HashMap<u32, u32> = (0..10).map(|i| (i, i)).collect();
    /// map.clear();
    /// assert!(map.is_empty() && map.get(&1).is_none());
    /// ```
    pub fn clear(&self) {
        self.raw.clear(&mut self.raw.reclaimer.guard());
    }

    /// An iterator over the entries, each protected by its own [`Ref`].
    /// Every entry present for the whole iteration is yielded exactly once,
    /// others at most once. It walks the table one segment at a time (a
    /// segment with a writer moving keys is waited for) and keeps its place
    /// across growth. Entries are protected one at a time as they are
    /// handed out: under `Hazard` the iterator holds one hazard record of
    /// its own plus one per `Ref` alive.
    ///
    /// # Examples
    ///
    /// ```
    /// let map: cds::HashMap<u32, u32> = (0..100).map(|i| (i, 2 * i)).collect();
    /// let sum: u32 = map.iter().map(|r| *r).sum();
    /// assert_eq!(sum, 9900);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V, S, R> {
        Iter::new(self, 0, END)
    }

    /// The former name of [`handle`](HashMap::handle).
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// let map = cds::HashMap::new();
    /// let mut h = map.pin();
    /// h.insert(1, 1);
    /// assert_eq!(h.get(&1), Some(&1));
    /// ```
    #[deprecated(note = "use `handle()`")]
    #[inline]
    pub fn pin(&self) -> MapHandle<'_, K, V, S, R> {
        self.handle()
    }
}

/// The end of the hash space (exclusive), as a cursor.
pub(crate) const END: u128 = 1 << 64;

/// Iterator over a [`HashMap`]'s entries; see [`HashMap::iter`].
///
/// It holds one guard of its own while it is inside a segment (under
/// `Hazard`: one record, protecting the table it snapshotted) and protects
/// each entry only when it hands it out, in the [`Ref`]'s own guard: at any
/// moment it owns the records of the `Ref`s alive plus at most one.
///
/// # Examples
///
/// ```
/// let map: cds::HashMap<u8, u8> = [(1, 1)].into_iter().collect();
/// let it = map.iter();
/// assert_eq!(it.count(), 1);
/// ```
#[must_use = "iterators are lazy"]
pub struct Iter<'m, K, V, S, R: Reclaim> {
    map: &'m HashMap<K, V, S, R>,
    /// The start (a hash) of the segment range being walked.
    cursor: u128,
    /// The end of the snapshot in `buf` (the next cursor).
    next: u128,
    end: u128,
    /// The guard that took the snapshot in `buf`, and the snapshot's table
    /// and spill, which it protects (under epochs: every entry loaded into
    /// `buf` too) while `buf[pos..]` is not empty; `None` between segments.
    held: Option<(R::Guard<'m>, raw::Snapshot<K, V>)>,
    /// The segment's (slot, word) snapshot; `buf[pos..]` is still to come.
    buf: Vec<(usize, *mut Entry<K, V>)>,
    pos: usize,
    /// Entries yielded from the range `cursor..seen_end`: when a protection
    /// fails the range is snapshotted again (in the newest table) and these
    /// are skipped, so each entry present throughout is yielded once.
    seen: Vec<*mut Entry<K, V>>,
    seen_end: u128,
    /// The range is being walked again: skip `seen`.
    again: bool,
}

impl<'m, K, V, S, R: Reclaim> Iter<'m, K, V, S, R> {
    /// An iterator over the entries whose hashes lie in `cursor..end`
    /// (home boundaries of every table, as `snapshot_segment` needs).
    pub(crate) fn new(map: &'m HashMap<K, V, S, R>, cursor: u128, end: u128) -> Self {
        Iter {
            map,
            cursor,
            next: cursor,
            end,
            held: None,
            buf: Vec::new(),
            pos: 0,
            seen: Vec::new(),
            seen_end: cursor,
            again: false,
        }
    }

    /// Snapshots the segment range at `next` (the current one again after
    /// a failed protection); false at the end.
    fn fill(&mut self) -> bool {
        self.held = None;
        self.cursor = self.next;
        if self.cursor >= self.seen_end {
            self.seen.clear();
            self.again = false;
        }
        if self.cursor >= self.end {
            return false;
        }
        let raw = &self.map.raw;
        let mut g = raw.reclaimer.guard();
        let snap = raw.snapshot_segment(&mut g, self.cursor, self.end, &mut self.buf);
        if self.seen.is_empty() {
            self.seen_end = snap.next;
        }
        (self.next, self.pos) = (snap.next, 0);
        self.held = Some((g, snap));
        true
    }
}

impl<'m, K, V, S, R: Reclaim> Iterator for Iter<'m, K, V, S, R> {
    type Item = Ref<'m, K, V, R>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(&(slot, word)) = self.buf.get(self.pos) else {
                if !self.fill() {
                    return None;
                }
                continue;
            };
            self.pos += 1;
            let entry = raw::entry_of(word);
            if self.again && self.seen.contains(&entry) {
                continue;
            }
            let Some((_, snap)) = &self.held else {
                unreachable!("a snapshot is held while its items remain");
            };
            let raw = &self.map.raw;
            let mut g = raw.reclaimer.guard();
            // `held` still protects the snapshot's table and spill (and,
            // under epochs, `entry`): `buf[pos - 1]` was not yet consumed.
            if raw.protect_found(&mut g, snap, slot, word) {
                self.seen.push(entry);
                if self.pos == self.buf.len() {
                    self.held = None; // do not hold the table between segments
                }
                // SAFETY: just protected in `g`'s entry slot, and `g`
                // protects nothing else (fresh guard).
                return Some(unsafe { Ref::wrap(g, entry) });
            }
            // The segment changed since the snapshot: take the range again
            // (in the newest table), skipping what was already yielded.
            drop(g);
            (self.next, self.pos, self.again) = (self.cursor, self.buf.len(), true);
        }
    }
}

impl<K, V, S, R: Reclaim> fmt::Debug for Iter<'_, K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

/// An amortized handle on a [`HashMap`], from [`HashMap::handle`]: one
/// guard across many operations (see [`Handle`]). References it returns
/// borrow the handle mutably, so at most one is alive at a time and the
/// guard can be refreshed between operations (every
/// [`REFRESH_EVERY`](Handle::REFRESH_EVERY) operations, reads and writes
/// alike, so a long loop does not stall reclamation).
///
/// # Examples
///
/// ```
/// let map = cds::HashMap::new();
/// let mut h = map.handle();
/// h.insert(1, 1);
/// assert!(h.update(&1, |v| v + 1));
/// assert_eq!(h.remove(&1), Some(&2));
/// h.refresh();
/// assert!(h.is_empty());
/// ```
///
/// At most one reference from a handle is alive at a time:
///
/// ```compile_fail
/// let map = cds::HashMap::new();
/// map.insert(1, 1);
/// map.insert(2, 2);
/// let mut h = map.handle();
/// let a = h.get(&1);
/// let b = h.get(&2);
/// assert_ne!(a, b);
/// ```
///
/// Under `Epoch` a live handle keeps its thread pinned between operations:
/// drop it when the loop is done.
pub type MapHandle<'m, K, V, S = RandomState, R = Epoch> = Handle<'m, HashMap<K, V, S, R>, R>;

/// The former name of [`MapHandle`].
#[deprecated(note = "use `MapHandle`")]
pub type Pinned<'m, K, V, S = RandomState, R = Epoch> = MapHandle<'m, K, V, S, R>;

impl<K, V, S, R: Reclaim> Handle<'_, HashMap<K, V, S, R>, R> {
    /// As [`HashMap::len`], on the handle's guard.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert(1, 2);
    /// assert_eq!(map.handle().len(), 1);
    /// ```
    #[inline]
    pub fn len(&mut self) -> usize {
        self.op(|map, g| map.raw.len(g))
    }

    /// As [`HashMap::is_empty`], on the handle's guard.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::<u8, u8>::new();
    /// assert!(map.handle().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
}

impl<K, V, S, R> Handle<'_, HashMap<K, V, S, R>, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    R: Reclaim,
{
    /// As [`HashMap::get`]; the reference lives until the next operation.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert(1, 2);
    /// assert_eq!(map.handle().get(&1), Some(&2));
    /// ```
    #[inline]
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (map, g) = self.lend();
        let hash = map.hash(key);
        Some(&map.raw.get(g, hash, |k| k.borrow() == key)?.value)
    }

    /// As [`HashMap::contains_key`].
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// map.insert(1, 2);
    /// assert!(map.handle().contains_key(&1));
    /// ```
    #[inline]
    pub fn contains_key<Q>(&mut self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// As [`HashMap::insert`]; returns the replaced value, valid until the
    /// next operation.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// let mut h = map.handle();
    /// assert_eq!(h.insert(1, 'a'), None);
    /// assert_eq!(h.insert(1, 'b'), Some(&'a'));
    /// ```
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<&V> {
        let (map, g) = self.lend();
        let new = Pending::new(map.hash(&key), key, value);
        match map.raw.insert(g, new, true) {
            Inserted::Replaced(old) => Some(&old.value),
            _ => None,
        }
    }

    /// As [`HashMap::remove`]; returns the removed value, valid until the
    /// next operation.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// let mut h = map.handle();
    /// h.insert(1, 'a');
    /// assert_eq!(h.remove(&1), Some(&'a'));
    /// ```
    #[inline]
    pub fn remove<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (map, g) = self.lend();
        let hash = map.hash(key);
        Some(&map.raw.remove(g, hash, |k| k.borrow() == key)?.value)
    }

    /// As [`HashMap::update`].
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// let mut h = map.handle();
    /// h.insert(1, 1);
    /// assert!(h.update(&1, |v| v * 10));
    /// assert_eq!(h.get(&1), Some(&10));
    /// ```
    pub fn update<Q>(&mut self, key: &Q, f: impl FnMut(&V) -> V) -> bool
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
    {
        self.op(|map, g| map.raw.update(g, map.hash(key), |k| k.borrow() == key, f))
    }

    /// As [`HashMap::get_or_insert_with`]; the reference lives until the
    /// next operation.
    ///
    /// # Examples
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// let mut h = map.handle();
    /// assert_eq!(*h.get_or_insert_with(1, || 5), 5);
    /// ```
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &V {
        let (map, g) = self.lend();
        let hash = map.hash(&key);
        &map.raw.get_or_insert_with(g, hash, key, make).value
    }
}

impl<K, V, S, R> Default for HashMap<K, V, S, R>
where
    S: Default,
    R: Reclaim + Default,
{
    /// An empty map.
    ///
    /// ```
    /// let map: cds::HashMap<u8, u8> = Default::default();
    /// assert!(map.is_empty());
    /// ```
    fn default() -> Self {
        Self::with_capacity_hasher_and_reclaimer(0, S::default(), R::default())
    }
}

impl<K, V, S, R> fmt::Debug for HashMap<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static + fmt::Debug,
    V: Send + Sync + 'static + fmt::Debug,
    S: BuildHasher,
    R: Reclaim,
{
    /// Formats the entries (a weakly consistent snapshot, see `iter`).
    ///
    /// ```
    /// let map: cds::HashMap<u8, u8> = [(1, 2)].into_iter().collect();
    /// assert_eq!(format!("{map:?}"), "{1: 2}");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for r in self.iter() {
            m.entry(r.key(), r.value());
        }
        m.finish()
    }
}

impl<K, V, S, R> FromIterator<(K, V)> for HashMap<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Default,
    R: Reclaim + Default,
{
    /// Collects pairs (later duplicates replace earlier ones).
    ///
    /// ```
    /// let map: cds::HashMap<u8, u8> = [(1, 1), (1, 2)].into_iter().collect();
    /// assert_eq!(*map.get(&1).unwrap(), 2);
    /// ```
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let map = Self::with_capacity_hasher_and_reclaimer(
            iter.size_hint().0,
            S::default(),
            R::default(),
        );
        (&map).extend(iter);
        map
    }
}

impl<K, V, S, R> Extend<(K, V)> for HashMap<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    R: Reclaim,
{
    /// Inserts every pair.
    ///
    /// ```
    /// let mut map = cds::HashMap::new();
    /// map.extend([(1, 1), (2, 2)]);
    /// assert_eq!(map.len(), 2);
    /// ```
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        (&*self).extend(iter);
    }
}

impl<K, V, S, R> Extend<(K, V)> for &HashMap<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    R: Reclaim,
{
    /// Inserts every pair through a shared reference (one guard for all).
    ///
    /// ```
    /// let map = cds::HashMap::new();
    /// (&map).extend([(1, 1), (2, 2)]);
    /// assert_eq!(map.len(), 2);
    /// ```
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let mut h = self.handle();
        for (k, v) in iter {
            h.insert(k, v);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

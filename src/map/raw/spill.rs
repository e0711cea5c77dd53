//! The spill: entries that fit in no probe run.
//!
//! A slot word carries an 8-bit probe distance and a table's tail is at
//! most [`max_tail`](probe::max_tail) slots, so a run holds at most that
//! many keys past their home. A hasher so degenerate that more keys share
//! one run (every key hashing alike, say) would make inserts fail, and
//! growing cannot separate equal hashes. So when a run overflows at under a
//! quarter of the maximum load with the longest tail already, the entry
//! goes to the table's *spill* instead: an immutable array of `(hash,
//! entry)` pairs that lookups scan linearly after a miss in the run. Such
//! keys are slow (a scan, and a copy of the array per change), not lost;
//! a table without a spill pays one null load per miss.
//!
//! # Protocol
//!
//! - `Table::spill` is null or points to an array owned by the table (never
//!   shared with another table: growth builds the new table's own). It
//!   changes only by a CAS from the array a writer probed (protected in
//!   its spill slot, so its address cannot be reused: no ABA) to a fresh copy,
//!   made while holding the home segment lock of the key the change is
//!   about. A grower or `clear` holds every segment, so the spill is stable
//!   while they copy it, and a writer never changes a frozen table's. The
//!   replaced array is retired after unlocking.
//! - A change of the spill's key set (insert, remove) makes the home
//!   segment's version odd around the CAS, as a shift does: a miss
//!   validated against that segment covers the spill too, and an insert
//!   into the run (which re-checks its versions under its locks) cannot
//!   race an insert of the same key into the spill. Replacing an entry
//!   keeps the version, as in the run.
//! - Entries never move between the run and the spill while their table is
//!   current (only growth places them again, in a new table), so a miss in
//!   the run followed by a miss in the spill is a miss.
//! - A reader protects the array in its spill slot (witness: `t.spill`
//!   still holds it; `t` itself is protected, and arrays are retired only
//!   after being replaced there, or with their table) and an entry in its
//!   entry slot (witness: `t.spill` still holds the array and `t` is still
//!   the root, so the entry was still linked). An operation keeps its spill
//!   slot until it returns, and clears it then.

use super::*;

/// A spilled entry and its hash (compared before the entry is protected).
pub(crate) type SpillItem<K, V> = (u64, *mut Entry<K, V>);

/// An immutable array of spilled entries (see the module docs); it does
/// not own them.
pub(crate) struct Spill<K, V> {
    items: Box<[SpillItem<K, V>]>,
}

/// What a search of the spill found: the array searched (`None` if the
/// table has none) and a hit's index and entry.
pub(super) type Searched<'s, K, V> = (
    Option<Shared<'s, Spill<K, V>>>,
    Option<(usize, *mut Entry<K, V>)>,
);

/// `Probe::spill_idx` of a hit in the run, or of a miss.
pub(crate) const NOT_SPILLED: usize = usize::MAX;

/// A new array holding `items`, or null if there are none.
pub(super) fn alloc<K, V>(items: Vec<SpillItem<K, V>>) -> *mut Spill<K, V> {
    if items.is_empty() {
        return core::ptr::null_mut();
    }
    Box::into_raw(Box::new(Spill {
        items: items.into_boxed_slice(),
    }))
}

/// The items of a protected array (none if `None`).
#[inline]
pub(super) fn items_of<'s, K, V>(sp: Option<Shared<'s, Spill<K, V>>>) -> &'s [SpillItem<K, V>] {
    sp.map_or(&[], |a| &a.get().items)
}

/// The items of the array `sp` (none if null), for an array the caller
/// keeps alive otherwise than by a protection.
///
/// # Safety
///
/// 1. `sp` is null or an array from [`alloc`] that stays allocated for
///    `'a` (owned by a table the caller holds locked or alone, or protected
///    by a guard the caller keeps).
pub(super) unsafe fn items<'a, K, V>(sp: *const Spill<K, V>) -> &'a [SpillItem<K, V>] {
    if sp.is_null() {
        &[]
    } else {
        // SAFETY: precondition 1; arrays are immutable once published.
        unsafe { &(*sp).items }
    }
}

/// Frees the array `sp` (not its entries).
///
/// # Safety
///
/// 1. `sp` is null, or came from [`alloc`], is freed once, and nobody can
///    read it any more.
pub(super) unsafe fn free<K, V>(sp: *mut Spill<K, V>) {
    if !sp.is_null() {
        // SAFETY: precondition 1 (`alloc` used `Box::into_raw`).
        drop(unsafe { Box::from_raw(sp) });
    }
}

/// Reclaims a retired spill array (its entries live on elsewhere).
///
/// # Safety
///
/// 1. `p` came from [`alloc::<K, V>`](alloc) and is reclaimed once.
unsafe fn drop_spill<K, V>(p: *mut ()) {
    // SAFETY: precondition 1; no guard protects it any more (the
    // reclaimer's contract).
    unsafe { free(p.cast::<Spill<K, V>>()) };
}

impl<K, V, R> RawMap<K, V, R> {
    /// Protects `t`'s spill array in `slot`; `None` (and nothing published)
    /// if `t` has none.
    #[inline]
    pub(super) fn protect_spill<'s, S: Slot>(
        &self,
        t: Shared<'_, Table<K, V>>,
        slot: &'s mut S,
    ) -> Option<Shared<'s, Spill<K, V>>> {
        // Acquire: pairs with the Release CASes below (a reader of the array
        // sees its items and their entries' contents).
        if t.spill.load(Acquire).is_null() {
            return None;
        }
        // Witness: `t.spill` still holds the array (see the module docs).
        // Acquire (inside `protect`): as above.
        // SAFETY: (1) `t.spill` holds null or an array owned by `t`, retired
        // only after a writer replaced it there (`retire_spill`), through
        // `self.reclaimer` (RawMap contract), or freed with `t`, which the
        // caller keeps protected.
        unsafe { slot.protect(&t.spill) }
    }

    /// Looks for `hash`/`eq` in the spill of table `t` (which the caller
    /// keeps protected): `Some((array, hit))`, the array protected in
    /// `spill` and a hit's (index, entry) protected in `entry`; `None` if a
    /// protection failed (probe again). `eq` runs outside any lock.
    #[inline]
    pub(super) fn search_spill<'s, S: Slot>(
        &self,
        t: Shared<'_, Table<K, V>>,
        entry: &mut S,
        spill: &'s mut S,
        hash: u64,
        eq: &mut impl FnMut(&K) -> bool,
    ) -> Option<Searched<'s, K, V>> {
        // Acquire: as in `protect_spill`.
        if t.spill.load(Acquire).is_null() {
            return Some((None, None));
        }
        spill_is_rare();
        self.search_spill_slow(t, entry, spill, hash, eq)
    }

    /// The search proper. Inlined although cold: it borrows the caller's
    /// slots, and a call that took their addresses would keep them in
    /// memory on every probe (the hot path loads them from the stack).
    #[inline(always)]
    fn search_spill_slow<'s, S: Slot>(
        &self,
        t: Shared<'_, Table<K, V>>,
        entry: &mut S,
        spill: &'s mut S,
        hash: u64,
        eq: &mut impl FnMut(&K) -> bool,
    ) -> Option<Searched<'s, K, V>> {
        let sp = self.protect_spill(t, spill);
        let (root, cell, tp) = (&self.table, &t.spill, t.as_ptr());
        let sp_ptr = sp.map_or(core::ptr::null_mut(), |a| a.as_ptr());
        for (i, &(h, e)) in items_of(sp).iter().enumerate() {
            if h != hash {
                continue;
            }
            // Witness: the array is still `t`'s and `t` still the root, so
            // the entry was linked after the protection was published.
            // Acquire: as in `protect_spill` and `probe_once`.
            // SAFETY: (1) spill items hold non-null entries; if the witness
            // holds, the entry was linked in the current table after the
            // publication (entries never leave a current table's array
            // without replacing it), so not yet retired, and entries are
            // retired only through `self.reclaimer` (RawMap contract).
            let found = unsafe {
                entry.protect_with(core::ptr::NonNull::new_unchecked(e), || {
                    core::ptr::eq(cell.load(Acquire), sp_ptr)
                        && core::ptr::eq(root.load(Acquire), tp)
                })
            }?;
            if eq(&found.key) {
                return Some((sp, Some((i, e))));
            }
        }
        Some((sp, None))
    }

    /// Links `new` into the spill of `t` at the validated miss `p` (whose
    /// run overflowed): the entry and its home segment's new count. `Err`
    /// gives `new` back if anything changed since the probe (probe again).
    #[cold]
    #[inline(never)]
    pub(super) fn spill_insert<G: Guard>(
        &self,
        retirer: &G,
        t: &Table<K, V>,
        p: &Probe<'_, K, V>,
        new: Pending<K, V>,
    ) -> Result<Linked<K, V>, Pending<K, V>>
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        // Built before locking: no allocation under the locks.
        let mut fresh = items_of(p.spill).to_vec();
        fresh.push((new.entry().hash, new.ptr.as_ptr()));
        let fresh = alloc(fresh);
        let home_seg = t.seg_of(p.home);
        let mut locks = Locks::new(t, home_seg);
        // The versions the miss was validated against are unchanged: the
        // key is in neither the run nor the spill.
        let swapped =
            locks.extend_to(p.versions.last_seg()).is_ok() && p.versions.still_valid(t) && {
                locks.begin_write(home_seg, home_seg);
                // Release: pairs with the Acquire loads of `t.spill` in
                // `protect_spill` and `search_spill` (the array's items and
                // the new entry's contents).
                t.spill
                    .compare_exchange(as_mut_ptr(p.spill), fresh, Release, Relaxed)
                    .is_ok()
            };
        if !swapped {
            drop(locks);
            // SAFETY: never published.
            unsafe { free(fresh) };
            return Err(new);
        }
        let ptr = new.link();
        let seg = &t.segs[home_seg];
        // Relaxed: the count is written only under this segment's lock.
        let count = seg.count.load(Relaxed) + 1;
        seg.count.store(count, Relaxed);
        drop(locks);
        if let Some(old) = p.spill {
            self.retire_spill(retirer, old);
        }
        Ok((ptr, count))
    }

    /// Replaces the spilled hit `p` (in the array `spill`) by `new` (same
    /// key: the version stays). `Err` gives `new` back if the spill or the
    /// table changed.
    #[cold]
    #[inline(never)]
    pub(super) fn spill_replace<G: Guard>(
        &self,
        retirer: &G,
        t: &Table<K, V>,
        p: &Probe<'_, K, V>,
        spill: Shared<'_, Spill<K, V>>,
        new: Pending<K, V>,
    ) -> Result<*mut Entry<K, V>, Pending<K, V>>
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        let mut fresh = spill.items.to_vec();
        let old = fresh[p.spill_idx].1;
        fresh[p.spill_idx].1 = new.ptr.as_ptr();
        let fresh = alloc(fresh);
        let held = SegLock::new(&t.segs[t.seg_of(p.home)]);
        // Release: as in `spill_insert`.
        let swapped = held.is_ok()
            && t.spill
                .compare_exchange(spill.as_ptr(), fresh, Release, Relaxed)
                .is_ok();
        if !swapped {
            drop(held);
            // SAFETY: never published.
            unsafe { free(fresh) };
            return Err(new);
        }
        let _ = new.link();
        drop(held);
        self.retire_spill(retirer, spill);
        Ok(old)
    }

    /// Unlinks the spilled hit `p` (in the array `spill`).
    #[cold]
    #[inline(never)]
    pub(super) fn spill_remove<G: Guard>(
        &self,
        retirer: &G,
        t: &Table<K, V>,
        p: &Probe<'_, K, V>,
        spill: Shared<'_, Spill<K, V>>,
    ) -> Result<*mut Entry<K, V>, Retry>
    where
        K: Send + 'static,
        V: Send + 'static,
    {
        let mut fresh = spill.items.to_vec();
        let (_, old) = fresh.remove(p.spill_idx);
        let fresh = alloc(fresh);
        let home_seg = t.seg_of(p.home);
        let mut locks = Locks::new(t, home_seg);
        let swapped = locks.extend_to(home_seg).is_ok() && {
            locks.begin_write(home_seg, home_seg);
            // Release: as in `spill_insert` (readers that see the shorter
            // array see the odd version before it).
            t.spill
                .compare_exchange(spill.as_ptr(), fresh, Release, Relaxed)
                .is_ok()
        };
        if !swapped {
            drop(locks);
            // SAFETY: never published.
            unsafe { free(fresh) };
            return Err(Retry::Again);
        }
        let seg = &t.segs[home_seg];
        // Relaxed: the count is written only under this segment's lock.
        seg.count.store(seg.count.load(Relaxed) - 1, Relaxed);
        drop(locks);
        self.retire_spill(retirer, spill);
        Ok(old)
    }

    /// Retires the array a writer just replaced (no lock held). The
    /// writer's spill slot still protects it until the operation returns,
    /// which only delays its reclamation.
    fn retire_spill<G: Guard>(&self, retirer: &G, old: Shared<'_, Spill<K, V>>) {
        // SAFETY: (1) our CAS replaced it in its table's `spill`, the only
        // place it was reachable from, (2) only the CAS winner retires it,
        // (3) RawMap contract, (4) `drop_spill` frees a box of plain (hash,
        // pointer) pairs, on any thread, at any time.
        unsafe { retirer.retire(old.as_ptr().cast(), drop_spill::<K, V>) };
    }
}

/// Marks the branch that calls it as unlikely (a table has a spill only
/// under a degenerate hasher).
#[cold]
#[inline(never)]
fn spill_is_rare() {}

/// The pointer a CAS on `Table::spill` expects for the array `sp`.
#[inline]
fn as_mut_ptr<K, V>(sp: Option<Shared<'_, Spill<K, V>>>) -> *mut Spill<K, V> {
    sp.map_or(core::ptr::null_mut(), |a| a.as_ptr())
}

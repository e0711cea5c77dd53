//! Unit tests of the map (single-threaded semantics and invariants; the
//! concurrent ones live in `tests/`).

use super::*;
use crate::reclaim::Hazard;
use crate::testing::map::check_invariants;
use core::hash::{BuildHasher, Hasher};

/// Runs a generic test body under Epoch and under a private Hazard domain
/// (private: dropped with the map, so Miri's leak check passes without
/// flags; Epoch needs `-Zmiri-ignore-leaks`, and `-Zmiri-tree-borrows`
/// because crossbeam-epoch's participant list is not Stacked-Borrows clean,
/// crossbeam-rs/crossbeam#996).
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn epoch() {
                super::$name(crate::reclaim::Epoch::new);
            }
            #[test]
            fn hazard() {
                super::$name(crate::reclaim::Hazard::private);
            }
        }
    )*};
}

both!(
    insert_get_remove_round_trip,
    collisions_shift_and_shift_back,
    replace_keeps_old_entry_alive,
    grows_and_keeps_everything,
    overflowing_cluster_grows_the_tail,
    clear_iter_retain_update,
    handle_round_trip,
);

/// Not under miri: a spill needs more than 255 keys in one probe run, and
/// inserting them is quadratic (each insert probes and shifts the whole
/// run), which took over 8 minutes per reclaimer under miri's interpreter
/// in CI. Natively both run in every `cargo test`; the spill's concurrent
/// protocol is model-checked by loom (`loom-tests/map.rs`) and fuzzed
/// (`fuzz/fuzz_targets/map.rs`, an all-colliding hasher).
mod every_key_alike_spills {
    #[test]
    #[cfg_attr(miri, ignore = "quadratic under miri (> 8 min); runs natively")]
    fn epoch() {
        super::every_key_alike_spills(crate::reclaim::Epoch::new);
    }
    #[test]
    #[cfg_attr(miri, ignore = "quadratic under miri (> 8 min); runs natively")]
    fn hazard() {
        super::every_key_alike_spills(crate::reclaim::Hazard::private);
    }
}

/// `check_invariants` is a safe function: it must be sound (and its checks
/// exact) while other threads write, on a domain where every retire scans
/// (so a replaced entry is freed as soon as nobody protects it).
mod check_invariants_while_writing {
    #[test]
    fn epoch() {
        super::check_invariants_while_writing(crate::reclaim::Epoch::new);
    }
    #[test]
    fn hazard() {
        super::check_invariants_while_writing(|| crate::reclaim::Hazard::with_threshold(1));
    }
}

fn new_map<K, V, S, R: Reclaim>(hasher: S, r: fn() -> R) -> HashMap<K, V, S, R> {
    HashMap::with_capacity_hasher_and_reclaimer(0, hasher, r())
}

/// A hasher whose hash is the key's `u64` value itself, so tests place
/// keys at chosen homes: home = top `log2` bits.
#[derive(Clone, Copy, Default, Debug)]
struct Ident;
struct IdentHasher(u64);
impl Hasher for IdentHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = self.0 << 8 | u64::from(x);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}
impl BuildHasher for Ident {
    type Hasher = IdentHasher;
    fn build_hasher(&self) -> IdentHasher {
        IdentHasher(0)
    }
}

/// A key whose hash puts it at `home` of a 2^`log2` table, distinguished
/// by `tag` in the low bits.
fn at(home: u64, log2: u32, tag: u64) -> u64 {
    home << (64 - log2) | tag
}

fn n(full: usize) -> usize {
    if cfg!(miri) {
        full.min(64)
    } else {
        full
    }
}

fn insert_get_remove_round_trip<R: Reclaim>(r: fn() -> R) {
    let map = new_map(RandomState::new(), r);
    for i in 0..n(1000) as u64 {
        assert!(map.insert(i, i * 2).is_none());
        check_invariants(&map);
    }
    for i in 0..n(1000) as u64 {
        assert_eq!(*map.get(&i).unwrap(), i * 2);
    }
    assert_eq!(map.len(), n(1000));
    for i in (0..n(1000) as u64).step_by(2) {
        assert_eq!(*map.remove(&i).unwrap(), i * 2);
        check_invariants(&map);
    }
    for i in 0..n(1000) as u64 {
        assert_eq!(map.contains_key(&i), i % 2 == 1);
    }
    assert_eq!(map.len(), n(1000) / 2);
}

fn collisions_shift_and_shift_back<R: Reclaim>(r: fn() -> R) {
    // All keys at home 1 of a 4-slot table: a run, then removals from its
    // middle shift the rest back.
    let map: HashMap<u64, u64, Ident, R> = new_map(Ident, r);
    let log2 = map.probe_stats().home_slots.trailing_zeros();
    let keys: Vec<u64> = (1..=3).map(|t| at(1, log2, t)).collect();
    for &k in &keys {
        map.insert(k, k);
        check_invariants(&map);
    }
    assert_eq!(map.probe_stats().max_distance, 2);
    assert_eq!(*map.remove(&keys[0]).unwrap(), keys[0]);
    check_invariants(&map);
    assert_eq!(map.probe_stats().max_distance, 1);
    for &k in &keys[1..] {
        assert_eq!(*map.get(&k).unwrap(), k);
    }
    // A key homed later is displaced by an earlier-homed insert.
    let later = at(2, log2, 9);
    map.insert(later, 0);
    map.insert(at(1, log2, 7), 0);
    check_invariants(&map);
    assert!(map.contains_key(&later));
}

fn replace_keeps_old_entry_alive<R: Reclaim>(r: fn() -> R) {
    let map = new_map(RandomState::new(), r);
    map.insert(1, String::from("a"));
    let old = map.insert(1, String::from("b")).unwrap();
    assert_eq!(&*old, "a");
    assert_eq!(&*map.get(&1).unwrap(), "b");
    assert_eq!(map.len(), 1);
}

fn grows_and_keeps_everything<R: Reclaim>(r: fn() -> R) {
    let map = new_map(RandomState::new(), r);
    let cap0 = map.capacity();
    for i in 0..n(5000) as u64 {
        map.insert(i, i);
    }
    assert!(map.capacity() > cap0);
    check_invariants(&map);
    assert_eq!(map.len(), n(5000));
    for i in 0..n(5000) as u64 {
        assert_eq!(*map.get(&i).unwrap(), i);
    }
    assert!(map.probe_stats().load_factor <= DEFAULT_MAX_LOAD + 0.01);
}

fn overflowing_cluster_grows_the_tail<R: Reclaim>(r: fn() -> R) {
    // Every key has hash 0: one run from home 0. Beyond the default tail
    // the table takes the long tail instead of doubling forever.
    #[derive(Clone, Default)]
    struct Zero;
    impl BuildHasher for Zero {
        type Hasher = IdentHasher;
        fn build_hasher(&self) -> IdentHasher {
            IdentHasher(0)
        }
    }
    #[derive(PartialEq, Eq, Debug)]
    struct K(u32);
    impl core::hash::Hash for K {
        fn hash<H: Hasher>(&self, _: &mut H) {}
    }
    let map: HashMap<K, u32, Zero, R> = new_map(Zero, r);
    let count = n(100) as u32;
    for i in 0..count {
        map.insert(K(i), i);
    }
    check_invariants(&map);
    for i in 0..count {
        assert_eq!(*map.get(&K(i)).unwrap(), i);
    }
    let s = map.probe_stats();
    // One run of `count` entries; the table grew for load (2^7 holds 100
    // at 0.875) and at most once more for the overflow, not without bound.
    assert_eq!(s.max_distance, count as usize - 1);
    assert!(s.home_slots <= 256, "{s:?}");
}

fn clear_iter_retain_update<R: Reclaim>(r: fn() -> R) {
    let map: HashMap<u32, u32, RandomState, R> = new_map(RandomState::new(), r);
    (&map).extend((0..n(300) as u32).map(|i| (i, i)));
    let mut seen: Vec<u32> = map.iter().map(|r| *r.key()).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..n(300) as u32).collect::<Vec<_>>());
    map.retain(|k, _| k % 3 == 0);
    check_invariants(&map);
    assert_eq!(map.len(), n(300).div_ceil(3));
    assert!(map.update(&3, |v| v + 100));
    assert_eq!(map.get_cloned(&3), Some(103));
    map.clear();
    check_invariants(&map);
    assert!(map.is_empty());
    assert_eq!(map.iter().count(), 0);
}

fn handle_round_trip<R: Reclaim>(r: fn() -> R) {
    let map = new_map(RandomState::new(), r);
    let mut h = map.handle();
    assert!(h.is_empty());
    for i in 0..n(1000) as u64 {
        assert_eq!(h.insert(i, i), None);
        assert_eq!(h.get(&i), Some(&i));
    }
    assert_eq!(h.len(), n(1000));
    assert_eq!(h.insert(5, 50), Some(&5));
    assert!(h.update(&5, |v| v + 1));
    assert_eq!(h.remove(&5), Some(&51));
    assert!(!h.contains_key(&5));
    assert_eq!(*h.get_or_insert_with(5, || 6), 6);
    assert_eq!(*h.get_or_insert_with(5, || unreachable!()), 6);
    h.refresh();
    assert_eq!(h.len(), n(1000));
    drop(h);
    check_invariants(&map);
}

/// A map on a private Hazard domain (exact reclamation counts) holding key
/// 1, and a handle whose guard protects that entry after a `get`; the entry
/// is then removed through the map, so only the handle keeps it alive.
fn handle_protecting_a_removed_entry(
    map: &HashMap<u64, u64, RandomState, Hazard>,
) -> MapHandle<'_, u64, u64, RandomState, Hazard> {
    map.insert(1, 1);
    let mut h = map.handle();
    assert_eq!(h.get(&1), Some(&1));
    assert!(map.remove(&1).is_some());
    map.reclaimer().flush();
    assert_eq!(map.reclaimer().stats().pending, 1, "the handle protects it");
    h
}

/// `refresh` releases what the handle's guard protects.
mod handle_refresh_releases {
    use super::*;

    #[test]
    fn hazard() {
        let map = new_map(RandomState::new(), Hazard::private);
        let mut h = handle_protecting_a_removed_entry(&map);
        h.refresh();
        map.reclaimer().flush();
        assert_eq!(map.reclaimer().stats().pending, 0);
    }
}

/// Every operation through the handle counts toward its refresh, `len`
/// and `is_empty` included: the `REFRESH_EVERY`th one releases the entry.
mod handle_counts_every_operation {
    use super::*;

    #[test]
    fn hazard() {
        let map = new_map(RandomState::new(), Hazard::private);
        let mut h = handle_protecting_a_removed_entry(&map);
        // The `get` was the first operation.
        let every = MapHandle::<u64, u64, RandomState, Hazard>::REFRESH_EVERY;
        for _ in 1..every - 1 {
            assert!(h.is_empty());
        }
        map.reclaimer().flush();
        assert_eq!(map.reclaimer().stats().pending, 1, "no refresh yet");
        assert_eq!(h.len(), 0);
        map.reclaimer().flush();
        assert_eq!(map.reclaimer().stats().pending, 0, "refreshed");
    }
}

fn check_invariants_while_writing<R: Reclaim>(r: fn() -> R) {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let map: HashMap<u64, u64, RandomState, R> = new_map(RandomState::new(), r);
    let (keys, rounds) = if cfg!(miri) { (6, 12) } else { (300, 60) };
    let done = AtomicBool::new(false);
    let checks = std::thread::scope(|s| {
        s.spawn(|| {
            // Round 0 inserts (and grows); the first half of the rounds only
            // replaces entries in place (freed at once unless protected); in
            // the second half odd rounds also remove a third of the keys
            // (backward shifts) and the next round inserts them again.
            for round in 0..rounds {
                for k in 0..keys {
                    map.insert(k, round);
                    if round >= rounds / 2 && round % 2 == 1 && round + 1 < rounds && k % 3 == 0 {
                        map.remove(&k);
                    }
                }
            }
            done.store(true, Relaxed);
        });
        let mut checks = 0u32;
        loop {
            let last = done.load(Relaxed);
            check_invariants(&map);
            checks += 1;
            if last {
                break checks;
            }
        }
    });
    assert!(checks >= 1);
    check_invariants(&map);
    assert_eq!(map.len(), keys as usize);
    for k in 0..keys {
        assert_eq!(map.get_cloned(&k), Some(rounds - 1));
    }
}

fn every_key_alike_spills<R: Reclaim>(r: fn() -> R) {
    // Every key hashes alike: past the longest run (255) the rest goes to
    // the spill, through growth; all operations still work.
    #[derive(Clone, Default)]
    struct Same;
    impl BuildHasher for Same {
        type Hasher = IdentHasher;
        fn build_hasher(&self) -> IdentHasher {
            IdentHasher(0x8000_0000_0000_0001)
        }
    }
    #[derive(PartialEq, Eq, Debug, Clone)]
    struct K(u32);
    impl core::hash::Hash for K {
        fn hash<H: Hasher>(&self, _: &mut H) {}
    }
    let map: HashMap<K, u32, Same, R> = new_map(Same, r);
    let n = 300;
    for i in 0..n {
        assert!(map.insert(K(i), i).is_none());
    }
    check_invariants(&map);
    let s = map.probe_stats();
    assert_eq!((s.len, s.max_distance), (n as usize, 255));
    assert_eq!(s.spilled, n as usize - 256);
    for i in 0..n {
        assert_eq!(map.get_cloned(&K(i)), Some(i));
    }
    assert_eq!(*map.insert(K(n - 1), 7).unwrap(), n - 1); // spilled
    assert!(map.update(&K(n - 2), |v| v + 1));
    assert_eq!(*map.remove(&K(n - 3)).unwrap(), n - 3);
    assert_eq!(*map.remove(&K(0)).unwrap(), 0); // from the run
    check_invariants(&map);
    assert_eq!(map.get_cloned(&K(n - 1)), Some(7));
    assert_eq!(map.get_cloned(&K(n - 2)), Some(n - 1));
    assert!(!map.contains_key(&K(n - 3)) && !map.contains_key(&K(0)));
    assert_eq!(map.len(), n as usize - 2);
    let mut keys: Vec<u32> = map.iter().map(|r| r.key().0).collect();
    keys.sort_unstable();
    let want: Vec<u32> = (1..n).filter(|&i| i != n - 3).collect();
    assert_eq!(keys, want);
    map.clear();
    check_invariants(&map);
    assert!(map.is_empty() && map.probe_stats().spilled == 0);
}

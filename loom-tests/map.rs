//! Loom models of `cds::HashMap`: a 4-slot table (two segments of two
//! slots under loom, tail of 4), two threads, a few operations each, under
//! both reclaimers. An identity hasher puts keys at chosen homes (the top
//! two bits), so the models force shifts, backward shifts and growth.
//!
//! Run one with
//! `RUSTFLAGS="--cfg loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release --test loom map::`.

use std::hash::{BuildHasher, Hasher};

use cds::reclaim::{Epoch, Hazard, Reclaim};
use cds::testing::map::check_invariants;
use cds::HashMap;
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;

#[derive(Clone, Copy, Default)]
struct Ident;
struct IdentHasher(u64);
impl Hasher for IdentHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("u64 keys only")
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

/// A key homed at `home` (0..4) of the first table, told apart by `tag`.
fn at(home: u64, tag: u64) -> u64 {
    home << 62 | tag
}

type Map<R> = HashMap<u64, u64, Ident, R>;

fn map<R: Reclaim>(r: R) -> Arc<Map<R>> {
    let m = HashMap::with_capacity_hasher_and_reclaimer(0, Ident, r);
    assert_eq!(m.probe_stats().home_slots, 4);
    Arc::new(m)
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// Both reclaimers: Epoch (crossbeam on loom) and a private Hazard domain
/// with threshold 1 (every retire scans).
fn both(body: fn(Arc<Map<Epoch>>), hbody: fn(Arc<Map<Hazard>>)) {
    model(move || body(map(Epoch::new())));
    model(move || hbody(map(Hazard::with_threshold(1))));
}

/// Insert shifting a run vs a get of a key in that run: the key is found.
fn insert_vs_get_across_shift<R: Reclaim>(m: Arc<Map<R>>) {
    // Run: [1] home 1 (slot 1), [2] home 2 (slot 2). Inserting another
    // home-1 key steals slot 2 and shifts key 2 to slot 3.
    m.insert(at(1, 1), 1);
    m.insert(at(2, 2), 2);
    let m2 = m.clone();
    let w = thread::spawn(move || {
        m2.insert(at(1, 3), 3);
    });
    assert_eq!(m.get(&at(2, 2)).map(|r| *r), Some(2));
    w.join().unwrap();
    assert_eq!(m.get(&at(1, 3)).map(|r| *r), Some(3));
    check_invariants(&m);
}

#[test]
fn insert_vs_get_across_shift_model() {
    both(insert_vs_get_across_shift, insert_vs_get_across_shift);
}

/// Remove shifting a run back vs a get of a shifted key: found, and the
/// removed key's value read through a `Ref` is intact.
fn remove_vs_get<R: Reclaim>(m: Arc<Map<R>>) {
    m.insert(at(1, 1), 1);
    m.insert(at(1, 2), 2);
    let m2 = m.clone();
    let w = thread::spawn(move || {
        assert_eq!(m2.remove(&at(1, 1)).map(|r| *r), Some(1));
    });
    assert_eq!(m.get(&at(1, 2)).map(|r| *r), Some(2));
    if let Some(r) = m.get(&at(1, 1)) {
        assert_eq!(*r, 1);
    }
    w.join().unwrap();
    check_invariants(&m);
}

#[test]
fn remove_vs_get_model() {
    both(remove_vs_get, remove_vs_get);
}

/// Two inserts of one key: one of them sees the other's value, one entry.
fn concurrent_inserts_one_key<R: Reclaim>(m: Arc<Map<R>>) {
    let m2 = m.clone();
    let w = thread::spawn(move || m2.insert(at(2, 7), 1).map(|r| *r));
    let mine = m.insert(at(2, 7), 2).map(|r| *r);
    let theirs = w.join().unwrap();
    let last = *m.get(&at(2, 7)).unwrap();
    match (mine, theirs) {
        (None, Some(2)) => assert_eq!(last, 1),
        (Some(1), None) => assert_eq!(last, 2),
        other => panic!("not linearizable: {other:?}"),
    }
    assert_eq!(m.len(), 1);
}

#[test]
fn concurrent_inserts_one_key_model() {
    both(concurrent_inserts_one_key, concurrent_inserts_one_key);
}

/// A get racing the growth triggered by the insert that reaches the load
/// limit (3 of 4 slots): the existing key is found.
fn get_during_growth<R: Reclaim>(m: Arc<Map<R>>) {
    m.insert(at(0, 1), 1);
    m.insert(at(3, 2), 2);
    let m2 = m.clone();
    let w = thread::spawn(move || {
        m2.insert(at(2, 3), 3);
    });
    assert_eq!(m.get(&at(3, 2)).map(|r| *r), Some(2));
    w.join().unwrap();
    assert!(
        m.probe_stats().home_slots > 4,
        "the third insert grows the table"
    );
    assert_eq!(m.get(&at(2, 3)).map(|r| *r), Some(3));
}

#[test]
fn get_during_growth_model() {
    both(get_during_growth, get_during_growth);
}

/// A value that records its destruction.
struct Tracked(u64, Arc<AtomicBool>);
impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.store(true, SeqCst);
    }
}

/// Hazard witness, threshold 1 and explicit passes: a reader holding a
/// `Ref` to an entry that another thread replaces never sees it freed.
#[test]
fn hazard_witness_threshold_1() {
    model(|| {
        let m: Arc<HashMap<u64, Tracked, Ident, Hazard>> = Arc::new(
            HashMap::with_capacity_hasher_and_reclaimer(0, Ident, Hazard::with_threshold(1)),
        );
        let freed = [
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        ];
        m.insert(at(1, 1), Tracked(0, freed[0].clone()));
        let m2 = m.clone();
        let f1 = freed[1].clone();
        let w = thread::spawn(move || {
            drop(m2.insert(at(1, 1), Tracked(1, f1)));
            // A pass now (the threshold alone waits for k·H·MAX_SLOTS).
            m2.reclaimer().flush();
            drop(m2.remove(&at(1, 1)));
            m2.reclaimer().flush();
        });
        if let Some(r) = m.get(&at(1, 1)) {
            let v = r.0 as usize;
            assert!(
                !freed[v].load(SeqCst),
                "entry freed while a Ref protects it"
            );
        }
        w.join().unwrap();
    });
}

/// Hazard witness across growth: the witness must include `table == T`.
/// An entry still in a frozen table may already be removed from the new
/// table and freed; a reader finishing on the frozen table must not
/// protect it.
#[test]
fn hazard_witness_frozen_table() {
    model(|| {
        let m: Arc<HashMap<u64, Tracked, Ident, Hazard>> = Arc::new(
            HashMap::with_capacity_hasher_and_reclaimer(0, Ident, Hazard::with_threshold(1)),
        );
        let freed = Arc::new(AtomicBool::new(false));
        m.insert(at(1, 1), Tracked(0, freed.clone()));
        m.insert(at(3, 1), Tracked(1, Arc::new(AtomicBool::new(false))));
        let m2 = m.clone();
        let w = thread::spawn(move || {
            // The third entry grows the table; then the first is removed
            // from the new one and reclaimed.
            m2.insert(at(2, 1), Tracked(2, Arc::new(AtomicBool::new(false))));
            drop(m2.remove(&at(1, 1)));
            m2.reclaimer().flush();
        });
        if let Some(r) = m.get(&at(1, 1)) {
            assert_eq!(r.0, 0);
            assert!(!freed.load(SeqCst), "entry freed while a Ref protects it");
        }
        w.join().unwrap();
    });
}

/// Message passing: a successful `get` synchronizes-with the `insert` whose
/// entry it saw (a Relaxed write before the insert is visible after it).
fn message_passing<R: Reclaim>(m: Arc<Map<R>>) {
    let data = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
    let (m2, d2) = (m.clone(), data.clone());
    let w = thread::spawn(move || {
        d2.store(42, loom::sync::atomic::Ordering::Relaxed);
        m2.insert(at(2, 1), 1);
    });
    if m.get(&at(2, 1)).is_some() {
        assert_eq!(data.load(loom::sync::atomic::Ordering::Relaxed), 42);
    }
    w.join().unwrap();
}

#[test]
fn message_passing_model() {
    both(message_passing, message_passing);
}

/// A 32-slot table (16 loom segments of two homes, tail of 4) whose last
/// home holds a full run: five keys at home 31 fill slots 31..=35 (the
/// longest distance loom allows), so a sixth key homed there goes to the
/// spill (the table is far below a quarter of its maximum load).
fn full_run_map<R: Reclaim>(r: R) -> Arc<Map<R>> {
    let m = HashMap::with_capacity_hasher_and_reclaimer(20, Ident, r);
    assert_eq!(m.probe_stats().home_slots, 32);
    for tag in 1..=5 {
        m.insert(last_home(tag), tag);
    }
    assert_eq!(m.probe_stats().spilled, 0);
    Arc::new(m)
}

/// A key homed at the last home (31) of the 32-slot table.
fn last_home(tag: u64) -> u64 {
    31 << 59 | tag
}

/// As [`model`], allowing the longer executions of the 32-slot table (its
/// set-up alone takes hundreds of atomic operations: loom's default is a
/// thousand branches per execution).
fn big_model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.max_branches = 20_000;
    b.check(f);
}

/// Both reclaimers, on [`full_run_map`].
fn both_full(body: fn(Arc<Map<Epoch>>), hbody: fn(Arc<Map<Hazard>>)) {
    big_model(move || body(full_run_map(Epoch::new())));
    big_model(move || hbody(full_run_map(Hazard::with_threshold(1))));
}

/// Two inserts of one key that fits only in the spill: one entry, and
/// one of them sees the other's value.
fn spill_inserts_one_key<R: Reclaim>(m: Arc<Map<R>>) {
    let k = last_home(9);
    let m2 = m.clone();
    let w = thread::spawn(move || m2.insert(k, 1).map(|r| *r));
    let mine = m.insert(k, 2).map(|r| *r);
    let theirs = w.join().unwrap();
    let last = *m.get(&k).unwrap();
    match (mine, theirs) {
        (None, Some(2)) => assert_eq!(last, 1),
        (Some(1), None) => assert_eq!(last, 2),
        other => panic!("not linearizable: {other:?}"),
    }
    assert_eq!(m.len(), 6);
    assert_eq!(m.probe_stats().spilled, 1);
    check_invariants(&m);
}

#[test]
fn spill_inserts_one_key_model() {
    both_full(spill_inserts_one_key, spill_inserts_one_key);
}

/// An insert headed for the spill races a removal that makes room in the
/// run, and a reader: the new key ends up exactly once (in the run or the
/// spill), the run's other keys are found throughout.
fn spill_insert_vs_run_remove<R: Reclaim>(m: Arc<Map<R>>) {
    let k = last_home(9);
    let m2 = m.clone();
    let w = thread::spawn(move || {
        assert!(m2.insert(k, 9).is_none());
    });
    assert_eq!(m.remove(&last_home(1)).map(|r| *r), Some(1));
    assert_eq!(m.get(&last_home(5)).map(|r| *r), Some(5));
    w.join().unwrap();
    assert_eq!(m.get(&k).map(|r| *r), Some(9));
    assert_eq!(m.len(), 5);
    check_invariants(&m);
}

#[test]
fn spill_insert_vs_run_remove_model() {
    both_full(spill_insert_vs_run_remove, spill_insert_vs_run_remove);
}

/// A reader of a spilled key racing its replacement and removal: it sees
/// the old value, the new one or nothing, and, under `Hazard`, a `Ref` it
/// holds is never freed under it.
#[test]
fn spill_witness_threshold_1() {
    big_model(|| {
        let m: Arc<HashMap<u64, Tracked, Ident, Hazard>> = Arc::new(
            HashMap::with_capacity_hasher_and_reclaimer(20, Ident, Hazard::with_threshold(1)),
        );
        for tag in 1..=5 {
            m.insert(last_home(tag), Tracked(9, Arc::new(AtomicBool::new(false))));
        }
        let k = last_home(7);
        let freed = [
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        ];
        m.insert(k, Tracked(0, freed[0].clone()));
        assert_eq!(m.probe_stats().spilled, 1);
        let m2 = m.clone();
        let f1 = freed[1].clone();
        let w = thread::spawn(move || {
            drop(m2.insert(k, Tracked(1, f1)));
            m2.reclaimer().flush();
            drop(m2.remove(&k));
            m2.reclaimer().flush();
        });
        if let Some(r) = m.get(&k) {
            let v = r.0 as usize;
            assert!(
                !freed[v].load(SeqCst),
                "entry freed while a Ref protects it"
            );
        }
        w.join().unwrap();
        check_invariants(&m);
    });
}

/// `check_invariants` racing a replacement and a removal (backward shift):
/// it locks every segment, so it sees a consistent table and never reports
/// a broken invariant.
fn check_invariants_vs_writer<R: Reclaim>(m: Arc<Map<R>>) {
    m.insert(at(1, 1), 1);
    m.insert(at(1, 2), 2);
    let m2 = m.clone();
    let w = thread::spawn(move || {
        m2.insert(at(1, 2), 3);
        m2.remove(&at(1, 1));
    });
    check_invariants(&m);
    w.join().unwrap();
    assert_eq!(m.get(&at(1, 2)).map(|r| *r), Some(3));
}

#[test]
fn check_invariants_vs_writer_model() {
    both(check_invariants_vs_writer, check_invariants_vs_writer);
}

//! Linearizability of `cds::HashMap` on small recorded histories.
//!
//! Each round, two threads released together by a spin barrier run four
//! random operations each on a map with two or three keys (under a hasher
//! that sends every key to one home, so every insert and removal shifts the
//! run, and under std's hasher). Every operation records a logical clock
//! value (one shared atomic counter) at its call and at its return. A
//! brute-force search (Wing & Gong) then looks for a sequential order that
//! respects real time (an operation that returned before another was called
//! comes first) and in which std's `HashMap` returns exactly what ours did.
//! The test counts the rounds in which operations of different threads
//! overlapped and runs more batches of rounds until 30% of one batch's
//! worth overlapped (`lin::require_overlap`: on a loaded machine the threads
//! may rarely run at once): a history without overlap proves nothing.
//!
//! A map-specific checker: the generic one (`tests/lin/mod.rs`) was not on
//! `main` when this was written.

use std::collections::hash_map::RandomState;
use std::collections::HashMap as StdMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};

use cds::reclaim::{Epoch, Hazard, Reclaim};
use cds::testing::map::check_invariants;
use cds::HashMap;

mod lin;

#[derive(Clone, Copy, Debug)]
enum Op {
    Insert(u8, u32),
    Get(u8),
    Remove(u8),
    Update(u8),
    GetOrInsert(u8, u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ret {
    Val(Option<u32>),
    Bool(bool),
}

#[derive(Clone, Copy, Debug)]
struct Event {
    thread: usize,
    call: u64,
    ret: u64,
    op: Op,
    res: Ret,
}

/// The sequential specification.
fn apply_std(m: &mut StdMap<u8, u32>, op: Op) -> Ret {
    match op {
        Op::Insert(k, v) => Ret::Val(m.insert(k, v)),
        Op::Get(k) => Ret::Val(m.get(&k).copied()),
        Op::Remove(k) => Ret::Val(m.remove(&k)),
        Op::Update(k) => Ret::Bool(m.get_mut(&k).map(|v| *v += 1).is_some()),
        Op::GetOrInsert(k, v) => Ret::Val(Some(*m.entry(k).or_insert(v))),
    }
}

fn apply_ours<S: BuildHasher, R: Reclaim>(m: &HashMap<u8, u32, S, R>, op: Op) -> Ret {
    match op {
        Op::Insert(k, v) => Ret::Val(m.insert(k, v).map(|r| *r)),
        Op::Get(k) => Ret::Val(m.get(&k).map(|r| *r)),
        Op::Remove(k) => Ret::Val(m.remove(&k).map(|r| *r)),
        Op::Update(k) => Ret::Bool(m.update(&k, |v| v + 1)),
        Op::GetOrInsert(k, v) => Ret::Val(Some(*m.get_or_insert_with(k, || v))),
    }
}

/// Wing & Gong: is there a real-time-respecting order explaining `events`?
fn linearizable(events: &[Event], state: &StdMap<u8, u32>, done: u32) -> bool {
    if done.count_ones() as usize == events.len() {
        return true;
    }
    for (i, e) in events.iter().enumerate() {
        if done & 1 << i != 0 {
            continue;
        }
        // `e` may go next only if no pending operation returned before it
        // was called.
        let minimal = events
            .iter()
            .enumerate()
            .all(|(j, f)| j == i || done & 1 << j != 0 || f.ret > e.call);
        if !minimal {
            continue;
        }
        let mut next = state.clone();
        if apply_std(&mut next, e.op) == e.res && linearizable(events, &next, done | 1 << i) {
            return true;
        }
    }
    false
}

fn overlapping(events: &[Event]) -> bool {
    events.iter().any(|a| {
        events
            .iter()
            .any(|b| a.thread != b.thread && a.call < b.ret && b.call < a.ret)
    })
}

/// Every key hashes alike: one run, shifted by every insert and removal.
#[derive(Clone, Copy, Default)]
struct Colliding;
struct CollidingHasher;
impl Hasher for CollidingHasher {
    fn finish(&self) -> u64 {
        0x1234_5678_9abc_def0
    }
    fn write(&mut self, _: &[u8]) {}
}
impl BuildHasher for Colliding {
    type Hasher = CollidingHasher;
    fn build_hasher(&self) -> CollidingHasher {
        CollidingHasher
    }
}

const THREADS: usize = 2;
const OPS: usize = 4;

fn random_op(x: &mut u64, tid: usize, i: usize) -> Op {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    let k = (*x % 3) as u8;
    let v = (tid * 10 + i) as u32 + 1;
    match (*x >> 8) % 5 {
        0 => Op::Insert(k, v),
        1 => Op::Get(k),
        2 => Op::Remove(k),
        3 => Op::Update(k),
        _ => Op::GetOrInsert(k, v),
    }
}

/// Runs `rounds` rounds on maps from `make`; returns the overlap fraction.
/// The threads persist across rounds and meet at a spin barrier before
/// each one.
fn check<S: BuildHasher + Sync + Send, R: Reclaim>(
    rounds: usize,
    make: &impl Fn() -> HashMap<u8, u32, S, R>,
) -> usize {
    // One check at a time: parallel tests would oversubscribe the cores
    // and serialize the threads, destroying the overlap.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let clock = AtomicU64::new(0);
    let arrived = AtomicUsize::new(0);
    let initial: StdMap<u8, u32> = [(0, 100)].into_iter().collect();
    let maps: Vec<HashMap<u8, u32, S, R>> = (0..rounds)
        .map(|_| {
            let m = make();
            for (&k, &v) in &initial {
                m.insert(k, v);
            }
            m
        })
        .collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let scripts: Vec<Vec<Vec<Op>>> = (0..rounds)
        .map(|_| {
            (0..THREADS)
                .map(|t| (0..OPS).map(|i| random_op(&mut seed, t, i)).collect())
                .collect()
        })
        .collect();
    let per_thread: Vec<Vec<Vec<Event>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|tid| {
                let (maps, scripts, clock, arrived) = (&maps, &scripts, &clock, &arrived);
                s.spawn(move || {
                    let mut out = Vec::with_capacity(maps.len());
                    for (round, map) in maps.iter().enumerate() {
                        // Spin barrier: all threads start within nanoseconds
                        // (yielding only if a thread is descheduled).
                        arrived.fetch_add(1, SeqCst);
                        let mut spins = 0u32;
                        while arrived.load(SeqCst) < (round + 1) * THREADS {
                            std::hint::spin_loop();
                            spins += 1;
                            if spins > 1 << 14 {
                                std::thread::yield_now();
                            }
                        }
                        let events: Vec<Event> = scripts[round][tid]
                            .iter()
                            .map(|&op| {
                                let call = clock.fetch_add(1, SeqCst);
                                let res = apply_ours(map, op);
                                let ret = clock.fetch_add(1, SeqCst);
                                Event {
                                    thread: tid,
                                    call,
                                    ret,
                                    op,
                                    res,
                                }
                            })
                            .collect();
                        out.push(events);
                    }
                    out
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut overlapped = 0;
    for (round, map) in maps.iter().enumerate() {
        let events: Vec<Event> = per_thread
            .iter()
            .flat_map(|t| t[round].iter().copied())
            .collect();
        assert!(
            linearizable(&events, &initial, 0),
            "round {round}: not linearizable: {events:#?}"
        );
        check_invariants(map);
        overlapped += usize::from(overlapping(&events));
    }
    overlapped
}

fn rounds() -> usize {
    if cfg!(miri) {
        5
    } else {
        1500
    }
}

/// Runs batches of `check` (every history must be linearizable) until
/// enough histories overlapped (`lin::require_overlap`).
fn report<S: BuildHasher + Sync + Send, R: Reclaim>(
    name: &str,
    make: impl Fn() -> HashMap<u8, u32, S, R>,
) {
    lin::require_overlap(&format!("lin_map {name}"), rounds(), || {
        check(rounds(), &make)
    });
}

#[test]
fn linearizable_colliding_epoch() {
    report("colliding/Epoch", || {
        HashMap::<u8, u32, Colliding, Epoch>::with_hasher(Colliding)
    });
}

#[test]
fn linearizable_colliding_hazard() {
    report("colliding/Hazard", || {
        HashMap::<u8, u32, Colliding, Hazard>::with_capacity_hasher_and_reclaimer(
            0,
            Colliding,
            Hazard::default(),
        )
    });
}

#[test]
fn linearizable_random_state_epoch() {
    report(
        "RandomState/Epoch",
        HashMap::<u8, u32, RandomState, Epoch>::new,
    );
}

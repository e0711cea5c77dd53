//! Group `map`: the conc-map-bench mixes over 2^14 `u64` keys, every map
//! with std's `RandomState` (SipHash-1-3).
//!
//! - ReadHeavy: 98% get, 1% insert, 1% remove, 0% update; 75% prefill.
//! - Exchange: 10% get, 40% insert, 40% remove, 10% update; 75% prefill.
//! - RapidGrow: 5% get, 80% insert, 5% remove, 10% update; from empty.
//!
//! Every implementation runs the same pre-generated operation script (kind
//! and key per operation, per thread); generating it is not timed.

use std::collections::hash_map::RandomState;
use std::collections::HashMap as StdMap;
use std::hint::black_box;
use std::sync::{Mutex, RwLock};

use cds::reclaim::{Epoch, Hazard};

use crate::harness::{run_parallel, Candidate, Opts, Report};

/// The key space.
pub const KEYS: u64 = 1 << 14;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Get,
    Insert,
    Remove,
    Update,
}

/// A workload: name, percentages (get, insert, remove, update), prefill.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    pub name: &'static str,
    pub pct: [u32; 4],
    pub prefill: f64,
}

pub const MIXES: [Mix; 3] = [
    Mix {
        name: "ReadHeavy 98/1/1/0",
        pct: [98, 1, 1, 0],
        prefill: 0.75,
    },
    Mix {
        name: "Exchange 10/40/40/10",
        pct: [10, 40, 40, 10],
        prefill: 0.75,
    },
    Mix {
        name: "RapidGrow 5/80/5/10",
        pct: [5, 80, 5, 10],
        prefill: 0.0,
    },
];

/// Per-thread scripts of `ops_per_thread` operations.
pub fn scripts(mix: &Mix, threads: usize, ops_per_thread: usize) -> Vec<Vec<(Kind, u64)>> {
    (0..threads)
        .map(|t| {
            let mut x =
                0x9e37_79b9_7f4a_7c15u64 ^ (t as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            (0..ops_per_thread)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let roll = (x % 100) as u32;
                    let key = (x >> 32) % KEYS;
                    let [g, i, r, _] = mix.pct;
                    let kind = if roll < g {
                        Kind::Get
                    } else if roll < g + i {
                        Kind::Insert
                    } else if roll < g + i + r {
                        Kind::Remove
                    } else {
                        Kind::Update
                    };
                    (kind, key)
                })
                .collect()
        })
        .collect()
}

/// One map implementation as the benchmark drives it.
pub trait BenchMap: Sync {
    fn create() -> Self;
    fn prefill(&self, key: u64);
    /// Runs one thread's script.
    fn run(&self, ops: &[(Kind, u64)]);
}

impl BenchMap for Mutex<StdMap<u64, u64, RandomState>> {
    fn create() -> Self {
        Mutex::new(StdMap::with_hasher(RandomState::new()))
    }
    fn prefill(&self, key: u64) {
        self.lock().unwrap().insert(key, key);
    }
    fn run(&self, ops: &[(Kind, u64)]) {
        for &(kind, key) in ops {
            let mut m = self.lock().unwrap();
            match kind {
                Kind::Get => drop(black_box(m.get(&key).copied())),
                Kind::Insert => drop(black_box(m.insert(key, key))),
                Kind::Remove => drop(black_box(m.remove(&key))),
                Kind::Update => {
                    if let Some(v) = m.get_mut(&key) {
                        *v += 1;
                    }
                }
            }
        }
    }
}

impl BenchMap for RwLock<StdMap<u64, u64, RandomState>> {
    fn create() -> Self {
        RwLock::new(StdMap::with_hasher(RandomState::new()))
    }
    fn prefill(&self, key: u64) {
        self.write().unwrap().insert(key, key);
    }
    fn run(&self, ops: &[(Kind, u64)]) {
        for &(kind, key) in ops {
            match kind {
                Kind::Get => drop(black_box(self.read().unwrap().get(&key).copied())),
                Kind::Insert => drop(black_box(self.write().unwrap().insert(key, key))),
                Kind::Remove => drop(black_box(self.write().unwrap().remove(&key))),
                Kind::Update => {
                    if let Some(v) = self.write().unwrap().get_mut(&key) {
                        *v += 1;
                    }
                }
            }
        }
    }
}

impl BenchMap for dashmap::DashMap<u64, u64, RandomState> {
    fn create() -> Self {
        dashmap::DashMap::with_hasher(RandomState::new())
    }
    fn prefill(&self, key: u64) {
        self.insert(key, key);
    }
    fn run(&self, ops: &[(Kind, u64)]) {
        for &(kind, key) in ops {
            match kind {
                Kind::Get => drop(black_box(self.get(&key).map(|r| *r))),
                Kind::Insert => drop(black_box(self.insert(key, key))),
                Kind::Remove => drop(black_box(self.remove(&key))),
                Kind::Update => {
                    if let Some(mut v) = self.get_mut(&key) {
                        *v += 1;
                    }
                }
            }
        }
    }
}

/// papaya with a pin per operation.
pub struct PapayaOp(papaya::HashMap<u64, u64, RandomState>);
/// papaya with one pin per 64 operations.
pub struct PapayaBatch(papaya::HashMap<u64, u64, RandomState>);

fn papaya_op<G: papaya::Guard>(
    m: &papaya::HashMap<u64, u64, RandomState>,
    kind: Kind,
    key: u64,
    g: &G,
) {
    match kind {
        Kind::Get => drop(black_box(m.get(&key, g).copied())),
        Kind::Insert => drop(black_box(m.insert(key, key, g).copied())),
        Kind::Remove => drop(black_box(m.remove(&key, g).copied())),
        Kind::Update => drop(black_box(m.update(key, |v| v + 1, g).copied())),
    }
}

impl BenchMap for PapayaOp {
    fn create() -> Self {
        PapayaOp(papaya::HashMap::with_hasher(RandomState::new()))
    }
    fn prefill(&self, key: u64) {
        self.0.pin().insert(key, key);
    }
    fn run(&self, ops: &[(Kind, u64)]) {
        for &(kind, key) in ops {
            papaya_op(&self.0, kind, key, &self.0.guard());
        }
    }
}

impl BenchMap for PapayaBatch {
    fn create() -> Self {
        PapayaBatch(papaya::HashMap::with_hasher(RandomState::new()))
    }
    fn prefill(&self, key: u64) {
        self.0.pin().insert(key, key);
    }
    fn run(&self, ops: &[(Kind, u64)]) {
        for chunk in ops.chunks(64) {
            let g = self.0.guard();
            for &(kind, key) in chunk {
                papaya_op(&self.0, kind, key, &g);
            }
        }
    }
}

/// Ours, one guard per operation.
pub struct CdsOp<R: cds::reclaim::Reclaim>(cds::HashMap<u64, u64, RandomState, R>);
/// Ours through the amortized handle (`handle()`, one per thread).
pub struct CdsHandle(cds::HashMap<u64, u64, RandomState, Epoch>);

impl<R: cds::reclaim::Reclaim + Default> BenchMap for CdsOp<R> {
    fn create() -> Self {
        CdsOp(cds::HashMap::with_capacity_hasher_and_reclaimer(
            0,
            RandomState::new(),
            R::default(),
        ))
    }
    fn prefill(&self, key: u64) {
        self.0.insert(key, key);
    }
    fn run(&self, ops: &[(Kind, u64)]) {
        for &(kind, key) in ops {
            match kind {
                Kind::Get => drop(black_box(self.0.get(&key).map(|r| *r))),
                Kind::Insert => drop(black_box(self.0.insert(key, key).map(|r| *r))),
                Kind::Remove => drop(black_box(self.0.remove(&key).map(|r| *r))),
                Kind::Update => drop(black_box(self.0.update(&key, |v| v + 1))),
            }
        }
    }
}

impl BenchMap for CdsHandle {
    fn create() -> Self {
        CdsHandle(cds::HashMap::new())
    }
    fn prefill(&self, key: u64) {
        self.0.insert(key, key);
    }
    fn run(&self, ops: &[(Kind, u64)]) {
        let mut h = self.0.handle();
        for &(kind, key) in ops {
            match kind {
                Kind::Get => drop(black_box(h.get(&key).copied())),
                Kind::Insert => drop(black_box(h.insert(key, key).copied())),
                Kind::Remove => drop(black_box(h.remove(&key).copied())),
                Kind::Update => drop(black_box(h.update(&key, |v| v + 1))),
            }
        }
    }
}

/// Builds a fresh map, prefills it (untimed) and runs the scripts on
/// `threads` threads; returns the wall time.
pub fn measure<M: BenchMap>(mix: &Mix, scripts: &[Vec<(Kind, u64)>]) -> std::time::Duration {
    let map = M::create();
    let n = (KEYS as f64 * mix.prefill) as u64;
    for k in 0..n {
        // Spread the prefill over the key space.
        map.prefill(k.wrapping_mul(0x9e37_79b9) % KEYS);
    }
    let d = run_parallel(scripts.len(), |t| map.run(&scripts[t]));
    drop(map);
    d
}

pub fn run(report: &mut Report) {
    let opts: Opts = report.opts.clone();
    let total = opts.ops(1 << 20);
    for mix in &MIXES {
        for threads in opts.thread_counts() {
            let s = scripts(mix, threads, total / threads);
            let ops = (total / threads) * threads;
            let mut cands = [
                Candidate::new("std::sync::Mutex<HashMap>", || {
                    measure::<Mutex<StdMap<u64, u64, RandomState>>>(mix, &s)
                }),
                Candidate::new("std::sync::RwLock<HashMap>", || {
                    measure::<RwLock<StdMap<u64, u64, RandomState>>>(mix, &s)
                }),
                Candidate::new("dashmap::DashMap", || {
                    measure::<dashmap::DashMap<u64, u64, RandomState>>(mix, &s)
                }),
                Candidate::new("papaya::HashMap(pin/op)", || measure::<PapayaOp>(mix, &s)),
                Candidate::new("papaya::HashMap(pin/64)", || {
                    measure::<PapayaBatch>(mix, &s)
                }),
                Candidate::new("cds::HashMap<Epoch>", || measure::<CdsOp<Epoch>>(mix, &s)),
                Candidate::new("cds::HashMap<Epoch>(handle)", || {
                    measure::<CdsHandle>(mix, &s)
                }),
                Candidate::new("cds::HashMap<Hazard>", || measure::<CdsOp<Hazard>>(mix, &s)),
            ];
            report.cell("map", mix.name, threads, ops, &mut cands);
        }
    }
}

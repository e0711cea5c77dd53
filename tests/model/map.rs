//! Model of `cds::HashMap` against `std::collections::HashMap`: one `Op`
//! decoder and one interpreter, fed by quickcheck (`tests/model_map.rs`)
//! and by cargo-fuzz (`fuzz/fuzz_targets/map.rs`).
//!
//! Every op is applied to std's map and to two of ours (std's hasher, and
//! a hasher sending every key to one home, so runs, shifts and the long
//! tail are exercised); every return value must match, and the Robin Hood
//! invariants are checked after every op.
#![allow(dead_code)]

use std::collections::HashMap as StdMap;
use std::hash::{BuildHasher, Hasher};

/// One operation on a map of `u16` keys (mostly a small key space: 0..32,
/// so operations meet the same keys) and `u32` values.
#[derive(Clone, Debug)]
pub enum Op {
    Insert(u16, u32),
    /// Inserts `count` keys from `first` on (wide keys: 32..1152), so
    /// that a sequence crosses growth many times from an empty table.
    InsertMany {
        first: u16,
        count: u16,
    },
    Get(u16),
    Remove(u16),
    Update(u16, u32),
    GetOrInsert(u16, u32),
    Retain(u8),
    Clear,
    Len,
    Iter,
}

/// The most keys one `InsertMany` inserts. Smaller under miri: past 255
/// keys the all-colliding map spills, and every spilled insert scans the
/// whole run and spill, which miri interprets too slowly for CI.
const BULK: u8 = if cfg!(miri) { 8 } else { 128 };

/// Decodes raw bytes into ops: three bytes per op (kind, key, value).
/// One op in ten inserts up to `BULK` wide keys, one in forty clears.
pub fn decode(bytes: &[u8]) -> Vec<Op> {
    bytes
        .chunks_exact(3)
        .map(|c| {
            let (k, v) = (u16::from(c[1] % 32), u32::from(c[2]));
            match c[0] % 40 {
                0..=8 => Op::Insert(k, v),
                9..=14 | 36..=39 => Op::Get(k),
                15..=20 => Op::Remove(k),
                21..=23 => Op::Update(k, v),
                24..=26 => Op::GetOrInsert(k, v),
                27 => Op::Retain(c[2] % 5 + 2),
                28 => Op::Clear,
                29 => Op::Len,
                30..=31 => Op::Iter,
                _ => Op::InsertMany {
                    first: 32 + u16::from(c[1] % 16) * 64,
                    count: 1 + u16::from(c[2] % BULK),
                },
            }
        })
        .collect()
}

/// Every key hashes to the same value (one home, one run).
#[derive(Clone, Default)]
pub struct Colliding;
pub struct CollidingHasher;
impl Hasher for CollidingHasher {
    fn finish(&self) -> u64 {
        0x5bd1_e995_0000_0001
    }
    fn write(&mut self, _: &[u8]) {}
}
impl BuildHasher for Colliding {
    type Hasher = CollidingHasher;
    fn build_hasher(&self) -> CollidingHasher {
        CollidingHasher
    }
}

/// Applies `ops` to std's map and to ours (two hashers, both reclaimers),
/// asserting that every result is equal and the invariants hold after
/// every op. Every map starts with capacity 0, so it grows under the ops;
/// the hazard domains are private (everything is freed when they drop)
/// with threshold 1 (a reclamation pass at every retire).
pub fn check(ops: &[Op]) {
    use cds::reclaim::{Epoch, Hazard};
    use std::collections::hash_map::RandomState;
    run(
        ops,
        &cds::HashMap::<u16, u32, RandomState, Epoch>::with_capacity_hasher_and_reclaimer(
            0,
            RandomState::new(),
            Epoch::new(),
        ),
    );
    let colliding = cds::HashMap::<u16, u32, Colliding, Hazard>::with_capacity_hasher_and_reclaimer(
        0,
        Colliding,
        Hazard::with_threshold(1),
    );
    run(ops, &colliding);
    run(
        ops,
        &cds::HashMap::<u16, u32, RandomState, Hazard>::with_capacity_hasher_and_reclaimer(
            0,
            RandomState::new(),
            Hazard::with_threshold(1),
        ),
    );
}

fn run<S: BuildHasher, R: cds::reclaim::Reclaim>(ops: &[Op], ours: &cds::HashMap<u16, u32, S, R>) {
    let mut std = StdMap::new();
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Insert(k, v) => {
                assert_eq!(
                    ours.insert(k, v).map(|r| *r),
                    std.insert(k, v),
                    "op {i}: {op:?}"
                );
            }
            Op::InsertMany { first, count } => {
                for k in first..first + count {
                    let v = u32::from(k) * 3;
                    assert_eq!(
                        ours.insert(k, v).map(|r| *r),
                        std.insert(k, v),
                        "op {i}: {op:?}, key {k}"
                    );
                }
            }
            Op::Get(k) => {
                assert_eq!(
                    ours.get(&k).map(|r| (*r.key(), *r)),
                    std.get(&k).map(|&v| (k, v)),
                    "op {i}: {op:?}"
                );
            }
            Op::Remove(k) => {
                assert_eq!(
                    ours.remove(&k).map(|r| *r),
                    std.remove(&k),
                    "op {i}: {op:?}"
                );
            }
            Op::Update(k, d) => {
                let expect = std.get_mut(&k).map(|v| *v = v.wrapping_add(d)).is_some();
                assert_eq!(
                    ours.update(&k, |v| v.wrapping_add(d)),
                    expect,
                    "op {i}: {op:?}"
                );
            }
            Op::GetOrInsert(k, v) => {
                let mut ran = false;
                let got = *ours.get_or_insert_with(k, || {
                    ran = true;
                    v
                });
                let fresh = !std.contains_key(&k);
                assert_eq!(got, *std.entry(k).or_insert(v), "op {i}: {op:?}");
                assert_eq!(ran, fresh, "op {i}: closure ran iff absent");
            }
            Op::Retain(m) => {
                ours.retain(|k, v| (u32::from(*k) + v) % u32::from(m) != 0);
                std.retain(|k, v| (u32::from(*k) + *v) % u32::from(m) != 0);
            }
            Op::Clear => {
                ours.clear();
                std.clear();
            }
            Op::Len => assert_eq!(ours.len(), std.len(), "op {i}: {op:?}"),
            Op::Iter => {
                let mut got: Vec<(u16, u32)> = ours.iter().map(|r| (*r.key(), *r)).collect();
                let mut want: Vec<(u16, u32)> = std.iter().map(|(&k, &v)| (k, v)).collect();
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want, "op {i}: {op:?}");
            }
        }
        cds::testing::map::check_invariants(ours);
    }
    assert_eq!(ours.len(), std.len());
}

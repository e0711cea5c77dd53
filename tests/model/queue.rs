//! The `MsQueue` model: one op interpreter shared by the quickcheck test
//! (`tests/model_queue.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/queue.rs`). Every op is applied to ours and to a
//! `VecDeque`, and every return value must match; at the end every value
//! must have been dropped exactly once.
#![allow(dead_code)]

#[path = "../common/reclaimers.rs"]
#[macro_use]
mod reclaimers;

use std::collections::VecDeque;
use std::sync::Arc;

use cds::reclaim::Reclaim;
use cds::MsQueue;

/// One operation on the queue.
#[derive(Clone, Debug)]
pub enum Op {
    Push(u8),
    Pop,
    IsEmpty,
    /// Push `n` values through `Extend`.
    Extend(u8),
    /// Push `n` values, then pop `n` values, through one handle.
    HandleBurst(u8),
    /// Replace the queue by draining `n` values through `IntoIterator` and
    /// collecting the rest into a new queue (`FromIterator`).
    Drain(u8),
}

/// Decodes raw bytes (two per op) into ops.
pub fn decode(bytes: &[u8]) -> Vec<Op> {
    bytes
        .chunks(2)
        .map(|c| {
            let arg = c.get(1).copied().unwrap_or(0);
            match c[0] % 8 {
                0..=2 => Op::Push(arg),
                3 | 4 => Op::Pop,
                5 => Op::IsEmpty,
                6 => match arg % 3 {
                    0 => Op::Extend(arg / 3 % 8),
                    1 => Op::HandleBurst(arg / 3 % 8),
                    _ => Op::Drain(arg / 3 % 8),
                },
                _ => Op::Pop,
            }
        })
        .collect()
}

/// A value that tracks liveness through its token's reference count.
#[derive(Debug)]
struct Val(u32, Arc<()>);

impl PartialEq for Val {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

/// Applies `ops` to ours (under every reclaimer, and under a private
/// hazard domain at threshold 1, which runs a reclamation pass on every
/// retire) and to a `VecDeque`.
pub fn check(ops: &[Op]) {
    for_each_reclaimer!(|mk| check_with(ops, mk));
    check_with(ops, hazard_threshold_1);
}

/// A private hazard domain that reclaims at every retire.
fn hazard_threshold_1() -> cds::reclaim::Hazard {
    cds::reclaim::Hazard::with_threshold(1)
}

/// Applies `ops` to an `MsQueue<_, R>` and to a `VecDeque`.
pub fn check_with<R: Reclaim + Default>(ops: &[Op], mk: fn() -> R) {
    let token = Arc::new(());
    let mut next = 0u32;
    let mut fresh = |v: u8| {
        next += 1;
        Val(next * 256 + u32::from(v), token.clone())
    };
    let mut ours = MsQueue::with_reclaimer(mk());
    let mut model: VecDeque<Val> = VecDeque::new();
    for op in ops {
        match *op {
            Op::Push(v) => {
                let a = fresh(v);
                model.push_back(Val(a.0, a.1.clone()));
                ours.push(a);
            }
            Op::Pop => assert_eq!(ours.pop(), model.pop_front(), "{op:?}"),
            Op::IsEmpty => assert_eq!(ours.is_empty(), model.is_empty(), "{op:?}"),
            Op::Extend(n) => {
                let vals: Vec<Val> = (0..n).map(&mut fresh).collect();
                model.extend(vals.iter().map(|v| Val(v.0, v.1.clone())));
                ours.extend(vals);
            }
            Op::HandleBurst(n) => {
                let mut h = ours.handle();
                for i in 0..n {
                    let a = fresh(i);
                    model.push_back(Val(a.0, a.1.clone()));
                    h.push(a);
                }
                for _ in 0..n {
                    assert_eq!(h.pop(), model.pop_front(), "{op:?}");
                }
                assert_eq!(h.is_empty(), model.is_empty(), "{op:?}");
            }
            Op::Drain(n) => {
                let mut it = ours.into_iter();
                for _ in 0..n {
                    assert_eq!(it.next(), model.pop_front(), "{op:?}");
                }
                ours = it.collect::<MsQueue<Val, R>>();
            }
        }
    }
    assert_eq!(ours.is_empty(), model.is_empty());
    drop(ours);
    drop(model);
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "every value dropped exactly once"
    );
}

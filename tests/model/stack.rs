//! The `TreiberStack` model: one op interpreter shared by the quickcheck
//! test (`tests/model_stack.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/stack.rs`). Every op is applied to ours and to a
//! `Vec`, and every return value must match; at the end every value must
//! have been dropped exactly once.
#![allow(dead_code)]

#[path = "../common/reclaimers.rs"]
#[macro_use]
mod reclaimers;

use std::sync::Arc;

use cds::reclaim::Reclaim;
use cds::TreiberStack;

/// One operation on the stack.
#[derive(Clone, Debug)]
pub enum Op {
    Push(u8),
    Pop,
    IsEmpty,
    /// Push `n` values through `Extend`.
    Extend(u8),
    /// Pop up to `n` values through one handle.
    HandlePops(u8),
    /// Replace the stack by draining `n` values through `IntoIterator` and
    /// collecting the rest into a new stack (`FromIterator`).
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
                    1 => Op::HandlePops(arg / 3 % 8),
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
/// retire) and to a `Vec`.
pub fn check(ops: &[Op]) {
    for_each_reclaimer!(|mk| check_with(ops, mk));
    check_with(ops, hazard_threshold_1);
}

/// A private hazard domain that reclaims at every retire.
fn hazard_threshold_1() -> cds::reclaim::Hazard {
    cds::reclaim::Hazard::with_threshold(1)
}

/// Applies `ops` to a `TreiberStack<_, R>` and to a `Vec`.
pub fn check_with<R: Reclaim + Default>(ops: &[Op], mk: fn() -> R) {
    let token = Arc::new(());
    let mut next = 0u32;
    let mut fresh = |v: u8| {
        next += 1;
        Val(next * 256 + u32::from(v), token.clone())
    };
    let mut ours = TreiberStack::with_reclaimer(mk());
    let mut model: Vec<Val> = Vec::new();
    for op in ops {
        match *op {
            Op::Push(v) => {
                let a = fresh(v);
                model.push(Val(a.0, a.1.clone()));
                ours.push(a);
            }
            Op::Pop => assert_eq!(ours.pop(), model.pop(), "{op:?}"),
            Op::IsEmpty => assert_eq!(ours.is_empty(), model.is_empty(), "{op:?}"),
            Op::Extend(n) => {
                let vals: Vec<Val> = (0..n).map(&mut fresh).collect();
                model.extend(vals.iter().map(|v| Val(v.0, v.1.clone())));
                ours.extend(vals);
            }
            Op::HandlePops(n) => {
                let mut h = ours.handle();
                for _ in 0..n {
                    assert_eq!(h.pop(), model.pop(), "{op:?}");
                }
            }
            Op::Drain(n) => {
                let mut it = ours.into_iter();
                for _ in 0..n {
                    assert_eq!(it.next(), model.pop(), "{op:?}");
                }
                // The rest, in pop order; rebuilt so that the old top is on
                // top again.
                let mut rest: Vec<Val> = it.collect();
                rest.reverse();
                ours = rest.into_iter().collect::<TreiberStack<Val, R>>();
                // `with_reclaimer(mk())` and `R::default()` are the same
                // domain for the reclaimers under test.
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

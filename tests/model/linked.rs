//! The model of `TreiberStack` and `MsQueue`: one op interpreter, generic
//! over the [`Kind`] of structure, shared by the quickcheck tests
//! (`tests/model_stack.rs`, `tests/model_queue.rs`) and the fuzz targets
//! (`fuzz/fuzz_targets/stack.rs`, `queue.rs`). Every op is applied to ours
//! and to a `VecDeque` used as the std model (popped at the back for the
//! stack, as a `Vec`, and at the front for the queue), and every return
//! value must match; at the end every value must have been dropped exactly
//! once.
#![allow(dead_code, unused_macros)]

#[path = "../common/reclaimers.rs"]
#[macro_use]
mod reclaimers;
#[path = "../common/linked.rs"]
mod linked;

use std::collections::VecDeque;
use std::sync::Arc;

use cds::reclaim::Reclaim;
#[allow(unused_imports)] // each binary names one of the kinds
pub use linked::{Faa, Kind, Queue, Stack};
use linked::{Linked, LinkedHandle};

/// One operation on the structure.
#[derive(Clone, Debug)]
pub enum Op {
    Push(u8),
    Pop,
    IsEmpty,
    /// Push `n` values through `Extend`.
    Extend(u8),
    /// Through one handle: push `pushes` values, pop `pops` values, then
    /// ask `is_empty`.
    Handle {
        pushes: u8,
        pops: u8,
    },
    /// Replace the structure by draining `n` values through `IntoIterator`
    /// and collecting the rest into a new one (`FromIterator`).
    Drain(u8),
}

/// Decodes raw bytes (two per op) into ops. The handle op only pops on the
/// stack (its older values) and pushes then pops as many on the queue (a
/// burst that crosses the sentinel).
pub fn decode<K: Kind>(bytes: &[u8]) -> Vec<Op> {
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
                    1 => {
                        let n = arg / 3 % 8;
                        let pushes = if K::LIFO { 0 } else { n };
                        Op::Handle { pushes, pops: n }
                    }
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

/// Decodes `bytes` and checks the ops (see [`check`]).
pub fn check_bytes<K: Kind>(bytes: &[u8]) {
    check::<K>(&decode::<K>(bytes));
}

/// Applies `ops` to ours (under every reclaimer, and under a private
/// hazard domain at threshold 1, which runs a reclamation pass on every
/// retire) and to the std model.
pub fn check<K: Kind>(ops: &[Op]) {
    for_each_reclaimer!(|mk| check_with::<K, _>(ops, mk));
    check_with::<K, _>(ops, hazard_threshold_1);
}

/// A private hazard domain that reclaims at every retire.
fn hazard_threshold_1() -> cds::reclaim::Hazard {
    cds::reclaim::Hazard::with_threshold(1)
}

/// Pops the std model's next value in `K`'s order.
fn model_pop<K: Kind>(model: &mut VecDeque<Val>) -> Option<Val> {
    if K::LIFO {
        model.pop_back()
    } else {
        model.pop_front()
    }
}

/// Applies `ops` to a `K::S<_, R>` and to the std model.
pub fn check_with<K: Kind, R: Reclaim + Default>(ops: &[Op], mk: fn() -> R) {
    let token = Arc::new(());
    let mut next = 0u32;
    let mut fresh = |v: u8| {
        next += 1;
        Val(next * 256 + u32::from(v), token.clone())
    };
    let mut ours: K::S<Val, R> = Linked::with_reclaimer(mk());
    let mut model: VecDeque<Val> = VecDeque::new();
    for op in ops {
        match *op {
            Op::Push(v) => {
                let a = fresh(v);
                model.push_back(Val(a.0, a.1.clone()));
                ours.push(a);
            }
            Op::Pop => assert_eq!(ours.pop(), model_pop::<K>(&mut model), "{op:?}"),
            Op::IsEmpty => assert_eq!(ours.is_empty(), model.is_empty(), "{op:?}"),
            Op::Extend(n) => {
                let vals: Vec<Val> = (0..n).map(&mut fresh).collect();
                model.extend(vals.iter().map(|v| Val(v.0, v.1.clone())));
                ours.extend(vals);
            }
            Op::Handle { pushes, pops } => {
                let mut h = ours.handle();
                for i in 0..pushes {
                    let a = fresh(i);
                    model.push_back(Val(a.0, a.1.clone()));
                    h.push(a);
                }
                for _ in 0..pops {
                    assert_eq!(h.pop(), model_pop::<K>(&mut model), "{op:?}");
                }
                assert_eq!(h.is_empty(), model.is_empty(), "{op:?}");
            }
            Op::Drain(n) => {
                let mut it = ours.into_iter();
                for _ in 0..n {
                    assert_eq!(it.next(), model_pop::<K>(&mut model), "{op:?}");
                }
                // The rest, in pop order; rebuilt so that it pops in the
                // same order again (for the stack, the old top on top).
                let mut rest: Vec<Val> = it.collect();
                if K::LIFO {
                    rest.reverse();
                }
                ours = Linked::collect_from(rest);
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

/// The quickcheck model test of `$Kind`, in a binary that includes this
/// file as `mod $model`.
macro_rules! model_tests {
    ($model:ident :: $Kind:ident) => {
        fn prop(bytes: Vec<u8>) -> bool {
            $model::check_bytes::<$model::$Kind>(&bytes);
            true
        }

        /// Random op sequences on ours vs the std model.
        #[test]
        fn matches_std_model() {
            quickcheck::QuickCheck::new()
                .tests(if cfg!(miri) { 5 } else { 300 })
                .quickcheck(prop as fn(Vec<u8>) -> bool);
        }

        /// One long pseudo-random sequence (deep structures, many
        /// reclamation passes).
        #[test]
        fn long_sequence() {
            let n = if cfg!(miri) { 200 } else { 20_000 };
            let bytes: Vec<u8> = (0..n)
                .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect();
            $model::check_bytes::<$model::$Kind>(&bytes);
        }
    };
}

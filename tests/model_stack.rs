//! quickcheck model test: random op sequences on ours vs the std model
//! (see `tests/model/stack.rs`, shared with the fuzz target).

#[path = "model/stack.rs"]
mod model;

use quickcheck::QuickCheck;

fn prop(bytes: Vec<u8>) -> bool {
    model::check(&model::decode(&bytes));
    true
}

#[test]
fn matches_std_model() {
    QuickCheck::new()
        .tests(if cfg!(miri) { 5 } else { 300 })
        .quickcheck(prop as fn(Vec<u8>) -> bool);
}

#[test]
fn long_sequence() {
    let n = if cfg!(miri) { 200 } else { 20_000 };
    let bytes: Vec<u8> = (0..n).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    model::check(&model::decode(&bytes));
}

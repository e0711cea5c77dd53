//! Quickcheck driver for the hazard-domain model (`tests/model/hazard.rs`).
#![cfg(not(loom))] // std atomics and threads; loom models live in loom-tests/

#[path = "model/hazard.rs"]
mod model;

use quickcheck::QuickCheck;

#[test]
fn hazard_domain_matches_model() {
    fn prop(bytes: Vec<u8>) -> bool {
        let (threshold, ops) = model::decode(&bytes);
        model::check(threshold, &ops);
        true
    }
    QuickCheck::new()
        .tests(if cfg!(miri) { 5 } else { 300 })
        .quickcheck(prop as fn(Vec<u8>) -> bool);
}

#[test]
fn protected_node_survives_flush_regression() {
    use model::Op::*;
    let ops = [
        Link { src: 0 },
        Protect {
            guard: 1,
            slot: 2,
            src: 0,
        },
        Retire { src: 0 },
        Flush,
        Refresh { guard: 1 },
        Flush,
    ];
    model::check(1, &ops);
}

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

/// Found by CI's quickcheck run: protecting a null source must end the
/// slot's previous protection (the model then expects the old node to be
/// reclaimed). Under the typed seam `Slot::protect` returned `None` for a
/// null source without touching the slot, so the old hazard stayed.
#[test]
fn protecting_null_ends_the_slots_protection_regression() {
    let bytes = [
        0, 0, 0, 0, 0, 0, 0, 103, 188, 0, 0, 0, 0, 223, 33, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 35, 0,
    ];
    let (threshold, ops) = model::decode(&bytes);
    model::check(threshold, &ops);
}

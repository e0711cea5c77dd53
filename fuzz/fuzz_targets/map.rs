//! Differential fuzzing of `cds::HashMap` against std's map: the bytes
//! decode into the same `Op` sequence the quickcheck model test uses, and
//! the same interpreter checks every result (and the Robin Hood invariants
//! after every op), with std's hasher and an all-colliding one.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/map.rs"]
mod model;

fuzz_target!(|data: &[u8]| {
    model::check(&model::decode(data));
});

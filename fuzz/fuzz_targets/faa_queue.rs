//! Differential fuzzing of `FaaQueue` (two-cell segments) against its std
//! model: the same op interpreter as the quickcheck test
//! (`tests/model/linked.rs`), fed by libFuzzer's bytes, under every
//! reclaimer.
#![no_main]

#[path = "../../tests/model/linked.rs"]
mod model;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    model::check_bytes::<model::Faa>(bytes);
});

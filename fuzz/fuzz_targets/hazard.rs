//! Fuzzes a private hazard domain single-threaded: random protect / release
//! / retire / flush sequences, drop-counted (`tests/model/hazard.rs`).
#![no_main]

#[path = "../../tests/model/hazard.rs"]
mod model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (threshold, ops) = model::decode(data);
    model::check(threshold, &ops);
});

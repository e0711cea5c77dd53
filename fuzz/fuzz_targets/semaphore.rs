//! Drives `cds::Semaphore` single-threaded (try_* operations, zero-timeout
//! waits, forget, add) against a counter, with the quickcheck model's
//! interpreter.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/semaphore.rs"]
mod model;

fuzz_target!(|data: &[u8]| {
    model::check(&model::decode(data));
});

//! Scaffolding for this crate's own tests: not part of the API, exempt
//! from semver, hidden from the docs.
//!
//! Integration tests (`tests/`), loom models and fuzz targets need to look
//! inside a structure (check its invariants, count its parked waiters).
//! Those probes live here, as free functions over the public types, so
//! that no production type carries a `*_for_tests` method or field.

pub mod faa_queue;
#[cfg(target_pointer_width = "64")]
pub mod map;
pub mod recycle;
pub mod semaphore;

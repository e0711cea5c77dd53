//! quickcheck model test of `FaaQueue` with two-cell segments (every
//! sequence crosses many segment boundaries): random op sequences on ours
//! vs the std model (see `tests/model/linked.rs`, shared with the other
//! linked structures and the fuzz targets).

#[path = "model/linked.rs"]
#[macro_use]
mod model;

model_tests!(model::Faa);

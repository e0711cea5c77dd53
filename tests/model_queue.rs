//! quickcheck model test of `MsQueue`: random op sequences on ours vs the
//! std model (see `tests/model/linked.rs`, shared with the stack and the
//! fuzz targets).

#[path = "model/linked.rs"]
#[macro_use]
mod model;

model_tests!(model::Queue);

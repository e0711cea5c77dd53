//! quickcheck model test of `TreiberStack`: random op sequences on ours vs
//! the std model (see `tests/model/linked.rs`, shared with the queue and
//! the fuzz targets).

#[path = "model/linked.rs"]
#[macro_use]
mod model;

model_tests!(model::Stack);

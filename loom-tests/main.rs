//! Loom models of cds's orderings. Run with
//! `RUSTFLAGS="--cfg loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release --test loom`.
//! Without `--cfg loom` this binary is empty.
#![cfg(loom)]

mod faa_queue;
mod linked;
mod map;
mod queue;
mod reclaim;
mod stack;
mod sync;

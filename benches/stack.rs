//! Criterion: push+pop pairs on `TreiberStack` (both reclaimers) and its
//! peers, at 1, 2 and 2 × cores threads. The workload and the peers are the
//! `versus` example's (`examples/versus/stack.rs`); one iteration is one
//! push+pop pair, spread over the threads of a barrier-released pool.
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

#[path = "../examples/versus/harness.rs"]
mod harness;
#[path = "../examples/versus/stack.rs"]
mod stack;

use std::time::Duration;

use cds::reclaim::{Epoch, Hazard};
use cds::TreiberStack;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use stack::{direct, pairs, pairs_handle, Stack};

fn per_thread(iters: u64, threads: usize) -> usize {
    (iters as usize).div_ceil(threads).max(1)
}

fn bench_pairs(c: &mut Criterion) {
    let opts = harness::Opts::from_args();
    let mut g = c.benchmark_group("stack/pairs");
    g.measurement_time(Duration::from_secs(3));
    for threads in opts.thread_counts() {
        let mut run = |name: &str, f: &dyn Fn(u64) -> Duration| {
            g.bench_function(BenchmarkId::new(name, threads), |b| b.iter_custom(f));
        };
        fn on<S: Stack>(s: S, threads: usize, iters: u64) -> Duration {
            pairs(&s, threads, per_thread(iters, threads))
        }
        run("cds::TreiberStack<Epoch>", &|i| {
            on(TreiberStack::<u64, Epoch>::new(), threads, i)
        });
        run("cds::TreiberStack<Hazard>", &|i| {
            on(
                TreiberStack::<u64, Hazard>::with_reclaimer(Hazard::default()),
                threads,
                i,
            )
        });
        run("cds::TreiberStack<Epoch>(handle)", &|i| {
            pairs_handle(
                &TreiberStack::<u64, Epoch>::new(),
                threads,
                per_thread(i, threads),
            )
        });
        run("crossbeam_epoch::Treiber(direct)", &|i| {
            on(direct::Treiber::<u64>::new(), threads, i)
        });
        run("std::sync::Mutex<Vec>", &|i| {
            on(std::sync::Mutex::new(Vec::new()), threads, i)
        });
        run("parking_lot::Mutex<Vec>", &|i| {
            on(parking_lot::Mutex::new(Vec::new()), threads, i)
        });
    }
    g.finish();
}

criterion_group!(benches, bench_pairs);
criterion_main!(benches);

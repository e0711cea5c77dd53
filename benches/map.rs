#![allow(missing_docs)] // `criterion_group!` generates an undocumented function.
//! Criterion benches of `cds::HashMap` against std, dashmap and papaya on
//! the conc-map-bench mixes (the same scripts and adapters as the `map`
//! group of `examples/versus`). Time per operation, all threads together.
//!
//! `cargo bench --bench map` (add `-- ReadHeavy` to filter).

use std::collections::hash_map::RandomState;
use std::collections::HashMap as StdMap;
use std::sync::Mutex;
use std::time::Duration;

use cds::reclaim::{Epoch, Hazard};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

#[path = "../examples/versus/harness.rs"]
mod harness;
#[path = "../examples/versus/map.rs"]
#[allow(dead_code)]
mod map;

use map::{measure, BenchMap, CdsHandle, CdsOp, Mix, PapayaOp, MIXES};

fn bench_one<M: BenchMap>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mix: &'static Mix,
    threads: usize,
) {
    c.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
        b.iter_custom(|iters| {
            let per = (iters as usize).div_ceil(threads).max(1);
            let scripts = map::scripts(mix, threads, per);
            measure::<M>(mix, &scripts)
        });
    });
}

fn maps(c: &mut Criterion) {
    for mix in &MIXES {
        let mut g = c.benchmark_group(format!("map/{}", mix.name));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(2));
        for threads in [1, 2] {
            bench_one::<Mutex<StdMap<u64, u64, RandomState>>>(
                &mut g,
                "std::sync::Mutex<HashMap>",
                mix,
                threads,
            );
            bench_one::<dashmap::DashMap<u64, u64, RandomState>>(
                &mut g,
                "dashmap::DashMap",
                mix,
                threads,
            );
            bench_one::<PapayaOp>(&mut g, "papaya::HashMap(pin/op)", mix, threads);
            bench_one::<CdsOp<Epoch>>(&mut g, "cds::HashMap<Epoch>", mix, threads);
            bench_one::<CdsHandle>(&mut g, "cds::HashMap<Epoch>(handle)", mix, threads);
            bench_one::<CdsOp<Hazard>>(&mut g, "cds::HashMap<Hazard>", mix, threads);
        }
        g.finish();
    }
}

criterion_group!(benches, maps);
criterion_main!(benches);

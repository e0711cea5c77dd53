//! Criterion: push+pop pairs on `MsQueue` and `FaaQueue` (both reclaimers,
//! per operation and through a handle) and their peers,
//! at 1, 2 and 2 × cores threads, and SPSC transfer (one producer, one
//! consumer). Workloads and peers are the `versus` example's
//! (`examples/versus/queue.rs`, `spsc.rs`); one iteration is one push+pop
//! pair (pairs) or one message (spsc).
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

#[path = "../examples/versus/harness.rs"]
mod harness;
#[path = "../examples/versus/queue.rs"]
mod queue;
#[path = "../examples/versus/spsc.rs"]
mod spsc;

use std::collections::VecDeque;
use std::time::Duration;

use cds::reclaim::{Epoch, Hazard};
use cds::{FaaQueue, MsQueue};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use crossbeam_queue::SegQueue;

use queue::{pairs, pairs_handle, Queue};

fn per_thread(iters: u64, threads: usize) -> usize {
    (iters as usize).div_ceil(threads).max(1)
}

fn bench_pairs(c: &mut Criterion) {
    let opts = harness::Opts::from_args();
    let mut g = c.benchmark_group("queue/pairs");
    g.measurement_time(Duration::from_secs(3));
    for threads in opts.thread_counts() {
        let mut run = |name: &str, f: &dyn Fn(u64) -> Duration| {
            g.bench_function(BenchmarkId::new(name, threads), |b| b.iter_custom(f));
        };
        fn on<Q: Queue>(q: Q, threads: usize, iters: u64) -> Duration {
            pairs(&q, threads, per_thread(iters, threads))
        }
        run("cds::MsQueue<Epoch>", &|i| {
            on(MsQueue::<u64, Epoch>::new(), threads, i)
        });
        run("cds::MsQueue<Hazard>", &|i| {
            on(
                MsQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
                threads,
                i,
            )
        });
        run("cds::MsQueue<Epoch>(handle)", &|i| {
            pairs_handle(
                &MsQueue::<u64, Epoch>::new(),
                threads,
                per_thread(i, threads),
            )
        });
        run("cds::FaaQueue<Epoch>", &|i| {
            on(FaaQueue::<u64>::new(), threads, i)
        });
        run("cds::FaaQueue<Hazard>", &|i| {
            on(
                FaaQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
                threads,
                i,
            )
        });
        run("cds::FaaQueue<Epoch>(handle)", &|i| {
            pairs_handle(&FaaQueue::<u64>::new(), threads, per_thread(i, threads))
        });
        run("cds::FaaQueue<Hazard>(handle)", &|i| {
            pairs_handle(
                &FaaQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
                threads,
                per_thread(i, threads),
            )
        });
        run("std::sync::Mutex<VecDeque>", &|i| {
            on(std::sync::Mutex::new(VecDeque::new()), threads, i)
        });
        run("parking_lot::Mutex<VecDeque>", &|i| {
            on(parking_lot::Mutex::new(VecDeque::new()), threads, i)
        });
        run("crossbeam::SegQueue", &|i| on(SegQueue::new(), threads, i));
    }
    g.finish();
}

fn bench_spsc(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc/transfer");
    g.measurement_time(Duration::from_secs(3));
    let mut run = |name: &str, f: &dyn Fn(u64) -> Duration| {
        g.bench_function(name, |b| b.iter_custom(f));
    };
    run("cds::MsQueue<Epoch>", &|n| {
        spsc::transfer(&MsQueue::<u64, Epoch>::new(), n)
    });
    run("cds::MsQueue<Hazard>", &|n| {
        spsc::transfer(
            &MsQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
            n,
        )
    });
    run("cds::MsQueue<Epoch>(handle)", &|n| {
        spsc::transfer_handle(&MsQueue::<u64, Epoch>::new(), n)
    });
    run("cds::FaaQueue<Epoch>", &|n| {
        spsc::transfer(&FaaQueue::<u64>::new(), n)
    });
    run("cds::FaaQueue<Hazard>", &|n| {
        spsc::transfer(
            &FaaQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
            n,
        )
    });
    run("cds::FaaQueue<Epoch>(handle)", &|n| {
        spsc::transfer_handle(&FaaQueue::<u64>::new(), n)
    });
    run("cds::FaaQueue<Hazard>(handle)", &|n| {
        spsc::transfer_handle(
            &FaaQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
            n,
        )
    });
    run("std::sync::mpsc", &spsc::transfer_mpsc);
    run("crossbeam_channel::unbounded", &spsc::transfer_crossbeam);
    run("crossbeam::SegQueue", &|n| {
        spsc::transfer(&SegQueue::<u64>::new(), n)
    });
    g.finish();
}

criterion_group!(benches, bench_pairs, bench_spsc);
criterion_main!(benches);

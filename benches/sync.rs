//! Criterion benches of `SpinMutex` and `Semaphore` against their peers:
//! the `lock` and `semaphore` groups of `examples/versus` (same workloads,
//! same types), at 1, 2 and 2 × cores threads, measured with `iter_custom`
//! on threads released together by a spin barrier.
#![allow(missing_docs)] // criterion_group! generates undocumented items

#[path = "../examples/versus/harness.rs"]
mod harness;
#[path = "../examples/versus/lock.rs"]
#[allow(dead_code)]
mod lock;
#[path = "../examples/versus/semaphore.rs"]
#[allow(dead_code)]
mod semaphore;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use lock::CounterLock;
use semaphore::Sem;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

fn thread_counts() -> Vec<usize> {
    let mut t = vec![1, 2, 2 * harness::cores()];
    t.dedup();
    t
}

fn bench_lock<L: CounterLock>(c: &mut Criterion) {
    let mut g = c.benchmark_group("lock");
    for threads in thread_counts() {
        g.bench_with_input(BenchmarkId::new(L::NAME, threads), &threads, |b, &threads| {
            let lock = L::new();
            b.iter_custom(|iters| {
                let per = (iters as usize).div_ceil(threads);
                let wall = harness::run_parallel(threads, |_| {
                    for _ in 0..per {
                        lock.inc();
                    }
                });
                // Scaled so that time per iteration is wall time per
                // operation of all threads, like `versus`.
                wall.mul_f64(iters as f64 / (per * threads) as f64)
            });
        });
    }
    g.finish();
}

fn bench_sem<S: Sem>(c: &mut Criterion, name: &str, permits: usize) {
    let mut g = c.benchmark_group(format!("semaphore/permits={permits}"));
    for threads in thread_counts() {
        g.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &threads| {
            let sem = S::new(permits);
            let counter = AtomicU64::new(0);
            b.iter_custom(|iters| {
                let per = (iters as usize).div_ceil(threads);
                let wall = harness::run_parallel(threads, |_| {
                    for _ in 0..per {
                        sem.with(|| {
                            counter.fetch_add(1, Relaxed);
                        });
                    }
                });
                wall.mul_f64(iters as f64 / (per * threads) as f64)
            });
        });
    }
    g.finish();
}

fn locks(c: &mut Criterion) {
    bench_lock::<cds::SpinMutex<u64>>(c);
    bench_lock::<std::sync::Mutex<u64>>(c);
    bench_lock::<parking_lot::Mutex<u64>>(c);
    bench_lock::<spin::Mutex<u64>>(c);
}

fn semaphores(c: &mut Criterion) {
    for permits in [1, 2] {
        bench_sem::<semaphore::CdsDefault>(c, "cds::Semaphore", permits);
        bench_sem::<semaphore::CdsFifo>(c, "cds::Semaphore(fifo)", permits);
        bench_sem::<semaphore::CondvarSem>(c, "std::sync::Mutex<usize>+Condvar", permits);
        bench_sem::<semaphore::ChannelSem>(c, "crossbeam_channel::bounded(n)", permits);
        if permits == 1 {
            bench_sem::<semaphore::MutexAsSem>(c, "std::sync::Mutex(same section)", permits);
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = locks, semaphores
}
criterion_main!(benches);

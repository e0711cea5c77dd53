//! Reclamation micro-benchmarks: guard + protect of one pointer, and retire
//! (+ amortized reclaim) of one node, at 1 and 2 threads, for `cds`'s
//! `Epoch` and `Hazard` (global domain, cached record) beside raw
//! crossbeam-epoch and haphazard.
//!
//! `cargo bench --bench reclaim`. Multi-thread figures are aggregate: wall
//! time divided by all operations of all threads (BENCHMARKS.md, method).

#![allow(missing_docs)] // criterion's macros generate undocumented items

#[path = "../examples/versus/harness.rs"]
mod harness;

use std::hint::black_box;
use std::sync::atomic::{
    AtomicPtr,
    Ordering::{AcqRel, Acquire},
};
use std::time::{Duration, Instant};

use cds::reclaim::{Epoch, Guard, Hazard, Reclaim};
use criterion::{criterion_group, criterion_main, Criterion};

/// Runs `op` `iters` times on each of `threads` threads; returns wall time
/// divided by the thread count (so criterion reports ns per operation of
/// all threads together).
fn timed(threads: usize, iters: u64, op: impl Fn() + Sync) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        for _ in 0..iters {
            op();
        }
        return start.elapsed();
    }
    harness::run_parallel(threads, |_| {
        for _ in 0..iters {
            op();
        }
    }) / threads as u32
}

fn protect(c: &mut Criterion) {
    for threads in [1, 2] {
        let mut g = c.benchmark_group(format!("reclaim/protect/{threads}t"));
        let value = Box::into_raw(Box::new(7u64));
        let src = AtomicPtr::new(value);

        g.bench_function("cds::Epoch guard+protect", |b| {
            let r = Epoch::new();
            b.iter_custom(|n| {
                timed(threads, n, || {
                    let mut guard = r.guard();
                    black_box(guard.protect(0, &src));
                })
            })
        });
        g.bench_function("crossbeam_epoch pin+load", |b| {
            let atomic = crossbeam_epoch::Atomic::new(7u64);
            b.iter_custom(|n| {
                timed(threads, n, || {
                    let guard = crossbeam_epoch::pin();
                    black_box(atomic.load(Acquire, &guard).as_raw());
                })
            });
            // SAFETY: no other reference to the value remains.
            drop(unsafe { atomic.into_owned() });
        });
        g.bench_function("cds::Hazard guard+protect", |b| {
            let r = Hazard::global();
            b.iter_custom(|n| {
                timed(threads, n, || {
                    let mut guard = r.guard();
                    black_box(guard.protect(0, &src));
                })
            })
        });
        g.bench_function("cds::Hazard protect(guard reused)", |b| {
            let r = Hazard::global();
            // One guard per 64 protects, as an amortized handle would.
            b.iter_custom(|n| timed(threads, n / 64 + 1, || batch_protect(&r, &src)) / 64)
        });
        g.bench_function("haphazard protect(hp reused)", |b| {
            let atomic = haphazard::AtomicPtr::from(Box::new(7u64));
            b.iter_custom(|n| {
                timed(threads, n / 64 + 1, || {
                    let mut hp = haphazard::HazardPointer::new();
                    for _ in 0..64 {
                        black_box(atomic.safe_load(&mut hp).map(|r| r as *const u64));
                        hp.reset_protection();
                    }
                }) / 64
            });
        });
        g.finish();
        // SAFETY: no guard protects `value` any more; freed once.
        drop(unsafe { Box::from_raw(value) });
    }
}

/// 64 protects through one guard (the amortized-handle shape); the caller
/// divides by 64.
fn batch_protect(r: &Hazard, src: &AtomicPtr<u64>) {
    let mut guard = r.guard();
    for _ in 0..64 {
        black_box(guard.protect(0, src));
    }
}

struct Node(#[allow(dead_code)] u64);

unsafe fn free_node(p: *mut ()) {
    // SAFETY: every retired pointer here is a `Box<Node>`, freed once.
    drop(unsafe { Box::from_raw(p.cast::<Node>()) });
}

fn retire(c: &mut Criterion) {
    for threads in [1, 2] {
        let mut g = c.benchmark_group(format!("reclaim/retire/{threads}t"));
        g.bench_function("cds::Epoch swap+retire", |b| bench_retire(b, threads, Epoch::new()));
        g.bench_function("cds::Hazard swap+retire", |b| bench_retire(b, threads, Hazard::global()));
        g.bench_function("crossbeam_epoch swap+defer_destroy", |b| {
            let atomic = crossbeam_epoch::Atomic::new(Node(0));
            b.iter_custom(|n| {
                timed(threads, n, || {
                    let guard = crossbeam_epoch::pin();
                    let old = atomic.swap(crossbeam_epoch::Owned::new(Node(1)), AcqRel, &guard);
                    // SAFETY: `old` left `atomic`; readers are pinned.
                    unsafe { guard.defer_destroy(old) };
                })
            });
            // SAFETY: no other reference remains.
            drop(unsafe { atomic.into_owned() });
        });
        g.bench_function("haphazard swap+retire", |b| {
            let atomic = haphazard::AtomicPtr::from(Box::new(Node(0)));
            b.iter_custom(|n| {
                timed(threads, n, || {
                    let old = atomic.swap(Box::new(Node(1))).expect("never null");
                    // SAFETY: `old` left `atomic`, retired once, in the global domain.
                    unsafe { old.retire() };
                })
            });
        });
        g.finish();
    }
}

fn bench_retire<R: Reclaim>(b: &mut criterion::Bencher<'_>, threads: usize, r: R) {
    let src = AtomicPtr::new(Box::into_raw(Box::new(Node(0))));
    b.iter_custom(|n| {
        timed(threads, n, || {
            let guard = r.guard();
            let old = src.swap(Box::into_raw(Box::new(Node(1))), AcqRel);
            // SAFETY: `old` left `src` (unlinked), retired once through `r`,
            // and `free_node` frees a `Box<Node>` on any thread.
            unsafe { guard.retire(old.cast(), free_node) };
        })
    });
    let last = src.swap(std::ptr::null_mut(), AcqRel);
    // SAFETY: as above.
    unsafe { r.guard().retire(last.cast(), free_node) };
    r.flush();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = protect, retire
}
criterion_main!(benches);

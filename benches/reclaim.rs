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
    AtomicBool, AtomicPtr, AtomicU64, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use std::time::{Duration, Instant};

use cds::reclaim::{Epoch, Guard, Hazard, Reclaim, Slot};
use criterion::{criterion_group, criterion_main, Bencher, Criterion};
use crossbeam_utils::CachePadded;

/// Measures `op` (which performs `batch` operations) on `threads` threads:
/// the calling thread plus `threads - 1` persistent workers released
/// together for each criterion sample, so no sample pays for spawning a
/// thread (and hazard records stay cached). Reports wall time divided by
/// all operations of all threads.
fn bench_op(b: &mut Bencher<'_>, threads: usize, batch: u32, op: impl Fn() + Sync) {
    let generation = AtomicU64::new(0);
    let rounds = AtomicU64::new(0);
    let finished = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 1..threads {
            let (generation, rounds, finished, stop, op) =
                (&generation, &rounds, &finished, &stop, &op);
            s.spawn(move || {
                let mut seen = 0;
                loop {
                    // Acquire: pairs with the Release increment below.
                    let mut now = generation.load(Acquire);
                    while now == seen {
                        std::hint::spin_loop();
                        if threads > harness::cores() {
                            std::thread::yield_now();
                        }
                        now = generation.load(Acquire);
                    }
                    seen = now;
                    if stop.load(Acquire) {
                        return;
                    }
                    for _ in 0..rounds.load(Relaxed) {
                        op();
                    }
                    finished.fetch_add(1, Release);
                }
            });
        }
        b.iter_custom(|n| {
            let n = n / u64::from(batch) + 1;
            rounds.store(n, Relaxed);
            finished.store(0, Relaxed);
            let start = Instant::now();
            // Release: publishes `rounds` to the workers.
            generation.fetch_add(1, Release);
            for _ in 0..n {
                op();
            }
            // Acquire: pairs with the workers' Release increments.
            while finished.load(Acquire) < threads - 1 {
                std::hint::spin_loop();
            }
            // About `n` operations per thread ran (rounded up to whole
            // batches): wall time per operation of all threads.
            start.elapsed() / threads as u32
        });
        stop.store(true, Release);
        generation.fetch_add(1, Release);
    });
}

fn protect(c: &mut Criterion) {
    for threads in [1, 2] {
        let mut g = c.benchmark_group(format!("reclaim/protect/{threads}t"));
        let value = Box::into_raw(Box::new(7u64));
        // On its own cache line: not beside this stack frame's hot locals.
        let src = Box::new(CachePadded::new(AtomicPtr::new(value)));

        g.bench_function("cds::Epoch guard+protect", |b| {
            let r = Epoch::new();
            bench_op(b, threads, 1, || {
                let mut guard = r.guard();
                let [mut slot, ..] = guard.slots();
                // SAFETY: (1) `src` holds `value`, freed after the group.
                black_box(unsafe { slot.protect(&**src) }.map(|p| p.as_ptr()));
            })
        });
        g.bench_function("crossbeam_epoch pin+load", |b| {
            let atomic = crossbeam_epoch::Atomic::new(7u64);
            bench_op(b, threads, 1, || {
                let guard = crossbeam_epoch::pin();
                black_box(atomic.load(Acquire, &guard).as_raw());
            });
            // SAFETY: no other reference to the value remains.
            drop(unsafe { atomic.into_owned() });
        });
        g.bench_function("cds::Hazard guard+protect", |b| {
            let r = Hazard::global();
            bench_op(b, threads, 1, || {
                let mut guard = r.guard();
                let [mut slot, ..] = guard.slots();
                // SAFETY: (1) `src` holds `value`, freed after the group.
                black_box(unsafe { slot.protect(&**src) }.map(|p| p.as_ptr()));
            })
        });
        g.bench_function("cds::Hazard protect(guard reused)", |b| {
            let r = Hazard::global();
            // One guard per 64 protects, as an amortized handle would.
            bench_op(b, threads, 64, || batch_protect(&r, &src))
        });
        g.bench_function("haphazard HazardPointer::new+protect", |b| {
            let atomic = haphazard::AtomicPtr::from(Box::new(7u64));
            bench_op(b, threads, 1, || {
                let mut hp = haphazard::HazardPointer::new();
                black_box(atomic.safe_load(&mut hp).map(|r| r as *const u64));
            });
        });
        g.bench_function("haphazard protect(hp reused)", |b| {
            let atomic = haphazard::AtomicPtr::from(Box::new(7u64));
            // One hazard pointer per 64 protects, like our batch above.
            bench_op(b, threads, 64, || {
                let mut hp = haphazard::HazardPointer::new();
                for _ in 0..64 {
                    black_box(atomic.safe_load(&mut hp).map(|r| r as *const u64));
                    hp.reset_protection();
                }
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
    let [mut slot, ..] = guard.slots();
    for _ in 0..64 {
        // SAFETY: (1) `src` holds a value freed only after the benchmark.
        black_box(unsafe { slot.protect(src) }.map(|p| p.as_ptr()));
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
        g.bench_function("cds::Epoch swap+retire", |b| {
            bench_retire(b, threads, Epoch::new())
        });
        g.bench_function("cds::Hazard swap+retire", |b| {
            bench_retire(b, threads, Hazard::global())
        });
        g.bench_function("crossbeam_epoch swap+defer_destroy", |b| {
            let atomic = crossbeam_epoch::Atomic::new(Node(0));
            bench_op(b, threads, 1, || {
                let guard = crossbeam_epoch::pin();
                let old = atomic.swap(crossbeam_epoch::Owned::new(Node(1)), AcqRel, &guard);
                // SAFETY: `old` left `atomic`; readers are pinned.
                unsafe { guard.defer_destroy(old) };
            });
            // SAFETY: no other reference remains.
            drop(unsafe { atomic.into_owned() });
        });
        g.bench_function("haphazard swap+retire", |b| {
            let atomic = haphazard::AtomicPtr::from(Box::new(Node(0)));
            bench_op(b, threads, 1, || {
                let old = atomic.swap(Box::new(Node(1))).expect("never null");
                // SAFETY: `old` left `atomic`, retired once, in the global domain.
                unsafe { old.retire() };
            });
        });
        g.finish();
    }
}

fn bench_retire<R: Reclaim>(b: &mut Bencher<'_>, threads: usize, r: R) {
    let src = Box::new(CachePadded::new(AtomicPtr::new(Box::into_raw(Box::new(
        Node(0),
    )))));
    bench_op(b, threads, 1, || {
        let guard = r.guard();
        let old = src.swap(Box::into_raw(Box::new(Node(1))), AcqRel);
        // SAFETY: `old` left `src` (unlinked), retired once through `r`,
        // and `free_node` frees a `Box<Node>` on any thread.
        unsafe { guard.retire(old.cast(), free_node) };
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

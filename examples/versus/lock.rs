//! Group `lock`: lock + increment + unlock on one shared counter, at 1, 2
//! and 2 × cores threads; p99 latency of a lock+unlock (every 64th sampled)
//! beside throughput in oversubscribed cells.

use crate::harness::{cores, run_parallel, Candidate, Opts, Report, Sample};
use std::sync::Mutex;
use std::time::Instant;

/// One lock type under test, guarding a `u64`.
pub trait CounterLock: Sync {
    const NAME: &'static str;
    fn new() -> Self;
    fn inc(&self);
    fn get(&self) -> u64;
}

impl CounterLock for cds::SpinMutex<u64> {
    const NAME: &'static str = "cds::SpinMutex";
    fn new() -> Self {
        cds::SpinMutex::new(0)
    }
    #[inline]
    fn inc(&self) {
        *self.lock() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock()
    }
}

impl CounterLock for Mutex<u64> {
    const NAME: &'static str = "std::sync::Mutex";
    fn new() -> Self {
        Mutex::new(0)
    }
    #[inline]
    fn inc(&self) {
        *self.lock().unwrap() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl CounterLock for parking_lot::Mutex<u64> {
    const NAME: &'static str = "parking_lot::Mutex";
    fn new() -> Self {
        parking_lot::Mutex::new(0)
    }
    #[inline]
    fn inc(&self) {
        *self.lock() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock()
    }
}

impl CounterLock for spin::Mutex<u64> {
    const NAME: &'static str = "spin::Mutex";
    fn new() -> Self {
        spin::Mutex::new(0)
    }
    #[inline]
    fn inc(&self) {
        *self.lock() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock()
    }
}

/// Per-thread latency samples (ns), one every `SAMPLE_EVERY` operations.
pub const SAMPLE_EVERY: usize = 64;

/// The 99th percentile of all threads' samples.
pub fn p99(samples: &Mutex<Vec<u64>>) -> f64 {
    let mut v = std::mem::take(&mut *samples.lock().unwrap());
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    v[(v.len() * 99 / 100).min(v.len() - 1)] as f64
}

/// Runs `op` `ops / threads` times on each thread; with `latency`, times
/// every 64th call and reports the p99 as `p99_ns`.
pub fn measure(threads: usize, ops: usize, latency: bool, op: impl Fn() + Sync) -> Sample {
    let per = ops / threads;
    let samples = Mutex::new(Vec::new());
    let wall = run_parallel(threads, |_| {
        if !latency {
            for _ in 0..per {
                op();
            }
            return;
        }
        let mut local = Vec::with_capacity(per / SAMPLE_EVERY + 1);
        for i in 0..per {
            if i % SAMPLE_EVERY == 0 {
                let t = Instant::now();
                op();
                local.push(t.elapsed().as_nanos() as u64);
            } else {
                op();
            }
        }
        samples.lock().unwrap().extend(local);
    });
    let extra = if latency { vec![("p99_ns", p99(&samples))] } else { Vec::new() };
    Sample { wall, extra }
}

fn candidate<L: CounterLock>(threads: usize, ops: usize) -> Candidate<'static> {
    Candidate::new(L::NAME, move || {
        let lock = L::new();
        let s = measure(threads, ops, threads > cores(), || lock.inc());
        assert_eq!(lock.get(), (ops / threads * threads) as u64, "{} lost an increment", L::NAME);
        s
    })
}

pub fn run(report: &mut Report) {
    let opts: Opts = report.opts.clone();
    let ops = opts.ops(2_000_000);
    for threads in opts.thread_counts() {
        let ops = ops / threads * threads;
        report.cell(
            "lock",
            "lock+inc+unlock",
            threads,
            ops,
            &mut [
                candidate::<cds::SpinMutex<u64>>(threads, ops),
                candidate::<Mutex<u64>>(threads, ops),
                candidate::<parking_lot::Mutex<u64>>(threads, ops),
                candidate::<spin::Mutex<u64>>(threads, ops),
            ],
        );
    }
}

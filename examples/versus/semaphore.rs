//! Group `semaphore`: acquire + increment + release at 1, 2 and 2 × cores
//! threads, with 1 and 2 permits. Peers: a std `Mutex<usize>` + `Condvar`
//! semaphore, a crossbeam-channel `bounded(n)` token bucket and, for one
//! permit, std `Mutex` on the same critical section. p99 latency beside
//! throughput in oversubscribed cells.

use crate::harness::{cores, Candidate, Opts, Report};
use crate::lock::measure;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};

/// One semaphore under test.
pub trait Sem: Sync {
    fn new(permits: usize) -> Self;
    /// Runs `f` holding one permit.
    fn with(&self, f: impl FnOnce());
}

pub struct CdsDefault(cds::Semaphore);
impl Sem for CdsDefault {
    fn new(permits: usize) -> Self {
        Self(cds::Semaphore::new(permits))
    }
    #[inline]
    fn with(&self, f: impl FnOnce()) {
        let _p = self.0.acquire();
        f();
    }
}

pub struct CdsFifo(cds::Semaphore);
impl Sem for CdsFifo {
    fn new(permits: usize) -> Self {
        Self(cds::Semaphore::new_fifo(permits))
    }
    #[inline]
    fn with(&self, f: impl FnOnce()) {
        let _p = self.0.acquire();
        f();
    }
}

/// The textbook semaphore: a count under a std `Mutex`, waiters on a `Condvar`.
pub struct CondvarSem {
    count: Mutex<usize>,
    cv: Condvar,
}
impl Sem for CondvarSem {
    fn new(permits: usize) -> Self {
        Self { count: Mutex::new(permits), cv: Condvar::new() }
    }
    #[inline]
    fn with(&self, f: impl FnOnce()) {
        {
            let mut c = self.cv.wait_while(self.count.lock().unwrap(), |c| *c == 0).unwrap();
            *c -= 1;
        }
        f();
        *self.count.lock().unwrap() += 1;
        self.cv.notify_one();
    }
}

/// A bounded channel pre-filled with `permits` tokens.
pub struct ChannelSem {
    tx: crossbeam_channel::Sender<()>,
    rx: crossbeam_channel::Receiver<()>,
}
impl Sem for ChannelSem {
    fn new(permits: usize) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(permits);
        for _ in 0..permits {
            tx.send(()).unwrap();
        }
        Self { tx, rx }
    }
    #[inline]
    fn with(&self, f: impl FnOnce()) {
        self.rx.recv().unwrap();
        f();
        self.tx.send(()).unwrap();
    }
}

/// std `Mutex` on the same critical section (the 1-permit baseline).
pub struct MutexAsSem(Mutex<()>);
impl Sem for MutexAsSem {
    fn new(permits: usize) -> Self {
        assert_eq!(permits, 1);
        Self(Mutex::new(()))
    }
    #[inline]
    fn with(&self, f: impl FnOnce()) {
        let _g = self.0.lock().unwrap();
        f();
    }
}

fn candidate<S: Sem>(name: &str, permits: usize, threads: usize, ops: usize) -> Candidate<'static> {
    let name_owned = name.to_owned();
    Candidate::new(name, move || {
        let sem = S::new(permits);
        let counter = AtomicU64::new(0);
        let mut s = measure(threads, ops, threads > cores(), || {
            sem.with(|| {
                counter.fetch_add(1, Relaxed);
            })
        });
        assert_eq!(counter.load(Relaxed), ops as u64, "{name_owned} lost an increment");
        s.extra.push(("permits", permits as f64));
        s
    })
}

pub fn run(report: &mut Report) {
    let opts: Opts = report.opts.clone();
    let ops = opts.ops(1_000_000);
    for permits in [1, 2] {
        for threads in opts.thread_counts() {
            let ops = ops / threads * threads;
            let mut cands = vec![
                candidate::<CdsDefault>("cds::Semaphore", permits, threads, ops),
                candidate::<CdsFifo>("cds::Semaphore(fifo)", permits, threads, ops),
                candidate::<CondvarSem>("std::sync::Mutex<usize>+Condvar", permits, threads, ops),
                candidate::<ChannelSem>("crossbeam_channel::bounded(n)", permits, threads, ops),
            ];
            if permits == 1 {
                cands.push(candidate::<MutexAsSem>("std::sync::Mutex(same section)", permits, threads, ops));
            }
            let workload = format!("acquire+inc+release, permits={permits}");
            report.cell("semaphore", &workload, threads, ops, &mut cands);
        }
    }
}

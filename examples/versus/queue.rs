//! Group `queue`: push+pop pairs on every thread.
//!
//! Peers: `std::sync::Mutex<VecDeque>`, `parking_lot::Mutex<VecDeque>` and
//! `crossbeam::SegQueue` (a block-based queue: one allocation per 31
//! values, where an MS queue allocates per value). Ours: `MsQueue` and
//! `FaaQueue` (segments of 1024 values), per operation and through a
//! handle.
// The criterion benches include this file and use only part of it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use cds::reclaim::{Epoch, Hazard, Reclaim};
use cds::{FaaQueue, MsQueue};
use crossbeam_queue::SegQueue;

use crate::harness::{run_parallel, Candidate, Report};

/// A concurrent FIFO the workloads drive.
pub trait Queue: Sync {
    fn push(&self, v: u64);
    fn pop(&self) -> Option<u64>;
}

impl<R: Reclaim> Queue for MsQueue<u64, R> {
    #[inline]
    fn push(&self, v: u64) {
        MsQueue::push(self, v)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        MsQueue::pop(self)
    }
}

impl<R: Reclaim> Queue for FaaQueue<u64, R> {
    #[inline]
    fn push(&self, v: u64) {
        FaaQueue::push(self, v)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        FaaQueue::pop(self)
    }
}

/// A queue with an amortized handle (ours).
pub trait HandleQueue: Sync {
    type H<'a>: QueueOps
    where
        Self: 'a;
    fn handle(&self) -> Self::H<'_>;
}

/// What a handle does in the workloads.
pub trait QueueOps {
    fn push(&mut self, v: u64);
    fn pop(&mut self) -> Option<u64>;
}

impl<R: Reclaim> HandleQueue for MsQueue<u64, R> {
    type H<'a> = cds::QueueHandle<'a, u64, R>;
    fn handle(&self) -> Self::H<'_> {
        MsQueue::handle(self)
    }
}

impl<R: Reclaim> QueueOps for cds::QueueHandle<'_, u64, R> {
    #[inline]
    fn push(&mut self, v: u64) {
        cds::QueueHandle::push(self, v)
    }
    #[inline]
    fn pop(&mut self) -> Option<u64> {
        cds::QueueHandle::pop(self)
    }
}

impl<R: Reclaim> HandleQueue for FaaQueue<u64, R> {
    type H<'a> = cds::FaaQueueHandle<'a, u64, R>;
    fn handle(&self) -> Self::H<'_> {
        FaaQueue::handle(self)
    }
}

impl<R: Reclaim> QueueOps for cds::FaaQueueHandle<'_, u64, R> {
    #[inline]
    fn push(&mut self, v: u64) {
        cds::FaaQueueHandle::push(self, v)
    }
    #[inline]
    fn pop(&mut self) -> Option<u64> {
        cds::FaaQueueHandle::pop(self)
    }
}

impl Queue for std::sync::Mutex<VecDeque<u64>> {
    #[inline]
    fn push(&self, v: u64) {
        self.lock().unwrap().push_back(v)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.lock().unwrap().pop_front()
    }
}

impl Queue for parking_lot::Mutex<VecDeque<u64>> {
    #[inline]
    fn push(&self, v: u64) {
        self.lock().push_back(v)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        self.lock().pop_front()
    }
}

impl Queue for SegQueue<u64> {
    #[inline]
    fn push(&self, v: u64) {
        SegQueue::push(self, v)
    }
    #[inline]
    fn pop(&self) -> Option<u64> {
        SegQueue::pop(self)
    }
}

/// `threads` threads each run `per_thread` push+pop pairs.
pub fn pairs<Q: Queue>(q: &Q, threads: usize, per_thread: usize) -> Duration {
    run_parallel(threads, |t| {
        let base = (t * per_thread) as u64;
        for i in 0..per_thread as u64 {
            q.push(base + i);
            black_box(q.pop());
        }
    })
}

/// The same through one `handle()` per thread.
pub fn pairs_handle<Q: HandleQueue>(q: &Q, threads: usize, per_thread: usize) -> Duration {
    run_parallel(threads, |t| {
        let base = (t * per_thread) as u64;
        let mut h = q.handle();
        for i in 0..per_thread as u64 {
            h.push(base + i);
            black_box(h.pop());
        }
    })
}

/// The candidates of one cell.
pub fn candidates<'a>(threads: usize, per: usize) -> Vec<Candidate<'a>> {
    vec![
        Candidate::new("cds::MsQueue<Epoch>", move || {
            pairs(
                &MsQueue::<u64, Epoch>::with_reclaimer(Epoch::new()),
                threads,
                per,
            )
        }),
        Candidate::new("cds::MsQueue<Hazard>", move || {
            pairs(
                &MsQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
                threads,
                per,
            )
        }),
        Candidate::new("cds::MsQueue<Epoch>(handle)", move || {
            pairs_handle(&MsQueue::<u64, Epoch>::new(), threads, per)
        }),
        Candidate::new("cds::FaaQueue<Epoch>", move || {
            pairs(&FaaQueue::<u64, Epoch>::new(), threads, per)
        }),
        Candidate::new("cds::FaaQueue<Hazard>", move || {
            pairs(
                &FaaQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
                threads,
                per,
            )
        }),
        Candidate::new("cds::FaaQueue<Epoch>(handle)", move || {
            pairs_handle(&FaaQueue::<u64, Epoch>::new(), threads, per)
        }),
        Candidate::new("cds::FaaQueue<Hazard>(handle)", move || {
            pairs_handle(
                &FaaQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
                threads,
                per,
            )
        }),
        Candidate::new("std::sync::Mutex<VecDeque>", move || {
            pairs(&std::sync::Mutex::new(VecDeque::<u64>::new()), threads, per)
        }),
        Candidate::new("parking_lot::Mutex<VecDeque>", move || {
            pairs(
                &parking_lot::Mutex::new(VecDeque::<u64>::new()),
                threads,
                per,
            )
        }),
        Candidate::new("crossbeam::SegQueue", move || {
            pairs(&SegQueue::<u64>::new(), threads, per)
        }),
    ]
}

/// Runs the group.
pub fn run(report: &mut Report) {
    for threads in report.opts.thread_counts() {
        let per = report.opts.ops(2_000_000) / 2 / threads;
        let mut cands = candidates(threads, per);
        report.cell(
            "queue",
            "push+pop pairs",
            threads,
            2 * per * threads,
            &mut cands,
        );
    }
}

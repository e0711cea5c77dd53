//! Group `spsc`: one producer sends `n` messages to one consumer (the
//! default `n` is 1M); ns per message.
//!
//! Peers: `std::sync::mpsc::channel`, crossbeam-channel `unbounded` and
//! `crossbeam::SegQueue` (polled). Both channels and `SegQueue` are
//! block-based (one allocation per ~32 messages); an MS queue allocates a
//! node per message and pins per operation, so it cannot match them here.
// The criterion benches include this file and use only part of it.
#![allow(dead_code)]

use std::hint::black_box;
use std::sync::Mutex;
use std::time::Duration;

use cds::reclaim::{Epoch, Hazard};
use cds::{FaaQueue, MsQueue};
use crossbeam_queue::SegQueue;

use crate::harness::{run_parallel, Candidate, Report};
use crate::queue::{HandleQueue, Queue, QueueOps};

/// Transfers `n` messages through a polled queue (the consumer spins).
pub fn transfer<Q: Queue>(q: &Q, n: u64) -> Duration {
    run_parallel(2, |t| {
        if t == 0 {
            for i in 0..n {
                q.push(i);
            }
        } else {
            let mut got = 0;
            while got < n {
                match q.pop() {
                    Some(v) => {
                        black_box(v);
                        got += 1;
                    }
                    None => std::hint::spin_loop(),
                }
            }
        }
    })
}

/// The same with one `handle()` on each side.
pub fn transfer_handle<Q: HandleQueue>(q: &Q, n: u64) -> Duration {
    run_parallel(2, |t| {
        let mut h = q.handle();
        if t == 0 {
            for i in 0..n {
                h.push(i);
            }
        } else {
            let mut got = 0;
            while got < n {
                match h.pop() {
                    Some(v) => {
                        black_box(v);
                        got += 1;
                    }
                    None => std::hint::spin_loop(),
                }
            }
        }
    })
}

/// Transfers `n` messages through a std channel (blocking `recv`).
pub fn transfer_mpsc(n: u64) -> Duration {
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let rx = Mutex::new(Some(rx));
    let tx = Mutex::new(Some(tx));
    run_parallel(2, |t| {
        if t == 0 {
            let tx = tx.lock().unwrap().take().unwrap();
            for i in 0..n {
                tx.send(i).unwrap();
            }
        } else {
            let rx = rx.lock().unwrap().take().unwrap();
            for _ in 0..n {
                black_box(rx.recv().unwrap());
            }
        }
    })
}

/// Transfers `n` messages through a crossbeam-channel (blocking `recv`).
pub fn transfer_crossbeam(n: u64) -> Duration {
    let (tx, rx) = crossbeam_channel::unbounded::<u64>();
    run_parallel(2, |t| {
        if t == 0 {
            for i in 0..n {
                tx.send(i).unwrap();
            }
        } else {
            for _ in 0..n {
                black_box(rx.recv().unwrap());
            }
        }
    })
}

/// The candidates of the cell.
pub fn candidates<'a>(n: u64) -> Vec<Candidate<'a>> {
    vec![
        Candidate::new("cds::MsQueue<Epoch>", move || {
            transfer(&MsQueue::<u64, Epoch>::new(), n)
        }),
        Candidate::new("cds::MsQueue<Hazard>", move || {
            transfer(
                &MsQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
                n,
            )
        }),
        Candidate::new("cds::MsQueue<Epoch>(handle)", move || {
            transfer_handle(&MsQueue::<u64, Epoch>::new(), n)
        }),
        Candidate::new("cds::FaaQueue<Epoch>", move || {
            transfer(&FaaQueue::<u64, Epoch>::new(), n)
        }),
        Candidate::new("cds::FaaQueue<Hazard>", move || {
            transfer(
                &FaaQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
                n,
            )
        }),
        Candidate::new("cds::FaaQueue<Epoch>(handle)", move || {
            transfer_handle(&FaaQueue::<u64, Epoch>::new(), n)
        }),
        Candidate::new("cds::FaaQueue<Hazard>(handle)", move || {
            transfer_handle(
                &FaaQueue::<u64, Hazard>::with_reclaimer(Hazard::default()),
                n,
            )
        }),
        Candidate::new("std::sync::mpsc", move || transfer_mpsc(n)),
        Candidate::new("crossbeam_channel::unbounded", move || {
            transfer_crossbeam(n)
        }),
        Candidate::new("crossbeam::SegQueue", move || {
            transfer(&SegQueue::<u64>::new(), n)
        }),
    ]
}

/// Runs the group.
pub fn run(report: &mut Report) {
    let n = report.opts.ops(1_000_000) as u64;
    let mut cands = candidates(n);
    report.cell(
        "spsc",
        "1 producer -> 1 consumer",
        2,
        n as usize,
        &mut cands,
    );
}

//! Stall hooks for `FaaQueue`: a thread parked at the worst moments of the
//! algorithm while other threads' pushes and pops complete — a producer
//! between its ticket and its CAS, a producer about to install a segment,
//! and a consumer between its ticket and its swap. That is the lock-free
//! claim, shown; and the parked thread's value still comes out exactly once
//! after it resumes, also when the segment it was parked in was retired
//! meanwhile. Segments of 4 cells, so the others cross many boundaries. Run
//! with
//! `RUSTFLAGS="--cfg cds_hooks" CARGO_TARGET_DIR=target/hooks cargo test --all-features --test stall_faa`.
#![cfg(cds_hooks)]

#[path = "common/reclaimers.rs"]
#[macro_use]
mod reclaimers;
#[path = "common/stall.rs"]
mod stall;

use std::sync::atomic::Ordering::SeqCst;

use cds::reclaim::Reclaim;
use cds::testing::faa_queue::with_segment_len;
use cds::FaaQueue;
use stall::{completes, Gate, SERIAL, STALL_ME};

/// Values other threads push and pop while one is parked: far more than a
/// segment, so the parked thread's segment is drained and retired.
const OTHERS: i64 = 400;

/// Pushes and pops `OTHERS` values on another thread (which must complete
/// while a thread is parked), then flushes the reclaimer so that retired
/// segments nobody protects are freed.
fn others_run<R: Reclaim>(queue: &FaaQueue<i64, R>, pops_first: usize) -> Vec<i64> {
    completes("pushes and pops", || {
        let mut got: Vec<i64> = (0..pops_first).filter_map(|_| queue.pop()).collect();
        for i in 0..OTHERS {
            queue.push(i);
            if i % 2 == 1 {
                got.extend(queue.pop());
            }
        }
        queue.reclaimer().flush();
        got
    })
}

/// Everything popped during and after the stall, sorted.
fn all_values<R: Reclaim>(queue: FaaQueue<i64, R>, mut got: Vec<i64>) -> Vec<i64> {
    got.extend(queue);
    got.sort_unstable();
    got
}

/// The values that must come out: the others' and the parked thread's.
fn expected(parked: i64, extra: &[i64]) -> Vec<i64> {
    let mut want: Vec<i64> = (0..OTHERS)
        .chain([parked])
        .chain(extra.iter().copied())
        .collect();
    want.sort_unstable();
    want
}

/// Parks a thread pushing `-1` at stall point `point` while the others run
/// (`others_run`), releases it, and returns everything the others popped.
fn park_a_pusher<R: Reclaim>(queue: &FaaQueue<i64, R>, point: &'static str) -> Vec<i64> {
    let gate = Gate::install(point);
    let got = std::thread::scope(|s| {
        let parked = s.spawn(|| {
            STALL_ME.with(|f| f.set(true));
            queue.push(-1);
        });
        gate.wait_parked();
        let got = others_run(queue, 0);
        gate.release.store(true, SeqCst);
        parked.join().unwrap();
        got
    });
    cds::hooks::clear(point);
    got
}

/// A producer parked between its ticket and its CAS: consumers overtake
/// its cell (making it TAKEN), drain and retire its segment; on resuming,
/// its CAS fails and it pushes again elsewhere: its value comes out once.
fn push_parked_before_cas<R: Reclaim>(mk: fn() -> R) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let queue = with_segment_len(4, mk());
    let got = park_a_pusher(&queue, "faa.push.before_cas");
    assert_eq!(all_values(queue, got), expected(-1, &[]));
}

/// A producer parked with its value in a new segment it is about to
/// install: others install theirs; its install fails and it takes its
/// value back and pushes it again: it comes out once.
fn push_parked_before_install<R: Reclaim>(mk: fn() -> R) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let queue = with_segment_len(4, mk());
    // Fill the first segment so that the parked push must install.
    for v in [-2, -3, -4, -5] {
        queue.push(v);
    }
    let got = park_a_pusher(&queue, "faa.push.before_install");
    assert_eq!(all_values(queue, got), expected(-1, &[-2, -3, -4, -5]));
}

/// A consumer parked between its ticket and its swap: the others drain and
/// retire its segment around it; on resuming, it takes the value of its
/// ticket (FULL, pushed before) from the retired but protected segment.
fn pop_parked_before_swap<R: Reclaim>(mk: fn() -> R) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let gate = Gate::install("faa.pop.before_swap");
    let queue = with_segment_len(4, mk());
    queue.push(-1);
    let (got, parked_got) = std::thread::scope(|s| {
        let parked = s.spawn(|| {
            STALL_ME.with(|f| f.set(true));
            queue.pop()
        });
        gate.wait_parked();
        let got = others_run(&queue, 0);
        gate.release.store(true, SeqCst);
        (got, parked.join().unwrap())
    });
    cds::hooks::clear("faa.pop.before_swap");
    assert_eq!(
        parked_got,
        Some(-1),
        "the parked consumer's ticket was the first cell"
    );
    assert!(all_values(queue, got).into_iter().eq(0..OTHERS));
}

reclaimer_tests!(
    push_parked_before_cas,
    push_parked_before_install,
    pop_parked_before_swap,
);

//! A long loop through an amortized handle keeps reclaiming under `Epoch`.
//!
//! crossbeam-epoch collects garbage only from `pin()` (every 128 pins) and
//! `flush()`. A handle holds one guard and refreshes it every 128
//! operations; if the refresh only `repin`ned, a handle loop would never
//! collect and every node it retired would wait for some other thread's
//! pin (measured before the fix: a 1M-write map loop left ~0.9M entries).
//! Its own binary: `Epoch`'s statistics are process-wide.
#![cfg(not(any(miri, loom)))]

use std::sync::{mpsc, Mutex};

use cds::reclaim::{Epoch, Reclaim};
use cds::{HashMap, MsQueue, TreiberStack};

/// The statistics are process-wide: the tests of this binary take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Objects still pending after `ops` retires through a handle must stay far
/// below `ops` (a few of crossbeam's 64-object bags).
const OPS: u64 = 200_000;
const BOUND: u64 = 20_000;

fn pending() -> u64 {
    Epoch.stats().pending
}

/// Fails unless the objects pending since `start` stay below [`BOUND`].
fn assert_reclaiming(what: &str, start: u64) {
    let grew = pending().saturating_sub(start);
    assert!(
        grew < BOUND,
        "{what}: {grew} of {OPS} retired objects pending"
    );
}

#[test]
fn handle_loops_keep_reclaiming() {
    let _serial = serial();
    let start = pending();

    let stack = TreiberStack::<u64>::new();
    let mut h = stack.handle();
    for i in 0..OPS {
        h.push(i);
        assert_eq!(h.pop(), Some(i));
    }
    assert_reclaiming("stack handle", start);
    drop(h);

    let queue = MsQueue::<u64>::new();
    let mut h = queue.handle();
    for i in 0..OPS {
        h.push(i);
        assert_eq!(h.pop(), Some(i));
    }
    assert_reclaiming("queue handle", start);
    drop(h);

    let map = HashMap::<u64, u64>::new();
    let mut h = map.handle();
    for i in 0..OPS {
        // Each insert replaces the entry of `i % 64`: one retire per op.
        h.insert(i % 64, i);
    }
    assert_reclaiming("map pin()", start);
}

/// A handle that only pushes still refreshes: pushes count toward
/// `REFRESH_EVERY` like pops. Before the fix a push-only `StackHandle`
/// kept its first pin for the whole loop, so nothing retired beside it
/// (here: queue pops on the same thread) could be reclaimed: 200 000 of
/// 200 000 pending.
#[test]
fn a_push_only_stack_handle_refreshes() {
    let _serial = serial();
    let start = pending();
    let stack = TreiberStack::<u64>::new();
    let queue = MsQueue::<u64>::new();
    let mut h = stack.handle();
    for i in 0..OPS {
        h.push(i);
        queue.push(i);
        assert_eq!(queue.pop(), Some(i));
    }
    Epoch.flush();
    assert_reclaiming("queue beside a push-only stack handle", start);
}

/// `refresh` hands the thread's open retire batch over: fewer retires than
/// a batch holds, then refreshes, and flushes on another thread reclaim
/// them while the retiring thread is still alive (before the fix: `retired
/// 10 reclaimed 0`, the batch waited for 22 more retires or thread exit).
#[test]
fn refresh_hands_over_the_open_batch() {
    let _serial = serial();
    // Settle: this thread's own batch and earlier garbage.
    for _ in 0..64 {
        Epoch.flush();
    }
    let start = pending();
    let retired = Epoch.stats().retired;
    let (done_tx, done_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        let queue = MsQueue::<u64>::new();
        for i in 0..10 {
            queue.push(i);
        }
        let mut h = queue.handle();
        for i in 0..10 {
            assert_eq!(h.pop(), Some(i));
        }
        for _ in 0..16 {
            h.refresh();
        }
        drop(h);
        done_tx.send(()).unwrap();
        // Stay alive (thread exit would hand the batch over by itself).
        exit_rx.recv().unwrap();
    });
    done_rx.recv().unwrap();
    assert!(
        Epoch.stats().retired >= retired + 10,
        "the pops retired 10 nodes"
    );
    for _ in 0..64 {
        Epoch.flush();
    }
    let left = pending().saturating_sub(start);
    exit_tx.send(()).unwrap();
    worker.join().unwrap();
    assert_eq!(
        left, 0,
        "{left} of 10 retired nodes still pending after refreshes"
    );
}

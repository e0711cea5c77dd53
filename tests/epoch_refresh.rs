//! A long loop through an amortized handle keeps reclaiming under `Epoch`.
//!
//! crossbeam-epoch collects garbage only from `pin()` (every 128 pins) and
//! `flush()`. A handle holds one guard and refreshes it every 128
//! operations; if the refresh only `repin`ned, a handle loop would never
//! collect and every node it retired would wait for some other thread's
//! pin (measured before the fix: a 1M-write map loop left ~0.9M entries).
//! Its own binary: `Epoch`'s statistics are process-wide.
#![cfg(not(any(miri, loom)))]

use cds::reclaim::{Epoch, Reclaim};
use cds::{HashMap, MsQueue, TreiberStack};

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
    let mut h = map.pin();
    for i in 0..OPS {
        // Each insert replaces the entry of `i % 64`: one retire per op.
        h.insert(i % 64, i);
    }
    assert_reclaiming("map pin()", start);
}

//! Loom models of `FaaQueue` with tiny segments (1 or 2 cells): segment
//! installation races, and the head swing and retire while `tail` lags
//! and a push protects through `tail`; plus the models shared with the
//! other linked structures (`linked.rs`: the push/pop race, the empty race
//! where a pop can overtake a producer, message passing). Under both
//! reclaimers (`Hazard` with a reclamation threshold of 1, so a segment is
//! freed as soon as nothing protects it).

use cds::reclaim::Reclaim;
use cds::testing::faa_queue::with_segment_len;
use loom::sync::Arc;
use loom::thread;

use crate::linked::drain;

/// Two pushers on one-cell segments: every push after the first installs a
/// segment, and the installs race (the loser takes its value back and
/// retries). FIFO per producer, exactly once.
fn install_race<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(with_segment_len(1, mk()));
    let other = {
        let queue = queue.clone();
        thread::spawn(move || queue.push(10u8))
    };
    queue.push(1);
    queue.push(2);
    other.join().unwrap();
    let all = drain(queue);
    let ones: Vec<u8> = all.iter().copied().filter(|&v| v < 10).collect();
    assert_eq!(ones, [1, 2], "FIFO per producer");
    let mut sorted = all;
    sorted.sort_unstable();
    assert_eq!(sorted, [1, 2, 10]);
}

/// One-cell segments, the first one full: a pusher protects `tail` (the
/// first segment) and installs a second one, and may be preempted before
/// swinging `tail`, which then lags on the first; meanwhile a popper
/// drains the first segment, moves `tail` off it, swings `head` and retires
/// it while the pusher may still read it. Exactly once, FIFO.
fn head_swing_with_lagging_tail<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(with_segment_len(1, mk()));
    queue.push(0u8);
    let pusher = {
        let queue = queue.clone();
        thread::spawn(move || queue.push(1))
    };
    // (No flush: under `Hazard` with threshold 1 the retire itself runs a
    // pass; under `Epoch` a flush multiplies the model.)
    let a = queue.pop();
    let b = queue.pop();
    pusher.join().unwrap();
    assert_eq!(a, Some(0), "the first segment's value pops first");
    let mut all: Vec<u8> = [a, b].into_iter().flatten().collect();
    all.extend(drain(queue));
    assert_eq!(all, [0, 1], "FIFO, exactly once");
}

crate::linked::linked_models!(Faa; own: install_race, head_swing_with_lagging_tail);

//! Loom models of `MsQueue`: a lagging tail and the pop
//! witness (`head == h` for the successor) under a `Hazard` domain with a
//! reclamation threshold of 1; the push/pop race, the empty race and message passing are
//! shared with the stack (`linked.rs`). Under both reclaimers.

use cds::reclaim::Reclaim;
use cds::MsQueue;
use loom::sync::Arc;
use loom::thread;

use crate::linked::drain;

/// Two pushers (either may be preempted between linking and swinging the
/// tail, leaving it lagging) and a popper that must help it: per-producer
/// FIFO, exactly once.
fn lagging_tail<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(MsQueue::with_reclaimer(mk()));
    let pusher = {
        let queue = queue.clone();
        thread::spawn(move || {
            queue.push(1u8);
            queue.push(2);
        })
    };
    let other = {
        let queue = queue.clone();
        thread::spawn(move || {
            queue.push(10u8);
            queue.pop()
        })
    };
    pusher.join().unwrap();
    let first = other
        .join()
        .unwrap()
        .expect("the other thread's own push completed");
    let mut all = vec![first];
    all.extend(drain(queue));
    let ones: Vec<u8> = all.iter().copied().filter(|&v| v < 10).collect();
    assert_eq!(ones, [1, 2], "FIFO per producer");
    all.sort_unstable();
    assert_eq!(all, [1, 2, 10]);
}

/// A popper may hold the sentinel and its successor while another thread
/// pops both, retiring them and forcing a reclamation pass after each.
/// The successor's protection is valid only with the `head == h` witness,
/// and its value is read only after the head CAS succeeded.
fn pop_witness<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(MsQueue::with_reclaimer(mk()));
    queue.push(Box::new(1));
    queue.push(Box::new(2));
    let other = {
        let queue = queue.clone();
        thread::spawn(move || {
            // A pass after each pop frees whatever no guard protects.
            let a = queue.pop().map(|b| *b);
            queue.reclaimer().flush();
            let b = queue.pop().map(|b| *b);
            queue.reclaimer().flush();
            [a, b]
        })
    };
    let mine = queue.pop().map(|b| *b);
    let mut got: Vec<i32> = other
        .join()
        .unwrap()
        .into_iter()
        .chain([mine])
        .flatten()
        .collect();
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
    assert!(queue.is_empty());
}

crate::linked::linked_models!(Queue; own: lagging_tail, pop_witness);

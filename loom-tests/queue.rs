//! Loom models of `MsQueue`: push/pop races, an empty queue, a lagging
//! tail, the pop witness (`head == h` for the successor) under a `Hazard`
//! domain with a reclamation threshold of 1, and message passing — under
//! both reclaimers.

use cds::reclaim::Reclaim;
use cds::MsQueue;
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;

/// One `#[test]` per reclaimer for each generic model `f<R>(mk: fn() -> R)`.
macro_rules! models {
    ($($name:ident),* $(,)?) => {
        mod epoch {
            $( #[test] fn $name() { loom::model(|| super::$name(cds::reclaim::Epoch::new)) } )*
        }
        mod hazard {
            $( #[test] fn $name() { loom::model(|| super::$name(|| cds::reclaim::Hazard::with_threshold(1))) } )*
        }
    };
}

fn drain<T, R: Reclaim>(queue: Arc<MsQueue<T, R>>) -> Vec<T> {
    Arc::try_unwrap(queue)
        .unwrap_or_else(|_| panic!("queue still shared"))
        .into_iter()
        .collect()
}

/// Two threads each push then pop; every value comes out exactly once.
fn push_pop_race<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(MsQueue::with_reclaimer(mk()));
    let threads: Vec<_> = (1..=2)
        .map(|v| {
            let queue = queue.clone();
            thread::spawn(move || {
                queue.push(v);
                queue.pop().expect("our own push completed")
            })
        })
        .collect();
    let mut got: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    got.extend(drain(queue));
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
}

/// A pop on an empty queue races with a push: it returns the value or
/// `None`, and the value is then found exactly once.
fn empty_queue<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(MsQueue::with_reclaimer(mk()));
    let popper = {
        let queue = queue.clone();
        thread::spawn(move || queue.pop())
    };
    queue.push(7u8);
    let got = popper.join().unwrap();
    let rest = drain(queue);
    match got {
        Some(v) => {
            assert_eq!(v, 7);
            assert!(rest.is_empty());
        }
        None => assert_eq!(rest, [7]),
    }
}

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
    let first = other.join().unwrap().expect("the other thread's own push completed");
    let mut all = vec![first];
    all.extend(drain(queue));
    let ones: Vec<u8> = all.iter().copied().filter(|&v| v < 10).collect();
    assert_eq!(ones, [1, 2], "FIFO per producer");
    all.sort_unstable();
    assert_eq!(all, [1, 2, 10]);
}

/// A popper may hold the sentinel and its successor while another thread
/// pops both (retiring them; with a threshold of 1, Hazard scans at once).
/// The successor's protection is valid only with the `head == h` witness,
/// and its value is read only after the head CAS succeeded.
fn pop_witness<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(MsQueue::with_reclaimer(mk()));
    queue.push(Box::new(1));
    queue.push(Box::new(2));
    let other = {
        let queue = queue.clone();
        thread::spawn(move || [queue.pop().map(|b| *b), queue.pop().map(|b| *b)])
    };
    let mine = queue.pop().map(|b| *b);
    let mut got: Vec<i32> = other.join().unwrap().into_iter().chain([mine]).flatten().collect();
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
    assert!(queue.is_empty());
}

/// Data written (Relaxed) before `push` is visible after the `pop` that
/// returns the pushed value: pop synchronizes-with push.
fn message_passing<R: Reclaim>(mk: fn() -> R) {
    let queue = Arc::new(MsQueue::with_reclaimer(mk()));
    let data = Arc::new(AtomicUsize::new(0));
    let producer = {
        let (queue, data) = (queue.clone(), data.clone());
        thread::spawn(move || {
            data.store(42, Relaxed);
            queue.push(1u8);
        })
    };
    // Wait (yielding, so loom runs the producer) for the value: every
    // interleaving ends with a successful pop.
    while queue.pop().is_none() {
        thread::yield_now();
    }
    assert_eq!(data.load(Relaxed), 42, "pop did not synchronize with push");
    producer.join().unwrap();
}

models!(push_pop_race, empty_queue, lagging_tail, pop_witness, message_passing);

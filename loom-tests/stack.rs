//! Loom models of `TreiberStack`: push/pop races and message passing,
//! under both reclaimers (`Epoch` on crossbeam-epoch's loom build; a
//! private `Hazard` domain with a reclamation threshold of 1, so every
//! retire scans and frees whatever is unprotected at once).

use cds::reclaim::Reclaim;
use cds::TreiberStack;
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

/// Two threads each push then pop; every value comes out exactly once.
fn push_pop_race<R: Reclaim>(mk: fn() -> R) {
    let stack = Arc::new(TreiberStack::with_reclaimer(mk()));
    let threads: Vec<_> = (1..=2)
        .map(|v| {
            let stack = stack.clone();
            thread::spawn(move || {
                stack.push(v);
                // Our own push completed: the stack is not empty for us.
                stack.pop().expect("a value we can see")
            })
        })
        .collect();
    let mut got: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let stack = Arc::try_unwrap(stack).unwrap_or_else(|_| panic!("stack still shared"));
    got.extend(stack);
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
}

/// Two poppers race over two values pushed before; each value exactly once,
/// and the nodes retired meanwhile are not freed under a reader.
fn concurrent_pops<R: Reclaim>(mk: fn() -> R) {
    let stack = Arc::new(TreiberStack::with_reclaimer(mk()));
    stack.push(Box::new(1));
    stack.push(Box::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let stack = stack.clone();
            thread::spawn(move || stack.pop().map(|b| *b))
        })
        .collect();
    let mut got: Vec<i32> = threads.into_iter().filter_map(|t| t.join().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
    assert!(stack.is_empty());
}

/// Data written (Relaxed) before `push` is visible after the `pop` that
/// returns the pushed value: pop synchronizes-with push.
fn message_passing<R: Reclaim>(mk: fn() -> R) {
    let stack = Arc::new(TreiberStack::with_reclaimer(mk()));
    let data = Arc::new(AtomicUsize::new(0));
    let producer = {
        let (stack, data) = (stack.clone(), data.clone());
        thread::spawn(move || {
            data.store(42, Relaxed);
            stack.push(1u8);
        })
    };
    // Wait (yielding, so loom runs the producer) for the value: every
    // interleaving ends with a successful pop.
    while stack.pop().is_none() {
        thread::yield_now();
    }
    assert_eq!(data.load(Relaxed), 42, "pop did not synchronize with push");
    producer.join().unwrap();
}

models!(push_pop_race, concurrent_pops, message_passing);

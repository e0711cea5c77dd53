//! Loom models of `TreiberStack`: concurrent pops here; the push/pop race
//! and message passing are shared with the queue (`linked.rs`). Under both
//! reclaimers (`Epoch` on crossbeam-epoch's loom build; a private `Hazard`
//! domain with a reclamation threshold of 1, so every retire scans and
//! frees whatever is unprotected at once).

use cds::reclaim::Reclaim;
use cds::TreiberStack;
use loom::sync::Arc;
use loom::thread;

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
    let mut got: Vec<i32> = threads
        .into_iter()
        .filter_map(|t| t.join().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
    assert!(stack.is_empty());
}

crate::linked::linked_models!(Stack; own: concurrent_pops);

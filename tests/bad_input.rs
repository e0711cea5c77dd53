//! Bad input for the stack, the queue, the spin mutex and the reclaimer
//! API: a panicking iterator, closure or `Drop` from the user, and slot
//! indices out of range. Each case must end in a clear panic that reaches
//! the caller, with the structure consistent afterwards and nothing leaked
//! (drop counters). The map's and the semaphore's cases live beside their
//! own tests (`tests/map*.rs`, `tests/semaphore.rs`).

#[path = "common/reclaimers.rs"]
#[macro_use]
mod reclaimers;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use cds::reclaim::Reclaim;
use cds::{MsQueue, SpinMutex, TreiberStack};

/// A value that counts its drops.
#[derive(Debug)]
struct Counted(u32, Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
    }
}

/// Yields `Counted(0..)` and panics when asked for item number `at`.
fn panicking_iter(at: u32, drops: &Arc<AtomicUsize>) -> impl Iterator<Item = Counted> + '_ {
    (0..).map(move |i| {
        assert!(i != at, "iterator panics at item {at}");
        Counted(i, drops.clone())
    })
}

/// The message of a caught panic.
fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// `Extend` from an iterator that panics midway: the panic reaches the
/// caller, the items yielded before it are in the stack in LIFO order, the
/// stack keeps working, and every value is dropped exactly once.
fn stack_extend_panics<R: Reclaim>(mk: fn() -> R) {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut stack = TreiberStack::with_reclaimer(mk());
    let err = catch_unwind(AssertUnwindSafe(|| {
        stack.extend(panicking_iter(5, &drops));
    }))
    .expect_err("the iterator's panic must reach the caller");
    assert!(message(err).contains("iterator panics at item 5"));
    assert_eq!(drops.load(SeqCst), 0, "nothing dropped yet");
    stack.push(Counted(99, drops.clone()));
    let popped: Vec<u32> = std::iter::from_fn(|| stack.pop()).map(|c| c.0).collect();
    assert_eq!(popped, [99, 4, 3, 2, 1, 0]);
    assert_eq!(drops.load(SeqCst), 6);
}

/// `FromIterator` from an iterator that panics: nothing leaks.
fn stack_from_iter_panics<R: Reclaim + Default>(_mk: fn() -> R) {
    let drops = Arc::new(AtomicUsize::new(0));
    let err = catch_unwind(AssertUnwindSafe(|| {
        panicking_iter(7, &drops).collect::<TreiberStack<Counted, R>>()
    }))
    .expect_err("the iterator's panic must reach the caller");
    assert!(message(err).contains("iterator panics at item 7"));
    assert_eq!(drops.load(SeqCst), 7, "the 7 values yielded were dropped");
}

/// The same for the queue (FIFO order kept).
fn queue_extend_panics<R: Reclaim>(mk: fn() -> R) {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut queue = MsQueue::with_reclaimer(mk());
    let err = catch_unwind(AssertUnwindSafe(|| {
        queue.extend(panicking_iter(5, &drops));
    }))
    .expect_err("the iterator's panic must reach the caller");
    assert!(message(err).contains("iterator panics at item 5"));
    queue.push(Counted(99, drops.clone()));
    let popped: Vec<u32> = std::iter::from_fn(|| queue.pop()).map(|c| c.0).collect();
    assert_eq!(popped, [0, 1, 2, 3, 4, 99]);
    assert_eq!(drops.load(SeqCst), 6);
}

fn queue_from_iter_panics<R: Reclaim + Default>(_mk: fn() -> R) {
    let drops = Arc::new(AtomicUsize::new(0));
    let err = catch_unwind(AssertUnwindSafe(|| {
        panicking_iter(7, &drops).collect::<MsQueue<Counted, R>>()
    }))
    .expect_err("the iterator's panic must reach the caller");
    assert!(message(err).contains("iterator panics at item 7"));
    assert_eq!(drops.load(SeqCst), 7, "the 7 values yielded were dropped");
}

/// A value whose `Drop` panics, popped and dropped by the user: the
/// structure is not involved in that drop and stays usable.
fn popped_value_panicking_drop<R: Reclaim>(mk: fn() -> R) {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb");
        }
    }
    let stack = TreiberStack::with_reclaimer(mk());
    stack.push(Bomb);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(stack.pop()))).is_err());
    assert!(stack.is_empty());
    let queue = MsQueue::with_reclaimer(mk());
    queue.push(Bomb);
    queue.push(Bomb);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(queue.pop()))).is_err());
    assert!(!queue.is_empty());
    assert!(catch_unwind(AssertUnwindSafe(|| drop(queue.pop()))).is_err());
    assert!(queue.is_empty());
}

// A protection slot out of range cannot be asked for: a guard lends its
// slots as an array of `MAX_SLOTS` values (`Guard::slots`), so there is no
// index to get wrong.

reclaimer_tests!(
    stack_extend_panics,
    stack_from_iter_panics,
    queue_extend_panics,
    queue_from_iter_panics,
    popped_value_panicking_drop,
);

#[cfg(feature = "rayon")]
mod rayon_input {
    use super::*;
    use rayon::prelude::*;

    /// `par_extend` with a closure that panics on some items: the panic
    /// reaches the caller, the structure holds a subset of the values
    /// (each at most once), and every value is dropped exactly once.
    fn par_extend_panics<R: Reclaim>(mk: fn() -> R) {
        let n = if cfg!(miri) { 50 } else { 10_000 };
        let made = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let make = |i: u32| {
            assert!(i % 997 != 500, "closure panics at {i}");
            made.fetch_add(1, SeqCst);
            Counted(i, drops.clone())
        };
        let stack = TreiberStack::with_reclaimer(mk());
        let queue = MsQueue::with_reclaimer(mk());
        assert!(catch_unwind(AssertUnwindSafe(|| {
            (&stack).par_extend((0..n).into_par_iter().map(make));
        }))
        .is_err());
        assert!(catch_unwind(AssertUnwindSafe(|| {
            (&queue).par_extend((0..n).into_par_iter().map(make));
        }))
        .is_err());
        let mut seen = std::collections::HashSet::new();
        while let Some(c) = stack.pop() {
            assert!(c.0 % 997 != 500 && seen.insert((0, c.0)));
        }
        while let Some(c) = queue.pop() {
            assert!(c.0 % 997 != 500 && seen.insert((1, c.0)));
        }
        drop((stack, queue));
        assert_eq!(drops.load(SeqCst), made.load(SeqCst));
    }

    reclaimer_tests!(par_extend_panics);
}

#[test]
fn spin_mutex_panicking_closure_under_lock() {
    let m = SpinMutex::new(vec![1, 2, 3]);
    let err = catch_unwind(AssertUnwindSafe(|| {
        let mut g = m.lock();
        g.push(4);
        panic!("user code panics under the lock");
    }))
    .expect_err("the panic reaches the caller");
    assert!(message(err).contains("under the lock"));
    // The guard unlocked while unwinding; no poisoning: the data is as the
    // panicking code left it.
    assert!(!m.is_locked());
    assert_eq!(*m.lock(), [1, 2, 3, 4]);
}

#[test]
fn spin_mutex_panicking_drop_of_inner_value() {
    struct Bomb(Arc<AtomicUsize>);
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
            panic!("bomb");
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let m = SpinMutex::new(Some(Bomb(drops.clone())));
    // Replacing the value under the lock drops the old one there: the
    // panic unwinds through the guard, which still unlocks.
    assert!(catch_unwind(AssertUnwindSafe(|| *m.lock() = None)).is_err());
    assert_eq!(drops.load(SeqCst), 1);
    assert!(!m.is_locked());
    assert!(m.lock().is_none());
}

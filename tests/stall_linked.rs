//! Stall hooks: a thread parked at the worst moment of `TreiberStack` and
//! `MsQueue` (between its load and its CAS; after linking a node but
//! before swinging the tail) while other threads' pushes and pops complete.
//! That is the lock-free claim, shown: no operation waits for the parked
//! one. Run with
//! `RUSTFLAGS="--cfg cds_hooks" CARGO_TARGET_DIR=target/hooks cargo test --all-features --test stall_linked`.
#![cfg(cds_hooks)]

#[path = "common/reclaimers.rs"]
#[macro_use]
mod reclaimers;
#[path = "common/stall.rs"]
mod stall;

use std::sync::atomic::Ordering::SeqCst;

use cds::reclaim::Reclaim;
use cds::{MsQueue, TreiberStack};
use stall::{completes, Gate, SERIAL, STALL_ME};

/// A pusher parked between its head load and its CAS; others push and pop.
fn stack_push_parked_before_cas<R: Reclaim>(mk: fn() -> R) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let gate = Gate::install("stack.push.before_cas");
    let stack = TreiberStack::with_reclaimer(mk());
    stack.push(-1);
    std::thread::scope(|s| {
        let parked = s.spawn(|| {
            STALL_ME.with(|f| f.set(true));
            stack.push(1000);
        });
        gate.wait_parked();
        completes("pushes and pops", || {
            for i in 0..1000 {
                stack.push(i);
            }
            for i in (0..1000).rev() {
                assert_eq!(stack.pop(), Some(i));
            }
        });
        gate.release.store(true, SeqCst);
        parked.join().unwrap();
    });
    cds::hooks::clear("stack.push.before_cas");
    // The parked push retried after its CAS failed and landed on top.
    assert_eq!(stack.into_iter().collect::<Vec<_>>(), [1000, -1]);
}

/// A popper parked between reading `head.next` and its CAS; others pop its
/// node (retiring it) and push new ones. Its CAS must fail (no ABA: the node
/// it holds is protected, so its address cannot be reused).
fn stack_pop_parked_before_cas<R: Reclaim>(mk: fn() -> R) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let gate = Gate::install("stack.pop.before_cas");
    let stack = TreiberStack::with_reclaimer(mk());
    stack.push(1);
    stack.push(2);
    let got = std::thread::scope(|s| {
        let parked = s.spawn(|| {
            STALL_ME.with(|f| f.set(true));
            stack.pop()
        });
        gate.wait_parked();
        completes("pops and pushes", || {
            assert_eq!(stack.pop(), Some(2));
            assert_eq!(stack.pop(), Some(1));
            for i in 3..200 {
                stack.push(i);
            }
            for i in (4..200).rev() {
                assert_eq!(stack.pop(), Some(i));
            }
            stack.reclaimer().flush();
        });
        gate.release.store(true, SeqCst);
        parked.join().unwrap()
    });
    cds::hooks::clear("stack.pop.before_cas");
    assert_eq!(got, Some(3));
    assert!(stack.is_empty());
}

/// A pusher parked after linking its node but before swinging the tail:
/// others see its value, help the tail forward, push and pop.
fn queue_push_parked_after_link<R: Reclaim>(mk: fn() -> R) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let gate = Gate::install("queue.push.after_link");
    let queue = MsQueue::with_reclaimer(mk());
    std::thread::scope(|s| {
        let parked = s.spawn(|| {
            STALL_ME.with(|f| f.set(true));
            queue.push(100);
        });
        gate.wait_parked();
        completes("pushes and pops behind a lagging tail", || {
            // The linked value is already in the queue.
            assert!(!queue.is_empty());
            for i in 0..100 {
                queue.push(i);
            }
            assert_eq!(queue.pop(), Some(100));
            for i in 0..100 {
                assert_eq!(queue.pop(), Some(i));
            }
            assert_eq!(queue.pop(), None);
            queue.push(7);
        });
        gate.release.store(true, SeqCst);
        parked.join().unwrap();
    });
    cds::hooks::clear("queue.push.after_link");
    // The late tail CAS failed harmlessly: the queue is consistent.
    queue.push(8);
    assert_eq!(queue.into_iter().collect::<Vec<_>>(), [7, 8]);
}

/// A popper parked before its head CAS, holding the sentinel and its
/// successor; others pop both (retiring them) and push. Its CAS must fail
/// and its retry take the next value.
fn queue_pop_parked_before_cas<R: Reclaim>(mk: fn() -> R) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let gate = Gate::install("queue.pop.before_cas");
    let queue = MsQueue::with_reclaimer(mk());
    queue.push(1);
    queue.push(2);
    let got = std::thread::scope(|s| {
        let parked = s.spawn(|| {
            STALL_ME.with(|f| f.set(true));
            queue.pop()
        });
        gate.wait_parked();
        completes("pops and pushes", || {
            assert_eq!(queue.pop(), Some(1));
            assert_eq!(queue.pop(), Some(2));
            for i in 3..200 {
                queue.push(i);
            }
            for i in 3..199 {
                assert_eq!(queue.pop(), Some(i));
            }
            queue.reclaimer().flush();
        });
        gate.release.store(true, SeqCst);
        parked.join().unwrap()
    });
    cds::hooks::clear("queue.pop.before_cas");
    assert_eq!(got, Some(199));
    assert!(queue.is_empty());
}

reclaimer_tests!(
    stack_push_parked_before_cas,
    stack_pop_parked_before_cas,
    queue_push_parked_after_link,
    queue_pop_parked_before_cas,
);

//! Stall-hook tests of `Semaphore`: park a thread inside the protocol's
//! critical windows and show the outcome is still right.
#![cfg(cds_hooks)]

use cds::Semaphore;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Installs a hook at `point` that holds only the thread named `point`
/// (tests run in parallel and hooks are global) until the returned flag is
/// set; `reached` is set when it gets there.
fn hold(point: &'static str) -> (Arc<AtomicBool>, Arc<AtomicBool>) {
    let reached = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(false));
    let (r, g) = (reached.clone(), go.clone());
    cds::hooks::set(point, move || {
        if std::thread::current().name() == Some(point) {
            r.store(true, SeqCst);
            while !g.load(SeqCst) {
                std::thread::yield_now();
            }
        }
    });
    (reached, go)
}

fn wait_for(flag: &AtomicBool) {
    while !flag.load(SeqCst) {
        std::thread::yield_now();
    }
}

/// The whole release (count update or hand-off, and the unpark) happens
/// after the waiter linked itself but before it parked: the unpark token
/// must make its park return (no lost wake-up), in both modes.
#[test]
fn release_between_link_and_park() {
    for fifo in [false, true] {
        let (reached, go) = hold("semaphore.acquire.before_park");
        let sem = Arc::new(if fifo { Semaphore::new_fifo(0) } else { Semaphore::new(0) });
        let s2 = sem.clone();
        let waiter = std::thread::Builder::new()
            .name("semaphore.acquire.before_park".into())
            .spawn(move || s2.acquire().forget())
            .unwrap();
        wait_for(&reached);
        assert_eq!(sem.queued_waiters_for_tests(), 1);
        sem.add_permits(1);
        go.store(true, SeqCst);
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 0);
        assert_eq!(sem.queued_waiters_for_tests(), 0);
        cds::hooks::clear("semaphore.acquire.before_park");
    }
}

/// A waiter whose deadline passed is stalled before it leaves the queue; a
/// FIFO release hands it the permit meanwhile. It must keep the permit and
/// return `Some` (documented), not lose it.
#[test]
fn grant_between_deadline_and_cancel_is_kept() {
    let (reached, go) = hold("semaphore.timeout.before_cancel");
    let sem = Arc::new(Semaphore::new_fifo(0));
    let s2 = sem.clone();
    let waiter = std::thread::Builder::new()
        .name("semaphore.timeout.before_cancel".into())
        .spawn(move || s2.acquire_timeout(Duration::from_millis(1)).map(|p| p.num_permits()))
        .unwrap();
    wait_for(&reached);
    sem.add_permits(1); // handed to the still-linked waiter
    assert_eq!(sem.queued_waiters_for_tests(), 0);
    go.store(true, SeqCst);
    assert_eq!(waiter.join().unwrap(), Some(1));
    assert_eq!(sem.available_permits(), 1, "its permit came back when dropped");
    cds::hooks::clear("semaphore.timeout.before_cancel");
}

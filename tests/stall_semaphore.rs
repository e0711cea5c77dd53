//! Tests of `Semaphore` that need `--cfg cds_hooks`:
//!
//! - stall hooks: park a thread inside the protocol's critical windows and
//!   show the outcome is still right;
//! - the fairness bound on an injected clock
//!   (`cds::testing::semaphore::with_fairness_clock`, compiled only under
//!   `cds_hooks` so that ordinary builds carry no test clock): step time
//!   past the 0.5 ms bound without sleeping.
//!
//! Run with `RUSTFLAGS="--cfg cds_hooks" CARGO_TARGET_DIR=target/hooks
//! cargo test --all-features --test stall_semaphore`.
#![cfg(cds_hooks)]

#[path = "common/semaphore.rs"]
mod common;

use cds::testing::semaphore::{queued_waiters, with_fairness_clock};
use cds::Semaphore;
use common::{check_available_is_reserved, check_zero_permits_at_once, wait_queued, watchdog};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
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

/// A default-mode semaphore whose fairness clock reads the returned counter
/// (nanoseconds, starting at `start`), which the test steps by hand.
fn clocked(permits: usize, start: u64) -> (Semaphore, Arc<AtomicU64>) {
    let nanos = Arc::new(AtomicU64::new(start));
    let clock = nanos.clone();
    let sem = with_fairness_clock(permits, move || Duration::from_nanos(clock.load(SeqCst)));
    (sem, nanos)
}

/// The whole release (count update or hand-off, and the unpark) happens
/// after the waiter linked itself but before it parked: the unpark token
/// must make its park return (no lost wake-up), in both modes.
#[test]
fn release_between_link_and_park() {
    for fifo in [false, true] {
        let (reached, go) = hold("semaphore.acquire.before_park");
        let sem = Arc::new(if fifo {
            Semaphore::new_fifo(0)
        } else {
            Semaphore::new(0)
        });
        let s2 = sem.clone();
        let waiter = std::thread::Builder::new()
            .name("semaphore.acquire.before_park".into())
            .spawn(move || s2.acquire().forget())
            .unwrap();
        wait_for(&reached);
        assert_eq!(queued_waiters(&sem), 1);
        sem.add_permits(1);
        go.store(true, SeqCst);
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 0);
        assert_eq!(queued_waiters(&sem), 0);
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
        .spawn(move || {
            s2.acquire_timeout(Duration::from_millis(1))
                .map(|p| p.num_permits())
        })
        .unwrap();
    wait_for(&reached);
    sem.add_permits(1); // handed to the still-linked waiter
    assert_eq!(queued_waiters(&sem), 0);
    go.store(true, SeqCst);
    assert_eq!(waiter.join().unwrap(), Some(1));
    assert_eq!(
        sem.available_permits(),
        1,
        "its permit came back when dropped"
    );
    cds::hooks::clear("semaphore.timeout.before_cancel");
}

/// The fairness bound, on an injected clock: while the head has waited less
/// than 0.5 ms a released permit goes to the count (a newcomer may take it);
/// from 0.5 ms on, releases hand permits to the head and newcomers get
/// nothing. Deterministic: the head wants 3 permits, so it cannot take the
/// single permits itself while competing.
#[test]
fn fairness_bound_with_injected_clock() {
    let (sem, nanos) = clocked(0, 1_000_000);
    watchdog("fairness", 60, || {
        std::thread::scope(|s| {
            let head = s.spawn(|| sem.acquire_many(3).forget());
            wait_queued(&sem, 1);

            // Waited 0.499 ms: the permit enters the count; a newcomer takes it.
            nanos.fetch_add(499_000, SeqCst);
            sem.add_permits(1);
            assert_eq!(sem.available_permits(), 1);
            let barged = sem
                .try_acquire()
                .expect("a newcomer may barge before the bound");
            assert_eq!(sem.available_permits(), 0);
            drop(barged); // still before the bound: back to the count
            assert_eq!(sem.available_permits(), 1);

            // Waited 0.5 ms: the next release goes to the head, and also
            // drains the count into it; newcomers find nothing.
            nanos.fetch_add(1_000, SeqCst);
            sem.add_permits(1);
            assert_eq!(sem.available_permits(), 0);
            assert!(sem.try_acquire().is_none());
            assert_eq!(queued_waiters(&sem), 1, "2 of 3 permits: still queued");

            // The third permit completes the hand-off.
            sem.add_permits(1);
            head.join().unwrap();
        });
    });
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(queued_waiters(&sem), 0);
}

/// With one permit at a time: past the bound a release never reaches the
/// count, so `available_permits` stays 0 and `try_acquire` fails.
#[test]
fn fairness_bound_single_permit_hand_off() {
    let (sem, nanos) = clocked(0, 0);
    watchdog("fairness_single", 60, || {
        std::thread::scope(|s| {
            let head = s.spawn(|| sem.acquire().forget());
            wait_queued(&sem, 1);
            nanos.store(500_000, SeqCst);
            sem.add_permits(1);
            assert_eq!(
                queued_waiters(&sem),
                0,
                "granted and unlinked by the release"
            );
            assert_eq!(sem.available_permits(), 0);
            assert!(sem.try_acquire().is_none());
            head.join().unwrap();
        });
    });
}

/// The fairness hole: permits released while the first waiter is younger
/// than the bound go to the count; once it has waited the bound, a
/// newcomer must not take them either (before the fix `try_acquire`
/// succeeded here). The head wants 3, so it cannot take the banked permit
/// itself; the next releases hand it the rest and drain the banked one.
#[test]
fn fairness_bound_covers_banked_permits() {
    let (sem, nanos) = clocked(0, 1_000_000);
    watchdog("fairness_banked", 60, || {
        std::thread::scope(|s| {
            let head = s.spawn(|| sem.acquire_many(3).forget());
            wait_queued(&sem, 1);

            // Young head: the permit is banked in the count.
            nanos.fetch_add(100_000, SeqCst);
            sem.add_permits(1);
            assert_eq!(sem.available_permits(), 1);

            // The head has now waited 10 ms: the banked permit is its.
            // (Checked after the head is served, so a failure does not hang.)
            nanos.fetch_add(10_000_000, SeqCst);
            let newcomers_got = [
                sem.try_acquire().is_some(),
                sem.try_acquire_many(1).is_some(),
                sem.acquire_timeout(Duration::from_millis(1)).is_some(),
            ];
            let banked = sem.available_permits();

            sem.add_permits(2);
            head.join().unwrap();
            assert_eq!(newcomers_got, [false; 3], "a newcomer took a banked permit");
            assert_eq!(banked, 1);
        });
    });
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(queued_waiters(&sem), 0);
}

/// A newcomer that arrives while the first waiter is past the bound and
/// the count could serve it queues behind that waiter instead of taking.
#[test]
fn newcomer_queues_behind_a_due_head() {
    let (sem, nanos) = clocked(0, 0);
    let order = Mutex::new(Vec::new());
    watchdog("fairness_newcomer", 60, || {
        std::thread::scope(|s| {
            s.spawn(|| {
                sem.acquire_many(2).forget();
                order.lock().unwrap().push("head");
            });
            wait_queued(&sem, 1);
            sem.add_permits(1); // young head: banked
            nanos.store(1_000_000, SeqCst);
            s.spawn(|| {
                sem.acquire().forget();
                order.lock().unwrap().push("newcomer");
            });
            // Until it queued (or, wrongly, took the banked permit).
            while queued_waiters(&sem) < 2 && order.lock().unwrap().is_empty() {
                std::thread::yield_now();
            }
            sem.add_permits(1); // hand-off + the banked one: head served
            while order.lock().unwrap().is_empty() {
                std::thread::yield_now();
            }
            sem.add_permits(1);
        });
    });
    assert_eq!(*order.lock().unwrap(), ["head", "newcomer"]);
    assert_eq!(sem.available_permits(), 0);
}

/// Zero permits are an empty `Permit` at once even in the default mode with
/// the first waiter past the fairness bound (it has priority over
/// newcomers, but a zero-permit request takes nothing from it). The other
/// modes are in `tests/semaphore.rs`.
#[test]
fn zero_permits_return_at_once_past_the_bound() {
    let (sem, nanos) = clocked(1, 0);
    check_zero_permits_at_once(&sem, sem.acquire(), || {
        nanos.fetch_add(10_000_000, SeqCst);
    });
    assert_eq!(sem.available_permits(), 0);
    sem.add_permits(1);
    assert_eq!(sem.available_permits(), 1);
}

/// `available_permits` counts free permits that newcomers may not take
/// because the first waiter is past the fairness bound (the FIFO case is in
/// `tests/semaphore.rs`): `try_acquire` fails although one is free.
#[test]
fn available_permits_includes_permits_reserved_for_a_due_head() {
    let (sem, nanos) = clocked(1, 0);
    check_available_is_reserved(&sem, || {
        nanos.fetch_add(1_000_000, SeqCst);
    });
}

/// The test constructor checks its input like `Semaphore::new`.
#[test]
#[should_panic(
    expected = "cds::testing::semaphore::with_fairness_clock: 18446744073709551615 permits exceeds Semaphore::MAX_PERMITS"
)]
fn with_fairness_clock_beyond_max_panics() {
    let _ = with_fairness_clock(usize::MAX, || Duration::ZERO);
}

//! Helpers the semaphore's test binaries share (`tests/semaphore.rs`,
//! `tests/stall_semaphore.rs`).
#![allow(dead_code)]

use cds::testing::semaphore::queued_waiters;
use cds::Semaphore;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs `f`; if it has not finished after `secs`, reports a hang and exits
/// the test process (a lost wake-up would otherwise hang CI silently).
pub fn watchdog<R>(name: &str, secs: u64, f: impl FnOnce() -> R) -> R {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let name = name.to_owned();
    // Miri's clock runs fast relative to its interpretation speed.
    let secs = if cfg!(miri) { secs * 20 } else { secs };
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !d.load(SeqCst) {
            if Instant::now() > deadline {
                eprintln!("{name}: no progress after {secs} s (lost wake-up?)");
                std::process::exit(101);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let r = f();
    done.store(true, SeqCst);
    r
}

pub fn wait_queued(sem: &Semaphore, n: usize) {
    while queued_waiters(sem) != n {
        std::thread::yield_now();
    }
}

/// With one permit held and a waiter queued behind it, zero-permit
/// acquires return at once (they take nothing, so they never wait their
/// turn); `after_queued` runs once the waiter is queued (the clocked test
/// moves its clock there). Consumes the held permit.
pub fn check_zero_permits_at_once(
    sem: &Semaphore,
    held: cds::Permit<'_>,
    after_queued: impl Fn() + Sync,
) {
    watchdog("zero_permits", 60, || {
        std::thread::scope(|s| {
            s.spawn(|| sem.acquire().forget());
            wait_queued(sem, 1);
            after_queued();
            let quick = (
                sem.try_acquire_many(0).map(|p| p.num_permits()),
                sem.acquire_many_timeout(0, Duration::ZERO).map(|p| {
                    let n = p.num_permits();
                    p.forget();
                    n
                }),
            );
            if quick != (Some(0), Some(0)) {
                drop(held); // let the waiter finish, then fail
                panic!("(try_acquire_many(0), acquire_many_timeout(0, 0)) = {quick:?}");
            }
            // Would block (caught by the watchdog) if it waited its turn.
            assert_eq!(sem.acquire_many(0).num_permits(), 0);
            assert_eq!(queued_waiters(sem), 1);
            drop(held);
        });
    });
}

/// With one permit free and a waiter for two queued, the free permit is
/// reserved for the waiter: reported as available, but `try_acquire`
/// fails; once `add_permits(1)` lets the waiter through, what is reported
/// can be taken. `after_queued` runs once the waiter is queued.
pub fn check_available_is_reserved(sem: &Semaphore, after_queued: impl Fn() + Sync) {
    watchdog("available_reserved", 60, || {
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(sem.acquire_many(2).num_permits(), 2));
            wait_queued(sem, 1);
            after_queued();
            let seen = (sem.available_permits(), sem.try_acquire().is_none());
            sem.add_permits(1);
            assert_eq!(seen, (1, true), "(available, try_acquire failed)");
        });
    });
    assert_eq!(sem.available_permits(), 2);
    // With nobody queued, what it reports can be taken.
    assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
}

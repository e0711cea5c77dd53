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

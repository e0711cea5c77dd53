//! What every stall-hook test binary needs: a thread-local flag for the one
//! thread that should park, a lock that runs one test at a time (hooks are
//! process-global), a gate that parks the flagged thread at a stall point
//! until released, and a check that other operations complete meanwhile.
#![allow(dead_code)]

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

thread_local! {
    /// Set by the one thread that should park at the next stall point it
    /// reaches.
    pub static STALL_ME: Cell<bool> = const { Cell::new(false) };
}

/// Hooks are process-global: one test at a time in this binary.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// A parked thread's state.
#[derive(Default)]
pub struct Gate {
    pub parked: AtomicBool,
    pub release: AtomicBool,
}

impl Gate {
    /// Parks the flagged thread that reaches `point` until released.
    pub fn install(point: &'static str) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        cds::hooks::set(point, move || {
            if STALL_ME.with(|s| s.replace(false)) {
                g.parked.store(true, SeqCst);
                while !g.release.load(SeqCst) {
                    std::thread::yield_now();
                }
            }
        });
        gate
    }

    pub fn wait_parked(&self) {
        while !self.parked.load(SeqCst) {
            std::thread::yield_now();
        }
    }
}

/// Runs `f` on another thread and fails if it does not finish in time
/// (it would hang if an operation waited for the parked thread).
pub fn completes<T: Send>(what: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        let h = s.spawn(move || {
            let out = f();
            let _ = tx.send(());
            out
        });
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{what} did not complete while a thread was parked"));
        h.join().unwrap()
    })
}

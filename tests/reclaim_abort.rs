//! A drop function that panics while the reclaimer runs it aborts the
//! process with a message, under `Hazard` (private and global domains) and
//! `Epoch`: unwinding out of a pass would surface in an unrelated operation
//! and leak the rest of its batch (see `cds::reclaim`).
//!
//! Each test re-executes this test binary on itself (`--exact <name>`) with
//! `CDS_RECLAIM_ABORT_CHILD` naming the scenario; the child retires an object
//! whose drop panics and flushes, and the parent checks that the child died
//! by `SIGABRT` (not a normal exit, not the test harness's exit code 101)
//! with the abort message on its stderr. Under miri (no processes) the
//! tests return at once.
#![cfg(all(unix, not(loom)))] // std processes and signals; loom models live in loom-tests/

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use cds::reclaim::{Epoch, Guard, Hazard, Reclaim};

/// Names the scenario the child runs; unset in the parent.
const CHILD_ENV: &str = "CDS_RECLAIM_ABORT_CHILD";

/// What `cds::reclaim` prints before aborting.
const ABORT_MESSAGE: &str = "a destructor panicked during deferred reclamation; aborting";

/// The payload's own panic message (printed by the panic hook first).
const PANIC_MESSAGE: &str = "PanicsOnDrop: this drop panics on purpose";

/// `SIGABRT`: 6 on Linux, macOS and the BSDs.
const SIGABRT: i32 = 6;

/// Exit code of a child whose flushes returned without aborting.
const NOT_ABORTED: i32 = 3;

struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("{PANIC_MESSAGE}");
    }
}

unsafe fn drop_panicking(p: *mut ()) {
    // SAFETY: the only pointer retired with this function is the
    // `Box<PanicsOnDrop>` of `child`, reclaimed once.
    drop(unsafe { Box::from_raw(p.cast::<PanicsOnDrop>()) });
}

/// The child's side: retire one object whose drop panics, then flush until
/// the reclaimer runs it (it aborts the process there). Exits with
/// `NOT_ABORTED` if the flushes all return.
fn child<R: Reclaim>(r: R) -> ! {
    no_core_dump();
    let p = Box::into_raw(Box::new(PanicsOnDrop));
    // SAFETY: `p` was never shared (nothing can reach it), is retired once,
    // only this reclaimer's guards could protect it, and its drop function
    // frees a `Send + 'static` box on any thread.
    unsafe { r.guard().retire(p.cast(), drop_panicking) };
    // One flush is enough for `Hazard`; epochs need a few to advance.
    for _ in 0..10_000 {
        r.flush();
        std::thread::yield_now();
    }
    std::process::exit(NOT_ABORTED);
}

/// Keeps the expected abort from writing a core file.
fn no_core_dump() {
    #[cfg(target_os = "linux")]
    {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `setrlimit` reads the struct we pass by reference and
        // touches no other memory of this process.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) };
        assert_eq!(rc, 0, "setrlimit(RLIMIT_CORE, 0) failed");
    }
}

/// The parent's side: runs `test_name` of this binary as a child with the
/// scenario `scenario` and checks how it died.
fn expect_abort(test_name: &str, scenario: &str) {
    if cfg!(miri) {
        // Miri cannot spawn processes; the child part needs a real one.
        return;
    }
    let exe = std::env::current_exe().expect("path of this test binary");
    let out = Command::new(exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, scenario)
        // Any core file lands outside the repository.
        .current_dir(std::env::temp_dir())
        .output()
        .expect("spawn the child test process");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(SIGABRT),
        "{scenario}: the child was not killed by SIGABRT ({:?}; exit code {NOT_ABORTED}: \
         the flushes returned, 101: a test failure or a panic that unwound)\n\
         --- child stderr ---\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains(PANIC_MESSAGE),
        "{scenario}: the drop's panic message is missing\n--- child stderr ---\n{stderr}"
    );
    assert!(
        stderr.contains(ABORT_MESSAGE),
        "{scenario}: the abort message is missing\n--- child stderr ---\n{stderr}"
    );
}

/// Runs the child scenario if this process is the child for `scenario`.
fn run_child_if_asked(scenario: &str, make: impl FnOnce()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(scenario) {
        make();
    }
}

#[test]
fn panicking_drop_aborts_under_hazard_private_domain() {
    run_child_if_asked("hazard-private", || child(Hazard::private()));
    expect_abort(
        "panicking_drop_aborts_under_hazard_private_domain",
        "hazard-private",
    );
}

#[test]
fn panicking_drop_aborts_under_hazard_global_domain() {
    run_child_if_asked("hazard-global", || child(Hazard::global()));
    expect_abort(
        "panicking_drop_aborts_under_hazard_global_domain",
        "hazard-global",
    );
}

#[test]
fn panicking_drop_aborts_under_epoch() {
    run_child_if_asked("epoch", || child(Epoch::new()));
    expect_abort("panicking_drop_aborts_under_epoch", "epoch");
}

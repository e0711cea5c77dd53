//! `cargo run --release --example versus`: cds side by side with std and the
//! peers users would otherwise pick, in one process, interleaved.
//!
//! Flags: `--json` (one JSON object per line), `--group NAME` (one group),
//! `--quick` (every group well under ~15 s), `--reps N` (default 5),
//! `--threads 1,2,4` (thread counts; default 1, 2 and 2 × cores).

mod harness;
mod lock;
mod map;
mod queue;
mod semaphore;
mod spsc;
mod stack;

use harness::{Opts, Report};

/// A group: its `--group` name and its runner.
type Group = (&'static str, fn(&mut Report));

fn main() {
    let opts = Opts::from_args();
    if !opts.json {
        println!(
            "cds versus — {} cores; allocator: system; map hasher: std RandomState (SipHash-1-3) for all maps; reps={}{}",
            harness::cores(),
            opts.reps,
            if opts.quick { " (quick)" } else { "" }
        );
    }
    let mut report = Report::new(opts.clone());
    // One entry per group: (name, runner). Groups register here.
    let groups: &[Group] = &[
        ("stack", stack::run),
        ("queue", queue::run),
        ("spsc", spsc::run),
        ("lock", lock::run),
        ("semaphore", semaphore::run),
        ("map", map::run),
    ];
    for (name, run) in groups {
        if opts.wants(name) {
            run(&mut report);
        }
    }
    if report.rows.is_empty() && !opts.json {
        println!("no group matched");
    }
}

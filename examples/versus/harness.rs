//! The measuring harness shared by every group of `versus` (and by the
//! criterion benches, which include this file with `#[path]`).
//!
//! Method (see BENCHMARKS.md): each cell (group, workload, threads) runs
//! every candidate `reps` times, interleaved (A B C A B C …), on fresh
//! threads released together by a spin barrier; the wall time runs from the
//! release to the last thread's finish. `ns_per_op` is the median over the
//! repetitions of wall time / all operations of all threads; min and max
//! are printed beside it. Machine idleness is read from /proc/stat before
//! each multi-thread cell.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

/// Command-line options.
#[derive(Clone, Debug)]
pub struct Opts {
    pub json: bool,
    pub quick: bool,
    pub group: Option<String>,
    pub reps: usize,
    /// `--threads 1,2,4,8,16`: overrides the default thread counts (used
    /// for the scaling runs on larger machines).
    pub threads: Option<Vec<usize>>,
}

impl Opts {
    pub fn from_args() -> Opts {
        let mut o = Opts {
            json: false,
            quick: false,
            group: None,
            reps: 5,
            threads: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--json" => o.json = true,
                "--quick" => o.quick = true,
                "--group" => o.group = args.next(),
                "--reps" => o.reps = args.next().and_then(|r| r.parse().ok()).unwrap_or(5),
                "--threads" => {
                    let list: Vec<usize> = args
                        .next()
                        .unwrap_or_default()
                        .split(',')
                        .filter_map(|t| t.trim().parse().ok())
                        .filter(|&t| t > 0)
                        .collect();
                    assert!(!list.is_empty(), "--threads wants a list such as 1,2,4");
                    o.threads = Some(list);
                }
                // criterion/cargo pass `--bench`; ignore unknown flags.
                _ => {}
            }
        }
        o
    }

    /// Scales an operation count down under `--quick`.
    pub fn ops(&self, full: usize) -> usize {
        if self.quick {
            (full / 8).max(1000)
        } else {
            full
        }
    }

    /// Thread counts of every multi-thread cell: 1, 2 and 2 × cores
    /// (the last one oversubscribed when it exceeds the core count).
    pub fn thread_counts(&self) -> Vec<usize> {
        if let Some(t) = &self.threads {
            return t.clone();
        }
        let mut t = vec![1, 2, 2 * cores()];
        t.dedup();
        t
    }

    pub fn wants(&self, group: &str) -> bool {
        self.group.as_deref().map_or(true, |g| g == group)
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One repetition's outcome: wall time, plus optional extra figures (e.g.
/// p99 latency) that are reported as medians too.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub wall: Duration,
    pub extra: Vec<(&'static str, f64)>,
}

impl From<Duration> for Sample {
    fn from(wall: Duration) -> Sample {
        Sample {
            wall,
            extra: Vec::new(),
        }
    }
}

/// A named implementation in a cell: each call builds a fresh structure,
/// runs the workload once and returns its sample.
pub struct Candidate<'a> {
    pub name: String,
    pub run: Box<dyn FnMut() -> Sample + 'a>,
}

impl<'a> Candidate<'a> {
    pub fn new<S: Into<Sample>>(name: impl Into<String>, mut f: impl FnMut() -> S + 'a) -> Self {
        Candidate {
            name: name.into(),
            run: Box::new(move || f().into()),
        }
    }
}

/// Runs `f(thread_index)` on `threads` fresh threads released together;
/// returns the time from the first thread's start to the last thread's
/// finish.
///
/// The measuring thread takes no CPU while the workload runs: it blocks in
/// `join` (a spinning or yielding coordinator would steal one of the two
/// cores from the workers). Each worker reads the clock itself right after
/// the release and right after its last operation.
pub fn run_parallel<F: Fn(usize) + Sync>(threads: usize, f: F) -> Duration {
    let ready = AtomicUsize::new(0);
    let go = AtomicBool::new(false);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (ready, go, f) = (&ready, &go, &f);
                s.spawn(move || {
                    // The last thread to arrive releases everyone: no
                    // coordinator needs a core.
                    if ready.fetch_add(1, AcqRel) + 1 == threads {
                        go.store(true, Release);
                    }
                    while !go.load(Acquire) {
                        std::hint::spin_loop();
                        if threads > cores() {
                            std::thread::yield_now();
                        }
                    }
                    let start = Instant::now();
                    f(t);
                    (start, Instant::now())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let start = spans.iter().map(|s| s.0).min().unwrap();
    let end = spans.iter().map(|s| s.1).max().unwrap();
    end - start
}

/// Untimed, between two runs: reclaims the garbage a run left in the global
/// epoch collector and the global hazard domain, so that the next candidate
/// does not pay for it. (crossbeam-epoch collects at most 8 bags per step,
/// from whichever thread pins next: without this, a candidate that runs
/// after one leaving ~1M retired objects measures their frees.)
pub fn settle() {
    use cds::reclaim::{Epoch, Hazard, Reclaim};
    for i in 0..1_000_000 {
        // `Epoch::flush` also hands this thread's open retire batch over.
        Epoch.flush();
        if i >= 16 && Epoch.stats().pending == 0 {
            break;
        }
    }
    Hazard::global().flush();
}

/// Fraction of CPU time idle over `window`, from /proc/stat (None if
/// unreadable).
pub fn idle_fraction(window: Duration) -> Option<f64> {
    fn read() -> Option<(u64, u64)> {
        let s = std::fs::read_to_string("/proc/stat").ok()?;
        let line = s.lines().next()?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
        Some((idle, v.iter().sum()))
    }
    let (i0, t0) = read()?;
    std::thread::sleep(window);
    let (i1, t1) = read()?;
    Some((i1 - i0) as f64 / ((t1 - t0).max(1)) as f64)
}

/// One reported line.
#[derive(Clone, Debug)]
pub struct Row {
    pub group: String,
    pub workload: String,
    pub threads: usize,
    pub name: String,
    pub ns_per_op: f64,
    pub min_ns: f64,
    pub max_ns: f64,
    pub reps: usize,
    pub idle: bool,
    pub extra: Vec<(&'static str, f64)>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Prints and collects rows.
pub struct Report {
    pub opts: Opts,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn new(opts: Opts) -> Report {
        Report {
            opts,
            rows: Vec::new(),
        }
    }

    /// Measures one cell: every candidate `reps` times, interleaved; `ops`
    /// is the total operation count of one run (all threads).
    pub fn cell(
        &mut self,
        group: &str,
        workload: &str,
        threads: usize,
        ops: usize,
        cands: &mut [Candidate<'_>],
    ) {
        // Idle: at most 10% of the machine busy before the cell (the
        // measuring process itself is asleep during the window).
        let idle = idle_fraction(Duration::from_millis(if self.opts.quick {
            20
        } else {
            100
        }))
        .map_or(true, |f| f > 0.9);
        let reps = self.opts.reps.max(1);
        let mut samples: Vec<Vec<Sample>> = cands.iter().map(|_| Vec::new()).collect();
        // One untimed warm-up each.
        for c in cands.iter_mut() {
            let _ = (c.run)();
            settle();
        }
        for _ in 0..reps {
            for (i, c) in cands.iter_mut().enumerate() {
                samples[i].push((c.run)());
                settle();
            }
        }
        let mut rows = Vec::new();
        for (c, s) in cands.iter().zip(samples) {
            let mut ns: Vec<f64> = s
                .iter()
                .map(|x| x.wall.as_nanos() as f64 / ops as f64)
                .collect();
            let min = ns.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = ns.iter().cloned().fold(0.0, f64::max);
            let med = median(&mut ns);
            let mut extra = Vec::new();
            if let Some(first) = s.first() {
                for (k, (name, _)) in first.extra.iter().enumerate() {
                    let mut v: Vec<f64> = s
                        .iter()
                        .filter_map(|x| x.extra.get(k).map(|e| e.1))
                        .collect();
                    extra.push((*name, median(&mut v)));
                }
            }
            rows.push(Row {
                group: group.into(),
                workload: workload.into(),
                threads,
                name: c.name.clone(),
                ns_per_op: med,
                min_ns: min,
                max_ns: max,
                reps,
                idle,
                extra,
            });
        }
        self.print_cell(&rows);
        self.rows.extend(rows);
    }

    fn print_cell(&self, rows: &[Row]) {
        if self.opts.json {
            for r in rows {
                let mut extra = String::new();
                for (k, v) in &r.extra {
                    extra.push_str(&format!(",\"{k}\":{v:.1}"));
                }
                println!(
                    "{{\"group\":\"{}\",\"workload\":\"{}\",\"threads\":{},\"name\":\"{}\",\"ns_per_op\":{:.1},\"min_ns\":{:.1},\"max_ns\":{:.1},\"reps\":{},\"idle\":{}{}}}",
                    r.group, r.workload, r.threads, r.name, r.ns_per_op, r.min_ns, r.max_ns, r.reps, r.idle, extra
                );
            }
            return;
        }
        let Some(first) = rows.first() else { return };
        let over = if first.threads > cores() {
            " (oversubscribed)"
        } else {
            ""
        };
        println!(
            "\n[{}] {} — {} thread(s){}{}",
            first.group,
            first.workload,
            first.threads,
            over,
            if first.idle {
                ""
            } else {
                "  !! machine busy: figures unreliable"
            }
        );
        let best_peer = rows
            .iter()
            .filter(|r| !r.name.starts_with("cds::"))
            .map(|r| r.ns_per_op)
            .fold(f64::INFINITY, f64::min);
        for r in rows {
            let ratio = if r.name.starts_with("cds::") && best_peer.is_finite() {
                format!("  {:.2}× best peer", r.ns_per_op / best_peer)
            } else {
                String::new()
            };
            let mut extra = String::new();
            for (k, v) in &r.extra {
                extra.push_str(&format!("  {k}={v:.0}"));
            }
            println!(
                "  {:<40} {:>9.1} ns/op  [{:.1} – {:.1}]{}{}",
                r.name, r.ns_per_op, r.min_ns, r.max_ns, ratio, extra
            );
        }
    }
}

//! Integration and stress tests of `cds::Semaphore`.
//!
//! Tests that step the fairness bound on an injected clock need
//! `--cfg cds_hooks` and live in `tests/stall_semaphore.rs`.

#[path = "common/semaphore.rs"]
mod common;

use cds::testing::semaphore::queued_waiters;
use cds::Semaphore;
use common::{check_available_is_reserved, check_zero_permits_at_once, wait_queued, watchdog};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn scaled(full: usize) -> usize {
    if cfg!(miri) {
        (full / 200).max(5)
    } else {
        full
    }
}

fn both_modes(permits: usize) -> [Semaphore; 2] {
    [Semaphore::new(permits), Semaphore::new_fifo(permits)]
}

/// `threads` threads acquire `want` permits each time; a counter of permits
/// held inside must never exceed the total.
fn bounded_holders(sem: &Semaphore, permits: usize, threads: usize, want: usize, per: usize) {
    let inside = AtomicUsize::new(0);
    watchdog("bounded_holders", 120, || {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for i in 0..per {
                        let p = if i % 7 == 3 {
                            sem.try_acquire_many(want)
                        } else {
                            Some(sem.acquire_many(want))
                        };
                        if let Some(p) = p {
                            let now = inside.fetch_add(want, SeqCst) + want;
                            assert!(now <= permits, "{now} permits held of {permits}");
                            std::hint::spin_loop();
                            inside.fetch_sub(want, SeqCst);
                            drop(p);
                        }
                    }
                });
            }
        });
    });
    assert_eq!(sem.available_permits(), permits);
}

#[test]
fn never_more_holders_than_permits() {
    for permits in [1, 2, 3] {
        for sem in both_modes(permits) {
            bounded_holders(&sem, permits, 6, 1, scaled(5_000));
        }
    }
}

#[test]
fn never_more_holders_than_permits_many() {
    for sem in both_modes(4) {
        bounded_holders(&sem, 4, 5, 2, scaled(3_000));
    }
}

/// Ping-pong through two zero-permit semaphores: every step needs a wake-up
/// of a parked thread; one lost wake-up hangs (caught by the watchdog).
#[test]
fn no_lost_wakeups_ping_pong() {
    for fifo in [false, true] {
        let make = |n| {
            if fifo {
                Semaphore::new_fifo(n)
            } else {
                Semaphore::new(n)
            }
        };
        let (ping, pong) = (make(0), make(0));
        let rounds = scaled(20_000);
        watchdog("ping_pong", 120, || {
            std::thread::scope(|s| {
                s.spawn(|| {
                    for _ in 0..rounds {
                        ping.acquire().forget();
                        pong.add_permits(1);
                    }
                });
                for _ in 0..rounds {
                    ping.add_permits(1);
                    pong.acquire().forget();
                }
            });
        });
        assert_eq!((ping.available_permits(), pong.available_permits()), (0, 0));
    }
}

/// Many threads on one permit, oversubscribed: everyone finishes.
#[test]
fn no_lost_wakeups_oversubscribed() {
    for sem in both_modes(1) {
        let done = AtomicUsize::new(0);
        let per = scaled(2_000);
        watchdog("oversubscribed", 120, || {
            std::thread::scope(|s| {
                for _ in 0..8 {
                    s.spawn(|| {
                        for _ in 0..per {
                            let _p = sem.acquire();
                        }
                        done.fetch_add(1, SeqCst);
                    });
                }
            });
        });
        assert_eq!(done.load(SeqCst), 8);
        assert_eq!(sem.available_permits(), 1);
    }
}

/// Under `new_fifo` waiters are served in arrival order, and nobody barges.
#[test]
fn fifo_order_under_new_fifo() {
    let sem = Semaphore::new_fifo(0);
    let order = Mutex::new(Vec::new());
    let waiters = 6;
    watchdog("fifo_order", 60, || {
        std::thread::scope(|s| {
            for i in 0..waiters {
                let (sem, order) = (&sem, &order);
                s.spawn(move || {
                    sem.acquire().forget();
                    order.lock().unwrap().push(i);
                });
                // Enqueue strictly one after the other.
                wait_queued(sem, i + 1);
            }
            // One release of 3 serves exactly the first 3 in the queue (each
            // hand-off unlinks the head before the next); the rest stay.
            sem.add_permits(3);
            while order.lock().unwrap().len() < 3 {
                std::thread::yield_now();
            }
            let mut first: Vec<usize> = order.lock().unwrap().clone();
            first.sort_unstable();
            assert_eq!(first, [0, 1, 2]);
            assert_eq!(queued_waiters(&sem), 3);
            sem.add_permits(3);
        });
    });
    assert_eq!(order.lock().unwrap().len(), waiters);
    assert_eq!(sem.available_permits(), 0);

    // One at a time, with a newcomer trying to barge at each step.
    let order = Mutex::new(Vec::new());
    watchdog("fifo_order_stepwise", 60, || {
        std::thread::scope(|s| {
            for i in 0..waiters {
                let (sem, order) = (&sem, &order);
                s.spawn(move || {
                    sem.acquire().forget();
                    order.lock().unwrap().push(i);
                });
                wait_queued(sem, i + 1);
            }
            for k in 1..=waiters {
                sem.add_permits(1);
                assert!(
                    sem.try_acquire().is_none(),
                    "a newcomer barged under new_fifo"
                );
                while order.lock().unwrap().len() < k {
                    std::thread::yield_now();
                }
            }
        });
    });
    assert_eq!(*order.lock().unwrap(), (0..waiters).collect::<Vec<_>>());
}

/// Under `new_fifo`, `try_acquire` fails while anyone waits even if the count
/// could serve it (the head wants more than is available).
#[test]
fn fifo_try_acquire_fails_while_queued() {
    let sem = Semaphore::new_fifo(1);
    watchdog("fifo_try", 60, || {
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(sem.acquire_many(2).num_permits(), 2));
            wait_queued(&sem, 1);
            assert_eq!(sem.available_permits(), 1);
            assert!(sem.try_acquire().is_none());
            sem.add_permits(1);
        });
    });
    assert_eq!(sem.available_permits(), 2);
}

/// 8 waiters time out, 1 live waiter queued behind them, 1 release: the live
/// waiter acquires, and the timed-out ones left no trace.
#[test]
fn timed_out_waiters_leave_no_trace() {
    for sem in both_modes(0) {
        let timed_out = AtomicUsize::new(0);
        watchdog("timeouts", 60, || {
            std::thread::scope(|s| {
                for i in 0..8 {
                    let (sem, timed_out) = (&sem, &timed_out);
                    s.spawn(move || {
                        if sem.acquire_timeout(Duration::from_millis(100)).is_none() {
                            timed_out.fetch_add(1, SeqCst);
                        }
                    });
                    // Queue them one after the other (an earlier one may
                    // already have timed out on a slow machine: count it).
                    while queued_waiters(sem) + timed_out.load(SeqCst) < i + 1 {
                        std::thread::yield_now();
                    }
                }
                let live = s.spawn(|| sem.acquire().num_permits());
                // Wait for all 8 to give up; the live one stays queued.
                while timed_out.load(SeqCst) < 8 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                wait_queued(&sem, 1);
                assert_eq!(
                    sem.available_permits(),
                    0,
                    "a timed-out waiter changed the count"
                );
                sem.add_permits(1);
                assert_eq!(live.join().unwrap(), 1);
            });
        });
        assert_eq!(timed_out.load(SeqCst), 8);
        assert_eq!(
            sem.available_permits(),
            1,
            "the live waiter's permit came back"
        );
        assert_eq!(queued_waiters(&sem), 0);
    }
}

/// A timed-out `acquire_many` gives back the permits handed to it so far
/// (FIFO: every release hands off to the head).
#[test]
fn timed_out_acquire_many_returns_partial_grant() {
    let sem = Semaphore::new_fifo(0);
    watchdog("partial", 60, || {
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                sem.acquire_many_timeout(3, Duration::from_millis(200))
                    .is_none()
            });
            while queued_waiters(&sem) != 1 && !h.is_finished() {
                std::thread::yield_now();
            }
            sem.add_permits(2); // handed to the head: not in the count
            let seen = (queued_waiters(&sem), sem.available_permits());
            // Still queued holding 2, or (slow machine) already gone.
            assert!(seen == (1, 0) || seen == (0, 2), "{seen:?}");
            assert!(h.join().unwrap(), "it cannot have got 3");
        });
    });
    assert_eq!(sem.available_permits(), 2, "the partial grant came back");
}

#[test]
fn forget_and_add_permits_accounting() {
    for sem in both_modes(5) {
        sem.acquire_many(2).forget();
        assert_eq!(sem.available_permits(), 3);
        sem.add_permits(4);
        assert_eq!(sem.available_permits(), 7);
        let all = sem.acquire_many(7);
        assert!(sem.try_acquire().is_none());
        assert_eq!(all.num_permits(), 7);
        drop(all);
        assert_eq!(sem.available_permits(), 7);
        sem.try_acquire().unwrap().forget();
        sem.add_permits(0);
        assert_eq!(sem.available_permits(), 6);
    }
}

/// Concurrent forgets and adds balance out exactly.
#[test]
fn concurrent_forget_and_add() {
    let sem = Semaphore::new(4);
    let per = scaled(5_000);
    watchdog("forget_add", 60, || {
        std::thread::scope(|s| {
            for t in 0..4 {
                let sem = &sem;
                s.spawn(move || {
                    for _ in 0..per {
                        if t % 2 == 0 {
                            sem.acquire().forget();
                            sem.add_permits(1);
                        } else {
                            drop(sem.acquire_many(2));
                        }
                    }
                });
            }
        });
    });
    assert_eq!(sem.available_permits(), 4);
}

/// `acquire_many(4)` against a stream of single acquires on 4 permits: the
/// big acquirer is never starved (the fairness bound hands it the permits),
/// and while it holds all 4 nobody else is inside.
#[test]
fn acquire_many_against_single_stream() {
    for sem in both_modes(4) {
        let inside = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let big_rounds = scaled(200);
        watchdog("acquire_many_vs_singles", 120, || {
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        while !stop.load(SeqCst) {
                            let _p = sem.acquire();
                            assert!(inside.fetch_add(1, SeqCst) < 4);
                            std::hint::spin_loop();
                            inside.fetch_sub(1, SeqCst);
                        }
                    });
                }
                for _ in 0..big_rounds {
                    let _all = sem.acquire_many(4);
                    assert_eq!(
                        inside.fetch_add(4, SeqCst),
                        0,
                        "a single holder overlapped acquire_many(4)"
                    );
                    inside.fetch_sub(4, SeqCst);
                }
                stop.store(true, SeqCst);
            });
        });
        assert_eq!(sem.available_permits(), 4);
    }
}

/// `acquire_many(n)` above the total waits for `add_permits`.
#[test]
fn acquire_many_above_total_waits_for_add() {
    let sem = Semaphore::new(2);
    watchdog("above_total", 60, || {
        std::thread::scope(|s| {
            let h = s.spawn(|| sem.acquire_many(5).num_permits());
            wait_queued(&sem, 1);
            assert!(sem.try_acquire_many(5).is_none());
            sem.add_permits(3);
            assert_eq!(h.join().unwrap(), 5);
        });
    });
    assert_eq!(sem.available_permits(), 5);
}

#[test]
fn panic_while_holding_permit_releases_it() {
    let sem = Semaphore::new(1);
    // No `AssertUnwindSafe`: `&Semaphore` crosses `catch_unwind` as is.
    let r = std::panic::catch_unwind(|| {
        let _p = sem.acquire();
        panic!("boom");
    });
    assert!(r.is_err());
    assert_eq!(sem.available_permits(), 1);
    // A held `Permit` may cross it too; the panic releases it.
    let p = sem.acquire();
    let r = std::panic::catch_unwind(move || {
        assert_eq!(p.num_permits(), 1);
        panic!("boom");
    });
    assert!(r.is_err());
    assert_eq!(sem.available_permits(), 1);
}

#[test]
#[should_panic(
    expected = "Semaphore::new: 2305843009213693952 permits exceeds Semaphore::MAX_PERMITS"
)]
fn new_beyond_max_panics() {
    let _ = Semaphore::new(Semaphore::MAX_PERMITS + 1);
}

#[test]
#[should_panic(expected = "Semaphore::add_permits")]
fn add_permits_beyond_max_panics() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS - 1);
    sem.add_permits(2);
}

#[test]
#[should_panic(expected = "Semaphore::acquire_many")]
fn acquire_many_beyond_max_panics() {
    let sem = Semaphore::new(0);
    let _ = sem.acquire_many(Semaphore::MAX_PERMITS + 1);
}

#[test]
fn limits_accept_the_maximum() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    assert!(sem.try_acquire_many(Semaphore::MAX_PERMITS + 1).is_none());
    let all = sem.acquire_many(Semaphore::MAX_PERMITS);
    assert_eq!(sem.available_permits(), 0);
    drop(all);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    let all = sem.try_acquire_many(Semaphore::MAX_PERMITS).unwrap();
    drop(all);
    let all = sem
        .acquire_many_timeout(Semaphore::MAX_PERMITS, Duration::ZERO)
        .unwrap();
    drop(all);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);

    let sem = Semaphore::new(0);
    sem.add_permits(Semaphore::MAX_PERMITS);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
}

/// Runs `f`, which must panic with a message containing `expected`.
fn expect_panic(expected: &str, f: impl FnOnce()) {
    let err =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("");
    assert!(msg.contains(expected), "panic message {msg:?}");
}

/// `MAX_PERMITS` bounds the total (available + held + handed to waiters),
/// not only what is available: permits held while more are added would
/// otherwise overflow the count when they come back, and a release (a
/// `Permit` drop) must never panic. Before the fix the second
/// `add_permits(MAX)` was accepted, and the fourth round's drops panicked.
#[test]
fn max_permits_counts_held_permits() {
    for sem in both_modes(Semaphore::MAX_PERMITS) {
        let all = sem.acquire_many(Semaphore::MAX_PERMITS);
        expect_panic("exceeds Semaphore::MAX_PERMITS", || {
            sem.add_permits(Semaphore::MAX_PERMITS)
        });
        expect_panic("exceeds Semaphore::MAX_PERMITS", || sem.add_permits(1));
        assert_eq!(sem.available_permits(), 0, "a failed add changed nothing");
        drop(all);
        assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);

        // Forgetting permits lowers the total: they may be added again.
        sem.acquire_many(3).forget();
        sem.add_permits(3);
        expect_panic("exceeds Semaphore::MAX_PERMITS", || sem.add_permits(1));
        assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
        assert_eq!(sem.try_acquire().unwrap().num_permits(), 1);
    }
}

/// The reported sequence: four rounds of `acquire_many(MAX)` and
/// `add_permits(MAX)`. Only the first add fits; every release succeeds and
/// nothing is lost.
#[test]
fn rounds_of_acquire_and_add_never_overflow() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    let mut held = Vec::new();
    let mut accepted = 0;
    for _ in 0..4 {
        if let Some(p) = sem.try_acquire_many(Semaphore::MAX_PERMITS) {
            held.push(p);
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sem.add_permits(Semaphore::MAX_PERMITS)
        }));
        accepted += usize::from(r.is_ok());
    }
    assert_eq!(accepted, 0, "held + available would exceed MAX_PERMITS");
    drop(held);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
}

/// Bad input is a documented panic that leaves the semaphore as it was.
#[test]
fn bad_input_panics_and_changes_nothing() {
    let max = Semaphore::MAX_PERMITS;
    expect_panic("Semaphore::new: ", || {
        let _ = Semaphore::new(max + 1);
    });
    expect_panic("Semaphore::new_fifo: ", || {
        let _ = Semaphore::new_fifo(max + 1);
    });
    for sem in both_modes(2) {
        let held = sem.acquire();
        expect_panic("Semaphore::add_permits: ", || sem.add_permits(max + 1));
        expect_panic("Semaphore::add_permits: ", || sem.add_permits(usize::MAX));
        expect_panic("Semaphore::add_permits: ", || sem.add_permits(max - 1));
        expect_panic("Semaphore::acquire_many: ", || {
            drop(sem.acquire_many(max + 1))
        });
        expect_panic("Semaphore::acquire_many_timeout: ", || {
            drop(sem.acquire_many_timeout(usize::MAX, Duration::ZERO))
        });
        assert!(sem.try_acquire_many(max + 1).is_none());
        assert!(sem.try_acquire_many(usize::MAX).is_none());
        // Not above the limit, but above what exists: waits, times out.
        assert!(sem
            .acquire_many_timeout(max, Duration::from_millis(1))
            .is_none());
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(queued_waiters(&sem), 0);
        drop(held);
        // Still whole: the two permits and room for exactly max - 2 more.
        assert_eq!(sem.acquire_many(2).num_permits(), 2);
        sem.add_permits(max - 2);
        assert_eq!(sem.available_permits(), max);
    }
}

/// A deadline beyond the clock's range waits without panicking.
#[test]
fn huge_timeout_waits_for_a_release() {
    for sem in both_modes(0) {
        watchdog("huge_timeout", 60, || {
            std::thread::scope(|s| {
                let h = s.spawn(|| sem.acquire_timeout(Duration::MAX).map(|p| p.num_permits()));
                wait_queued(&sem, 1);
                sem.add_permits(1);
                assert_eq!(h.join().unwrap(), Some(1));
            });
        });
        assert_eq!(sem.available_permits(), 1);
    }
}

/// Zero permits are an empty `Permit` at once in every mode and through
/// every acquire variant, even with a waiter queued that has priority.
/// Before the fix, in FIFO mode `try_acquire_many(0)` and the timeout
/// variant failed and `acquire_many(0)` blocked behind the queued waiter.
/// (The default mode with the first waiter past the fairness bound, on an
/// injected clock, is in `tests/stall_semaphore.rs`.)
#[test]
fn zero_permits_return_at_once() {
    for sem in &both_modes(1) {
        check_zero_permits_at_once(sem, sem.acquire(), || {});
        assert_eq!(sem.available_permits(), 0);
        sem.add_permits(1);
        assert_eq!(sem.available_permits(), 1);
    }
}

/// `available_permits` counts the permits in the free count, including
/// those that newcomers may not take because a queued waiter has priority
/// (here FIFO mode; the default mode with the first waiter past the
/// fairness bound is in `tests/stall_semaphore.rs`): they are neither held
/// nor handed out yet, and `try_acquire` still fails.
#[test]
fn available_permits_includes_permits_reserved_for_the_queue() {
    let sem = Semaphore::new_fifo(1);
    check_available_is_reserved(&sem, || {});
}

#[test]
fn debug_output() {
    let sem = Semaphore::new_fifo(2);
    let p = sem.acquire();
    assert!(format!("{sem:?}").contains("available_permits: 1"));
    assert!(format!("{p:?}").contains("num_permits: 1"));
}

#[test]
#[ignore = "long stress; CI runs it with --ignored"]
fn stress_long() {
    let secs: u64 = std::env::var("CDS_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        for sem in both_modes(3) {
            bounded_holders(&sem, 3, 8, 1, 2_000);
            bounded_holders(&sem, 3, 4, 2, 1_000);
        }
    }
}

#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Semaphore>();
    send_sync::<cds::Permit<'static>>();
}

/// Compile-time check: a semaphore (and a permit) may cross
/// `catch_unwind`, by value and by reference: a panic while a permit is
/// held releases it, and no user code runs inside the semaphore.
const _: () = {
    use std::panic::{RefUnwindSafe, UnwindSafe};
    fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
    let _ = unwind_safe::<Semaphore>;
    let _ = unwind_safe::<&Semaphore>;
    let _ = unwind_safe::<cds::Permit<'static>>;
};

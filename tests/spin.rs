//! Integration and stress tests of `cds::SpinMutex`.

use cds::SpinMutex;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

fn scaled(full: usize) -> usize {
    if cfg!(miri) {
        (full / 1000).max(10)
    } else {
        full
    }
}

/// `threads` threads each do `per` non-atomic read-modify-writes of a plain
/// counter and push into a Vec under the lock; the totals must be exact and
/// no two threads may be inside at once.
fn exclusion(threads: usize, per: usize) {
    let m = SpinMutex::new((0usize, Vec::new()));
    let inside = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (m, inside) = (&m, &inside);
            s.spawn(move || {
                for i in 0..per {
                    let mut g = m.lock();
                    assert_eq!(inside.fetch_add(1, SeqCst), 0, "two holders at once");
                    // A deliberately non-atomic read-modify-write.
                    let v = g.0;
                    std::hint::black_box(&v);
                    g.0 = v + 1;
                    if i % 64 == 0 {
                        g.1.push(t);
                    }
                    inside.fetch_sub(1, SeqCst);
                }
            });
        }
    });
    let (count, pushed) = m.into_inner();
    assert_eq!(count, threads * per);
    assert_eq!(pushed.len(), threads * per.div_ceil(64));
    for t in 0..threads {
        assert_eq!(pushed.iter().filter(|&&x| x == t).count(), per.div_ceil(64));
    }
}

#[test]
fn exclusion_two_threads() {
    exclusion(2, scaled(100_000));
}

#[test]
fn exclusion_eight_threads() {
    exclusion(8, scaled(20_000));
}

/// More threads than cores (6 on this 2-core machine): bounded spinning
/// then yielding keeps the lock from collapsing. The bound is generous (the
/// machine is shared); a pure spin lock with descheduled holders takes
/// orders of magnitude longer here.
#[test]
fn oversubscribed_six_threads_progress() {
    let threads = 6.max(3 * std::thread::available_parallelism().map_or(2, |n| n.get()));
    let per = scaled(20_000);
    let start = Instant::now();
    exclusion(threads, per);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "{threads} threads took {took:?}"
    );
}

#[test]
fn panic_under_lock_leaves_it_usable() {
    let m = SpinMutex::new(vec![1]);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut g = m.lock();
        g.push(2);
        panic!("boom");
    }));
    assert!(r.is_err());
    assert!(!m.is_locked(), "unwinding must unlock");
    // No poisoning: the data is as the panicking thread left it.
    m.lock().push(3);
    assert_eq!(*m.lock(), [1, 2, 3]);
}

#[test]
fn panic_on_another_thread_leaves_it_usable() {
    let m = SpinMutex::new(0);
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            let _g = m.lock();
            panic!("boom");
        });
        assert!(h.join().is_err());
    });
    *m.lock() += 1;
    assert_eq!(m.into_inner(), 1);
}

#[test]
fn guard_can_be_released_on_another_thread() {
    let m = SpinMutex::new(0);
    let g = m.lock();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut g = g;
            *g = 9;
        });
    });
    assert_eq!(*m.try_lock().expect("unlocked by the other thread"), 9);
}

#[test]
fn try_lock_fails_while_held_elsewhere() {
    let m = SpinMutex::new(());
    let held = AtomicBool::new(false);
    let release = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let _g = m.lock();
            held.store(true, SeqCst);
            while !release.load(SeqCst) {
                std::thread::yield_now();
            }
        });
        while !held.load(SeqCst) {
            std::thread::yield_now();
        }
        assert!(m.try_lock().is_none());
        assert!(m.is_locked());
        release.store(true, SeqCst);
    });
    assert!(m.try_lock().is_some());
}

#[test]
fn get_mut_and_default() {
    let mut m: SpinMutex<Vec<u8>> = SpinMutex::default();
    m.get_mut().push(1);
    assert_eq!(*m.lock(), [1]);
}

#[cfg(feature = "lock_api")]
#[test]
fn lock_api_mutex_excludes() {
    let m = cds::LockApiMutex::new(0usize);
    let per = scaled(20_000);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..per {
                    *m.lock() += 1;
                }
            });
        }
    });
    assert_eq!(m.into_inner(), 4 * per);
    static GLOBAL: cds::LockApiMutex<u8> =
        cds::LockApiMutex::const_new(cds::RawSpinMutex::new(), 1);
    assert!(GLOBAL.try_lock().is_some());
}

#[test]
#[ignore = "long stress; CI runs it with --ignored"]
fn stress_long() {
    let secs: u64 = std::env::var("CDS_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let threads = 3 * std::thread::available_parallelism().map_or(2, |n| n.get());
    while Instant::now() < deadline {
        exclusion(threads, 10_000);
    }
}

#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<SpinMutex<Vec<u8>>>();
    // Shareable whenever the data may move between threads (like std's Mutex).
    send_sync::<SpinMutex<std::cell::Cell<u8>>>();
    send_sync::<cds::SpinMutexGuard<'static, Vec<u8>>>();
    send::<cds::SpinMutexGuard<'static, std::cell::Cell<u8>>>();
}

/// Compile-time check of unwind safety. By value a `SpinMutex<T>` crosses
/// `catch_unwind` whenever `T` does; the raw lock (only a flag) crosses by
/// reference too. `&SpinMutex<T>` deliberately does not (no poisoning: see
/// the type's docs, which carry the `compile_fail` check).
const _: () = {
    use std::panic::{RefUnwindSafe, UnwindSafe};
    fn unwind_safe<T: UnwindSafe>() {}
    fn ref_unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}
    let _ = unwind_safe::<SpinMutex<Vec<u8>>>;
    let _ = ref_unwind_safe::<cds::RawSpinMutex>;
};

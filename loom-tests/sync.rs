//! Loom models of `SpinMutex` and `Semaphore`.
//!
//! Limits, checked by mutation: loom reports a lost wake-up (a waiter that
//! links itself without re-checking the permits in the same step deadlocks
//! the models) and weakened lock orderings. It cannot check the `Acquire`
//! on a waiter's `GRANTED` load: loom's `unpark` joins the unparker's clock
//! into the target at once, which hides a missing Acquire unless the waiter
//! reads `GRANTED` between the store and the unpark (three preemptions).
//! The miri message-passing test in `src/sync/semaphore.rs` covers the
//! count's orderings. Models keep to two threads: a third multiplies the
//! list lock's spin states beyond loom's budget.

use cds::SpinMutex;
use loom::sync::Arc;
use loom::thread;

/// Two threads increment a counter under the lock (a non-atomic
/// read-modify-write; loom's cell checks for a data race), and a write made
/// under the lock is visible to the next holder.
#[test]
fn spin_exclusion_and_visibility() {
    loom::model(|| {
        let m = Arc::new(SpinMutex::new((0usize, false)));
        let m2 = m.clone();
        let t = thread::spawn(move || {
            let mut g = m2.lock();
            let v = g.0;
            g.0 = v + 1;
            g.1 = true;
        });
        {
            let mut g = m.lock();
            let v = g.0;
            g.0 = v + 1;
            // If the other thread has been inside, its whole write is seen.
            if v == 1 {
                assert!(g.1);
            }
        }
        t.join().unwrap();
        assert_eq!(*m.lock(), (2, true));
    });
}

/// `try_lock` never lets two holders in, and a failed `try_lock` means
/// somebody else held the lock.
#[test]
fn spin_try_lock_excludes() {
    loom::model(|| {
        let m = Arc::new(SpinMutex::new(0usize));
        let m2 = m.clone();
        let t = thread::spawn(move || match m2.try_lock() {
            Some(mut g) => {
                *g += 1;
                true
            }
            None => false,
        });
        let mine = match m.try_lock() {
            Some(mut g) => {
                *g += 1;
                true
            }
            None => false,
        };
        let theirs = t.join().unwrap();
        assert!(mine || theirs, "both failed with no holder");
        assert_eq!(*m.lock(), usize::from(mine) + usize::from(theirs));
    });
}

use cds::Semaphore;
use loom::cell::UnsafeCell;
use std::time::Duration;

fn make(fifo: bool, permits: usize) -> Semaphore {
    if fifo {
        Semaphore::new_fifo(permits)
    } else {
        Semaphore::new(permits)
    }
}

/// A value written before a release, read after the acquire it served.
struct Message(UnsafeCell<usize>);

// SAFETY: accesses are ordered by the semaphore under test (loom's cell
// reports a race if they are not).
unsafe impl Sync for Message {}

impl Message {
    fn write(&self, v: usize) {
        // SAFETY: loom checks that no access races with this one.
        self.0.with_mut(|p| unsafe { *p = v });
    }
    fn read(&self) -> usize {
        // SAFETY: as above.
        self.0.with(|p| unsafe { *p })
    }
}

/// A release racing with a waiter going to sleep: the waiter is never lost
/// (loom reports a deadlock if it parks forever) and sees the data written
/// before the release. The releaser first holds the only permit, so the
/// waiter really queues in some interleavings.
#[test]
fn semaphore_release_vs_waiter_going_to_sleep() {
    for fifo in [false, true] {
        loom::model(move || {
            let sem = Arc::new(make(fifo, 1));
            let msg = Arc::new(Message(UnsafeCell::new(0)));
            let held = sem.acquire();
            let (s2, m2) = (sem.clone(), msg.clone());
            let t = thread::spawn(move || {
                let p = s2.acquire();
                assert_eq!(m2.read(), 7);
                drop(p);
            });
            msg.write(7);
            drop(held);
            t.join().unwrap();
            assert_eq!(sem.available_permits(), 1);
        });
    }
}

/// A timeout racing with a release: either the waiter gets the permit (and
/// sees the data) or it leaves the queue holding nothing; the permit is
/// never lost and the queue ends empty.
#[test]
fn semaphore_timeout_vs_release() {
    for fifo in [false, true] {
        loom::model(move || {
            let sem = Arc::new(make(fifo, 0));
            let msg = Arc::new(Message(UnsafeCell::new(0)));
            let (s2, m2) = (sem.clone(), msg.clone());
            let t = thread::spawn(move || match s2.acquire_timeout(Duration::from_millis(1)) {
                Some(p) => {
                    assert_eq!(m2.read(), 7);
                    drop(p);
                    true
                }
                None => false,
            });
            msg.write(7);
            sem.add_permits(1);
            let _ = t.join().unwrap();
            assert_eq!(sem.available_permits(), 1);
            assert_eq!(cds::testing::semaphore::queued_waiters(&sem), 0);
        });
    }
}

/// `acquire_many(2)` against two single releases (two threads: a third
/// multiplies the list lock's spin states past loom's budget): it completes
/// (no lost wake-up while the permits trickle in, compete, or are handed off
/// piecewise) and sees the writes made before both releases.
#[test]
fn semaphore_acquire_many_vs_releases() {
    for fifo in [false, true] {
        loom::model(move || {
            let sem = Arc::new(make(fifo, 0));
            let a = Arc::new(Message(UnsafeCell::new(0)));
            let b = Arc::new(Message(UnsafeCell::new(0)));
            let (s1, a1, b1) = (sem.clone(), a.clone(), b.clone());
            let t = thread::spawn(move || {
                a1.write(1);
                s1.add_permits(1);
                b1.write(2);
                s1.add_permits(1);
            });
            let p = sem.acquire_many(2);
            assert_eq!((a.read(), b.read()), (1, 2));
            drop(p);
            t.join().unwrap();
            assert_eq!(sem.available_permits(), 2);
        });
    }
}

/// loom lets a model end with threads still blocked (unjoined): a thread
/// parked in `acquire` while the main thread holds the only permit to the
/// end must not make the model fail when loom tears the execution down.
#[test]
fn semaphore_unjoined_blocked_acquirer() {
    for fifo in [false, true] {
        loom::model(move || {
            let sem = Arc::new(make(fifo, 1));
            let s2 = sem.clone();
            thread::spawn(move || {
                let _p = s2.acquire();
            });
            let _held = sem.acquire();
        });
    }
}

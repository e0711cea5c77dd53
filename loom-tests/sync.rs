//! Loom models of `SpinMutex` and `Semaphore`.

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

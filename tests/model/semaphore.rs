//! The semaphore's permit accounting against a plain counter, driven
//! single-threaded by quickcheck (`tests/model_semaphore.rs`) and by
//! cargo-fuzz (`fuzz/fuzz_targets/semaphore.rs`).
#![allow(dead_code)]

use cds::Semaphore;
use std::time::Duration;

/// One operation; `n` are small permit counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Build the semaphore in FIFO mode (only meaningful as the first op).
    Fifo,
    TryAcquire,
    TryAcquireMany(usize),
    /// `try_acquire_many` above `MAX_PERMITS`: always `None`.
    TryAcquireTooMany,
    /// Blocking `acquire_many`, issued only when the model says it cannot
    /// block (enough permits, nobody queued).
    AcquireMany(usize),
    /// `acquire_many_timeout(n, 0)`: without enough permits it queues a
    /// waiter, times out and must leave no trace.
    AcquireTimeoutZero(usize),
    /// Drop the held permit at this index (modulo the number held).
    Release(usize),
    /// Forget the held permit at this index.
    Forget(usize),
    AddPermits(usize),
}

/// Two bytes per op: a tag and an argument.
pub fn decode(bytes: &[u8]) -> Vec<Op> {
    bytes
        .chunks_exact(2)
        .map(|c| {
            let arg = usize::from(c[1]);
            match c[0] % 9 {
                0 => Op::Fifo,
                1 => Op::TryAcquire,
                2 => Op::TryAcquireMany(arg % 5),
                3 => Op::TryAcquireTooMany,
                4 => Op::AcquireMany(arg % 4),
                5 => Op::AcquireTimeoutZero(arg % 4),
                6 => Op::Release(arg),
                7 => Op::Forget(arg),
                _ => Op::AddPermits(arg % 5),
            }
        })
        .collect()
}

/// Applies `ops` to a `Semaphore` (initially 2 permits) and to a counter,
/// asserting every result equal.
pub fn check(ops: &[Op]) {
    let fifo = ops.first() == Some(&Op::Fifo);
    let sem = if fifo {
        Semaphore::new_fifo(2)
    } else {
        Semaphore::new(2)
    };
    let mut model_count: usize = 2;
    let mut held = Vec::new(); // ours
    let mut model_held: Vec<usize> = Vec::new();
    for op in ops {
        match *op {
            Op::Fifo => {}
            Op::TryAcquire | Op::TryAcquireMany(_) => {
                let n = if let Op::TryAcquireMany(n) = *op {
                    n
                } else {
                    1
                };
                let ours = if n == 1 {
                    sem.try_acquire()
                } else {
                    sem.try_acquire_many(n)
                };
                let expect = model_count >= n;
                assert_eq!(
                    ours.is_some(),
                    expect,
                    "{op:?} with {model_count} available"
                );
                if let Some(p) = ours {
                    assert_eq!(p.num_permits(), n);
                    model_count -= n;
                    held.push(p);
                    model_held.push(n);
                }
            }
            Op::TryAcquireTooMany => {
                assert!(sem.try_acquire_many(Semaphore::MAX_PERMITS + 1).is_none());
            }
            Op::AcquireMany(n) => {
                if model_count >= n {
                    let p = sem.acquire_many(n);
                    assert_eq!(p.num_permits(), n);
                    model_count -= n;
                    held.push(p);
                    model_held.push(n);
                }
            }
            Op::AcquireTimeoutZero(n) => {
                let ours = sem.acquire_many_timeout(n, Duration::ZERO);
                assert_eq!(
                    ours.is_some(),
                    model_count >= n,
                    "{op:?} with {model_count} available"
                );
                if let Some(p) = ours {
                    model_count -= n;
                    held.push(p);
                    model_held.push(n);
                }
                assert_eq!(
                    cds::testing::semaphore::queued_waiters(&sem),
                    0,
                    "a timed-out waiter stayed queued"
                );
            }
            Op::Release(i) | Op::Forget(i) => {
                if held.is_empty() {
                    continue;
                }
                let i = i % held.len();
                let p = held.swap_remove(i);
                let n = model_held.swap_remove(i);
                assert_eq!(p.num_permits(), n);
                if matches!(op, Op::Release(_)) {
                    drop(p);
                    model_count += n;
                } else {
                    p.forget();
                }
            }
            Op::AddPermits(n) => {
                sem.add_permits(n);
                model_count += n;
            }
        }
        assert_eq!(sem.available_permits(), model_count, "after {op:?}");
    }
    let outstanding: usize = model_held.iter().sum();
    drop(held);
    assert_eq!(sem.available_permits(), model_count + outstanding);
}

//! quickcheck model test of the semaphore's permit accounting (also run
//! under miri, with fewer cases).

#[path = "model/semaphore.rs"]
mod model;

use quickcheck::QuickCheck;

fn prop(bytes: Vec<u8>) -> bool {
    model::check(&model::decode(&bytes));
    true
}

#[test]
fn permit_accounting_matches_counter() {
    QuickCheck::new()
        .tests(if cfg!(miri) { 5 } else { 300 })
        .quickcheck(prop as fn(Vec<u8>) -> bool);
}

#[test]
fn fixed_sequences() {
    use model::Op::*;
    model::check(&[
        Fifo,
        TryAcquireMany(2),
        AcquireTimeoutZero(1),
        AddPermits(1),
        AcquireTimeoutZero(1),
        Release(0),
    ]);
    model::check(&[
        TryAcquire,
        AcquireTimeoutZero(3),
        Forget(0),
        AddPermits(4),
        AcquireMany(3),
        TryAcquireTooMany,
    ]);
}

/// Permit counts near and beyond the limit, for the total-bound model.
fn big(arg: u8) -> usize {
    const MAX: usize = cds::Semaphore::MAX_PERMITS;
    [0, 1, 2, MAX / 4, MAX / 2, MAX - 1, MAX, MAX + 1, usize::MAX][usize::from(arg) % 9]
}

/// `MAX_PERMITS` bounds the permits in existence (free + held): with large
/// counts, `add_permits` panics exactly when the model's total would exceed
/// it, a panicking add changes nothing, `try_acquire_many` never panics,
/// and releasing (dropping) permits never panics and loses nothing.
fn total_bound_prop(bytes: Vec<u8>) -> bool {
    use cds::Semaphore;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let sem = Semaphore::new(Semaphore::MAX_PERMITS / 2);
    let (mut free, mut total) = (Semaphore::MAX_PERMITS / 2, Semaphore::MAX_PERMITS / 2);
    let mut held = Vec::new();
    for c in bytes.chunks_exact(2) {
        match c[0] % 4 {
            0 => {
                let n = big(c[1]);
                let ok = catch_unwind(AssertUnwindSafe(|| sem.add_permits(n))).is_ok();
                let fits = total
                    .checked_add(n)
                    .is_some_and(|t| t <= Semaphore::MAX_PERMITS);
                assert_eq!(ok, fits, "add_permits({n}) with {total} in existence");
                if fits {
                    (free, total) = (free + n, total + n);
                }
            }
            1 => {
                let n = big(c[1]);
                let p = sem.try_acquire_many(n);
                assert_eq!(
                    p.is_some(),
                    n <= free,
                    "try_acquire_many({n}) with {free} free"
                );
                if let Some(p) = p {
                    free -= n;
                    held.push(p);
                }
            }
            2 if !held.is_empty() => {
                let p = held.swap_remove(usize::from(c[1]) % held.len());
                free += p.num_permits();
                drop(p);
            }
            3 if !held.is_empty() => {
                let p = held.swap_remove(usize::from(c[1]) % held.len());
                total -= p.num_permits();
                p.forget();
            }
            _ => {}
        }
        assert_eq!(sem.available_permits(), free);
    }
    let outstanding: usize = held.iter().map(|p| p.num_permits()).sum();
    drop(held);
    assert_eq!(sem.available_permits(), free + outstanding);
    true
}

#[test]
fn max_permits_bounds_permits_in_existence() {
    QuickCheck::new()
        .tests(if cfg!(miri) { 5 } else { 300 })
        .quickcheck(total_bound_prop as fn(Vec<u8>) -> bool);
}

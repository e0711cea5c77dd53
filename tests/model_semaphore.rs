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
    model::check(&[Fifo, TryAcquireMany(2), AcquireTimeoutZero(1), AddPermits(1), AcquireTimeoutZero(1), Release(0)]);
    model::check(&[TryAcquire, AcquireTimeoutZero(3), Forget(0), AddPermits(4), AcquireMany(3), TryAcquireTooMany]);
}

//! Loom models that `TreiberStack` and `MsQueue` share, written once over
//! the [`Kind`] of structure (`tests/common/linked.rs`): `stack.rs` and
//! `queue.rs` expand them with [`linked_models!`] next to their own, so
//! every model is named `stack::…` or `queue::…` under both reclaimers
//! (`Epoch` on crossbeam-epoch's loom build; a private `Hazard` domain
//! with a reclamation threshold of 1, so every retire scans and frees
//! whatever is unprotected at once).

#[path = "../tests/common/linked.rs"]
pub(crate) mod kind;

use cds::reclaim::Reclaim;
use kind::{Kind, Linked};
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;

/// The structure in `s`, once no thread shares it, drained in pop order.
pub(crate) fn drain<T, S: IntoIterator<Item = T>>(s: Arc<S>) -> Vec<T> {
    Arc::try_unwrap(s)
        .unwrap_or_else(|_| panic!("structure still shared"))
        .into_iter()
        .collect()
}

/// Two threads each push then pop; every value comes out exactly once.
pub(crate) fn push_pop_race<K: Kind, R: Reclaim>(mk: fn() -> R)
where
    K::S<u32, R>: 'static,
{
    let s: Arc<K::S<u32, R>> = Arc::new(Linked::with_reclaimer(mk()));
    let threads: Vec<_> = (1..=2)
        .map(|v| {
            let s = s.clone();
            thread::spawn(move || {
                s.push(v);
                // Our own push completed: the structure is not empty for us.
                s.pop().expect("our own push completed")
            })
        })
        .collect();
    let mut got: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    got.extend(drain(s));
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
}

/// A pop on an empty structure races with a push: it returns the value or
/// `None`, and the value is then found exactly once. (For `FaaQueue` the
/// pop may take the push's ticket first: the producer is overtaken and
/// retries.)
pub(crate) fn empty_race<K: Kind, R: Reclaim>(mk: fn() -> R)
where
    K::S<u8, R>: 'static,
{
    let s: Arc<K::S<u8, R>> = Arc::new(Linked::with_reclaimer(mk()));
    let popper = {
        let s = s.clone();
        thread::spawn(move || s.pop())
    };
    s.push(7u8);
    let got = popper.join().unwrap();
    let rest = drain(s);
    match got {
        Some(v) => {
            assert_eq!(v, 7);
            assert!(rest.is_empty());
        }
        None => assert_eq!(rest, [7]),
    }
}

/// Data written (Relaxed) before `push` is visible after the `pop` that
/// returns the pushed value: pop synchronizes-with push.
pub(crate) fn message_passing<K: Kind, R: Reclaim>(mk: fn() -> R)
where
    K::S<u8, R>: 'static,
{
    let s: Arc<K::S<u8, R>> = Arc::new(Linked::with_reclaimer(mk()));
    let data = Arc::new(AtomicUsize::new(0));
    let producer = {
        let (s, data) = (s.clone(), data.clone());
        thread::spawn(move || {
            data.store(42, Relaxed);
            s.push(1u8);
        })
    };
    // Wait (yielding, so loom runs the producer) for the value: every
    // interleaving ends with a successful pop.
    while s.pop().is_none() {
        thread::yield_now();
    }
    assert_eq!(data.load(Relaxed), 42, "pop did not synchronize with push");
    producer.join().unwrap();
}

/// In a structure's module: the shared models above for `$Kind` plus the
/// structure's own generic models `$own` (`f<R>(mk: fn() -> R)`), one
/// `#[test]` per reclaimer for each.
macro_rules! linked_models {
    ($Kind:ident; own: $($own:ident),* $(,)?) => {
        $crate::linked::linked_models!(@shared $Kind: push_pop_race, empty_race, message_passing);
        $crate::linked::linked_models!(@matrix $($own,)* push_pop_race, empty_race, message_passing);
    };
    (@shared $Kind:ident: $($name:ident),*) => {
        $(
            fn $name<R: cds::reclaim::Reclaim>(mk: fn() -> R) {
                $crate::linked::$name::<$crate::linked::kind::$Kind, R>(mk)
            }
        )*
    };
    (@matrix $($name:ident),* $(,)?) => {
        mod epoch {
            $( #[test] fn $name() { loom::model(|| super::$name(cds::reclaim::Epoch::new)) } )*
        }
        mod hazard {
            $( #[test] fn $name() { loom::model(|| super::$name(|| cds::reclaim::Hazard::with_threshold(1))) } )*
        }
    };
}
pub(crate) use linked_models;

//! The reclaimers every generic unit test runs under, in one place (the
//! integration tests' twin is `tests/common/reclaimers.rs`).
//!
//! `reclaimer_unit_tests!(a, b)` turns the generic functions
//! `a<R: Reclaim>(r: R)`, `b` into one `#[test]` per reclaimer:
//! `epoch::a`, `hazard::a` (the global domain) and `hazard_private::a` (a
//! private domain with threshold 1: a pass on every retire, so a missing
//! protection is a use-after-free that Miri reports at once).

macro_rules! reclaimer_unit_tests {
    ($($name:ident),* $(,)?) => {
        mod epoch {
            $( #[test] fn $name() { super::$name(crate::reclaim::Epoch::new()) } )*
        }
        mod hazard {
            $( #[test] fn $name() { super::$name(crate::reclaim::Hazard::default()) } )*
        }
        mod hazard_private {
            $( #[test] fn $name() { super::$name(crate::reclaim::Hazard::with_threshold(1)) } )*
        }
    };
}
pub(crate) use reclaimer_unit_tests;

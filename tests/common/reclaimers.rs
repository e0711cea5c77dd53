//! The list of reclaimers every generic test runs under, in one place.
//!
//! `for_each_reclaimer!(|mk| body)` runs `body` once per reclaimer with `mk`
//! bound to a constructor (`fn() -> R`); `reclaimer_tests!(a, b)` turns the
//! generic functions `a<R: Reclaim>(mk: fn() -> R)`, `b` into one `#[test]`
//! per reclaimer (`epoch::a`, `hazard::a`, ...); `reclaimer_value_tests!`
//! does the same for functions that take the reclaimer by value, adding a
//! private `Hazard` domain (`hazard_private::a`, threshold 4: frequent
//! passes). The unit tests' twin is `src/reclaim/test_matrix.rs`.
#![allow(unused_macros)]

macro_rules! for_each_reclaimer {
    (|$mk:ident| $body:expr) => {{
        {
            let $mk = cds::reclaim::Epoch::new;
            $body
        }
        {
            let $mk = cds::reclaim::Hazard::default;
            $body
        }
    }};
}

macro_rules! reclaimer_tests {
    ($($name:ident),* $(,)?) => {
        mod epoch {
            $( #[test] fn $name() { super::$name(cds::reclaim::Epoch::new) } )*
        }
        mod hazard {
            $( #[test] fn $name() { super::$name(cds::reclaim::Hazard::default) } )*
        }
    };
}

macro_rules! reclaimer_value_tests {
    ($($name:ident => $body:ident;)*) => {
        mod epoch {
            use super::*;
            $(#[test] fn $name() { $body(cds::reclaim::Epoch::new()) })*
        }
        mod hazard_global {
            use super::*;
            $(#[test] fn $name() { $body(cds::reclaim::Hazard::global()) })*
        }
        mod hazard_private {
            use super::*;
            $(#[test] fn $name() { $body(cds::reclaim::Hazard::with_threshold(4)) })*
        }
    };
}

//! The list of reclaimers every generic test runs under, in one place.
//!
//! `for_each_reclaimer!(|mk| body)` runs `body` once per reclaimer with `mk`
//! bound to a constructor (`fn() -> R`); `reclaimer_tests!(a, b)` turns the
//! generic functions `a<R: Reclaim>(mk: fn() -> R)`, `b` into one `#[test]`
//! per reclaimer (`epoch::a`, `hazard::a`, ...).
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

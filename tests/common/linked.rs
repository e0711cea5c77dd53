//! One interface over `TreiberStack`, `MsQueue` and `FaaQueue`, so that the tests they
//! share (integration, model, linearizability and loom) are written once,
//! generic over the [`Kind`] of structure: [`Stack`] or [`Queue`]. What
//! only one of them promises (LIFO or FIFO order) is asked through
//! [`Kind::LIFO`] or stays in that structure's own tests.
#![allow(dead_code, unused_macros)]

use cds::reclaim::{Handle, Reclaim};
use cds::{FaaQueue, MsQueue, TreiberStack};

/// A structure the shared tests run on.
pub trait Kind {
    /// The structure on values `T` under reclaimer `R`.
    type S<T: Send, R: Reclaim>: Linked<T, R>;
    /// `true` for the stack (last in, first out), `false` for the queues.
    const LIFO: bool;
    /// Values per retired object: 1 for the node-per-value structures, the
    /// segment length for `FaaQueue` (as `Linked::with_reclaimer` builds it).
    const PER_RETIRE: usize = 1;

    /// The pop order of `values` pushed in order.
    fn pop_order<T>(values: impl IntoIterator<Item = T>) -> Vec<T> {
        let mut v: Vec<T> = values.into_iter().collect();
        if Self::LIFO {
            v.reverse();
        }
        v
    }
}

/// The operations the shared tests call, each forwarding to the public
/// item of the same name.
pub trait Linked<T, R: Reclaim>: Sized + Send + Sync + Extend<T> + IntoIterator<Item = T> {
    /// The structure's amortized handle.
    type Handle<'a>: LinkedHandle<T>
    where
        Self: 'a;
    fn with_reclaimer(r: R) -> Self;
    fn push(&self, value: T);
    fn pop(&self) -> Option<T>;
    fn is_empty(&self) -> bool;
    fn reclaimer(&self) -> &R;
    fn handle(&self) -> Self::Handle<'_>;
    /// `Extend` through a shared reference (`(&s).extend(values)`).
    fn extend_shared(&self, values: impl IntoIterator<Item = T>);
    /// `FromIterator` (`values.into_iter().collect()`).
    fn collect_from(values: impl IntoIterator<Item = T>) -> Self
    where
        R: Default;
}

/// The operations of a [`Linked::Handle`].
pub trait LinkedHandle<T> {
    fn push(&mut self, value: T);
    fn pop(&mut self) -> Option<T>;
    fn is_empty(&mut self) -> bool;
}

/// Implements [`Kind`] (as `$Kind`), [`Linked`] and [`LinkedHandle`] for
/// `$S`.
macro_rules! kind {
    (@new $S:ident, $r:ident) => {
        $S::with_reclaimer($r)
    };
    (@new $S:ident, $r:ident, $new:expr) => {
        ($new)($r)
    };
    ($Kind:ident = $S:ident, lifo: $lifo:literal $(, new: $new:expr, per_retire: $per:literal)?) => {
        pub enum $Kind {}

        impl Kind for $Kind {
            type S<T: Send, R: Reclaim> = $S<T, R>;
            const LIFO: bool = $lifo;
            $(const PER_RETIRE: usize = $per;)?
        }

        impl<T: Send, R: Reclaim> Linked<T, R> for $S<T, R> {
            type Handle<'a>
                = Handle<'a, Self, R>
            where
                Self: 'a;
            fn with_reclaimer(r: R) -> Self {
                kind!(@new $S, r $(, $new)?)
            }
            fn push(&self, value: T) {
                $S::push(self, value)
            }
            fn pop(&self) -> Option<T> {
                $S::pop(self)
            }
            fn is_empty(&self) -> bool {
                $S::is_empty(self)
            }
            fn reclaimer(&self) -> &R {
                $S::reclaimer(self)
            }
            fn handle(&self) -> Self::Handle<'_> {
                $S::handle(self)
            }
            fn extend_shared(&self, values: impl IntoIterator<Item = T>) {
                let mut this = self;
                this.extend(values);
            }
            fn collect_from(values: impl IntoIterator<Item = T>) -> Self
            where
                R: Default,
            {
                values.into_iter().collect()
            }
        }

        impl<T, R: Reclaim> LinkedHandle<T> for Handle<'_, $S<T, R>, R> {
            fn push(&mut self, value: T) {
                Handle::<'_, $S<T, R>, R>::push(self, value)
            }
            fn pop(&mut self) -> Option<T> {
                Handle::<'_, $S<T, R>, R>::pop(self)
            }
            fn is_empty(&mut self) -> bool {
                Handle::<'_, $S<T, R>, R>::is_empty(self)
            }
        }
    };
}
kind!(Stack = TreiberStack, lifo: true);
kind!(Queue = MsQueue, lifo: false);
// Two-cell segments: every shared test crosses many segment boundaries
// (installs, head swings, retires); `collect_from` uses the default size.
kind!(Faa = FaaQueue, lifo: false, new: |r| cds::testing::faa_queue::with_segment_len(2, r), per_retire: 2);

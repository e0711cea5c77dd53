//! What [`TreiberStack`](crate::TreiberStack) and
//! [`MsQueue`](crate::MsQueue) share, written once: their handle
//! operations, std and rayon collection traits, owning iterator and the
//! panic-safe drain of their `Drop`.
//!
//! Each structure provides the same inherent, crate-private algorithm
//! functions, which [`linked_structure!`] wires to the public items:
//! `push_in(&self, &mut G, T)`, `pop_in(&self, &mut G) -> Option<T>`,
//! `is_empty_in(&self, &mut G) -> bool` (each on a guard of the structure's
//! own reclaimer) and `pop_mut(&mut self) -> Option<T>` (exclusive access,
//! no retire).

/// Pops every value with `pop` and drops it; if a value's `Drop` panics,
/// the rest are still dropped while unwinding (a second panic aborts, as
/// for `Vec`), and `last` runs in both cases (the queue frees its
/// sentinel there).
pub(crate) fn drain<S, T>(s: &mut S, pop: fn(&mut S) -> Option<T>, last: fn(&mut S)) {
    struct Rest<'a, S, T> {
        s: &'a mut S,
        pop: fn(&mut S) -> Option<T>,
        last: fn(&mut S),
    }
    impl<S, T> Drop for Rest<'_, S, T> {
        fn drop(&mut self) {
            while (self.pop)(self.s).is_some() {}
            (self.last)(self.s);
        }
    }
    let rest = Rest { s, pop, last };
    while let Some(value) = (rest.pop)(rest.s) {
        drop(value);
    }
}

/// Expands the shared items for `$S<T, R>` (`$s` names a value of it in
/// the doc examples; `$first`/`$second` are what popping yields after
/// pushing `1` then `2`).
macro_rules! linked_structure {
    ($S:ident, $Handle:ident, $s:literal, order: $order:literal, pops: [$first:literal, $second:literal]) => {
        #[doc = concat!("An amortized handle on a [`", stringify!($S), "`], from [`",
            stringify!($S), "::handle`]: one guard across many operations (see [`Handle`]).")]
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let ", $s, " = cds::", stringify!($S), "::new();")]
        #[doc = concat!("let mut h = ", $s, ".handle();")]
        /// h.push(5);
        /// assert!(!h.is_empty());
        /// assert_eq!(h.pop(), Some(5));
        /// h.refresh();
        /// ```
        pub type $Handle<'s, T, R = Epoch> = Handle<'s, $S<T, R>, R>;

        // SAFETY: the structure owns its values and hands each to exactly
        // one thread, so moving it (or the values) between threads needs
        // only `T: Send`.
        unsafe impl<T: Send, R: Reclaim> Send for $S<T, R> {}
        // SAFETY: through `&self` threads only move `T`s in and out (never
        // share a `&T`), so sharing it needs `T: Send`, not `T: Sync`.
        unsafe impl<T: Send, R: Reclaim> Sync for $S<T, R> {}

        impl<T> $S<T, Epoch> {
            #[doc = concat!("An empty ", $s, " on the default reclaimer ([`Epoch`]).")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let ", $s, ": cds::", stringify!($S), "<u8> = cds::", stringify!($S), "::new();")]
            #[doc = concat!("assert!(", $s, ".is_empty());")]
            /// ```
            #[inline]
            pub fn new() -> Self {
                Self::with_reclaimer(Epoch::new())
            }
        }

        impl<T, R: Reclaim> $S<T, R> {
            #[doc = concat!("The reclaimer this ", $s, " retires its nodes through.")]
            ///
            /// # Examples
            ///
            /// ```
            /// use cds::reclaim::Reclaim;
            #[doc = concat!("let ", $s, " = cds::", stringify!($S), "::<u8>::new();")]
            #[doc = concat!($s, ".reclaimer().flush();")]
            /// ```
            #[inline]
            pub fn reclaimer(&self) -> &R {
                &self.reclaimer
            }

            /// Removes and returns the next value (see the type's order),
            /// or `None` if it is empty.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let ", $s, " = cds::", stringify!($S), "::new();")]
            #[doc = concat!("assert_eq!(", $s, ".pop(), None);")]
            #[doc = concat!($s, ".push('x');")]
            #[doc = concat!("assert_eq!(", $s, ".pop(), Some('x'));")]
            /// ```
            #[inline]
            pub fn pop(&self) -> Option<T> {
                let mut guard = self.reclaimer.guard();
                self.pop_in(&mut guard)
            }

            /// An amortized handle: one guard held across many operations,
            /// refreshed every [`Handle::REFRESH_EVERY`] of them (call
            #[doc = concat!("[`refresh`](", stringify!($Handle), "::refresh) yourself between")]
            /// bursts). While a handle lives, nodes this thread could see
            /// are not reclaimed: drop it when the loop ends. `!Send`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let ", $s, " = cds::", stringify!($S), "::new();")]
            #[doc = concat!("let mut h = ", $s, ".handle();")]
            /// for i in 0..1000 {
            ///     h.push(i);
            /// }
            /// let mut sum = 0;
            /// while let Some(v) = h.pop() {
            ///     sum += v;
            /// }
            /// assert_eq!(sum, 999 * 1000 / 2);
            /// ```
            #[inline]
            pub fn handle(&self) -> $Handle<'_, T, R> {
                Handle::new(self, &self.reclaimer)
            }
        }

        impl<T, R: Reclaim> Handle<'_, $S<T, R>, R> {
            #[doc = concat!("[`", stringify!($S), "::push`] on the handle's guard.")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let ", $s, " = cds::", stringify!($S), "::new();")]
            #[doc = concat!($s, ".handle().push(1);")]
            #[doc = concat!("assert_eq!(", $s, ".pop(), Some(1));")]
            /// ```
            #[inline]
            pub fn push(&mut self, value: T) {
                self.op(|s, g| s.push_in(g, value));
            }

            #[doc = concat!("[`", stringify!($S), "::pop`] on the handle's guard.")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let ", $s, " = cds::", stringify!($S), "::new();")]
            #[doc = concat!($s, ".push(1);")]
            #[doc = concat!("assert_eq!(", $s, ".handle().pop(), Some(1));")]
            /// ```
            #[inline]
            pub fn pop(&mut self) -> Option<T> {
                self.op(|s, g| s.pop_in(g))
            }

            #[doc = concat!("[`", stringify!($S), "::is_empty`] on the handle's guard.")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let ", $s, " = cds::", stringify!($S), "::<u8>::new();")]
            #[doc = concat!("assert!(", $s, ".handle().is_empty());")]
            /// ```
            #[inline]
            pub fn is_empty(&mut self) -> bool {
                self.op(|s, g| s.is_empty_in(g))
            }
        }

        // A panic that unwinds out of an operation leaves the structure
        // consistent: each operation takes effect in one CAS, and the only
        // user code run inside the structure is `T`'s `Drop` (in `Drop`,
        // which keeps dropping the rest). Values are moved in and out,
        // never lent, so no half-updated `T` can be seen through `&self`;
        // hence no bound on `T` (as crossbeam's queues and std's `Mutex`).
        impl<T, R: Reclaim + core::panic::RefUnwindSafe> core::panic::RefUnwindSafe for $S<T, R> {}
        impl<T, R: Reclaim + core::panic::UnwindSafe> core::panic::UnwindSafe for $S<T, R> {}

        impl<T, R: Reclaim> Drop for $S<T, R> {
            fn drop(&mut self) {
                $crate::linked::drain(self, Self::pop_mut, Self::free_last);
            }
        }

        impl<T, R: Reclaim + Default> Default for $S<T, R> {
            #[doc = concat!("An empty ", $s, " on `R::default()` (for [`Epoch`], the same as")]
            #[doc = concat!("[`", stringify!($S), "::new`]).")]
            ///
            /// # Examples
            ///
            /// ```
            /// use cds::reclaim::Hazard;
            #[doc = concat!("let ", $s, ": cds::", stringify!($S), "<String> = Default::default();")]
            #[doc = concat!("assert!(", $s, ".is_empty());")]
            #[doc = concat!("let on_hazard: cds::", stringify!($S), "<String, Hazard> = Default::default();")]
            /// assert!(on_hazard.is_empty());
            /// ```
            fn default() -> Self {
                Self::with_reclaimer(R::default())
            }
        }

        impl<T, R: Reclaim> fmt::Debug for $S<T, R> {
            #[doc = concat!("Shows whether the ", $s, " is empty; never reads the values (another")]
            /// thread may be popping them).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let ", $s, " = cds::", stringify!($S), "::<u8>::new();")]
            #[doc = concat!("assert_eq!(format!(\"{", $s, ":?}\"), \"", stringify!($S), " { is_empty: true, .. }\");")]
            /// ```
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($S))
                    .field("is_empty", &self.is_empty())
                    .finish_non_exhaustive()
            }
        }

        impl<T, R: Reclaim + Default> FromIterator<T> for $S<T, R> {
            #[doc = concat!("Pushes every item in order: ", $order, ".")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let ", $s, ": cds::", stringify!($S), "<_> = (1..=2).collect();")]
            #[doc = concat!("assert_eq!(", $s, ".into_iter().collect::<Vec<_>>(), [", $first, ", ", $second, "]);")]
            /// ```
            fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
                let mut s = Self::with_reclaimer(R::default());
                s.extend(iter);
                s
            }
        }

        impl<T, R: Reclaim> Extend<T> for $S<T, R> {
            /// Pushes every item in order.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let mut ", $s, " = cds::", stringify!($S), "::new();")]
            #[doc = concat!($s, ".extend([1, 2]);")]
            #[doc = concat!("assert_eq!(", $s, ".pop(), Some(", $first, "));")]
            /// ```
            fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
                (&*self).extend(iter);
            }
        }

        impl<T, R: Reclaim> Extend<T> for &$S<T, R> {
            /// Pushes every item in order, through one handle, concurrently
            /// with other threads.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let ", $s, " = cds::", stringify!($S), "::new();")]
            #[doc = concat!("(&", $s, ").extend([1, 2]);")]
            #[doc = concat!("assert_eq!(", $s, ".pop(), Some(", $first, "));")]
            /// ```
            fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
                let mut h = self.handle();
                for value in iter {
                    h.push(value);
                }
            }
        }

        #[doc = concat!("The owning iterator of a [`", stringify!($S), "`]: yields the values in pop")]
        #[doc = concat!("order (", $order, ").")]
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let ", $s, ": cds::", stringify!($S), "<_> = [1, 2].into_iter().collect();")]
        #[doc = concat!("let mut it = ", $s, ".into_iter();")]
        #[doc = concat!("assert_eq!(it.next(), Some(", $first, "));")]
        #[doc = concat!("assert_eq!(it.next(), Some(", $second, "));")]
        /// assert_eq!(it.next(), None);
        /// ```
        pub struct IntoIter<T, R: Reclaim = Epoch>($S<T, R>);

        impl<T, R: Reclaim> Iterator for IntoIter<T, R> {
            type Item = T;

            #[inline]
            fn next(&mut self) -> Option<T> {
                self.0.pop_mut()
            }
        }

        impl<T, R: Reclaim> fmt::Debug for IntoIter<T, R> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple("IntoIter").field(&self.0).finish()
            }
        }

        impl<T, R: Reclaim> IntoIterator for $S<T, R> {
            type Item = T;
            type IntoIter = IntoIter<T, R>;

            /// Drains in pop order; values left unvisited drop with the
            /// iterator.
            fn into_iter(self) -> IntoIter<T, R> {
                IntoIter(self)
            }
        }

        #[cfg(feature = "rayon")]
        $crate::external::rayon::linked_par!($S, $s);
    };
}
pub(crate) use linked_structure;

/// `push` and `is_empty` for a queue `$S` whose algorithms need a guard
/// (`push_in`, `is_empty_in`); the stack's push and emptiness check need
/// none and are written in `stack.rs`.
macro_rules! guarded_queue_ops {
    ($S:ident) => {
        impl<T, R: Reclaim> $S<T, R> {
            /// Appends `value` at the back of the queue.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = cds::", stringify!($S), "::new();")]
            /// queue.push(1);
            /// queue.push(2);
            /// assert_eq!(queue.pop(), Some(1));
            /// # queue.pop();
            /// ```
            #[inline]
            pub fn push(&self, value: T) {
                let mut guard = self.reclaimer.guard();
                self.push_in(&mut guard, value);
            }

            /// True if the queue held no value at the moment of the call (a
            /// snapshot: other threads may change it right after).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let queue = cds::", stringify!($S), "::new();")]
            /// assert!(queue.is_empty());
            /// queue.push(0);
            /// assert!(!queue.is_empty());
            /// # queue.pop();
            /// ```
            #[inline]
            pub fn is_empty(&self) -> bool {
                let mut guard = self.reclaimer.guard();
                self.is_empty_in(&mut guard)
            }
        }
    };
}
pub(crate) use guarded_queue_ops;

/// Compile-time checks: both structures are unwind-safe on both reclaimers,
/// also for values that are not (`Cell`: interior mutability).
#[cfg(test)]
const _: () = {
    use core::cell::Cell;
    use core::panic::{RefUnwindSafe, UnwindSafe};

    use crate::reclaim::{Epoch, Hazard};
    use crate::{MsQueue, TreiberStack};

    fn unwind_safe<X: UnwindSafe + RefUnwindSafe>() {}
    #[allow(dead_code)]
    fn all() {
        unwind_safe::<TreiberStack<Cell<u8>, Epoch>>();
        unwind_safe::<TreiberStack<Cell<u8>, Hazard>>();
        unwind_safe::<MsQueue<Cell<u8>, Epoch>>();
        unwind_safe::<MsQueue<Cell<u8>, Hazard>>();
    }
};

/// The unit tests the stack and the queue share, written once over the
/// [`Kind`](tests::Kind) of structure; each structure's own `mod tests`
/// expands them with [`linked_unit_tests!`](tests::linked_unit_tests),
/// next to its order-specific tests, so their names stay
/// `stack::tests::…` and `queue::tests::…`.
#[cfg(all(test, not(loom)))]
pub(crate) mod tests {
    use core::fmt;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};

    use crate::reclaim::Reclaim;

    /// A structure the shared tests run on: the stack or the queue.
    pub(crate) trait Kind {
        /// The structure on values `T` under reclaimer `R`.
        type S<T: Send, R: Reclaim>: Linked<T, R>;
        /// `true` for the stack (last in, first out), `false` for the queue.
        const LIFO: bool;

        /// The pop order of the values `0..n` pushed in order.
        fn pop_order(n: usize) -> Vec<usize> {
            if Self::LIFO {
                (0..n).rev().collect()
            } else {
                (0..n).collect()
            }
        }
    }

    /// The operations the shared tests call, each forwarding to the public
    /// method of the same name.
    pub(crate) trait Linked<T, R: Reclaim>:
        Sized + Send + Sync + Extend<T> + IntoIterator<Item = T>
    {
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
    }

    /// The operations of a [`Linked::Handle`].
    pub(crate) trait LinkedHandle<T>: fmt::Debug {
        fn push(&mut self, value: T);
        fn pop(&mut self) -> Option<T>;
        fn is_empty(&mut self) -> bool;
    }

    /// Implements [`Kind`] (as `$Kind`), [`Linked`] and [`LinkedHandle`]
    /// for `$S`.
    macro_rules! kind {
        ($Kind:ident = $S:ident, lifo: $lifo:literal) => {
            pub(crate) enum $Kind {}

            impl Kind for $Kind {
                type S<T: Send, R: Reclaim> = crate::$S<T, R>;
                const LIFO: bool = $lifo;
            }

            impl<T: Send, R: Reclaim> Linked<T, R> for crate::$S<T, R> {
                type Handle<'a>
                    = crate::reclaim::Handle<'a, Self, R>
                where
                    Self: 'a;
                fn with_reclaimer(r: R) -> Self {
                    crate::$S::with_reclaimer(r)
                }
                fn push(&self, value: T) {
                    crate::$S::push(self, value)
                }
                fn pop(&self) -> Option<T> {
                    crate::$S::pop(self)
                }
                fn is_empty(&self) -> bool {
                    crate::$S::is_empty(self)
                }
                fn reclaimer(&self) -> &R {
                    crate::$S::reclaimer(self)
                }
                fn handle(&self) -> Self::Handle<'_> {
                    crate::$S::handle(self)
                }
            }

            impl<T, R: Reclaim> LinkedHandle<T> for crate::reclaim::Handle<'_, crate::$S<T, R>, R> {
                fn push(&mut self, value: T) {
                    crate::reclaim::Handle::<'_, crate::$S<T, R>, R>::push(self, value)
                }
                fn pop(&mut self) -> Option<T> {
                    crate::reclaim::Handle::<'_, crate::$S<T, R>, R>::pop(self)
                }
                fn is_empty(&mut self) -> bool {
                    crate::reclaim::Handle::<'_, crate::$S<T, R>, R>::is_empty(self)
                }
            }
        };
    }
    kind!(Stack = TreiberStack, lifo: true);
    kind!(Queue = MsQueue, lifo: false);

    /// Counts drops of its instances.
    #[derive(Debug)]
    struct Counted(usize, Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, SeqCst);
        }
    }

    /// Pops return the values in the structure's order (reversed for the
    /// stack), then `None`; the structure works again after it was emptied
    /// (for the queue: the sentinel moved on).
    pub(crate) fn pops_in_order<K: Kind, R: Reclaim>(r: R) {
        let s: K::S<usize, R> = Linked::with_reclaimer(r);
        assert!(s.is_empty());
        assert_eq!(s.pop(), None);
        for i in 0..10 {
            s.push(i);
        }
        assert!(!s.is_empty());
        for i in K::pop_order(10) {
            assert_eq!(s.pop(), Some(i));
        }
        assert!(s.is_empty());
        assert_eq!(s.pop(), None);
        s.push(10);
        assert_eq!(s.pop(), Some(10));
    }

    /// Popping moves values out without dropping them; the structure's
    /// `Drop` drops each value left exactly once.
    pub(crate) fn drops_each_value_once<K: Kind, R: Reclaim>(r: R) {
        let drops = Arc::new(AtomicUsize::new(0));
        let s: K::S<Counted, R> = Linked::with_reclaimer(r);
        for i in 0..20 {
            s.push(Counted(i, drops.clone()));
        }
        let popped: Vec<_> = (0..5).map(|_| s.pop().unwrap()).collect();
        assert_eq!(
            popped.iter().map(|c| c.0).collect::<Vec<_>>(),
            K::pop_order(20)[..5]
        );
        assert_eq!(drops.load(SeqCst), 0, "popping must not drop");
        drop(popped);
        assert_eq!(drops.load(SeqCst), 5);
        drop(s);
        assert_eq!(drops.load(SeqCst), 20);
    }

    /// `into_iter` yields in pop order; values left unvisited drop with
    /// the iterator.
    pub(crate) fn into_iter_drains_in_pop_order<K: Kind, R: Reclaim>(r: R) {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut s: K::S<Counted, R> = Linked::with_reclaimer(r);
        s.extend((0..6).map(|i| Counted(i, drops.clone())));
        let mut it = s.into_iter();
        let order = K::pop_order(6);
        assert_eq!(it.next().map(|c| c.0), Some(order[0]));
        assert_eq!(it.next().map(|c| c.0), Some(order[1]));
        assert_eq!(drops.load(SeqCst), 2);
        drop(it);
        assert_eq!(drops.load(SeqCst), 6);
    }

    /// One handle across many operations (past a guard refresh): push,
    /// is_empty and pop in the structure's order.
    pub(crate) fn handle_ops<K: Kind, R: Reclaim>(r: R) {
        let s: K::S<usize, R> = Linked::with_reclaimer(r);
        let n = if cfg!(miri) { 300 } else { 1000 };
        let mut h = s.handle();
        for i in 0..n {
            h.push(i);
        }
        assert!(!h.is_empty());
        for i in K::pop_order(n) {
            assert_eq!(h.pop(), Some(i));
        }
        assert!(h.is_empty());
        assert_eq!(h.pop(), None);
        assert!(format!("{h:?}").starts_with("Handle"));
    }

    /// A value whose `Drop` panics while the structure drops: the panic
    /// propagates and every other value is still dropped.
    pub(crate) fn panicking_drop_drops_the_rest<K: Kind, R: Reclaim>(r: R) {
        struct Bomb(bool, Arc<AtomicUsize>);
        impl Drop for Bomb {
            fn drop(&mut self) {
                self.1.fetch_add(1, SeqCst);
                if self.0 {
                    panic!("bomb");
                }
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let s: K::S<Bomb, R> = Linked::with_reclaimer(r);
        s.push(Bomb(false, drops.clone()));
        s.push(Bomb(true, drops.clone()));
        s.push(Bomb(false, drops.clone()));
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(s)));
        assert!(res.is_err());
        assert_eq!(drops.load(SeqCst), 3);
    }

    /// Two poppers race with a pusher over a few values, forcing a
    /// reclamation pass after every pop: a popper's nodes are freed as soon
    /// as no protection covers them, so a missing protection (of the
    /// stack's head before reading `next`, of the queue's `next`) is a
    /// use-after-free that Miri reports (checked for the queue by deleting
    /// it). Every value comes out exactly once; the queue's poppers each
    /// see increasing values (FIFO).
    pub(crate) fn concurrent_pops<K: Kind, R: Reclaim>(r: R) {
        let s: K::S<usize, R> = Linked::with_reclaimer(r);
        let n = if cfg!(miri) { 8 } else { 1000 };
        for i in 0..n {
            s.push(i);
        }
        let got = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..2 {
                let (s, got) = (&s, &got);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    while let Some(v) = s.pop() {
                        mine.push(v);
                        s.reclaimer().flush();
                    }
                    if !K::LIFO {
                        assert!(mine.windows(2).all(|w| w[0] < w[1]), "FIFO");
                    }
                    got.lock().unwrap().extend(mine);
                });
            }
            let s = &s;
            scope.spawn(move || {
                for i in n..n + 4 {
                    s.push(i);
                }
            });
        });
        let mut got = got.into_inner().unwrap();
        got.extend(s);
        got.sort_unstable();
        assert!(got.into_iter().eq(0..n + 4));
    }

    /// Expands, in a structure's `mod tests`, the shared generic tests for
    /// `$Kind` under every reclaimer (see
    /// [`reclaimer_unit_tests!`](crate::reclaim::test_matrix::reclaimer_unit_tests)),
    /// together with the structure's own generic tests `$own`, plus the
    /// plain shared tests on the structure `$S`.
    macro_rules! linked_unit_tests {
        ($Kind:ident, $S:ident; order: $order:ident; own: $($own:ident),* $(,)?) => {
            /// Pops in the structure's order (see
            #[doc = concat!("[`pops_in_order`](crate::linked::tests::pops_in_order)), named `", stringify!($order), "` here.")]
            fn $order<R: $crate::reclaim::Reclaim>(r: R) {
                $crate::linked::tests::pops_in_order::<$crate::linked::tests::$Kind, R>(r)
            }
            $crate::linked::tests::linked_unit_tests!(@shared $Kind:
                drops_each_value_once,
                into_iter_drains_in_pop_order,
                handle_ops,
                panicking_drop_drops_the_rest,
                concurrent_pops,
            );
            $crate::reclaim::test_matrix::reclaimer_unit_tests!(
                $order,
                $($own,)*
                drops_each_value_once,
                into_iter_drains_in_pop_order,
                handle_ops,
                panicking_drop_drops_the_rest,
                concurrent_pops,
            );

            /// Send and Sync exactly when `T: Send` (a `Cell` is `Send`
            /// but not `Sync`).
            #[test]
            fn send_sync_exactly_when_t_send() {
                fn send_sync<X: Send + Sync>() {}
                send_sync::<$crate::$S<std::cell::Cell<u8>>>(); // Send, !Sync
                send_sync::<$crate::$S<Vec<u8>>>();
            }

            /// `Default` builds an empty structure; `Debug` shows whether
            /// it is empty.
            #[test]
            fn debug_and_default() {
                let s: $crate::$S<u8> = Default::default();
                assert_eq!(format!("{s:?}"), concat!(stringify!($S), " { is_empty: true, .. }"));
                s.push(1);
                assert_eq!(format!("{s:?}"), concat!(stringify!($S), " { is_empty: false, .. }"));
            }

            /// Values may borrow locals that die after the structure
            /// (nothing outlives it on the global epoch collector).
            #[test]
            fn non_static_values() {
                let local = String::from("borrowed");
                let s = $crate::$S::new();
                s.push(local.as_str());
                s.push(local.as_str());
                assert_eq!(s.pop(), Some("borrowed"));
                drop(s);
                drop(local);
                $crate::reclaim::Epoch::new().flush();
            }
        };
        (@shared $Kind:ident: $($name:ident),* $(,)?) => {
            $(
                fn $name<R: $crate::reclaim::Reclaim>(r: R) {
                    $crate::linked::tests::$name::<$crate::linked::tests::$Kind, R>(r)
                }
            )*
        };
    }
    pub(crate) use linked_unit_tests;
}

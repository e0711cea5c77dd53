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

        impl<T, R: Reclaim> $S<T, R> {
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

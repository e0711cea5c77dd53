//! rayon support (feature `rayon`): parallel extend and collect for every
//! structure, in one room.

/// `ParallelExtend` (on the structure and on a shared reference) and
/// `FromParallelIterator` for the stack or queue `$S` (`$s` names a value
/// in the doc examples).
macro_rules! linked_par {
    ($S:ident, $s:literal) => {
        const _: () = {
            use rayon::iter::{
                FromParallelIterator, IntoParallelIterator, ParallelExtend, ParallelIterator,
            };

            impl<T: Send, R: Reclaim> ParallelExtend<T> for $S<T, R> {
                /// Pushes every item from rayon's worker threads, in no
                /// specified order.
                ///
                /// # Examples
                ///
                /// ```
                /// use rayon::prelude::*;
                #[doc = concat!("let mut ", $s, " = cds::", stringify!($S), "::new();")]
                #[doc = concat!($s, ".par_extend(0..100);")]
                #[doc = concat!("assert_eq!(", $s, ".into_iter().count(), 100);")]
                /// ```
                fn par_extend<I: IntoParallelIterator<Item = T>>(&mut self, iter: I) {
                    (&*self).par_extend(iter);
                }
            }

            impl<T: Send, R: Reclaim> ParallelExtend<T> for &$S<T, R> {
                /// Pushes every item from rayon's worker threads, in no
                /// specified order, concurrently with other users.
                ///
                /// # Examples
                ///
                /// ```
                /// use rayon::prelude::*;
                #[doc = concat!("let ", $s, " = cds::", stringify!($S), "::new();")]
                #[doc = concat!("(&", $s, ").par_extend(0..100);")]
                #[doc = concat!("assert_eq!(", $s, ".into_iter().count(), 100);")]
                /// ```
                fn par_extend<I: IntoParallelIterator<Item = T>>(&mut self, iter: I) {
                    let s: &$S<T, R> = self;
                    iter.into_par_iter().for_each_init(|| s.handle(), |h, value| h.push(value));
                }
            }

            impl<T: Send, R: Reclaim + Default> FromParallelIterator<T> for $S<T, R> {
                /// Collects in parallel, in no specified order.
                ///
                /// # Examples
                ///
                /// ```
                /// use rayon::prelude::*;
                #[doc = concat!("let ", $s, ": cds::", stringify!($S), "<_> = (0..100).into_par_iter().collect();")]
                #[doc = concat!("assert_eq!(", $s, ".into_iter().sum::<i32>(), 4950);")]
                /// ```
                fn from_par_iter<I: IntoParallelIterator<Item = T>>(iter: I) -> Self {
                    let mut s = Self::with_reclaimer(R::default());
                    s.par_extend(iter);
                    s
                }
            }
        };
    };
}
pub(crate) use linked_par;

//! rayon support for [`HashMap`] (feature `rayon`): parallel iteration over
//! hash ranges, `ParallelExtend` and `FromParallelIterator`.
//!
//! The producer splits the *hash space* at segment boundaries of the table
//! current when it splits (homes are a hash's top bits, so a boundary stays
//! a boundary when the table doubles), never collecting first. Each job walks its range with
//! [`Iter`]'s per-segment snapshots on its own thread, so every protection
//! is taken on the thread that uses it (an `Epoch` `Ref` is not `Send`), and
//! the items handed to rayon are plain values.

use core::hash::{BuildHasher, Hash};

use rayon::iter::plumbing::{bridge_unindexed, Folder, UnindexedConsumer, UnindexedProducer};
use rayon::iter::{FromParallelIterator, IntoParallelIterator, ParallelExtend, ParallelIterator};

use crate::map::{HashMap, Iter, END};
use crate::reclaim::Reclaim;

/// A parallel iterator over a [`HashMap`] that maps each entry with `F`
/// on the worker thread that visits it.
struct ParMap<'m, K, V, S, R: Reclaim, F> {
    map: &'m HashMap<K, V, S, R>,
    f: F,
}

/// One job's range of the hash space, `[lo, hi)`.
struct Producer<'m, 'f, K, V, S, R: Reclaim, F> {
    map: &'m HashMap<K, V, S, R>,
    f: &'f F,
    lo: u128,
    hi: u128,
}

impl<K, V, S, R, F, T> UnindexedProducer for Producer<'_, '_, K, V, S, R, F>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Sync,
    R: Reclaim,
    F: Fn(&K, &V) -> T + Sync,
    T: Send,
{
    type Item = T;

    fn split(self) -> (Self, Option<Self>) {
        let span = self
            .map
            .raw
            .segment_span(&mut self.map.raw.reclaimer.guard());
        let segs = (self.hi - self.lo) / span;
        if segs < 2 {
            return (self, None);
        }
        let mid = self.lo + segs / 2 * span;
        let right = Producer {
            map: self.map,
            f: self.f,
            lo: mid,
            hi: self.hi,
        };
        (Producer { hi: mid, ..self }, Some(right))
    }

    fn fold_with<G: Folder<T>>(self, mut folder: G) -> G {
        for r in Iter::new(self.map, self.lo, self.hi) {
            folder = folder.consume((self.f)(r.key(), r.value()));
            if folder.full() {
                break;
            }
        }
        folder
    }
}

impl<K, V, S, R, F, T> ParallelIterator for ParMap<'_, K, V, S, R, F>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Sync,
    R: Reclaim,
    F: Fn(&K, &V) -> T + Sync + Send,
    T: Send,
{
    type Item = T;

    fn drive_unindexed<C: UnindexedConsumer<T>>(self, consumer: C) -> C::Result {
        let producer = Producer {
            map: self.map,
            f: &self.f,
            lo: 0,
            hi: END,
        };
        bridge_unindexed(producer, consumer)
    }
}

impl<K, V, S, R> HashMap<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Sync,
    R: Reclaim,
{
    /// A rayon parallel iterator over clones of the entries, with the
    /// guarantees of [`iter`](HashMap::iter): each entry present
    /// throughout is yielded exactly once, others at most once.
    ///
    /// # Examples
    ///
    /// ```
    /// use rayon::prelude::*;
    /// let map: cds::HashMap<u32, u32> = (0..1000).map(|i| (i, i)).collect();
    /// let sum: u64 = map.par_iter_cloned().map(|(_, v)| u64::from(v)).sum();
    /// assert_eq!(sum, 499_500);
    /// ```
    pub fn par_iter_cloned(&self) -> impl ParallelIterator<Item = (K, V)> + '_
    where
        K: Clone,
        V: Clone,
    {
        ParMap {
            map: self,
            f: |k: &K, v: &V| (k.clone(), v.clone()),
        }
    }

    /// Calls `f` on every entry in parallel (rayon), with the guarantees of
    /// [`iter`](HashMap::iter). Each job protects the entries it visits on
    /// its own thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// let map: cds::HashMap<u32, u32> = (0..1000).map(|i| (i, 1)).collect();
    /// let total = AtomicU64::new(0);
    /// map.par_for_each(|_, v| {
    ///     total.fetch_add(u64::from(*v), Ordering::Relaxed);
    /// });
    /// assert_eq!(total.into_inner(), 1000);
    /// ```
    pub fn par_for_each(&self, f: impl Fn(&K, &V) + Sync + Send) {
        ParMap { map: self, f }.for_each(|()| ());
    }
}

impl<K, V, S, R> ParallelExtend<(K, V)> for &HashMap<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Sync,
    R: Reclaim,
{
    /// Inserts every pair in parallel, one [`handle`](HashMap::handle) per
    /// rayon job.
    ///
    /// ```
    /// use rayon::prelude::*;
    /// let map = cds::HashMap::new();
    /// (&map).par_extend((0..100u32).into_par_iter().map(|i| (i, i)));
    /// assert_eq!(map.len(), 100);
    /// ```
    fn par_extend<I: IntoParallelIterator<Item = (K, V)>>(&mut self, par_iter: I) {
        let map: &HashMap<K, V, S, R> = self;
        par_iter.into_par_iter().for_each_init(
            || map.handle(),
            |h, (k, v)| {
                h.insert(k, v);
            },
        );
    }
}

impl<K, V, S, R> ParallelExtend<(K, V)> for HashMap<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Sync,
    R: Reclaim,
{
    /// Inserts every pair in parallel.
    ///
    /// ```
    /// use rayon::prelude::*;
    /// let mut map = cds::HashMap::new();
    /// map.par_extend((0..100u32).into_par_iter().map(|i| (i, i)));
    /// assert_eq!(map.len(), 100);
    /// ```
    fn par_extend<I: IntoParallelIterator<Item = (K, V)>>(&mut self, par_iter: I) {
        (&*self).par_extend(par_iter);
    }
}

impl<K, V, S, R> FromParallelIterator<(K, V)> for HashMap<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Default + Sync,
    R: Reclaim + Default,
{
    /// Collects pairs in parallel (of duplicate keys, one wins).
    ///
    /// ```
    /// use rayon::prelude::*;
    /// let map: cds::HashMap<u32, u32> = (0..100u32).into_par_iter().map(|i| (i, i)).collect();
    /// assert_eq!(map.len(), 100);
    /// ```
    fn from_par_iter<I: IntoParallelIterator<Item = (K, V)>>(par_iter: I) -> Self {
        let mut map = Self::with_capacity_hasher_and_reclaimer(0, S::default(), R::default());
        map.par_extend(par_iter);
        map
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    #[test]
    fn parallel_iteration_yields_each_entry_once() {
        let n = if cfg!(miri) { 50 } else { 20_000 };
        let map: HashMap<u64, u64> = (0..n).into_par_iter().map(|i| (i, i * 3)).collect();
        assert_eq!(map.len(), n as usize);
        let mut got: Vec<(u64, u64)> = map.par_iter_cloned().collect();
        got.sort_unstable();
        assert_eq!(got, (0..n).map(|i| (i, i * 3)).collect::<Vec<_>>());
        let seen = AtomicUsize::new(0);
        map.par_for_each(|k, v| {
            assert_eq!(*v, k * 3);
            seen.fetch_add(1, Relaxed);
        });
        assert_eq!(seen.into_inner(), n as usize);
    }

    #[test]
    fn parallel_iteration_during_growth_sees_stable_keys() {
        let n = if cfg!(miri) { 40 } else { 5_000 };
        let map: HashMap<u64, u64> = (0..n).map(|i| (i, i)).collect();
        std::thread::scope(|s| {
            s.spawn(|| {
                for k in 0..4 * n {
                    map.insert(1 << 40 | k, k);
                }
            });
            let mut stable: Vec<u64> = map
                .par_iter_cloned()
                .map(|(k, _)| k)
                .filter(|&k| k < n)
                .collect();
            stable.sort_unstable();
            assert_eq!(stable, (0..n).collect::<Vec<_>>());
        });
    }
}

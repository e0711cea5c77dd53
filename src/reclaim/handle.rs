//! [`Handle`]: one guard held across many operations on one structure,
//! and the refresh policy every structure's handle shares.

use core::fmt;

use super::{Guard, Reclaim};

/// An amortized handle on a structure `S` whose reclaimer is `R`: one
/// guard held across many operations, from the structure's `handle()`.
///
/// Without a handle every operation that reads shared nodes creates a
/// guard (under [`Epoch`](super::Epoch): a pin, one lock-prefixed RMW;
/// under [`Hazard`](super::Hazard): a record from the thread's cache). A
/// handle creates one and counts operations: every operation (reads and
/// writes alike, whether or not it needed the guard) counts one, and every
/// [`REFRESH_EVERY`](Self::REFRESH_EVERY) operations the guard is
/// [refreshed](Self::refresh), so a long loop never holds up reclamation
/// for long. While a handle lives, nodes this thread could see are not
/// reclaimed: drop it (or call `refresh`) when a burst ends. A handle is
/// `!Send`: its guard belongs to its thread.
///
/// Each structure adds its own operations on its handle type
/// ([`StackHandle`](crate::StackHandle), [`QueueHandle`](crate::QueueHandle)
/// and the map's); `refresh` and [`is_empty`](crate::StackHandle::is_empty)
/// exist on every one.
///
/// # Examples
///
/// ```
/// let stack = cds::TreiberStack::new();
/// let mut h = stack.handle();
/// h.push(5);
/// assert_eq!(h.pop(), Some(5));
/// h.refresh();
/// assert!(h.is_empty());
/// ```
#[must_use = "a handle holds a guard: use it for a batch of operations"]
pub struct Handle<'s, S, R: Reclaim + 's> {
    structure: &'s S,
    guard: R::Guard<'s>,
    /// Operations since the last refresh.
    ops: u32,
}

impl<'s, S, R: Reclaim> Handle<'s, S, R> {
    /// Operations through a handle (reads and writes alike) refresh its
    /// guard this often.
    pub const REFRESH_EVERY: u32 = 128;

    /// A handle on `structure`, whose reclaimer is `reclaimer`.
    #[inline]
    pub(crate) fn new(structure: &'s S, reclaimer: &'s R) -> Self {
        Self {
            structure,
            guard: reclaimer.guard(),
            ops: 0,
        }
    }

    /// Runs one operation on the handle's guard and counts it.
    #[inline(always)]
    pub(crate) fn op<X>(&mut self, f: impl FnOnce(&'s S, &mut R::Guard<'s>) -> X) -> X {
        let out = f(self.structure, &mut self.guard);
        self.tick();
        out
    }

    /// Counts one operation, then lends the structure and the guard for
    /// it: for operations whose result borrows the guard (a reference into
    /// a node its slots protect, valid until the handle's next operation).
    /// Counting first means a refresh happens before the operation, never
    /// while its result lives.
    #[inline]
    pub(crate) fn lend(&mut self) -> (&'s S, &mut R::Guard<'s>) {
        self.tick();
        (self.structure, &mut self.guard)
    }

    /// Counts one operation; refreshes every [`Self::REFRESH_EVERY`].
    #[inline(always)]
    pub(crate) fn tick(&mut self) {
        self.ops += 1;
        if self.ops >= Self::REFRESH_EVERY {
            self.refresh_now();
        }
    }

    /// The periodic refresh, out of the operations' hot path.
    #[cold]
    #[inline(never)]
    fn refresh_now(&mut self) {
        self.refresh();
    }

    /// Releases every protection the guard holds (epoch: repins, letting
    /// reclamation advance, and hands this thread's retired nodes on;
    /// hazard: clears the slots). Refresh is reclamation only: it changes
    /// nothing in the structure.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = cds::MsQueue::<u8>::new();
    /// let mut h = queue.handle();
    /// h.refresh();
    /// assert!(h.is_empty());
    /// ```
    #[inline]
    pub fn refresh(&mut self) {
        self.ops = 0;
        self.guard.refresh();
    }
}

impl<S: fmt::Debug, R: Reclaim> fmt::Debug for Handle<'_, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("structure", self.structure)
            .field("ops_since_refresh", &self.ops)
            .finish_non_exhaustive()
    }
}

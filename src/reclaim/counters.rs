//! Per-thread retired/reclaimed counters, summed on demand.
//!
//! The hot path (`retire`, and a drop function running) bumps a counter that
//! only the current thread writes: a `Relaxed` load and store, no
//! lock-prefixed RMW, no cache line shared with other threads. `stats()`
//! walks every block ever handed out and sums them, so totals are exact when
//! the process is quiescent and a snapshot otherwise.
//!
//! Blocks are allocated once per concurrently live thread and never freed: a
//! thread that exits marks its block free and the next new thread adopts it,
//! counts included (counts are cumulative, so sums stay right). A thread whose
//! thread-local is already destroyed (a deferred drop run from crossbeam's
//! thread-exit destructor) falls back to a shared atomic RMW: rare, and never
//! a panic.
//!
//! Under loom there is no per-thread machinery: two shared counters bumped
//! with `Relaxed` RMWs, which keeps the model small. They are plain std
//! atomics in a plain `static` (`primitive::unmodeled`), not loom objects in
//! a loom lazy static: crossbeam-epoch runs deferred drop functions while
//! loom tears an execution down, after loom's lazy statics are gone, and a
//! statistic needs no modelling.

#[cfg(not(loom))]
use crate::primitive::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use crate::reclaim::ReclaimStats;
#[cfg(not(loom))]
use crossbeam_utils::CachePadded;

/// One thread's counters (or the shared fallback).
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct Block {
    retired: AtomicU64,
    reclaimed: AtomicU64,
    in_use: AtomicBool,
    next: AtomicPtr<CachePadded<Block>>,
}

#[cfg(not(loom))]
impl Block {
    /// Adds `n` to the counter; the caller is the block's only writer.
    #[inline]
    fn bump_owned(counter: &AtomicU64, n: u64) {
        // Relaxed: only the owning thread writes; readers want a snapshot.
        counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
    }
}

/// A set of per-thread counter blocks (one per static user: the epoch adapter,
/// the global hazard domain).
#[derive(Debug)]
pub(crate) struct Registry {
    #[cfg(not(loom))]
    head: AtomicPtr<CachePadded<Block>>,
    /// Shared fallback for threads past their thread-local's destruction.
    #[cfg(not(loom))]
    shared: CachePadded<Block>,
    /// The only counters under loom (unmodeled, see the module docs).
    #[cfg(loom)]
    loom_retired: crate::primitive::unmodeled::AtomicU64,
    #[cfg(loom)]
    loom_reclaimed: crate::primitive::unmodeled::AtomicU64,
}

#[cfg(not(loom))]
impl Registry {
    /// An empty registry, usable in a `static`.
    pub(crate) const fn new() -> Self {
        Self {
            head: AtomicPtr::new(core::ptr::null_mut()),
            shared: CachePadded::new(Block {
                retired: AtomicU64::new(0),
                reclaimed: AtomicU64::new(0),
                in_use: AtomicBool::new(true),
                next: AtomicPtr::new(core::ptr::null_mut()),
            }),
        }
    }

    /// Claims a free block or pushes a new one; the block is never freed.
    fn claim(&'static self) -> &'static Block {
        let mut cur = self.head.load(Acquire);
        while !cur.is_null() {
            // SAFETY: blocks are leaked (never freed) once published, and
            // `cur` was published by the Release CAS below (Acquire load).
            let block = unsafe { &*cur };
            // Acquire: pairs with the Release store in `LocalBlock::drop`
            // (the previous owner's last count writes happen-before ours).
            if !block.in_use.load(Relaxed)
                && block
                    .in_use
                    .compare_exchange(false, true, Acquire, Relaxed)
                    .is_ok()
            {
                return block;
            }
            cur = block.next.load(Relaxed);
        }
        let fresh: &'static CachePadded<Block> = Box::leak(Box::new(CachePadded::new(Block {
            in_use: AtomicBool::new(true),
            ..Block::default()
        })));
        let ptr = fresh as *const CachePadded<Block> as *mut CachePadded<Block>;
        let mut head = self.head.load(Relaxed);
        loop {
            fresh.next.store(head, Relaxed);
            // Release: publishes the block's initialization to `claim` and
            // `sum` (their Acquire loads of `head`).
            match self.head.compare_exchange_weak(head, ptr, Release, Relaxed) {
                Ok(_) => return fresh,
                Err(now) => head = now,
            }
        }
    }

    /// Sums every block and the shared fallback.
    pub(crate) fn sum(&self) -> ReclaimStats {
        let (mut retired, mut reclaimed) = (
            self.shared.retired.load(Relaxed),
            self.shared.reclaimed.load(Relaxed),
        );
        // Acquire: pairs with the Release CAS in `claim`.
        let mut cur = self.head.load(Acquire);
        while !cur.is_null() {
            // SAFETY: published blocks are never freed (see `claim`).
            let block = unsafe { &*cur };
            retired = retired.wrapping_add(block.retired.load(Relaxed));
            reclaimed = reclaimed.wrapping_add(block.reclaimed.load(Relaxed));
            cur = block.next.load(Relaxed);
        }
        ReclaimStats::from_counts(retired, reclaimed)
    }
}

/// A thread's cached block pointer: null before the first count, [`DEAD`]
/// after the thread's [`Exit`] ran, else the block this thread owns. The
/// thread-local holding it has no destructor, so reading it is a plain TLS
/// access with no state check (this is the hot path of every retire and
/// every reclaimed object) and it stays readable while other thread-locals
/// are destroyed.
#[cfg(not(loom))]
pub(crate) type Fast = crate::primitive::LocalKey<core::cell::Cell<*const Block>>;

/// [`Fast`]'s value once the thread's [`Exit`] has run: count in the shared
/// fallback from then on.
#[cfg(not(loom))]
const DEAD: *const Block = 1 as *const Block;

/// Registered (as a thread-local with a destructor) by a thread's first
/// count; on thread exit it gives the block back for reuse and marks the
/// thread's [`Fast`] slot [`DEAD`].
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct Exit {
    fast: &'static Fast,
}

#[cfg(not(loom))]
impl Exit {
    pub(crate) const fn new(fast: &'static Fast) -> Self {
        Self { fast }
    }
}

#[cfg(not(loom))]
impl Drop for Exit {
    fn drop(&mut self) {
        let b = self.fast.with(|c| c.replace(DEAD));
        if b > DEAD {
            // SAFETY: blocks are never freed; this thread owned `b`.
            let b = unsafe { &*b };
            // Release: pairs with the Acquire CAS in `claim` of the next owner.
            b.in_use.store(false, Release);
        }
    }
}

/// Adds `n` to this thread's `retired` (or `reclaimed`) counter.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) fn add(
    registry: &'static Registry,
    fast: &'static Fast,
    exit: &'static crate::primitive::LocalKey<Exit>,
    retired: bool,
    n: u64,
) {
    let b = fast.with(|c| c.get());
    if b > DEAD {
        // SAFETY: blocks are never freed, and this thread owns `b` (only
        // its owner stores a block in its `Fast` slot).
        let b = unsafe { &*b };
        Block::bump_owned(if retired { &b.retired } else { &b.reclaimed }, n);
    } else {
        add_slow(registry, fast, exit, retired, n);
    }
}

#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn add_slow(
    registry: &'static Registry,
    fast: &'static Fast,
    exit: &'static crate::primitive::LocalKey<Exit>,
    retired: bool,
    n: u64,
) {
    // First count of this thread: register the exit hook, then claim. A
    // thread already past its `Exit` (DEAD), or one whose hook cannot be
    // registered any more (thread teardown), counts in the shared block.
    if fast.with(|c| c.get()).is_null() && exit.try_with(|_| ()).is_ok() {
        let b = registry.claim();
        fast.with(|c| c.set(b as *const Block));
        Block::bump_owned(if retired { &b.retired } else { &b.reclaimed }, n);
    } else if retired {
        registry.add_shared_retired(n);
    } else {
        registry.add_shared_reclaimed(n);
    }
}

/// Declares a per-thread counter set: `counters!(static NAME);` defines a
/// static `Registry` and a thread-local claim, and `NAME` gets
/// `add_retired`, `add_reclaimed` and `sum`.
macro_rules! per_thread_counters {
    ($vis:vis static $name:ident) => {
        $vis mod $name {
            #[cfg(not(loom))]
            static REGISTRY: $crate::reclaim::counters::Registry =
                $crate::reclaim::counters::Registry::new();
            #[cfg(not(loom))]
            $crate::primitive::thread_local! {
                static FAST: ::core::cell::Cell<*const $crate::reclaim::counters::Block> =
                    const { ::core::cell::Cell::new(::core::ptr::null()) };
                static EXIT: $crate::reclaim::counters::Exit =
                    const { $crate::reclaim::counters::Exit::new(&FAST) };
            }
            #[cfg(loom)]
            static REGISTRY: $crate::reclaim::counters::Registry =
                $crate::reclaim::counters::Registry::new_loom();

            /// Counts `n` objects retired by this thread.
            #[inline]
            pub(crate) fn add_retired(n: u64) {
                #[cfg(not(loom))]
                {
                    $crate::reclaim::counters::add(&REGISTRY, &FAST, &EXIT, true, n);
                }
                #[cfg(loom)]
                REGISTRY.add_shared_retired(n);
            }

            /// Counts `n` objects reclaimed on this thread.
            #[inline]
            pub(crate) fn add_reclaimed(n: u64) {
                #[cfg(not(loom))]
                {
                    $crate::reclaim::counters::add(&REGISTRY, &FAST, &EXIT, false, n);
                }
                #[cfg(loom)]
                REGISTRY.add_shared_reclaimed(n);
            }

            /// Sums every thread's counts.
            pub(crate) fn sum() -> $crate::reclaim::ReclaimStats {
                REGISTRY.sum()
            }
        }
    };
}
pub(crate) use per_thread_counters;

impl Registry {
    /// A registry for loom builds: only the shared counters.
    #[cfg(loom)]
    pub(crate) const fn new_loom() -> Self {
        Self {
            loom_retired: crate::primitive::unmodeled::AtomicU64::new(0),
            loom_reclaimed: crate::primitive::unmodeled::AtomicU64::new(0),
        }
    }

    /// Sums the shared counters (loom build).
    #[cfg(loom)]
    pub(crate) fn sum(&self) -> ReclaimStats {
        use crate::primitive::unmodeled::Ordering::Relaxed;
        ReclaimStats::from_counts(
            self.loom_retired.load(Relaxed),
            self.loom_reclaimed.load(Relaxed),
        )
    }

    /// Adds to the shared retired count (fallback path).
    #[cold]
    pub(crate) fn add_shared_retired(&self, n: u64) {
        // Relaxed: a statistic; no other memory is published through it.
        #[cfg(not(loom))]
        self.shared.retired.fetch_add(n, Relaxed);
        #[cfg(loom)]
        self.loom_retired
            .fetch_add(n, crate::primitive::unmodeled::Ordering::Relaxed);
    }

    /// Adds to the shared reclaimed count (fallback path).
    #[cold]
    pub(crate) fn add_shared_reclaimed(&self, n: u64) {
        // Relaxed: a statistic; no other memory is published through it.
        #[cfg(not(loom))]
        self.shared.reclaimed.fetch_add(n, Relaxed);
        #[cfg(loom)]
        self.loom_reclaimed
            .fetch_add(n, crate::primitive::unmodeled::Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    per_thread_counters!(static test_counters);

    #[test]
    fn sums_across_threads_and_reuses_blocks() {
        let before = test_counters::sum();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    test_counters::add_retired(10);
                    test_counters::add_reclaimed(7);
                });
            }
        });
        // Exited threads' blocks are free for reuse; counts survive.
        std::thread::spawn(|| test_counters::add_retired(1))
            .join()
            .unwrap();
        let after = test_counters::sum();
        assert_eq!(after.retired - before.retired, 41);
        assert_eq!(after.reclaimed - before.reclaimed, 28);
    }
}

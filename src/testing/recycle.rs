//! The crate's node recycling, for benchmarks that give a peer the same
//! allocator shortcut as ours (`examples/versus` and `benches/stack.rs`
//! run crossbeam-epoch's Treiber stack on it, so the comparison measures
//! the reclaimer, not the allocator).

/// Allocates `value` in a block from this thread's cache (or the
/// allocator).
#[inline]
pub fn alloc_boxed<T>(value: T) -> *mut T {
    crate::recycle::alloc_boxed(value)
}

/// Drops nothing and gives `p`'s block back to this thread's cache (or the
/// allocator).
///
/// # Safety
///
/// 1. `p` came from [`alloc_boxed`] with the same `T`, its value was moved
///    out (or needs no drop), and it is released once, when no thread can
///    read it any more.
#[inline]
pub unsafe fn release<T>(p: *mut T) {
    // SAFETY: precondition 1 is `recycle::release`'s.
    unsafe { crate::recycle::release(p) }
}

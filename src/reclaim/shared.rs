//! [`Shared`]: a pointer protected by a guard's slot, typed by the slot's
//! borrow.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;

/// A pointer to a `T` that a [`Slot`](super::Slot) of a live guard
/// protects: the `T` cannot be reclaimed while this value lives.
///
/// The lifetime `'s` is the borrow of the slot that protects it (hence of
/// the guard that lent the slot), so the borrow checker, not a comment,
/// keeps the pointer from outliving its protection: the slot cannot protect
/// anything else, and the guard cannot be refreshed or dropped, while a
/// `Shared` from it lives. Dereferencing is safe; moving a value out of the
/// node, or retiring it, stays `unsafe` (through [`as_ptr`](Self::as_ptr)).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::AtomicPtr;
/// use cds::reclaim::{Guard, Hazard, Reclaim, Slot};
///
/// let domain = Hazard::private();
/// let node = Box::into_raw(Box::new(7u32));
/// let root = AtomicPtr::new(node);
/// let mut guard = domain.guard();
/// let [mut slot, ..] = guard.slots();
/// // SAFETY: `root` only ever holds `node`, alive until we free it below.
/// let shared = unsafe { slot.protect(&root) }.unwrap();
/// assert_eq!(*shared, 7);
/// drop(guard);
/// // SAFETY: `node` came from `Box::into_raw` and nothing protects it now.
/// drop(unsafe { Box::from_raw(node) });
/// ```
///
/// A protected pointer cannot outlive its guard:
///
/// ```compile_fail,E0597
/// use std::sync::atomic::AtomicPtr;
/// use cds::reclaim::{Guard, Hazard, Reclaim, Shared, Slot};
///
/// let domain = Hazard::private();
/// let root = AtomicPtr::new(Box::into_raw(Box::new(7u32)));
/// let escaped: Shared<'_, u32> = {
///     let mut guard = domain.guard();
///     let [mut slot, ..] = guard.slots();
///     // SAFETY: `root` holds a live box, never retired.
///     unsafe { slot.protect(&root) }.unwrap()
/// };
/// assert_eq!(*escaped, 7);
/// ```
///
/// A slot cannot protect a second pointer while the first one lives:
///
/// ```compile_fail,E0499
/// use std::sync::atomic::AtomicPtr;
/// use cds::reclaim::{Guard, Hazard, Reclaim, Slot};
///
/// let domain = Hazard::private();
/// let a = AtomicPtr::new(Box::into_raw(Box::new(1u32)));
/// let b = AtomicPtr::new(Box::into_raw(Box::new(2u32)));
/// let mut guard = domain.guard();
/// let [mut slot, ..] = guard.slots();
/// // SAFETY: `a` and `b` hold live boxes, never retired.
/// let first = unsafe { slot.protect(&a) }.unwrap();
/// // SAFETY: as above.
/// let second = unsafe { slot.protect(&b) }.unwrap();
/// assert_eq!(*first + *second, 3);
/// ```
///
/// Nor can the guard be refreshed while a protected pointer lives:
///
/// ```compile_fail,E0499
/// use std::sync::atomic::AtomicPtr;
/// use cds::reclaim::{Guard, Hazard, Reclaim, Slot};
///
/// let domain = Hazard::private();
/// let a = AtomicPtr::new(Box::into_raw(Box::new(1u32)));
/// let mut guard = domain.guard();
/// let [mut slot, ..] = guard.slots();
/// // SAFETY: `a` holds a live box, never retired.
/// let first = unsafe { slot.protect(&a) }.unwrap();
/// guard.refresh();
/// assert_eq!(*first, 1);
/// ```
pub struct Shared<'s, T> {
    /// Invariant: points to a live `T` protected for `'s`.
    ptr: NonNull<T>,
    /// Borrows the slot (and so the guard) for `'s`; reads like `&'s T`
    /// (`Send`/`Sync` as a shared reference would be).
    _slot: PhantomData<&'s T>,
}

impl<'s, T> Shared<'s, T> {
    /// Wraps a pointer the caller has protected.
    ///
    /// # Safety
    ///
    /// 1. `ptr` points to a live, initialized `T` that will not be
    ///    reclaimed (or mutated except through interior mutability) for `'s`.
    #[inline(always)]
    pub(crate) unsafe fn new_unchecked(ptr: NonNull<T>) -> Self {
        Self {
            ptr,
            _slot: PhantomData,
        }
    }

    /// The raw pointer, for retiring the node or moving a value out of it
    /// (both `unsafe`, with their own contracts).
    #[inline(always)]
    pub fn as_ptr(self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// The protected node as a reference that lives as long as the
    /// protection (unlike `Deref`, whose reference borrows this value).
    #[inline(always)]
    pub fn get(self) -> &'s T {
        // SAFETY: type invariant: live and protected for `'s`.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Clone for Shared<'_, T> {
    #[inline(always)]
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Shared<'_, T> {}

impl<T> Deref for Shared<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: type invariant: live and protected while `self` lives.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> PartialEq for Shared<'_, T> {
    /// Compares addresses (two protections of one node are equal).
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}

impl<T> Eq for Shared<'_, T> {}

impl<T> fmt::Debug for Shared<'_, T> {
    /// The address only: the node may be shared with writers of its
    /// interior-mutable fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Shared").field(&self.ptr).finish()
    }
}

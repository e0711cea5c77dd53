//! [`TreiberStack`]: a lock-free LIFO stack (Treiber 1986).
//!
//! R. K. Treiber, *Systems Programming: Coping with Parallelism*, IBM
//! Almaden Research Center, RJ 5118, 1986. The stack is a singly linked list
//! whose head is one atomic pointer; `push` links a fresh node in front of
//! the head it read and swings the head with one CAS, `pop` swings the head
//! to the second node with one CAS.
//!
//! # Progress
//!
//! Lock-free: a CAS on the head fails only because another operation's CAS
//! succeeded, so some thread always completes. No thread ever waits for
//! another to finish (a thread stalled between its load and its CAS delays
//! nobody; `tests/stall_linked.rs` shows it). Not wait-free: one thread can
//! lose every race.
//!
//! # Memory reclamation
//!
//! A popped node is unlinked by the successful CAS and then retired through
//! the reclaimer `R`; concurrent poppers may still read its `next` field.
//! `pop` protects the head in a slot with [`Slot::protect`]: the head is
//! root-reachable and a node is always unlinked from it before being
//! retired, so re-reading it is a sound witness. `push` dereferences no
//! shared node and takes no guard (it is also immune to ABA: if the head
//! it read was freed and its address reused, the CAS links the new node in
//! front of whatever node now sits at that address, which is the current
//! head).
//!
//! Only the thread whose CAS unlinked a node moves its value out; the
//! node's drop function frees the allocation without touching the value,
//! so a retired node owns no `T` and `T` needs no `'static` bound.
//!
//! # Orderings
//!
//! - `push`: `Release` CAS on `head`, publishing the node's value and `next`.
//! - `pop`: `Acquire` load of `head` (inside `protect`), pairing with that
//!   `Release`; the unlinking CAS is `Relaxed` (see `pop_in`).
//! - Contract: a successful `pop` synchronizes-with the `push` that provided
//!   its value: everything the pusher wrote before `push` is visible to the
//!   popper after `pop` (checked by a loom message-passing model).

use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr;

use crate::hooks::stall_point;
use crate::linked::linked_structure;
use crate::primitive::cell::UnsafeCell;
use crate::primitive::sync::atomic::AtomicPtr;
use crate::primitive::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::primitive::Backoff;
use crate::reclaim::{Epoch, Guard, Handle, Reclaim, Slot};
use crate::recycle;

/// A stack node.
///
/// Invariant: `next` is written only before the node is published (the
/// `Release` CAS in `push`) and never after; `value` holds a live `T` until
/// the one thread whose CAS unlinked the node moves it out.
struct Node<T> {
    value: UnsafeCell<ManuallyDrop<T>>,
    next: *mut Node<T>,
}

/// Frees a retired node without dropping its value (already moved out).
///
/// # Safety
///
/// 1. `p` came from `recycle::alloc_boxed::<Node<T>>` and is freed only
///    here, once; its value was moved out (or never needs dropping).
unsafe fn free_node<T>(p: *mut ()) {
    // SAFETY: precondition 1. `release` drops nothing, so no `T` is
    // touched (hence no `T: 'static`); the block goes to this thread's
    // node cache (`recycle`'s module docs) or back to the allocator.
    unsafe { recycle::release(p.cast::<Node<T>>()) };
}

/// A lock-free LIFO stack (Treiber), generic over the memory-reclamation
/// scheme `R`.
///
/// Every operation takes `&self`; share the stack by reference (scoped
/// threads) or in an `Arc`. `Send + Sync` exactly when `T: Send`.
///
/// For loops of many operations on one thread, [`handle`](Self::handle)
/// keeps one guard across them.
///
/// # Examples
///
/// ```
/// use cds::TreiberStack;
///
/// let stack = TreiberStack::new();
/// std::thread::scope(|s| {
///     for t in 0..4 {
///         let stack = &stack;
///         s.spawn(move || stack.push(t));
///     }
/// });
/// let mut popped: Vec<i32> = std::iter::from_fn(|| stack.pop()).collect();
/// popped.sort();
/// assert_eq!(popped, [0, 1, 2, 3]);
/// ```
///
/// Not `Sync` unless `T: Send`:
///
/// ```compile_fail
/// fn sync<X: Sync>(_: &X) {}
/// sync(&cds::TreiberStack::<std::rc::Rc<u8>>::new());
/// ```
pub struct TreiberStack<T, R: Reclaim = Epoch> {
    /// Invariant: null or the first node of a null-terminated list of nodes
    /// that all hold a live value; every node in it is linked (not retired).
    head: AtomicPtr<Node<T>>,
    reclaimer: R,
    /// Owns `T`s (drop check); `Send`/`Sync` are implemented by hand below.
    _owns: PhantomData<*const T>,
}

impl<T, R: Reclaim> TreiberStack<T, R> {
    /// An empty stack on the reclaimer `reclaimer`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::{reclaim::Epoch, TreiberStack};
    /// let stack = TreiberStack::with_reclaimer(Epoch::new());
    /// stack.push("a");
    /// assert_eq!(stack.pop(), Some("a"));
    /// ```
    #[inline]
    pub fn with_reclaimer(reclaimer: R) -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
            reclaimer,
            _owns: PhantomData,
        }
    }

    /// Pushes `value` on top of the stack.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = cds::TreiberStack::new();
    /// stack.push(1);
    /// stack.push(2);
    /// assert_eq!(stack.pop(), Some(2));
    /// assert_eq!(stack.pop(), Some(1));
    /// ```
    #[inline]
    pub fn push(&self, value: T) {
        let node = recycle::alloc_boxed(Node {
            value: UnsafeCell::new(ManuallyDrop::new(value)),
            next: ptr::null_mut(),
        });
        // Relaxed: the head is only compared, never dereferenced, here.
        let mut head = self.head.load(Relaxed);
        let mut backoff = Backoff::new();
        loop {
            // SAFETY: `node` is not published yet: this thread owns it.
            unsafe { (*node).next = head };
            stall_point!("stack.push.before_cas");
            // Release: publishes the node (value and `next`); pairs with the
            // Acquire load of `head` in `pop_in` (through `protect`).
            match self
                .head
                .compare_exchange_weak(head, node, Release, Relaxed)
            {
                Ok(_) => return,
                Err(now) => head = now,
            }
            backoff.spin();
        }
    }

    /// The pop algorithm on a guard of `self.reclaimer` (precondition 3 of
    /// `retire` relies on that: both callers pass one).
    #[inline]
    fn pop_in<G: Guard>(&self, guard: &mut G) -> Option<T> {
        let mut backoff = Backoff::new();
        let (mut slots, retirer) = guard.split();
        loop {
            // Acquire (inside `protect`): pairs with the Release CAS in
            // `push`, making the node's value and `next` visible.
            // SAFETY: (1) `self.head` holds null or a linked node (type
            // invariant), retired only through `self.reclaimer` (whose
            // guard this is) after a CAS below unlinked it from `self.head`.
            let head = unsafe { slots[0].protect(&self.head) }?;
            let next = head.next;
            stall_point!("stack.pop.before_cas");
            // Relaxed: this CAS publishes nothing new. The next popper's
            // Acquire load that reads `next` from here synchronizes with the
            // Release CAS that pushed `next`: every later write to `head` is
            // a CAS, so it continues that push's release sequence.
            if self
                .head
                .compare_exchange(head.as_ptr(), next, Relaxed, Relaxed)
                .is_ok()
            {
                // SAFETY: our CAS unlinked `head`: no other thread moves its
                // value out (only the unlinking CAS's winner does), and the
                // node is still protected.
                let value = unsafe { head.value.with(|p| ptr::read(p)) };
                // SAFETY: (1) unlinked by our CAS; (2) only the CAS winner
                // retires it, once; (3) the guard came from `self.reclaimer`,
                // the only reclaimer whose guards touch this stack; (4)
                // `free_node` only deallocates (the value was moved out).
                unsafe { retirer.retire(head.as_ptr().cast(), free_node::<T>) };
                return Some(ManuallyDrop::into_inner(value));
            }
            backoff.spin();
        }
    }

    /// True if the stack held no value at the moment of the call (a
    /// snapshot: other threads may change it right after).
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = cds::TreiberStack::new();
    /// assert!(stack.is_empty());
    /// stack.push(0);
    /// assert!(!stack.is_empty());
    /// # stack.pop();
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        // Acquire: pairs with the Release CAS in `push`, so a caller that
        // sees `false` also sees what the pusher wrote before pushing.
        self.head.load(Acquire).is_null()
    }

    /// The push algorithm for a handle (a push needs no guard).
    #[inline]
    fn push_in<G: Guard>(&self, _guard: &mut G, value: T) {
        self.push(value);
    }

    /// The is-empty check for a handle (needs no guard).
    #[inline]
    fn is_empty_in<G: Guard>(&self, _guard: &mut G) -> bool {
        self.is_empty()
    }

    /// Nothing to free after the last value (the list is empty).
    fn free_last(&mut self) {}

    /// Pops with exclusive access: no atomic RMW, no retire (no other thread
    /// can hold a reference to the stack, so none can read the node).
    fn pop_mut(&mut self) -> Option<T> {
        // Relaxed: `&mut self` excludes other threads.
        let head = self.head.load(Relaxed);
        if head.is_null() {
            return None;
        }
        // SAFETY: `head` is a linked node (type invariant) and `&mut self`
        // gives exclusive access; it is unlinked here and freed once below.
        let node = unsafe { head.read() };
        // SAFETY: the node's contents were moved out just above; freed once.
        unsafe { recycle::release(head) };
        self.head.store(node.next, Relaxed);
        Some(ManuallyDrop::into_inner(node.value.into_inner()))
    }
}

linked_structure!(
    TreiberStack,
    StackHandle,
    "stack",
    order: "the last item ends on top and pops first",
    pops: [2, 1]
);

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    /// Threads push and pop in pairs: every value is popped by one of them
    /// or left for `into_iter`, none twice (the sums match).
    fn concurrent_push_pop<R: Reclaim>(r: R) {
        let stack = TreiberStack::with_reclaimer(r);
        let per = if cfg!(miri) { 20 } else { 2000 };
        let sum = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..3 {
                let (stack, sum) = (&stack, &sum);
                s.spawn(move || {
                    for i in 0..per {
                        stack.push(t * per + i);
                        if let Some(v) = stack.pop() {
                            sum.fetch_add(v, SeqCst);
                        }
                    }
                });
            }
        });
        let rest: usize = stack.into_iter().sum();
        let n = 3 * per;
        assert_eq!(sum.load(SeqCst) + rest, n * (n - 1) / 2);
    }

    crate::linked::tests::linked_unit_tests!(Stack, TreiberStack; order: lifo; own: concurrent_push_pop);
}

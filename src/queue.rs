//! [`MsQueue`]: a lock-free FIFO queue (Michael & Scott, PODC 1996).
//!
//! M. M. Michael and M. L. Scott, *Simple, Fast, and Practical
//! Non-Blocking and Blocking Concurrent Queue Algorithms*, PODC 1996. The
//! queue is a singly linked list that always starts with a **sentinel**
//! node (whose value is absent or already taken). `head` points at the
//! sentinel, `tail` at the last node or the one before it: `push` links its
//! node after the last node with a CAS on that node's `next`, then swings
//! `tail` with a second CAS. Between the two the tail **lags**; any thread
//! that sees a lagging tail helps it forward before going on, so a thread
//! stalled between its two CASes delays nobody. `pop` swings `head` from
//! the sentinel to its successor, which becomes the new sentinel; the
//! popped value is moved out of that successor, and the old sentinel is
//! retired.
//!
//! # Progress
//!
//! Lock-free: each failed CAS means another operation's CAS succeeded (or
//! the tail moved, which any thread may complete). No thread ever waits for
//! another (`tests/stall_linked.rs` parks a pusher between linking and the
//! tail swing and shows pushes and pops still complete). Not wait-free.
//!
//! # Memory reclamation and witnesses
//!
//! - `push` protects `tail` in a slot with [`Slot::protect`]: `tail` is
//!   root-reachable and a node is unlinked from it (the tail moves past it)
//!   before it is retired, because `pop` never moves `head` past the tail.
//! - `pop` protects `head` in one slot the same way, then `next` (read out of
//!   the sentinel) in a second slot with the witness **`head == h`**: re-reading
//!   `h.next` would prove nothing (it never changes once set), whereas
//!   `head == h` after publication shows that `next` was not even the
//!   sentinel yet, so it cannot have been retired.
//! - The successful head CAS is itself a witness for `next`: it proves
//!   `head == h` at a moment after `next` was published in its slot. `pop`
//!   dereferences `next` for the value **only after that CAS succeeds**;
//!   the `head == h` witness just lets a doomed attempt fail early. Keep it
//!   that way: `Debug`, `is_empty` and any future `peek` must not read a
//!   node's value before such a CAS.
//! - A node is unlinked completely (head moved past it, tail never on it)
//!   before it is retired.
//!
//! Only the thread whose head CAS made a node the sentinel moves its value
//! out; drop functions free the allocation without touching the value, so
//! `T` needs no `'static` bound.
//!
//! # Orderings
//!
//! - `push`: `Release` CAS linking the node into `last.next` (publishes the
//!   value), `Release` CAS on `tail` (publishes a node whose link this thread
//!   acquired or created).
//! - `pop`: `Acquire` loads of `head`, `tail` and `h.next`, pairing with
//!   those; `Release` CAS on `head` (the next popper's `Acquire` load of
//!   `head` then happens-after the node's creation).
//! - Contract: FIFO per producer; linearizable; a successful `pop`
//!   synchronizes-with the `push` that provided its value (checked by a loom
//!   message-passing model).

use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

use crossbeam_utils::CachePadded;

use crate::hooks::stall_point;
use crate::linked::{guarded_queue_ops, linked_structure};
use crate::primitive::cell::UnsafeCell;
use crate::primitive::sync::atomic::AtomicPtr;
use crate::primitive::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use crate::primitive::Backoff;
use crate::reclaim::{Epoch, Guard, Handle, Reclaim, Slot};
use crate::recycle;

/// A queue node.
///
/// Invariant: `value` is initialized from creation until the node becomes
/// the sentinel through a successful head CAS, whose winner moves it out;
/// the initial sentinel's value is never initialized. `next` goes from null
/// to a node once (the linking CAS) and never changes again.
struct Node<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    next: AtomicPtr<Node<T>>,
}

impl<T> Node<T> {
    fn alloc(value: MaybeUninit<T>) -> *mut Node<T> {
        recycle::alloc_boxed(Node {
            value: UnsafeCell::new(value),
            next: AtomicPtr::new(ptr::null_mut()),
        })
    }
}

/// Frees a retired sentinel without dropping its value (already moved out).
///
/// # Safety
///
/// 1. `p` came from `Node::alloc` (`recycle::alloc_boxed::<Node<T>>`) and
///    is freed only here, once.
unsafe fn free_node<T>(p: *mut ()) {
    // SAFETY: precondition 1. `release` drops nothing (and `MaybeUninit<T>`
    // has no drop glue), so no `T` is touched (hence no `T: 'static`); the
    // block goes to this thread's node cache (`recycle`'s module docs) or
    // back to the allocator.
    unsafe { recycle::release(p.cast::<Node<T>>()) };
}

/// A lock-free FIFO queue (Michael–Scott), generic over the
/// memory-reclamation scheme `R`.
///
/// Every operation takes `&self`. `Send + Sync` exactly when `T: Send`.
/// For loops of many operations on one thread, [`handle`](Self::handle)
/// keeps one guard across them.
///
/// # Examples
///
/// ```
/// use cds::MsQueue;
///
/// let queue = MsQueue::new();
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         for i in 0..100 {
///             queue.push(i);
///         }
///     });
///     let mut expected = 0;
///     while expected < 100 {
///         if let Some(v) = queue.pop() {
///             assert_eq!(v, expected); // FIFO per producer
///             expected += 1;
///         }
///     }
/// });
/// ```
///
/// Not `Sync` unless `T: Send`:
///
/// ```compile_fail
/// fn sync<X: Sync>(_: &X) {}
/// sync(&cds::MsQueue::<std::rc::Rc<u8>>::new());
/// ```
pub struct MsQueue<T, R: Reclaim = Epoch> {
    /// Invariant: points at the sentinel; never null; never ahead of
    /// `tail` in list order.
    head: CachePadded<AtomicPtr<Node<T>>>,
    /// Invariant: the last node or (lagging) its predecessor; never null;
    /// never behind `head`.
    tail: CachePadded<AtomicPtr<Node<T>>>,
    reclaimer: R,
    /// Owns `T`s (drop check); `Send`/`Sync` are implemented by hand below.
    _owns: PhantomData<*const T>,
}

impl<T, R: Reclaim> MsQueue<T, R> {
    /// An empty queue on the reclaimer `reclaimer` (allocates the sentinel).
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::{reclaim::Epoch, MsQueue};
    /// let queue = MsQueue::with_reclaimer(Epoch::new());
    /// queue.push(1);
    /// assert_eq!(queue.pop(), Some(1));
    /// ```
    pub fn with_reclaimer(reclaimer: R) -> Self {
        let sentinel = Node::alloc(MaybeUninit::uninit());
        Self {
            head: CachePadded::new(AtomicPtr::new(sentinel)),
            tail: CachePadded::new(AtomicPtr::new(sentinel)),
            reclaimer,
            _owns: PhantomData,
        }
    }

    /// The push algorithm on a guard of `self.reclaimer`. Always inlined:
    /// out of line it cost 10 instructions per push+pop pair (callgrind).
    #[inline(always)]
    fn push_in<G: Guard>(&self, guard: &mut G, value: T) {
        let node = Node::alloc(MaybeUninit::new(value));
        let mut backoff = Backoff::new();
        let [mut slot, ..] = guard.slots();
        loop {
            // Acquire (inside `protect`): pairs with the Release tail CASes.
            // SAFETY: (1) `self.tail` always holds a node of this queue
            // (never null), retired only through `self.reclaimer` and only
            // after the tail moved past it (`pop_in` never moves `head`
            // past the tail).
            let Some(tail) = (unsafe { slot.protect(&self.tail) }) else {
                unreachable!("the tail is never null")
            };
            // Acquire: pairs with the Release linking CAS below, so a node
            // we may swing `tail` to is fully visible to tail readers.
            let after = tail.next.load(Acquire);
            if !after.is_null() {
                self.help_tail(tail.as_ptr(), after);
                continue;
            }
            // Release: publishes `node` (its value); pairs with the Acquire
            // loads of `next` in `pop_in` and above.
            if tail
                .next
                .compare_exchange(ptr::null_mut(), node, Release, Relaxed)
                .is_ok()
            {
                stall_point!("queue.push.after_link");
                // Failure is fine: another thread already helped.
                self.help_tail(tail.as_ptr(), node);
                return;
            }
            backoff.spin();
        }
    }

    /// Swings a lagging `tail` from `tail` to its successor `next`.
    #[inline]
    fn help_tail(&self, tail: *mut Node<T>, next: *mut Node<T>) {
        // Release: publishes `next` (which this thread acquired through its
        // link, or created) to the Acquire loads of `tail`.
        let _ = self.tail.compare_exchange(tail, next, Release, Relaxed);
    }

    /// The pop algorithm on a guard of `self.reclaimer` (precondition 3 of
    /// `retire` relies on that: every caller passes one).
    #[inline]
    fn pop_in<G: Guard>(&self, guard: &mut G) -> Option<T> {
        let mut backoff = Backoff::new();
        let ([mut head_slot, mut next_slot, ..], retirer) = guard.split();
        loop {
            // Acquire (inside `protect`): pairs with the Release head CAS.
            // SAFETY: (1) `self.head` always holds a node of this queue
            // (never null), retired only through `self.reclaimer` after the
            // head moved past it.
            let Some(head) = (unsafe { head_slot.protect(&self.head) }) else {
                unreachable!("the head is never null")
            };
            // Acquire: pairs with the Release linking CAS in `push_in`.
            let Some(next) = NonNull::new(head.next.load(Acquire)) else {
                // `next` never returns to null, so `head` was still the
                // sentinel when we read it: the queue was empty then.
                return None;
            };
            // Witness `head == h`: see the module docs. Acquire pairs with
            // the Release head CAS, like the load above.
            // SAFETY: (1) if `head` was still the sentinel after `next` was
            // published, `next` was not even the sentinel yet, so it was not
            // retired (only former sentinels are, through `self.reclaimer`).
            let witnessed = unsafe {
                next_slot.protect_with(next, || self.head.load(Acquire) == head.as_ptr())
            };
            let Some(next) = witnessed else {
                continue;
            };
            // Acquire: pairs with the Release tail CASes (`tail` is only
            // compared here, but the ordering keeps the `tail >= head`
            // reasoning of `help_tail` simple).
            let tail = self.tail.load(Acquire);
            if tail == head.as_ptr() {
                // Lagging tail on the sentinel: move it first, so `head`
                // never passes `tail` (tail must leave a node before the
                // node is retired).
                self.help_tail(tail, next.as_ptr());
                continue;
            }
            stall_point!("queue.pop.before_cas");
            // Release: the next popper's Acquire load of `head` then
            // happens-after our Acquire load of `next`'s link, hence after
            // `next` was created.
            if self
                .head
                .compare_exchange(head.as_ptr(), next.as_ptr(), Release, Relaxed)
                .is_ok()
            {
                // SAFETY: our CAS made `next` the sentinel: only we move its
                // value out (node invariant), and it was initialized by its
                // pusher (visible through our Acquire load of the link).
                let value = unsafe { next.value.with(|p| ptr::read(p).assume_init()) };
                // SAFETY: (1) `head` is unlinked: `self.head` moved past it
                // and `self.tail` is not on it (checked `tail != head` while
                // `head` was the sentinel; the tail only moves forward);
                // (2) only the head CAS winner retires it, once; (3) the
                // guard came from `self.reclaimer`; (4) `free_node` only
                // deallocates.
                unsafe { retirer.retire(head.as_ptr().cast(), free_node::<T>) };
                return Some(value);
            }
            backoff.spin();
        }
    }

    #[inline]
    fn is_empty_in<G: Guard>(&self, guard: &mut G) -> bool {
        let [mut slot, ..] = guard.slots();
        // SAFETY: (1) as in `pop_in`: `self.head` always holds a node of
        // this queue, retired only after the head moved past it.
        let Some(head) = (unsafe { slot.protect(&self.head) }) else {
            unreachable!("the head is never null")
        };
        // Only `next` is read, never the value. Acquire: pairs with the
        // Release linking CAS in `push_in`.
        head.next.load(Acquire).is_null()
    }

    /// Pops with exclusive access: no atomic RMW, no retire (no other thread
    /// can hold a reference to the queue, so none can read the node).
    fn pop_mut(&mut self) -> Option<T> {
        // Relaxed throughout: `&mut self` excludes other threads.
        let head = self.head.load(Relaxed);
        // SAFETY: `head` is the sentinel (never null), exclusively ours.
        let next = unsafe { (*head).next.load(Relaxed) };
        if next.is_null() {
            return None;
        }
        self.head.store(next, Relaxed);
        if self.tail.load(Relaxed) == head {
            self.tail.store(next, Relaxed);
        }
        // SAFETY: `next` just became the sentinel: its value is initialized
        // (node invariant) and we are its only reader.
        let value = unsafe { (*next).value.with(|p| ptr::read(p).assume_init()) };
        // SAFETY: the old sentinel is unlinked from `head` and `tail`, its
        // value was moved out before, and nobody else can reach it.
        unsafe { free_node::<T>(head.cast()) };
        Some(value)
    }

    /// Frees the sentinel of an emptied queue; called once, by `Drop`,
    /// after every value was popped (the head dangles afterwards).
    fn free_last(&mut self) {
        // SAFETY: the queue is empty and ours: the sentinel is its last
        // node, its value already moved out (or never set), and nothing
        // touches the queue after `Drop` calls this.
        unsafe { free_node::<T>(self.head.load(Relaxed).cast()) };
    }
}

linked_structure!(
    MsQueue,
    QueueHandle,
    "queue",
    order: "the first item pops first",
    pops: [1, 2]
);
guarded_queue_ops!(MsQueue);

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Two producers and a consumer: the consumer sees each producer's
    /// values in push order, and the queue ends empty.
    fn concurrent_fifo_per_producer<R: Reclaim>(r: R) {
        let queue = MsQueue::with_reclaimer(r);
        let per = if cfg!(miri) { 20 } else { 2000 };
        std::thread::scope(|s| {
            for t in 0..2 {
                let queue = &queue;
                s.spawn(move || {
                    for i in 0..per {
                        queue.push((t, i));
                    }
                });
            }
            let queue = &queue;
            s.spawn(move || {
                let mut last = [None::<usize>; 2];
                let mut got = 0;
                while got < 2 * per {
                    if let Some((t, i)) = queue.pop() {
                        assert!(last[t].map_or(true, |l| l < i), "FIFO per producer");
                        last[t] = Some(i);
                        got += 1;
                    }
                }
            });
        });
        assert!(queue.is_empty());
    }

    crate::linked::tests::linked_unit_tests!(Queue, MsQueue; order: fifo; own: concurrent_fifo_per_producer);
}

//! [`FaaQueue`]: a lock-free FIFO queue of segments, one `fetch_add` per
//! operation.
//!
//! After FAAArrayQueue (P. Ramalhete and A. Correia, 2016: a linked list of
//! arrays indexed by fetch-and-add, "Concurrency Freaks") and the ring
//! queues it descends from: LCRQ (A. Morrison and Y. Afek, *Fast Concurrent
//! Queues for x86 Processors*, PPoPP 2013) and LPRQ (R. Romanov and N.
//! Koval, *The State-of-the-Art LCRQ Concurrent Queue Algorithm Does NOT
//! Require CAS2*, PPoPP 2023).
//!
//! # The structure
//!
//! A linked list of **segments**, each an array of `len` cells that hold a
//! `T` inline next to a state byte (`EMPTY → FULL → TAKEN`, or `EMPTY →
//! TAKEN`), and two ticket counters, `enq` and `deq`. `head` points at the
//! segment pops work in, `tail` at the one pushes work in (or, lagging, its
//! predecessor).
//!
//! - **push** takes a ticket `i = tail.enq.fetch_add(1)`. If `i < len` it
//!   writes its value into cell `i`, then moves the cell `EMPTY → FULL`
//!   with one CAS. If that CAS fails, a pop overtook it (the cell is
//!   `TAKEN`): it reads back the bytes it wrote itself and retries with a
//!   new ticket. A ticket past the end means the segment is full: the push
//!   installs a new segment whose cell 0 already holds its value (`FULL`,
//!   `enq = 1`) with one CAS on `next` (a successful install is a completed
//!   push), or helps `tail` forward when someone else installed one.
//! - **pop** first checks, without writing, whether the queue is empty
//!   (`deq >= enq` in the head segment and no next segment). Otherwise it
//!   takes a ticket `i = head.deq.fetch_add(1)` and swaps cell `i` to
//!   `TAKEN`: `FULL` gives it the value (whose bytes it reads only after
//!   seeing `FULL`); `EMPTY` means it overtook the producer of ticket `i`,
//!   and it starts over. A ticket past the end means the segment is
//!   drained: it moves `tail` off the segment if `tail` lags there, then
//!   swings `head` to the next segment and retires the old one.
//!
//! Only ticket `i`'s producer and ticket `i`'s consumer ever touch cell `i`
//! of a segment, in that order of their state operations, so no byte of a
//! value is read while another thread may write it, and nobody ever waits
//! for another thread.
//!
//! # Progress
//!
//! Lock-free, not wait-free. A push can lose its cell to an overtaking pop
//! again and again, but every lost cell is a pop that took a ticket and
//! will return (a value or empty) — and a push whose tickets run past the
//! segment installs a new segment with its value already inside, which
//! completes it: so while one push keeps losing, other operations keep
//! completing. A pop restarts only when a push was in progress in its cell
//! or when `head` moved (another pop's progress). No thread ever waits for
//! another: a producer parked between its ticket and its CAS only costs the
//! pop that overtakes it one retry (`tests/stall_faa.rs` shows it).
//!
//! # Memory reclamation
//!
//! The reclaimer sees segments, never cells. A segment is retired only
//! after both `head` and `tail` moved past it (a pop moves a lagging `tail`
//! off the segment before it swings `head`), so "`head` (or `tail`) still
//! holds this segment" after publication is a sound witness: push protects
//! `tail`, pop protects `head`, one slot each. Every cell of a retired
//! segment is `TAKEN` or about to be made so by a consumer that protects
//! the segment: every dequeue ticket of the segment was handed out before
//! `head` could move past it, so each value in it goes to its consumer, and
//! a retired segment owns no value: its drop function frees memory only
//! (so `T` needs no `'static` bound). Under [`Hazard`](crate::reclaim::Hazard)
//! a segment is one retired object, so it counts once in the garbage bound
//! (the bound is in objects; each object here is one segment of at most
//! [`SEGMENT_BYTES`] bytes plus its header).
//!
//! Segments come from and go back to the reclaiming thread's block cache
//! (`recycle.rs`): a push+pop loop on one thread reuses the same few
//! segments; SPSC allocates one segment per `len` messages.
//!
//! # Orderings
//!
//! - push: the value is written before the `Release` CAS `EMPTY → FULL`,
//!   which pairs with the consumer's `Acquire` swap. An installed segment
//!   (its cell 0, state and counters) is published by the `Release` CAS on
//!   `next`, paired with the `Acquire` loads of `next`; `tail` and `head`
//!   move by `Release` CASes paired with the `Acquire` loads inside
//!   `protect`.
//! - The ticket counters and the empty check are `SeqCst`: a pop that finds
//!   the queue empty must not miss a push that completed before the pop
//!   began, and a total order over both counters gives that without
//!   reasoning about stale loads (on x86 an RMW is a full barrier anyway
//!   and a `SeqCst` load is a plain load).
//! - Contract: linearizable; FIFO per producer; a successful `pop`
//!   synchronizes-with the `push` that provided its value (checked by a
//!   loom message-passing model).

use core::alloc::Layout;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr;

use crossbeam_utils::CachePadded;

use crate::hooks::stall_point;
use crate::linked::{guarded_queue_ops, linked_structure};
use crate::primitive::cell::UnsafeCell;
use crate::primitive::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use crate::primitive::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize};
use crate::reclaim::{Epoch, Guard, Handle, Reclaim, Slot};
use crate::recycle;

/// Cell states. `EMPTY → FULL` by the producer's CAS, `FULL → TAKEN` or
/// `EMPTY → TAKEN` by the consumer's swap; nothing else.
///
/// | state | value bytes | who may act next |
/// |---|---|---|
/// | `EMPTY` | being written by the ticket's producer, or not yet | producer (CAS to `FULL`), consumer (swap to `TAKEN`) |
/// | `FULL` | a live `T` | consumer (swap to `TAKEN`, then moves it out) |
/// | `TAKEN` | none (moved out, or never published) | nobody |
const EMPTY: u8 = 0;
const FULL: u8 = 1;
const TAKEN: u8 = 2;

/// The most bytes of cells one segment holds (for large `T` the segment
/// gets fewer cells, never fewer than 2).
pub const SEGMENT_BYTES: usize = 16 * 1024;
/// The most cells per segment.
const MAX_LEN: usize = 1024;
/// The fewest cells per segment, whatever `T` weighs.
const MIN_LEN: usize = 2;

/// One cell: a state byte and a value slot.
struct Cell<T> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A segment's header; `len` cells follow it in the same allocation.
///
/// Invariants: `len` never changes; cells `0..len` are initialized cells
/// (every state a valid one); `next` goes from null to a segment once (the
/// install CAS) and never changes again; the `enq` and `deq` tickets
/// below `len` are each handed out once.
#[repr(C)]
struct Segment<T> {
    enq: CachePadded<AtomicUsize>,
    deq: CachePadded<AtomicUsize>,
    next: AtomicPtr<Segment<T>>,
    len: usize,
    /// The cells (allocated past the header, outside every byte a
    /// `&Segment` covers: a shared reference to the header asserts its
    /// bytes, padding included, are not written through other pointers).
    _cells: PhantomData<Cell<T>>,
}

impl<T> Segment<T> {
    /// The allocation layout of a segment of `len` cells, and the offset
    /// of its first cell (past the whole header).
    #[inline]
    fn layout(len: usize) -> (Layout, usize) {
        Layout::array::<Cell<T>>(len)
            .and_then(|cells| Layout::new::<Segment<T>>().extend(cells))
            .expect("FaaQueue: segment size overflows isize")
    }

    /// A new, unpublished segment of `len` cells, all `EMPTY`, with both
    /// counters at 0.
    fn alloc(len: usize) -> *mut Segment<T> {
        let p = recycle::alloc_large(Self::layout(len).0).cast::<Segment<T>>();
        // SAFETY: `p` is a fresh block of `layout(len)` bytes aligned for
        // `Segment<T>`: room for the header and `len` cells after it.
        unsafe {
            p.write(Segment {
                enq: CachePadded::new(AtomicUsize::new(0)),
                deq: CachePadded::new(AtomicUsize::new(0)),
                next: AtomicPtr::new(ptr::null_mut()),
                len,
                _cells: PhantomData,
            });
            for i in 0..len {
                Self::cell_ptr(p, i).write(Cell {
                    state: AtomicU8::new(EMPTY),
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                });
            }
        }
        p
    }

    /// The address of cell `i` (computed from the raw segment pointer, so
    /// it carries the whole allocation's provenance).
    ///
    /// # Safety
    ///
    /// 1. `seg` points to a live allocation of `Segment::layout(len)` with
    ///    `i < len`.
    #[inline(always)]
    unsafe fn cell_ptr(seg: *mut Segment<T>, i: usize) -> *mut Cell<T> {
        // The offset is a constant for each `T` (the length does not move
        // the first cell).
        let first = Self::layout(1).1;
        // SAFETY: precondition 1: the cells follow the header inside the
        // allocation, and cell `i` is within it.
        unsafe { seg.cast::<u8>().add(first).cast::<Cell<T>>().add(i) }
    }

    /// Cell `i` of a live segment.
    ///
    /// # Safety
    ///
    /// 1. `seg` is live (protected or owned) for `'a`, and `i < (*seg).len`.
    #[inline(always)]
    unsafe fn cell<'a>(seg: *mut Segment<T>, i: usize) -> &'a Cell<T> {
        // SAFETY: precondition 1, and cells `0..len` are initialized
        // (type invariant).
        unsafe { &*Self::cell_ptr(seg, i) }
    }

    /// Frees a segment without dropping any value.
    ///
    /// # Safety
    ///
    /// 1. `seg` came from [`Segment::alloc`], nobody can reach it any more,
    ///    it is freed once, and no cell holds a value that still needs
    ///    dropping.
    unsafe fn free(seg: *mut Segment<T>) {
        // SAFETY: precondition 1: `seg` is ours and initialized.
        let len = unsafe { (*seg).len };
        // The cells' atomics and the header have drop glue only under loom
        // (its objects are tracked); `MaybeUninit` drops nothing.
        if core::mem::needs_drop::<Cell<T>>() {
            for i in 0..len {
                // SAFETY: precondition 1: cell `i < len` is initialized and
                // dropped once.
                unsafe { ptr::drop_in_place(Self::cell_ptr(seg, i)) };
            }
        }
        // SAFETY: as above, for the header; then the block goes back with
        // the layout it was allocated with.
        unsafe {
            ptr::drop_in_place(seg);
            recycle::release_large(seg.cast(), Self::layout(len).0);
        }
    }
}

/// The drop function of a retired segment: frees memory only.
///
/// # Safety
///
/// The preconditions of [`Segment::free`] for `p.cast()`.
unsafe fn free_segment<T>(p: *mut ()) {
    // SAFETY: the caller's preconditions; a retired segment holds no value
    // (module docs: every cell went to its consumer before `head` moved).
    unsafe { Segment::<T>::free(p.cast()) };
}

/// The default number of cells per segment for `T`: [`MAX_LEN`], or fewer
/// so that the cells take at most [`SEGMENT_BYTES`], but at least
/// [`MIN_LEN`].
const fn default_len<T>() -> usize {
    let per = size_of::<Cell<T>>();
    let fit = SEGMENT_BYTES / per;
    if fit > MAX_LEN {
        MAX_LEN
    } else if fit < MIN_LEN {
        MIN_LEN
    } else {
        fit
    }
}

/// A lock-free FIFO queue of segments indexed by `fetch_add` (after
/// FAAArrayQueue and LCRQ), generic over the memory-reclamation scheme `R`.
///
/// Faster than [`MsQueue`](crate::MsQueue) under contention and per
/// message: a push or pop is one `fetch_add` and one operation on its own
/// cell, values live inline in segments of up to 1024 cells, and only
/// whole segments are allocated and retired. See the [module docs](self)
/// for the algorithm and its guarantees.
///
/// Every operation takes `&self`. `Send + Sync` exactly when `T: Send`.
/// For loops of many operations on one thread, [`handle`](Self::handle)
/// keeps one guard across them.
///
/// # Examples
///
/// ```
/// use cds::FaaQueue;
///
/// let queue = FaaQueue::new();
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
/// sync(&cds::FaaQueue::<std::rc::Rc<u8>>::new());
/// ```
pub struct FaaQueue<T, R: Reclaim = Epoch> {
    /// Invariant: the segment pops work in; never null; never after `tail`
    /// in list order.
    head: CachePadded<AtomicPtr<Segment<T>>>,
    /// Invariant: the last segment or (lagging) a predecessor of it; never
    /// null; never before `head`.
    tail: CachePadded<AtomicPtr<Segment<T>>>,
    /// Cells per segment (≥ 1).
    seg_len: usize,
    reclaimer: R,
    /// Owns `T`s (drop check); `Send`/`Sync` are implemented by hand below.
    _owns: PhantomData<*const T>,
}

impl<T, R: Reclaim> FaaQueue<T, R> {
    /// An empty queue on the reclaimer `reclaimer`; allocates its first
    /// segment.
    ///
    /// # Examples
    ///
    /// ```
    /// use cds::{reclaim::Hazard, FaaQueue};
    /// let queue = FaaQueue::with_reclaimer(Hazard::default());
    /// queue.push(1);
    /// assert_eq!(queue.pop(), Some(1));
    /// ```
    pub fn with_reclaimer(reclaimer: R) -> Self {
        Self::with_segment_len(default_len::<T>(), reclaimer)
    }

    /// An empty queue whose segments hold `len` cells (tests use tiny
    /// segments to cross many boundaries: `cds::testing::faa_queue`).
    ///
    /// # Panics
    ///
    /// If `len` is 0.
    pub(crate) fn with_segment_len(len: usize, reclaimer: R) -> Self {
        assert!(len > 0, "FaaQueue: a segment needs at least one cell");
        let first = Segment::alloc(len);
        Self {
            head: CachePadded::new(AtomicPtr::new(first)),
            tail: CachePadded::new(AtomicPtr::new(first)),
            seg_len: len,
            reclaimer,
            _owns: PhantomData,
        }
    }

    /// The number of cells per segment.
    pub(crate) fn segment_len(&self) -> usize {
        self.seg_len
    }

    /// The push algorithm on a guard of `self.reclaimer`.
    #[inline]
    fn push_in<G: Guard>(&self, guard: &mut G, mut value: T) {
        let [mut slot, ..] = guard.slots();
        // A segment built by an install that lost its race, kept for the
        // next attempt (unpublished: ours alone).
        let mut spare: *mut Segment<T> = ptr::null_mut();
        loop {
            // Acquire (inside `protect`): pairs with the Release CASes on
            // `tail`, making the segment's header and cells visible.
            // SAFETY: (1) `tail` always holds a segment of this queue
            // (never null), retired only through `self.reclaimer` after
            // `tail` (and `head`) moved past it.
            let Some(tail) = (unsafe { slot.protect(&*self.tail) }) else {
                unreachable!("the tail is never null")
            };
            // SeqCst: see the module docs (tickets and the empty check).
            let idx = tail.enq.fetch_add(1, SeqCst);
            if idx < tail.len {
                // SAFETY: `tail` is protected and `idx < len`.
                let cell = unsafe { Segment::cell(tail.as_ptr(), idx) };
                // SAFETY: ticket `idx` is ours alone; its consumer reads the
                // bytes only after seeing `FULL`, which our CAS below sets
                // after this write.
                cell.value.with_mut(|p| unsafe { (*p).write(value) });
                stall_point!("faa.push.before_cas");
                // Release: publishes the value; pairs with the consumer's
                // Acquire swap. Relaxed on failure: the cell is TAKEN and
                // nobody will read what we wrote.
                if cell
                    .state
                    .compare_exchange(EMPTY, FULL, Release, Relaxed)
                    .is_ok()
                {
                    Self::drop_spare(spare);
                    return;
                }
                // Overtaken: the consumer of ticket `idx` made the cell
                // TAKEN without reading it; the bytes are still ours.
                // SAFETY: we wrote them above and nobody else reads them.
                value = cell.value.with(|p| unsafe { (*p).assume_init_read() });
                continue;
            }
            // The tail segment is full: install a next one or help.
            // Acquire: pairs with the install CAS below (the segment's
            // contents are visible before we swing `tail` to it).
            let next = tail.next.load(Acquire);
            if !next.is_null() {
                self.help_tail(tail.as_ptr(), next);
                continue;
            }
            if spare.is_null() {
                spare = Segment::alloc(self.seg_len);
            }
            // SAFETY: `spare` is unpublished and ours; cell 0 exists
            // (`len ≥ 1`).
            unsafe { Self::fill_first(spare, value) };
            stall_point!("faa.push.before_install");
            // Release: publishes the new segment with our value in cell 0;
            // pairs with the Acquire loads of `next`. Acquire on failure:
            // the segment we then help `tail` to must be visible.
            match tail
                .next
                .compare_exchange(ptr::null_mut(), spare, Release, Acquire)
            {
                Ok(_) => {
                    self.help_tail(tail.as_ptr(), spare);
                    return;
                }
                Err(now) => {
                    // SAFETY: `spare` stayed unpublished: its value is ours.
                    value = unsafe { Self::empty_first(spare) };
                    self.help_tail(tail.as_ptr(), now);
                }
            }
        }
    }

    /// Puts `value` in cell 0 of an unpublished segment, `FULL`, with the
    /// enqueue counter past it.
    ///
    /// # Safety
    ///
    /// 1. `seg` is an unpublished segment from [`Segment::alloc`] with cell
    ///    0 `EMPTY` and `enq == 0`, owned by the caller.
    #[inline]
    unsafe fn fill_first(seg: *mut Segment<T>, value: T) {
        // SAFETY: precondition 1: ours, cell 0 exists.
        let cell = unsafe { Segment::cell(seg, 0) };
        // SAFETY: precondition 1: nobody else can see the cell.
        cell.value.with_mut(|p| unsafe { (*p).write(value) });
        // Relaxed: the install CAS publishes all of this.
        cell.state.store(FULL, Relaxed);
        // SAFETY: precondition 1.
        unsafe { (*seg).enq.store(1, Relaxed) };
    }

    /// Takes the value back out of cell 0 of a segment whose install failed,
    /// leaving it as [`Segment::alloc`] made it.
    ///
    /// # Safety
    ///
    /// 1. `seg` was filled by [`fill_first`](Self::fill_first) and never
    ///    published.
    #[inline]
    unsafe fn empty_first(seg: *mut Segment<T>) -> T {
        // SAFETY: precondition 1: ours, cell 0 holds our value.
        let cell = unsafe { Segment::cell(seg, 0) };
        // Relaxed: unpublished.
        cell.state.store(EMPTY, Relaxed);
        // SAFETY: precondition 1.
        unsafe { (*seg).enq.store(0, Relaxed) };
        // SAFETY: precondition 1: the value written by `fill_first`.
        cell.value.with(|p| unsafe { (*p).assume_init_read() })
    }

    /// Frees a spare segment that was never published (holds no value).
    #[inline]
    fn drop_spare(spare: *mut Segment<T>) {
        if !spare.is_null() {
            // SAFETY: never published, emptied by `empty_first`: ours, no
            // value, freed once.
            unsafe { Segment::free(spare) };
        }
    }

    /// Swings a lagging `tail` from `tail` to its successor `next`.
    #[inline]
    fn help_tail(&self, tail: *mut Segment<T>, next: *mut Segment<T>) {
        // Release: publishes `next` (acquired through its link, or ours)
        // to the Acquire loads of `tail`.
        let _ = self.tail.compare_exchange(tail, next, Release, Relaxed);
    }

    /// The pop algorithm on a guard of `self.reclaimer` (precondition 3 of
    /// `retire` relies on that: every caller passes one).
    #[inline]
    fn pop_in<G: Guard>(&self, guard: &mut G) -> Option<T> {
        let ([mut slot, ..], retirer) = guard.split();
        loop {
            // Acquire (inside `protect`): pairs with the Release CASes on
            // `head` (and the install CAS that published the segment).
            // SAFETY: (1) `head` always holds a segment of this queue
            // (never null), retired only through `self.reclaimer` after
            // `head` moved past it.
            let Some(head) = (unsafe { slot.protect(&*self.head) }) else {
                unreachable!("the head is never null")
            };
            // The empty check, without writing. SeqCst: module docs.
            // Acquire on `next`: pairs with the install CAS.
            if head.deq.load(SeqCst) >= head.enq.load(SeqCst) && head.next.load(Acquire).is_null() {
                return None;
            }
            // SeqCst: module docs.
            let idx = head.deq.fetch_add(1, SeqCst);
            if idx < head.len {
                // SAFETY: `head` is protected and `idx < len`.
                let cell = unsafe { Segment::cell(head.as_ptr(), idx) };
                stall_point!("faa.pop.before_swap");
                // Acquire: pairs with the producer's Release CAS to FULL.
                let was = cell.state.swap(TAKEN, Acquire);
                debug_assert_ne!(was, TAKEN, "a cell taken twice");
                if was == FULL {
                    // SAFETY: FULL: the value was written before the
                    // producer's Release CAS, which our Acquire swap read;
                    // only ticket `idx`'s consumer (us) moves it out, once.
                    return Some(cell.value.with(|p| unsafe { (*p).assume_init_read() }));
                }
                // EMPTY: we overtook the producer of ticket `idx`, which
                // will retry elsewhere; start over.
                continue;
            }
            // Drained: every dequeue ticket of this segment is handed out.
            // Acquire: pairs with the install CAS.
            let next = head.next.load(Acquire);
            if next.is_null() {
                // Every ticket of this segment is taken and nothing is
                // installed after it: no completed push is waiting.
                return None;
            }
            // `tail` must leave the segment before it is retired (the
            // witness of pushes is `tail` still holding it). Acquire: as
            // for `tail` in `push_in`.
            let tail = self.tail.load(Acquire);
            if tail == head.as_ptr() {
                self.help_tail(tail, next);
            }
            // Release: the next popper's Acquire load of `head` then
            // happens-after our Acquire load of the link.
            if self
                .head
                .compare_exchange(head.as_ptr(), next, Release, Relaxed)
                .is_ok()
            {
                // SAFETY: (1) unlinked: `head` moved past it and `tail`
                // left it (the tail only moves forward, and we moved it off
                // the segment if it was there); (2) only the head CAS winner
                // retires it, once; (3) the guard came from
                // `self.reclaimer`; (4) a retired segment holds no value
                // (module docs) and `free_segment` frees memory only.
                unsafe { retirer.retire(head.as_ptr().cast(), free_segment::<T>) };
            }
        }
    }

    fn is_empty_in<G: Guard>(&self, guard: &mut G) -> bool {
        let mut full = false;
        self.walk(guard, |seg| {
            full = (seg.deq_from()..seg.enq_to()).any(|i| seg.state(i) == FULL);
            !full
        });
        !full
    }

    /// The number of values in the queue: exact when no operation runs
    /// concurrently, a snapshot otherwise (it walks every segment from
    /// `head`, so it costs one step per segment, `len / 1024` for small
    /// `T`).
    ///
    /// # Examples
    ///
    /// ```
    /// let queue: cds::FaaQueue<_> = (0..5000).collect();
    /// assert_eq!(queue.len(), 5000);
    /// queue.pop();
    /// assert_eq!(queue.len(), 4999);
    /// ```
    pub fn len(&self) -> usize {
        let mut guard = self.reclaimer.guard();
        let mut n = 0;
        self.walk(&mut guard, |seg| {
            n += seg.enq_to().saturating_sub(seg.deq_from());
            true
        });
        n
    }

    /// Calls `f` on each segment from `head` on, while it returns true.
    /// Under `Hazard` each segment is protected in turn (two slots,
    /// alternating) with the witness "`head` still holds the segment we
    /// started from": no segment after it can be retired before `head`
    /// moves past it. If `head` moves, the walk starts over (`f` must
    /// tolerate that: it is called again from the new head).
    fn walk<G: Guard>(&self, guard: &mut G, mut f: impl FnMut(&SegView<'_, T>) -> bool) {
        let [mut a, mut b, ..] = guard.slots();
        'restart: loop {
            // SAFETY: (1) as in `pop_in`.
            let Some(head) = (unsafe { a.protect(&*self.head) }) else {
                unreachable!("the head is never null")
            };
            let start = head.as_ptr();
            let mut seg = start;
            let mut in_b = false;
            loop {
                // SAFETY: `seg` is protected: `start` by `a` (witnessed by
                // `protect`), every later one by the publication below.
                let view = unsafe { SegView::new(seg) };
                if !f(&view) {
                    return;
                }
                // Acquire: pairs with the install CAS.
                let next = view.header().next.load(Acquire);
                if next.is_null() {
                    return;
                }
                // Alternate slots: the one holding `seg` stays published
                // until `next` is protected in the other. Acquire in the
                // witness: pairs with the Release head CAS.
                let witness = || self.head.load(Acquire) == start;
                let ok = if in_b {
                    a.publish(next.cast(), witness)
                } else {
                    b.publish(next.cast(), witness)
                };
                if !ok {
                    continue 'restart;
                }
                in_b = !in_b;
                seg = next;
            }
        }
    }

    /// Pops with exclusive access: no atomic RMW, no retire (no other thread
    /// can hold a reference to the queue, so none can read a segment).
    fn pop_mut(&mut self) -> Option<T> {
        loop {
            // Relaxed throughout: `&mut self` excludes other threads.
            let seg = self.head.load(Relaxed);
            // SAFETY: `head` is a live segment (never null), ours.
            let view = unsafe { SegView::new(seg) };
            let deq = view.deq_from();
            if deq < view.enq_to() {
                view.header().deq.store(deq + 1, Relaxed);
                let cell = view.cell(deq);
                if cell.state.swap(TAKEN, Relaxed) == FULL {
                    // SAFETY: FULL: a live value nobody else can reach.
                    return Some(cell.value.with(|p| unsafe { (*p).assume_init_read() }));
                }
                continue;
            }
            let next = view.header().next.load(Relaxed);
            if next.is_null() {
                return None;
            }
            // Every cell of `seg` is TAKEN now (a next segment exists only
            // once `enq` passed `len`): free it.
            self.head.store(next, Relaxed);
            if self.tail.load(Relaxed) == seg {
                self.tail.store(next, Relaxed);
            }
            // SAFETY: unlinked from `head` and `tail`, no value left, ours.
            unsafe { Segment::free(seg) };
        }
    }

    /// Frees the segments of an emptied queue; called once, by `Drop`,
    /// after every value was popped (`head` dangles afterwards).
    fn free_last(&mut self) {
        let mut seg = self.head.load(Relaxed);
        while !seg.is_null() {
            // SAFETY: the queue is empty and ours; each segment is freed
            // once, after reading its link.
            let next = unsafe { (*seg).next.load(Relaxed) };
            // SAFETY: as above: no value left in it.
            unsafe { Segment::free(seg) };
            seg = next;
        }
    }
}

/// A live segment seen by a walk, with its counters clamped to its cells.
/// It keeps the raw segment pointer, whose provenance covers the cells
/// (a reference to the header would not).
struct SegView<'a, T> {
    /// Invariant: a live segment for `'a`.
    seg: *mut Segment<T>,
    _live: PhantomData<&'a Segment<T>>,
}

impl<T> SegView<'_, T> {
    /// A view of `seg`.
    ///
    /// # Safety
    ///
    /// 1. `seg` is live (protected or owned) while the view lives.
    #[inline]
    unsafe fn new(seg: *mut Segment<T>) -> Self {
        Self {
            seg,
            _live: PhantomData,
        }
    }

    #[inline]
    fn header(&self) -> &Segment<T> {
        // SAFETY: type invariant.
        unsafe { &*self.seg }
    }

    /// The first cell no consumer took a ticket for (clamped to `len`).
    #[inline]
    fn deq_from(&self) -> usize {
        let h = self.header();
        // SeqCst: as the empty check (module docs).
        h.deq.load(SeqCst).min(h.len)
    }

    /// One past the last cell a producer took a ticket for (clamped).
    #[inline]
    fn enq_to(&self) -> usize {
        let h = self.header();
        // SeqCst: as the empty check (module docs).
        h.enq.load(SeqCst).min(h.len)
    }

    /// Cell `i`.
    ///
    /// # Panics
    ///
    /// If `i >= len` (a bug in the caller).
    #[inline]
    fn cell(&self, i: usize) -> &Cell<T> {
        assert!(i < self.header().len);
        // SAFETY: type invariant, and `i < len`.
        unsafe { Segment::cell(self.seg, i) }
    }

    /// The state of cell `i`. Acquire: a FULL seen here pairs with the
    /// producer's Release CAS.
    #[inline]
    fn state(&self, i: usize) -> u8 {
        self.cell(i).state.load(Acquire)
    }
}

linked_structure!(
    FaaQueue,
    FaaQueueHandle,
    "queue",
    order: "the first item pops first",
    pops: [1, 2]
);
guarded_queue_ops!(FaaQueue);

impl<T, R: Reclaim> Handle<'_, FaaQueue<T, R>, R> {
    /// [`FaaQueue::len`] (a snapshot while other threads run).
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = cds::FaaQueue::new();
    /// let mut h = queue.handle();
    /// h.push('a');
    /// assert_eq!(h.len(), 1);
    /// # h.pop();
    /// ```
    #[inline]
    pub fn len(&mut self) -> usize {
        self.op(|q, g| {
            let mut n = 0;
            q.walk(g, |seg| {
                n += seg.enq_to().saturating_sub(seg.deq_from());
                true
            });
            n
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    /// Counts drops of its instances.
    #[derive(Debug)]
    struct Counted(usize, Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, SeqCst);
        }
    }

    fn fifo_across_segments<R: Reclaim + Clone>(r: R) {
        for len in [1, 2, 3, 8] {
            let q = FaaQueue::with_segment_len(len, r.clone());
            let mut model = VecDeque::new();
            let n = if cfg!(miri) { 40 } else { 500 };
            for i in 0..n {
                q.push(i);
                model.push_back(i);
                if i % 3 == 0 {
                    assert_eq!(q.pop(), model.pop_front());
                }
                assert_eq!(q.len(), model.len());
            }
            while let Some(v) = model.pop_front() {
                assert!(!q.is_empty());
                assert_eq!(q.pop(), Some(v));
            }
            assert!(q.is_empty());
            assert_eq!(q.pop(), None);
            assert_eq!(q.len(), 0);
        }
    }

    fn drop_drops_the_values_left_once<R: Reclaim>(r: R) {
        let drops = Arc::new(AtomicUsize::new(0));
        let q = FaaQueue::with_segment_len(4, r);
        for i in 0..23 {
            q.push(Counted(i, drops.clone()));
        }
        for i in 0..9 {
            assert_eq!(q.pop().map(|c| c.0), Some(i));
        }
        assert_eq!(drops.load(SeqCst), 9);
        drop(q);
        assert_eq!(drops.load(SeqCst), 23);
    }

    fn into_iter_in_order<R: Reclaim>(r: R) {
        let mut q = FaaQueue::with_segment_len(3, r);
        q.extend(0..10);
        assert!(q.into_iter().eq(0..10));
    }

    fn concurrent_producers_and_consumers<R: Reclaim>(r: R) {
        let q = FaaQueue::with_segment_len(4, r);
        let (producers, per) = if cfg!(miri) { (2, 30) } else { (3, 3000) };
        let drops = Arc::new(AtomicUsize::new(0));
        let got = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for p in 0..producers {
                let (q, drops) = (&q, &drops);
                s.spawn(move || {
                    for i in 0..per {
                        q.push(Counted(p * per + i, drops.clone()));
                    }
                });
            }
            for _ in 0..2 {
                let (q, got) = (&q, &got);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut last = vec![None; producers];
                    while mine.len() < producers * per / 2 {
                        if let Some(c) = q.pop() {
                            // FIFO per producer, as seen by one consumer.
                            let (p, i) = (c.0 / per, c.0 % per);
                            assert!(last[p].map_or(true, |l| l < i), "producer order broken");
                            last[p] = Some(i);
                            mine.push(c.0);
                        }
                    }
                    got.lock().unwrap().extend(mine);
                });
            }
        });
        let mut got = got.into_inner().unwrap();
        got.extend(q.into_iter().map(|c| c.0));
        got.sort_unstable();
        assert!(
            got.into_iter().eq(0..producers * per),
            "every value exactly once"
        );
        assert_eq!(drops.load(SeqCst), producers * per);
    }

    crate::reclaim::test_matrix::reclaimer_unit_tests!(
        fifo_across_segments,
        drop_drops_the_values_left_once,
        into_iter_in_order,
        concurrent_producers_and_consumers,
    );

    #[test]
    fn default_segment_lengths() {
        assert_eq!(default_len::<u64>(), MAX_LEN);
        assert_eq!(
            default_len::<[u8; 1000]>(),
            SEGMENT_BYTES / size_of::<Cell<[u8; 1000]>>()
        );
        assert_eq!(default_len::<[u8; 100_000]>(), MIN_LEN);
        assert_eq!(FaaQueue::<u64>::new().segment_len(), MAX_LEN);
    }

    /// The sizes the README states.
    #[test]
    fn documented_sizes() {
        assert_eq!(size_of::<FaaQueue<u64>>(), 384);
        assert_eq!(Segment::<u64>::layout(MAX_LEN).0.size(), 384 + 1024 * 16);
    }

    #[test]
    #[should_panic(expected = "at least one cell")]
    fn zero_length_segments_panic() {
        let _ = FaaQueue::<u8>::with_segment_len(0, Epoch::new());
    }
}

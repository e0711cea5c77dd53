//! A small linearizability checker for recorded histories (Wing & Gong,
//! JPDC 1993, with Lowe's memoization of visited `(linearized set, state)`
//! pairs), generic over a sequential specification so every structure can
//! reuse it.
//!
//! Time is a logical clock: one atomic counter, read (`fetch_add`) when an
//! operation is called and again when it returns. If `a.ret < b.call`, `a`
//! really finished before `b` started, so a linearization must order `a`
//! first; operations whose `[call, ret]` intervals intersect may go either
//! way. The search tries, at each step, every pending operation that no
//! other pending operation precedes, applies it to the specification and
//! recurses while the return values match.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};

/// A sequential specification: the state of the abstract object.
pub trait Spec: Clone + Hash + Eq {
    /// An operation with its arguments.
    type Op: Clone + Debug;
    /// What an operation returns.
    type Ret: Clone + Debug + PartialEq;
    /// Applies `op` to the state and returns its result.
    fn apply(&mut self, op: &Self::Op) -> Self::Ret;
}

/// One completed operation of a history.
#[derive(Clone, Debug)]
pub struct Event<O, R> {
    pub thread: usize,
    pub call: u64,
    pub ret: u64,
    pub op: O,
    pub result: R,
}

impl<O, R> Event<O, R> {
    /// `thread`'s `op`, called at `call` and returned `result` at `ret`.
    pub fn new(thread: usize, [call, ret]: [u64; 2], op: O, result: R) -> Self {
        Event {
            thread,
            call,
            ret,
            op,
            result,
        }
    }
}

/// The logical clock shared by the threads of one history.
#[derive(Debug, Default)]
pub struct Clock(AtomicU64);

impl Clock {
    /// Runs `f` between two clock ticks and records it.
    pub fn record<O, R>(&self, thread: usize, op: O, f: impl FnOnce() -> R) -> Event<O, R> {
        let call = self.0.fetch_add(1, SeqCst);
        let result = f();
        let ret = self.0.fetch_add(1, SeqCst);
        Event::new(thread, [call, ret], op, result)
    }
}

/// A reusable spin barrier: the `r`-th call of `wait` (counting from 0) on
/// each of the `n` threads returns once all `n` threads made their `r`-th
/// call, all at about the same moment (spinning, so no wake-up skew).
#[derive(Debug)]
pub struct SpinBarrier {
    n: usize,
    arrived: AtomicUsize,
}

impl SpinBarrier {
    pub fn new(n: usize) -> Self {
        SpinBarrier {
            n,
            arrived: AtomicUsize::new(0),
        }
    }

    /// Round `round` of this thread (0, 1, 2, ... in order). Pure spinning:
    /// a thread that yielded here would leave the others to run alone.
    pub fn wait(&self, round: usize) {
        self.arrived.fetch_add(1, SeqCst);
        while self.arrived.load(SeqCst) < self.n * (round + 1) {
            std::hint::spin_loop();
        }
    }
}

/// True if two operations of different threads overlap in time.
pub fn has_overlap<O, R>(history: &[Event<O, R>]) -> bool {
    history.iter().any(|a| {
        history
            .iter()
            .any(|b| a.thread != b.thread && a.call < b.ret && b.call < a.ret)
    })
}

/// Runs `batch` (which checks a batch of `per_batch` histories, asserting
/// each linearizable, and returns how many had overlapping operations)
/// until, summed over the batches run, at least 30% of one batch's worth
/// of histories overlapped — at most [`MAX_BATCHES`] batches.
///
/// Adaptive rather than a per-batch fraction: on a machine busy with other
/// work the barrier-released threads may rarely run at once, and one batch
/// may overlap too little; running more batches checks as many overlapping
/// histories as an idle machine checks in one. Under miri one batch, with
/// no requirement (too slow to run many).
///
/// # Panics
///
/// If `MAX_BATCHES` batches together overlapped less than that: the test
/// then proved too little to pass.
pub fn require_overlap(what: &str, per_batch: usize, mut batch: impl FnMut() -> usize) {
    let need = (per_batch * 3).div_ceil(10);
    let mut total = 0;
    for attempt in 1..=MAX_BATCHES {
        let overlapping = batch();
        total += overlapping;
        println!(
            "{what}: batch {attempt}: {overlapping}/{per_batch} histories overlapped \
             ({total} of the {need} needed so far)"
        );
        if total >= need || cfg!(miri) {
            return;
        }
    }
    panic!("{what}: only {total} overlapping histories in {MAX_BATCHES} batches (need {need})");
}

/// The most batches [`require_overlap`] runs.
pub const MAX_BATCHES: usize = 20;

/// True if `history` (at most 64 operations) is linearizable with respect
/// to the specification starting in state `init`.
///
/// # Panics
///
/// If the history has more than 64 operations.
pub fn is_linearizable<S: Spec>(init: &S, history: &[Event<S::Op, S::Ret>]) -> bool {
    assert!(
        history.len() <= 64,
        "histories are limited to 64 operations"
    );
    let mut visited = HashSet::new();
    search(init, history, 0, &mut visited)
}

fn search<S: Spec>(
    state: &S,
    history: &[Event<S::Op, S::Ret>],
    done: u64,
    visited: &mut HashSet<(u64, S)>,
) -> bool {
    let n = history.len();
    if done.count_ones() as usize == n {
        return true;
    }
    if !visited.insert((done, state.clone())) {
        return false; // explored from here already, without success
    }
    let pending = || (0..n).filter(move |&i| done & (1 << i) == 0);
    // An operation may go next iff it was called before every pending
    // operation returned.
    let first_ret = pending().map(|i| history[i].ret).min().unwrap_or(u64::MAX);
    for i in pending().filter(|&i| history[i].call < first_ret) {
        let mut next = state.clone();
        if next.apply(&history[i].op) == history[i].result
            && search(&next, history, done | 1 << i, visited)
        {
            return true;
        }
    }
    false
}

/// Stack and queue operations (shared by both specifications).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushPop {
    Push(u32),
    Pop,
}

/// The sequential stack (`LIFO`) or FIFO queue: pushes go to the back,
/// pops take the back or the front.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
pub struct PushPopSpec<const LIFO: bool>(pub std::collections::VecDeque<u32>);

/// The sequential stack.
pub type StackSpec = PushPopSpec<true>;
/// The sequential FIFO queue.
pub type QueueSpec = PushPopSpec<false>;

impl<const LIFO: bool> Spec for PushPopSpec<LIFO> {
    type Op = PushPop;
    type Ret = Option<u32>;
    fn apply(&mut self, op: &PushPop) -> Option<u32> {
        match *op {
            PushPop::Push(v) => {
                self.0.push_back(v);
                None
            }
            PushPop::Pop if LIFO => self.0.pop_back(),
            PushPop::Pop => self.0.pop_front(),
        }
    }
}

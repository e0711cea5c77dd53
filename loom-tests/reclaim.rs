//! Loom models of the reclamation seam, for `Hazard` (a private domain with
//! threshold 1, so every retire runs a pass) and for `Epoch` (crossbeam-epoch
//! on loom through `--cfg crossbeam_loom`).
//!
//! Loom checks the *symmetric* hazard protocol (`fence(SeqCst)` on both
//! sides): under `cfg(loom)` the membarrier path is compiled out.
//!
//! Nodes live in a model-local arena and are never freed; "reclaiming" a
//! node writes `DEAD` into its loom `UnsafeCell` and counts. A reader that
//! touches a node reads that cell, so a reader racing with reclamation is a
//! causality violation loom reports, and a reader ordered after it sees
//! `DEAD` and fails its assertion.

use std::sync::Arc;

use cds::reclaim::{Epoch, Guard, Hazard, Reclaim, Slot};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{
    AtomicPtr, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

const DEAD: usize = usize::MAX;

struct Node {
    value: UnsafeCell<usize>,
    next: AtomicPtr<Node>,
    reclaimed: AtomicUsize,
    /// Set when the model body returns (a std atomic: loom does not track
    /// it). crossbeam-epoch may run leftover deferred functions while loom
    /// tears the execution down; they must not touch loom objects then.
    model_done: std::sync::atomic::AtomicBool,
}

impl Node {
    fn new(value: usize) -> Self {
        Self {
            value: UnsafeCell::new(value),
            next: AtomicPtr::new(std::ptr::null_mut()),
            reclaimed: AtomicUsize::new(0),
            model_done: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Reads the value as a reader would; fails on a reclaimed node.
    fn touch(&self) -> usize {
        let v = self.value.with(|p| {
            // SAFETY: loom checks this read against `reclaim`'s write.
            unsafe { *p }
        });
        assert_ne!(v, DEAD, "reader touched a reclaimed node");
        v
    }
}

/// The "drop function": marks the node dead (a write loom tracks).
unsafe fn reclaim(p: *mut ()) {
    // SAFETY: retired pointers point into the model's arena, which is
    // leaked (see `arena`): it outlives every reclaimer.
    let node = unsafe { &*p.cast::<Node>() };
    if node.model_done.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    node.value.with_mut(|v| {
        // SAFETY: loom checks this write against every reader's `touch`.
        unsafe { *v = DEAD }
    });
    node.reclaimed.fetch_add(1, Relaxed);
}

/// A model's nodes. Leaked: crossbeam-epoch may run a deferred function
/// after the model body returned (when loom drops its collector).
fn arena<const N: usize>(values: [usize; N]) -> &'static [Node; N] {
    Box::leak(Box::new(values.map(Node::new)))
}

/// Marks the end of the model body for `reclaim` (see `Node::model_done`).
fn done(arena: &[Node]) {
    for n in arena {
        n.model_done
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn ptr(n: &Node) -> *mut Node {
    n as *const Node as *mut Node
}

fn retire<G: Guard>(g: &G, n: *mut Node) {
    // SAFETY: each model retires a node once, after unlinking it, into the
    // reclaimer whose guards protect it; `reclaim` is sound on any thread
    // while the arena lives.
    unsafe { g.retire(n.cast(), reclaim) };
}

/// After a flush, `n` must have been reclaimed exactly once under
/// `Hazard` (one pass reclaims everything unprotected). Under `Epoch`,
/// loom explores executions in which crossbeam never advances the epoch
/// within a bounded number of flushes (its participant list is unlinked
/// with CASes that may lose forever in a model), so the model checks
/// "at most once" and counts how often everything was reclaimed; the
/// caller asserts that count is non-zero after the model.
fn flush_and_check<R: Reclaim>(r: &R, nodes: &[&Node], must: bool) -> bool {
    if nodes.iter().any(|n| n.reclaimed.load(Relaxed) == 0) {
        r.flush();
    }
    let mut all = true;
    for n in nodes {
        let count = n.reclaimed.load(Relaxed);
        assert!(count <= 1, "node reclaimed {count} times");
        if must {
            assert_eq!(count, 1, "retired node not reclaimed by flush");
        }
        all &= count == 1;
    }
    all
}

/// Executions of the Epoch models, and those in which everything retired
/// was reclaimed (plain std atomics: they outlive the model).
static EPOCH_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static EPOCH_ALL_RECLAIMED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn note_epoch_run(all: bool) {
    EPOCH_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if all {
        EPOCH_ALL_RECLAIMED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn assert_epoch_reclaims_sometimes(model: &str) {
    let runs = EPOCH_RUNS.swap(0, std::sync::atomic::Ordering::Relaxed);
    let all = EPOCH_ALL_RECLAIMED.swap(0, std::sync::atomic::Ordering::Relaxed);
    println!("{model}: everything reclaimed in {all} of {runs} executions");
    assert!(all > 0, "{model}: epoch never reclaimed everything");
}

/// A reader protects `src` while a writer swaps the node out and retires it.
fn protect_retire_race<R: Reclaim + Clone>(r: R, must: bool) -> bool {
    let arena = arena([1, 2]);
    let src = Arc::new(AtomicPtr::new(ptr(&arena[0])));
    let reader = {
        let (r, src) = (r.clone(), src.clone());
        loom::thread::spawn(move || {
            let mut g = r.guard();
            let [mut slot, ..] = g.slots();
            // SAFETY: (1) arena nodes are never freed.
            let p = unsafe { slot.protect(&src) }.unwrap();
            let v = p.touch();
            assert!(v == 1 || v == 2);
        })
    };
    {
        let g = r.guard();
        let old = src.swap(ptr(&arena[1]), AcqRel);
        retire(&g, old);
    }
    // A pass while the reader may still run (the trigger `max(T, k·H·S)`
    // exceeds one object here, so retire alone would not scan). Hazard
    // only: a concurrent crossbeam flush multiplies the model's size.
    if must {
        r.flush();
    }
    reader.join().unwrap();
    // Hazard: a flush reclaims at once. Epoch: one flush at the end only
    // (each costs four pins, and loom explores every one).
    if must {
        flush_and_check(&r, &[&arena[0]], must);
    }
    let last = src.swap(std::ptr::null_mut(), AcqRel);
    retire(&r.guard(), last);
    let all = flush_and_check(&r, &[&arena[0], &arena[1]], must);
    drop(r);
    done(arena);
    all
}

/// Michael–Scott pop shape: `head → n0 → n1 → n2`, two poppers. `next` is
/// protected with the parent's position (`head == h`) as witness.
fn pop<R: Reclaim>(r: &R, head: &AtomicPtr<Node>) -> Option<usize> {
    let mut g = r.guard();
    let ([mut hs, mut ns, ..], g) = g.split();
    loop {
        // SAFETY: (1) arena nodes are never freed.
        let h = unsafe { hs.protect(head) }?;
        h.touch();
        // Acquire: pairs with the Release store that linked `next`.
        let next = std::ptr::NonNull::new(h.next.load(Acquire))?;
        // SAFETY: (1) arena nodes are never freed; the witness is the
        // parent's position.
        let Some(next) = (unsafe { ns.protect_with(next, || head.load(Acquire) == h.as_ptr()) })
        else {
            continue;
        };
        let v = next.touch();
        // AcqRel: the winner owns `h`; pairs with the other popper's CAS.
        if head
            .compare_exchange(h.as_ptr(), next.as_ptr(), AcqRel, Acquire)
            .is_ok()
        {
            retire(g, h.as_ptr());
            return Some(v);
        }
    }
}

fn ms_queue_pop<R: Reclaim + Clone>(r: R, must: bool, my_pops: usize) -> bool {
    let arena = arena([0, 10, 20]);
    for i in 0..2 {
        arena[i].next.store(ptr(&arena[i + 1]), Release);
    }
    let head = Arc::new(AtomicPtr::new(ptr(&arena[0])));
    let other = {
        let (r, head) = (r.clone(), head.clone());
        loom::thread::spawn(move || pop(&r, &head))
    };
    // With two pops here and one there, the other popper may hold `next`
    // (n1) while this thread unlinks and retires it with its second pop; a
    // witness that did not re-check `head == h` would then let the pass
    // below reclaim n1 under it.
    let mine: Vec<_> = (0..my_pops).map(|_| pop(&r, &head)).collect();
    // A pass while the other popper may still hold protections (Hazard
    // only: a concurrent crossbeam flush multiplies the model's size).
    if must {
        r.flush();
    }
    let theirs = other.join().unwrap();
    let mut got: Vec<usize> = mine.iter().chain([&theirs]).flatten().copied().collect();
    got.sort_unstable();
    assert_eq!(got, [10, 20]);
    let all = flush_and_check(&r, &[&arena[0], &arena[1]], must);
    assert_eq!(
        arena[2].reclaimed.load(Relaxed),
        0,
        "the sentinel is still linked"
    );
    drop(r);
    done(arena);
    all
}

loom::lazy_static! {
    /// The domain of the chain model, reachable from its drop function. A
    /// threshold no model reaches: only flushes run passes, so the model
    /// checks the flush's own rounds, not a pass nested in a retire.
    static ref CHAIN_DOMAIN: Hazard = Hazard::with_threshold(1 << 20);
}

/// Drop function of a chain link: marks the node dead, then retires the
/// node its `next` names into `CHAIN_DOMAIN` (as an owner's `Drop`
/// retiring what it owns would).
unsafe fn reclaim_then_retire_next(p: *mut ()) {
    // SAFETY: as in `reclaim`: retired pointers point into a leaked arena.
    let node = unsafe { &*p.cast::<Node>() };
    if node.model_done.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    // Relaxed: written by the model thread before the retire that handed
    // this node to the reclaimer (which orders it before this call).
    let next = node.next.load(Relaxed);
    // SAFETY: `p` is an arena node, retired once.
    unsafe { reclaim(p) };
    retire(&CHAIN_DOMAIN.guard(), next);
}

/// A flush reclaims a chain (n0's drop function retires n1) while a reader
/// may protect n1: the flush's next round takes a fresh snapshot, so n1 is
/// never reclaimed under the reader, and one flush after the reader is
/// gone reclaims it; if the reader was gone before the flush, that flush
/// reclaims both.
#[test]
fn hazard_flush_reclaims_a_chain_under_a_reader() {
    loom::model(|| {
        let r: &Hazard = &CHAIN_DOMAIN;
        let arena = arena([1, 2]);
        arena[0].next.store(ptr(&arena[1]), Relaxed);
        let src = Arc::new(AtomicPtr::new(ptr(&arena[1])));
        let reader_gone = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (src, reader_gone) = (src.clone(), reader_gone.clone());
            loom::thread::spawn(move || {
                let mut g = CHAIN_DOMAIN.guard();
                let [mut slot, ..] = g.slots();
                // SAFETY: (1) arena nodes are never freed.
                if let Some(p) = unsafe { slot.protect(&src) } {
                    assert_eq!(p.touch(), 2);
                }
                drop(g);
                // Release: pairs with the Acquire load before the flush.
                reader_gone.store(true, Release);
            })
        };
        // Unlink n1 (its only source), then retire its owner n0.
        src.store(std::ptr::null_mut(), Release);
        let g = r.guard();
        // SAFETY: n0 was never reachable; it is retired once; its drop
        // function is sound on any thread while the arena lives.
        unsafe { g.retire(ptr(&arena[0]).cast(), reclaim_then_retire_next) };
        drop(g);
        // Acquire: pairs with the reader's Release store after its guard
        // dropped; if it is gone, nothing protects n1 during the flush.
        let gone = reader_gone.load(Acquire);
        r.flush();
        assert_eq!(arena[0].reclaimed.load(Relaxed), 1, "n0 is unprotected");
        if gone {
            assert_eq!(
                arena[1].reclaimed.load(Relaxed),
                1,
                "one flush reclaims what the drop functions it ran retired"
            );
        }
        reader.join().unwrap();
        flush_and_check(r, &[&arena[0], &arena[1]], true);
        done(arena);
    });
}

#[test]
fn hazard_protect_retire_race() {
    loom::model(|| {
        protect_retire_race(Hazard::with_threshold(1), true);
    });
}

#[test]
fn hazard_ms_queue_pop() {
    loom::model(|| {
        ms_queue_pop(Hazard::with_threshold(1), true, 2);
    });
}

#[test]
fn epoch_protect_retire_race() {
    loom::model(|| note_epoch_run(protect_retire_race(Epoch::new(), false)));
    assert_epoch_reclaims_sometimes("epoch_protect_retire_race");
}

#[test]
fn epoch_ms_queue_pop() {
    loom::model(|| note_epoch_run(ms_queue_pop(Epoch::new(), false, 1)));
    assert_epoch_reclaims_sometimes("epoch_ms_queue_pop");
}

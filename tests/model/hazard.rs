//! Single-threaded model of a private hazard domain: random protect /
//! release / retire / flush sequences, checked against a model of which
//! nodes are protected and retired. Shared by `tests/model_hazard.rs`
//! (quickcheck) and `fuzz/fuzz_targets/hazard.rs` (cargo-fuzz).
//!
//! Checked after every step: no node is reclaimed while a guard protects it
//! (its drop count stays 0 and its payload intact), no node is reclaimed
//! twice or before it is retired; after a flush, every retired node that no
//! guard protects is reclaimed; when the domain drops, every retired node is
//! reclaimed exactly once.

#![allow(dead_code)]

use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;

use cds::reclaim::{Guard, Hazard, HazardGuard, Reclaim, Slot, MAX_SLOTS};

const GUARDS: usize = 3;
const SOURCES: usize = 4;
const MAGIC: u64 = 0xFEED_FACE_CAFE_BEEF;

/// One step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Link a fresh node into an empty source.
    Link { src: usize },
    /// `guard.protect(slot, source)`.
    Protect {
        guard: usize,
        slot: usize,
        src: usize,
    },
    /// `guard.refresh()`: drop every protection of the guard.
    Refresh { guard: usize },
    /// Drop the guard and take a new one.
    Renew { guard: usize },
    /// Unlink the source's node and retire it.
    Retire { src: usize },
    /// `domain.flush()`.
    Flush,
}

/// Decodes bytes: the first one picks the threshold, then two bytes per op.
pub fn decode(bytes: &[u8]) -> (usize, Vec<Op>) {
    let threshold = 1 + bytes.first().map_or(0, |b| *b as usize % 16);
    let ops = bytes
        .get(1..)
        .unwrap_or(&[])
        .chunks_exact(2)
        .map(|c| {
            let (a, b) = (c[0] as usize, c[1] as usize);
            let src = b % SOURCES;
            let guard = (b / SOURCES) % GUARDS;
            match a % 6 {
                0 => Op::Link { src },
                1 => Op::Protect {
                    guard,
                    slot: (a / 6) % MAX_SLOTS,
                    src,
                },
                2 => Op::Refresh { guard },
                3 => Op::Renew { guard },
                4 => Op::Retire { src },
                _ => Op::Flush,
            }
        })
        .collect();
    (threshold, ops)
}

struct Node {
    id: usize,
    payload: u64,
    drops: Arc<Vec<AtomicU8>>,
}

unsafe fn drop_node(p: *mut ()) {
    // SAFETY: every retired pointer is a `Box<Node>` from `Model::link`,
    // reclaimed once (which this model checks).
    let mut b = unsafe { Box::from_raw(p.cast::<Node>()) };
    assert_eq!(b.payload, MAGIC, "reclaimed a corrupted node");
    b.payload = 0;
    b.drops[b.id].fetch_add(1, SeqCst);
}

/// Runs `ops` on a private domain with `threshold`, checking the model.
pub fn check(threshold: usize, ops: &[Op]) {
    let domain = Hazard::with_threshold(threshold);
    let drops: Arc<Vec<AtomicU8>> = Arc::new((0..ops.len()).map(|_| AtomicU8::new(0)).collect());
    let sources: [AtomicPtr<Node>; SOURCES] = Default::default();
    let mut src_id = [usize::MAX; SOURCES];
    let mut guards: Vec<HazardGuard<'_>> = (0..GUARDS).map(|_| domain.guard()).collect();
    // protected[g][s] = node id protected by guard g's slot s
    let mut protected = [[None::<(usize, *mut Node)>; MAX_SLOTS]; GUARDS];
    let mut retired = vec![false; ops.len()];
    let mut next_id = 0;
    let mut unretired: Vec<*mut Node> = Vec::new();

    let is_protected = |protected: &[[Option<(usize, *mut Node)>; MAX_SLOTS]; GUARDS],
                        id: usize| {
        protected
            .iter()
            .flatten()
            .any(|p| matches!(p, Some((i, _)) if *i == id))
    };

    for op in ops {
        match *op {
            Op::Link { src } => {
                if src_id[src] == usize::MAX {
                    let id = next_id;
                    next_id += 1;
                    let n = Box::into_raw(Box::new(Node {
                        id,
                        payload: MAGIC,
                        drops: drops.clone(),
                    }));
                    sources[src].store(n, SeqCst);
                    src_id[src] = id;
                    unretired.push(n);
                }
            }
            Op::Protect { guard, slot, src } => {
                // The raw pointer outlives the `Shared`: the model relies on
                // the documented contract that a slot's protection stands
                // until the slot publishes again or the guard is refreshed
                // or dropped, which `protected` tracks.
                let mut slots = guards[guard].slots();
                // SAFETY: (1) a node leaves its source before it is retired.
                let p = unsafe { slots[slot].protect(&sources[src]) }.map(|p| p.as_ptr());
                protected[guard][slot] = p.map(|p| (src_id[src], p));
            }
            Op::Refresh { guard } => {
                guards[guard].refresh();
                protected[guard] = [None; MAX_SLOTS];
            }
            Op::Renew { guard } => {
                guards[guard] = domain.guard();
                protected[guard] = [None; MAX_SLOTS];
            }
            Op::Retire { src } => {
                let p = sources[src].swap(std::ptr::null_mut(), SeqCst);
                if !p.is_null() {
                    let id = src_id[src];
                    src_id[src] = usize::MAX;
                    retired[id] = true;
                    unretired.retain(|&q| q != p);
                    // SAFETY: `p` left its source (unlinked), is retired
                    // once, only this domain's guards protect it, and
                    // `drop_node` is sound on any thread.
                    unsafe { guards[0].retire(p.cast(), drop_node) };
                }
            }
            Op::Flush => {
                domain.flush();
                for (id, &r) in retired.iter().enumerate() {
                    if r && !is_protected(&protected, id) {
                        assert_eq!(
                            drops[id].load(SeqCst),
                            1,
                            "node {id} not reclaimed by flush"
                        );
                    }
                }
            }
        }
        // Never reclaimed while protected; never before retired; never twice.
        for g in &protected {
            for (id, p) in g.iter().flatten() {
                assert_eq!(
                    drops[*id].load(SeqCst),
                    0,
                    "node {id} reclaimed while protected"
                );
                // SAFETY: protected, so not freed (checked just above).
                assert_eq!(unsafe { (**p).payload }, MAGIC);
            }
        }
        for (id, d) in drops.iter().enumerate() {
            let d = d.load(SeqCst);
            assert!(d <= 1, "node {id} reclaimed {d} times");
            assert!(
                d == 0 || retired[id],
                "node {id} reclaimed before it was retired"
            );
        }
    }
    drop(guards);
    drop(domain);
    for (id, &r) in retired.iter().enumerate() {
        assert_eq!(
            drops[id].load(SeqCst),
            u8::from(r),
            "node {id} after the domain dropped"
        );
    }
    for p in unretired {
        // SAFETY: never retired, still owned by the model.
        drop(unsafe { Box::from_raw(p) });
    }
}

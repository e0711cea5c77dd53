//! Unit tests of the hazard domain (private domains: miri-clean without
//! `-Zmiri-ignore-leaks`).

use super::*;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};

/// A boxed payload that counts its drops in a test-local counter.
struct Counted {
    value: u64,
    drops: std::sync::Arc<AtomicUsize>,
    /// Retired into `domain` (re-entrantly) when this one is reclaimed.
    child: Option<(Hazard, *mut Counted)>,
}

fn counted(value: u64, drops: &std::sync::Arc<AtomicUsize>) -> *mut Counted {
    Box::into_raw(Box::new(Counted {
        value,
        drops: drops.clone(),
        child: None,
    }))
}

unsafe fn drop_counted(p: *mut ()) {
    // SAFETY: every `p` retired in these tests came from `counted` (a
    // `Box<Counted>`) and is reclaimed once.
    let b = unsafe { Box::from_raw(p.cast::<Counted>()) };
    b.drops.fetch_add(1, Relaxed);
    if let Some((domain, child)) = b.child {
        let g = domain.guard();
        // SAFETY: `child` was never shared or retired, belongs to no other
        // domain, and `drop_counted` frees it on any thread.
        unsafe { g.retire(child.cast(), drop_counted) };
    }
}

/// Retires `p` through `g`.
fn retire(g: &HazardGuard<'_>, p: *mut Counted) {
    // SAFETY: the tests retire each fresh pointer once, after unlinking it
    // from any source they published it in, through a guard of the domain
    // whose guards protect it; `drop_counted` is sound on any thread.
    unsafe { g.retire(p.cast(), drop_counted) };
}

#[test]
fn flush_reclaims_every_retired_object_once() {
    let domain = Hazard::with_threshold(1 << 20);
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let n = if cfg!(miri) { 20 } else { 1000 };
    for i in 0..n {
        let g = domain.guard();
        retire(&g, counted(i, &drops));
    }
    assert_eq!(
        drops.load(SeqCst),
        0,
        "threshold not reached: nothing reclaimed yet"
    );
    assert_eq!(domain.stats().pending, n);
    domain.flush();
    assert_eq!(drops.load(SeqCst), n as usize);
    let s = domain.stats();
    assert_eq!((s.retired, s.reclaimed, s.pending), (n, n, 0));
    domain.flush();
    assert_eq!(drops.load(SeqCst), n as usize, "no double reclamation");
}

#[test]
fn protected_object_survives_until_released() {
    let domain = Hazard::private();
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let node = counted(42, &drops);
    let src = AtomicPtr::new(node);
    let mut reader = domain.guard();
    let [mut slot, ..] = reader.slots();
    // SAFETY: (1) `src` holds `node` until it is swapped out below, and it
    // is retired only after that.
    let p = unsafe { slot.protect(&src) }.unwrap();
    assert_eq!(p.as_ptr(), node);
    src.store(core::ptr::null_mut(), SeqCst);
    retire(&domain.guard(), node);
    for _ in 0..3 {
        domain.flush();
    }
    assert_eq!(drops.load(SeqCst), 0);
    assert_eq!(p.value, 42);
    reader.refresh();
    domain.flush();
    assert_eq!(drops.load(SeqCst), 1);
    drop(reader);
}

#[test]
fn failed_witness_reports_false() {
    let domain = Hazard::private();
    let mut g = domain.guard();
    let mut x = 1u8;
    let [_, mut slot, ..] = g.slots();
    assert!(!slot.publish((&mut x as *mut u8).cast(), || false));
    assert!(slot.publish((&mut x as *mut u8).cast(), || true));
}

#[test]
fn clearing_a_slot_ends_its_protection() {
    let domain = Hazard::private();
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let node = counted(1, &drops);
    let mut g = domain.guard();
    let [_, _, _, mut slot] = g.slots();
    assert!(slot.publish(node.cast(), || true));
    retire(&domain.guard(), node);
    domain.flush();
    assert_eq!(drops.load(SeqCst), 0, "the published address is protected");
    slot.clear();
    domain.flush();
    assert_eq!(
        drops.load(SeqCst),
        1,
        "cleared: reclaimed while the guard lives"
    );
    drop(g);
}

#[test]
fn threshold_triggers_passes_without_flush() {
    let threshold = 8;
    let domain = Hazard::with_threshold(threshold);
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let n = if cfg!(miri) { 100 } else { 10_000 };
    let g = domain.guard();
    for i in 0..n {
        retire(&g, counted(i, &drops));
        let trigger = threshold.max(Hazard::SCAN_MULTIPLIER * domain.record_count() * MAX_SLOTS);
        // One thread, one shard: the pending count never exceeds the trigger.
        assert!(domain.stats().pending as usize <= trigger);
    }
    assert!(drops.load(SeqCst) >= n as usize - 64);
    drop(g);
}

#[test]
fn reentrant_pass_from_a_drop_function() {
    let domain = Hazard::with_threshold(1);
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let child = counted(2, &drops);
    let parent = Box::into_raw(Box::new(Counted {
        value: 1,
        drops: drops.clone(),
        child: Some((domain.clone(), child)),
    }));
    retire(&domain.guard(), parent);
    // One flush: the child retired by the parent's drop function is
    // reclaimed by the flush's next round.
    domain.flush();
    assert_eq!(drops.load(SeqCst), 2);
    let s = domain.stats();
    assert_eq!((s.retired, s.reclaimed, s.pending), (2, 2, 0));
}

#[test]
fn dropping_a_private_domain_reclaims_everything_pending() {
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let domain = Hazard::with_threshold(1 << 20);
    let n = if cfg!(miri) { 10 } else { 500 };
    {
        let mut g = domain.guard();
        let src = AtomicPtr::new(counted(0, &drops));
        let ([mut slot, ..], g) = g.split();
        // SAFETY: (1) `src` holds its node for the whole test.
        let p = unsafe { slot.protect(&src) }.unwrap().as_ptr();
        retire(&domain.guard(), p);
        for i in 1..n {
            retire(g, counted(i, &drops));
        }
        domain.flush();
        assert_eq!(
            drops.load(SeqCst),
            n as usize - 1,
            "the protected one stays"
        );
    }
    let clone = domain.clone();
    drop(domain);
    assert_eq!(
        drops.load(SeqCst),
        n as usize - 1,
        "a handle is still alive"
    );
    drop(clone);
    assert_eq!(drops.load(SeqCst), n as usize);
}

#[test]
fn records_are_reused() {
    let domain = Hazard::private();
    {
        let _a = domain.guard();
        let _b = domain.guard();
        let _c = domain.guard();
    }
    assert_eq!(domain.record_count(), 3);
    for _ in 0..10 {
        let _a = domain.guard();
        let _b = domain.guard();
    }
    assert_eq!(domain.record_count(), 3);
}

#[test]
fn global_guard_uses_the_thread_cache() {
    let h = Hazard::global();
    drop(h.guard());
    let before = h.record_count();
    for _ in 0..100 {
        let mut g = h.guard();
        let mut x = 0u32;
        assert!(g.slots()[0].publish((&mut x as *mut u32).cast(), || true));
    }
    // Other tests may add records concurrently, but not 100 of them.
    assert!(h.record_count() < before + 50);
    assert!(format!("{h:?}").contains("global"));
}

#[test]
fn concurrent_protect_and_retire() {
    let domain = Hazard::with_threshold(4);
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let (threads, per) = if cfg!(miri) { (2, 20) } else { (4, 5_000) };
    let src = AtomicPtr::new(counted(u64::MAX, &drops));
    std::thread::scope(|s| {
        for t in 0..threads {
            let (domain, drops, src) = (&domain, &drops, &src);
            s.spawn(move || {
                for i in 0..per {
                    let mut g = domain.guard();
                    let ([mut slot, ..], g) = g.split();
                    // SAFETY: (1) nodes are retired only after being swapped
                    // out of `src`.
                    let p = unsafe { slot.protect(src) }.unwrap();
                    let v = p.value;
                    assert!(v == u64::MAX || v < (threads * per) as u64);
                    let old = src.swap(counted((t * per + i) as u64, drops), SeqCst);
                    retire(g, old);
                }
            });
        }
    });
    let last = src.swap(core::ptr::null_mut(), SeqCst);
    retire(&domain.guard(), last);
    domain.flush();
    let total = threads * per + 1;
    assert_eq!(drops.load(SeqCst), total);
    assert_eq!(domain.stats().reclaimed, total as u64);
}

#[test]
fn idle_records_do_not_delay_passes() {
    // Readers came and went: many records, all idle now.
    let threshold = 4;
    let domain = Hazard::with_threshold(threshold);
    let readers = if cfg!(miri) { 50 } else { 1000 };
    let guards: Vec<_> = (0..readers).map(|_| domain.guard()).collect();
    drop(guards);
    assert_eq!(domain.record_count(), readers);
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let g = domain.guard();
    // A first pass at the threshold finds no hazard anywhere; from then on
    // the trigger stays at the threshold, whatever the number of records.
    for i in 0..(4 * threshold) as u64 {
        retire(&g, counted(i, &drops));
        assert!(
            domain.stats().pending as usize <= threshold,
            "pending {} with only idle records besides ours",
            domain.stats().pending
        );
    }
    assert!(drops.load(SeqCst) >= 3 * threshold);
    drop(g);
    domain.flush();
}

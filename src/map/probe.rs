//! Pure probe math of the Robin Hood table: slot-word tags, home slots,
//! segment indices, table sizing and the expected probe counts. No atomics,
//! no pointers dereferenced: everything here is unit-tested on its own.
//!
//! # Slot words
//!
//! A slot is one 64-bit pointer: null when empty, otherwise the entry's
//! pointer with tag bits added in its unused high bits (with
//! `wrapping_add`, so it keeps its provenance):
//!
//! | bits    | field |
//! |---------|-------|
//! | 56..64  | fingerprint: the low 8 bits of the key's hash |
//! | 48..56  | probe distance: slot index − home slot (≤ [`MAX_DIST`]) |
//! | 0..48   | address of the immutable heap entry |
//!
//! so that a probe compares fingerprints and distances without
//! dereferencing entries. User-space addresses fit in 48 bits on the
//! platforms we target (x86-64 and AArch64 Linux hand out addresses below
//! 2^47 unless asked for more); [`tag`] asserts it and panics with a clear
//! message otherwise (documented on the map). The map is built on 64-bit
//! targets only.
//!
//! # Homes
//!
//! The home slot of a hash in a table of 2^`log2` home slots is the hash's
//! *top* `log2` bits. Doubling the table refines the prefix, so a range of
//! hashes is a contiguous range of homes in every table size: iteration
//! keeps its place across growth by remembering a hash, not a slot.

/// Bits of the address in a slot word.
const ADDR_BITS: u32 = 48;
/// Mask of the address in a slot word.
const ADDR_MASK: u64 = (1 << ADDR_BITS) - 1;
/// Shift of the probe distance in a slot word.
const DIST_SHIFT: u32 = 48;
/// Shift of the fingerprint in a slot word.
const FP_SHIFT: u32 = 56;
/// The largest probe distance a slot word can carry (and the longest tail a
/// table may have).
pub(crate) const MAX_DIST: usize = 255;

/// log2 of the number of home slots per segment (2 under loom, so that tiny
/// models still span several segments).
pub(crate) const SEG_SHIFT: u32 = if cfg!(loom) { 1 } else { 6 };
/// Home slots per segment.
pub(crate) const SEG_SIZE: usize = 1 << SEG_SHIFT;
/// The most segments one probe can touch: a probe covers at most
/// `max_probe + 1` slots, and [`max_probe`] keeps that below
/// `(MAX_PROBE_SEGS - 1) * SEG_SIZE`.
pub(crate) const MAX_PROBE_SEGS: usize = 6;

/// Smallest table: 2^MIN_LOG2 home slots.
pub(crate) const MIN_LOG2: u32 = 2;
/// Largest table: 2^MAX_LOG2 home slots (beyond it `grow` panics).
pub(crate) const MAX_LOG2: u32 = if usize::BITS >= 64 { 40 } else { 24 };

/// The tag bits (distance and fingerprint) of a slot word.
#[inline(always)]
fn tags<T>(word: *mut T) -> u64 {
    word as usize as u64 & !ADDR_MASK
}

/// Tags an entry pointer with a probe distance and a fingerprint. The tag
/// is added with `wrapping_add`, so the word keeps the pointer's
/// provenance (no integer-to-pointer cast anywhere).
///
/// # Panics
///
/// If `ptr` is null or its address does not fit in 48 bits (a platform
/// handing out such addresses cannot hold this map). Debug builds also
/// check `dist`.
#[inline]
pub(crate) fn tag<T>(ptr: *mut T, dist: usize, fp: u8) -> *mut T {
    let addr = ptr as usize as u64;
    assert!(
        addr != 0 && addr & !ADDR_MASK == 0,
        "cds::HashMap: entry address {addr:#x} does not fit in 48 bits"
    );
    debug_assert!(dist <= MAX_DIST);
    let t = (dist as u64) << DIST_SHIFT | u64::from(fp) << FP_SHIFT;
    ptr.cast::<u8>().wrapping_add(t as usize).cast()
}

/// The entry pointer of an occupied slot word.
#[inline(always)]
pub(crate) fn untag<T>(word: *mut T) -> *mut T {
    word.cast::<u8>().wrapping_sub(tags(word) as usize).cast()
}

/// The probe distance in an occupied slot word.
#[inline(always)]
pub(crate) fn dist<T>(word: *mut T) -> usize {
    ((word as usize as u64 >> DIST_SHIFT) & 0xff) as usize
}

/// The fingerprint in an occupied slot word.
#[inline(always)]
pub(crate) fn fp<T>(word: *mut T) -> u8 {
    (word as usize as u64 >> FP_SHIFT) as u8
}

/// The same word moved one slot further from home (a right shift).
#[inline(always)]
pub(crate) fn farther<T>(word: *mut T) -> *mut T {
    debug_assert!(!word.is_null() && dist(word) < MAX_DIST);
    word.cast::<u8>().wrapping_add(1 << DIST_SHIFT).cast()
}

/// The same word moved one slot nearer to home (a backward shift).
#[inline(always)]
pub(crate) fn nearer<T>(word: *mut T) -> *mut T {
    debug_assert!(!word.is_null() && dist(word) > 0);
    word.cast::<u8>().wrapping_sub(1 << DIST_SHIFT).cast()
}

/// The fingerprint of a hash (its low 8 bits; homes use the top bits).
#[inline(always)]
pub(crate) fn fingerprint(hash: u64) -> u8 {
    hash as u8
}

/// The home slot of `hash` in a table of 2^`log2` home slots.
#[inline(always)]
pub(crate) fn home(hash: u64, log2: u32) -> usize {
    debug_assert!((1..64).contains(&log2));
    (hash >> (64 - log2)) as usize
}

/// The smallest hash whose home is `home` or later, as a `u128` so that the
/// end of the last home (2^64) is representable.
#[inline]
pub(crate) fn first_hash_of(home: usize, log2: u32) -> u128 {
    (home as u128) << (64 - log2)
}

/// The segment owning `slot` in a table of `nsegs` segments; the tail (slots
/// past the last home) belongs to the last segment.
#[inline(always)]
pub(crate) fn seg_of(slot: usize, nsegs: usize) -> usize {
    (slot >> SEG_SHIFT).min(nsegs - 1)
}

/// The number of segments of a table of 2^`log2` home slots.
#[inline]
pub(crate) fn segments(log2: u32) -> usize {
    (1usize << log2 >> SEG_SHIFT).max(1)
}

/// The home slots per segment (the whole table when it is smaller than one
/// segment).
#[inline]
pub(crate) fn seg_homes(log2: u32) -> usize {
    SEG_SIZE.min(1 << log2)
}

/// The default maximum probe distance (= tail length) of a table of
/// 2^`log2` home slots: `2·log2 + 32`, well above the ≈ `log2` expected
/// maximum of Robin Hood linear probing at load 0.875, capped at
/// [`MAX_DIST`] and at what one probe may span in segments. Under loom,
/// 4 (models are tiny).
#[inline]
pub(crate) fn max_probe(log2: u32) -> usize {
    let cap = (MAX_PROBE_SEGS - 2) * SEG_SIZE;
    if cfg!(loom) {
        4.min(cap)
    } else {
        (2 * log2 as usize + 32).min(MAX_DIST).min(cap)
    }
}

/// The largest tail a table may get when a cluster overflows at low load.
#[inline]
pub(crate) fn max_tail() -> usize {
    if cfg!(loom) {
        max_probe(MIN_LOG2)
    } else {
        MAX_DIST.min((MAX_PROBE_SEGS - 2) * SEG_SIZE)
    }
}

/// Entries a table of 2^`log2` home slots holds before it grows.
#[inline]
pub(crate) fn max_entries(log2: u32, max_load: f64) -> usize {
    ((1u64 << log2) as f64 * max_load) as usize
}

/// The smallest `log2` whose table holds `n` entries at `max_load`.
pub(crate) fn log2_for(n: usize, max_load: f64) -> u32 {
    let mut log2 = MIN_LOG2;
    while max_entries(log2, max_load) < n {
        log2 += 1;
        assert!(log2 <= MAX_LOG2, "cds::HashMap: capacity overflow");
    }
    log2
}

/// The expected mean successful probe count (distance + 1) of linear
/// probing at load `alpha`: ½(1 + 1/(1 − α)) (Knuth; the same for Robin
/// Hood, which only changes the variance).
pub(crate) fn expected_mean_probes(alpha: f64) -> f64 {
    0.5 * (1.0 + 1.0 / (1.0 - alpha))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A pointer with address `a` (never dereferenced).
    fn p(a: usize) -> *mut u8 {
        core::ptr::null_mut::<u8>().wrapping_add(a)
    }

    #[test]
    fn tag_round_trips() {
        for &(a, d, f) in &[
            (8usize, 0usize, 0u8),
            (0x7fff_ffff_fff8, 255, 0xff),
            (0x1000, 17, 0x5a),
        ] {
            let w = tag(p(a), d, f);
            assert_eq!((untag(w), dist(w), fp(w)), (p(a), d, f));
            assert!(!w.is_null());
        }
        let w = tag(p(0x1234_5678), 3, 9);
        assert_eq!(dist(farther(w)), 4);
        assert_eq!(dist(nearer(w)), 2);
        assert_eq!(untag(farther(w)), p(0x1234_5678));
        assert_eq!(fp(nearer(w)), 9);
    }

    #[test]
    fn tags_keep_provenance() {
        let mut x = 7u64;
        let w = tag(&mut x as *mut u64, 5, 0xab);
        // SAFETY: `untag` gives back the original pointer, provenance intact.
        assert_eq!(unsafe { *untag(w) }, 7);
    }

    #[test]
    #[should_panic(expected = "does not fit in 48 bits")]
    fn tag_rejects_wide_addresses() {
        let _ = tag(p(1 << 50), 0, 0);
    }

    #[test]
    fn homes_refine_when_doubling() {
        for &h in &[
            0u64,
            1,
            u64::MAX,
            0x8000_0000_0000_0000,
            0x1234_5678_9abc_def0,
        ] {
            for log2 in 2..20 {
                let a = home(h, log2);
                let b = home(h, log2 + 1);
                assert!(b == 2 * a || b == 2 * a + 1);
                assert!(a < 1 << log2);
                assert!(first_hash_of(a, log2) <= u128::from(h));
                assert!(u128::from(h) < first_hash_of(a + 1, log2));
            }
        }
        assert_eq!(first_hash_of(1 << 5, 5), 1u128 << 64);
    }

    #[test]
    fn segments_cover_the_tail() {
        let log2 = 10;
        let n = segments(log2);
        assert_eq!(n, (1 << log2) / SEG_SIZE);
        assert_eq!(seg_of(0, n), 0);
        assert_eq!(seg_of((1 << log2) - 1, n), n - 1);
        assert_eq!(seg_of((1 << log2) + max_probe(log2), n), n - 1);
        assert_eq!(segments(MIN_LOG2), 1);
        assert_eq!(seg_of(100, 1), 0);
        assert_eq!(seg_homes(MIN_LOG2), 4);
    }

    #[test]
    fn a_probe_spans_few_segments() {
        for log2 in MIN_LOG2..=MAX_LOG2 {
            let mp = max_probe(log2);
            assert!((8..=MAX_DIST).contains(&mp));
            // slots home..=home+mp touch at most this many segments
            assert!(mp / SEG_SIZE + 2 <= MAX_PROBE_SEGS);
        }
        assert!(max_tail() / SEG_SIZE + 2 <= MAX_PROBE_SEGS);
    }

    #[test]
    fn sizing() {
        assert_eq!(log2_for(0, 0.875), MIN_LOG2);
        assert_eq!(log2_for(3, 0.875), MIN_LOG2);
        assert_eq!(log2_for(4, 0.875), MIN_LOG2 + 1);
        // 2^16 slots hold 0.85 · 2^16 entries at the default load.
        assert_eq!(log2_for((0.85 * 65536.0) as usize, 0.875), 16);
        assert_eq!(max_entries(16, 0.875), 57344);
        assert!((expected_mean_probes(0.85) - 3.8333).abs() < 1e-3);
    }
}

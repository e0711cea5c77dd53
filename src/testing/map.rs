//! Test probes for [`HashMap`](crate::HashMap).
//!
//! The map's invariant check lives here, not on the map: production types
//! carry no test scaffolding.
//!
//! ```compile_fail
//! let map = cds::HashMap::<u8, u8>::new();
//! map.check_invariants(); // not a method of the map: use the function below
//! ```

use crate::map::HashMap;
use crate::reclaim::Reclaim;

/// Checks the Robin Hood invariants of `map`'s current table: probe
/// distances, their order, fingerprints, per-segment counts and the spill
/// (no entry linked twice). Sound and exact while other threads use the
/// map: it locks every segment while it reads, so writers wait for it
/// (readers do not).
///
/// # Panics
///
/// With the broken invariant (after unlocking).
///
/// # Examples
///
/// ```
/// let map: cds::HashMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
/// cds::testing::map::check_invariants(&map);
/// ```
pub fn check_invariants<K, V, S, R: Reclaim>(map: &HashMap<K, V, S, R>) {
    map.raw.check_invariants();
}

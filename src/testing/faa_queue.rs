//! Test probes for [`FaaQueue`]: tiny segments, so that every test crosses
//! many segment boundaries.

use crate::reclaim::Reclaim;
use crate::FaaQueue;

/// An empty queue whose segments hold `len` cells.
///
/// # Panics
///
/// If `len` is 0.
pub fn with_segment_len<T, R: Reclaim>(len: usize, reclaimer: R) -> FaaQueue<T, R> {
    FaaQueue::with_segment_len(len, reclaimer)
}

/// The number of cells per segment of `queue`.
pub fn segment_len<T, R: Reclaim>(queue: &FaaQueue<T, R>) -> usize {
    queue.segment_len()
}

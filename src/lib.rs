//! Concurrent data structures built from atomics.
//!
//! `cds` offers a Treiber stack, a Michael–Scott queue, a spin mutex, a
//! counting semaphore and a concurrent Robin Hood hash map. Every structure
//! that frees memory other threads may still read is generic over a
//! memory-reclamation scheme ([`reclaim::Epoch`] by default, or
//! [`reclaim::Hazard`] for bounded garbage).
//!
//! Orderings are model-checked with loom: build with
//! `RUSTFLAGS="--cfg loom --cfg crossbeam_loom"` and every atomic in this
//! crate is loom's, so your own loom models can use these structures.
//!
//! Non-goals: `no_std`, async.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod external;
pub mod faa_queue;
#[cfg_attr(not(cds_hooks), doc(hidden))]
pub mod hooks;
pub(crate) mod linked;
#[cfg(target_pointer_width = "64")]
pub mod map;
pub(crate) mod primitive;
pub mod queue;
pub mod reclaim;
pub(crate) mod recycle;
pub mod stack;
pub mod sync;
#[doc(hidden)]
pub mod testing;

pub use faa_queue::{FaaQueue, FaaQueueHandle};
#[cfg(target_pointer_width = "64")]
pub use map::{HashMap, MapHandle};
pub use queue::{MsQueue, QueueHandle};
pub use stack::{StackHandle, TreiberStack};
pub use sync::semaphore::{Permit, Semaphore};
#[cfg(all(feature = "lock_api", not(loom)))]
pub use sync::spin::{LockApiMutex, LockApiMutexGuard, RawSpinMutex};
pub use sync::spin::{SpinMutex, SpinMutexGuard};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

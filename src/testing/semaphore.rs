//! Test probes for [`Semaphore`](crate::Semaphore).

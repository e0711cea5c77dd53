//! Test probes for [`HashMap`](crate::HashMap).

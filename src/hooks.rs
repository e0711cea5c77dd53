//! Stall points for tests, compiled only under `--cfg cds_hooks`.
//!
//! A structure marks the worst moments of its algorithms with
//! [`stall_point!`](crate::hooks) (for example between a load and its CAS).
//! Without `cds_hooks` the macro expands to nothing. With it, a test installs
//! a callback for a named point with `hooks::set`; the callback runs on whichever
//! thread reaches the point and typically parks that thread (for example
//! until a flag is set) so the test can show that other threads still
//! complete their operations meanwhile. That is how a lock-free claim is
//! shown, and how a briefly invisible key is caught: timing alone never hits
//! a nanosecond window.
//!
//! Callbacks are global to the process; tests that use them belong in their
//! own test binary (`tests/stall_*.rs`) and should filter by thread (a
//! thread-local flag set by the thread meant to stall).
//!
//! ```text
//! cds::hooks::set("stack.pop.before_cas", || { /* park this thread */ });
//! ```

#[cfg(cds_hooks)]
use std::sync::{Arc, RwLock};

#[cfg(cds_hooks)]
type Hook = Arc<dyn Fn() + Send + Sync>;

#[cfg(cds_hooks)]
static HOOKS: RwLock<Vec<(&'static str, Hook)>> = RwLock::new(Vec::new());

#[cfg(cds_hooks)]
/// Installs `f` to run whenever a thread reaches stall point `point`,
/// replacing any previous callback for it.
pub fn set(point: &'static str, f: impl Fn() + Send + Sync + 'static) {
    let mut hooks = HOOKS.write().unwrap_or_else(|e| e.into_inner());
    hooks.retain(|(p, _)| *p != point);
    hooks.push((point, Arc::new(f)));
}

#[cfg(cds_hooks)]
/// Removes the callback for `point`.
pub fn clear(point: &'static str) {
    let mut hooks = HOOKS.write().unwrap_or_else(|e| e.into_inner());
    hooks.retain(|(p, _)| *p != point);
}

#[cfg(cds_hooks)]
/// Removes every callback.
pub fn clear_all() {
    HOOKS.write().unwrap_or_else(|e| e.into_inner()).clear();
}

#[cfg(cds_hooks)]
/// Called at a stall point: runs its callback, if any (outside the registry
/// lock, so a callback may park for as long as it likes).
#[doc(hidden)]
pub fn hit(point: &'static str) {
    let hook = {
        let hooks = HOOKS.read().unwrap_or_else(|e| e.into_inner());
        hooks
            .iter()
            .find(|(p, _)| *p == point)
            .map(|(_, h)| h.clone())
    };
    if let Some(h) = hook {
        h();
    }
}

/// Marks a stall point; expands to nothing without `--cfg cds_hooks`.
#[allow(unused_macros)]
macro_rules! stall_point {
    ($name:literal) => {
        #[cfg(cds_hooks)]
        $crate::hooks::hit($name);
    };
}
#[allow(unused_imports)]
pub(crate) use stall_point;

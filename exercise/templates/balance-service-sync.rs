//! The mutex the shared state is built on.

pub use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, carrying on if a previous holder panicked: every critical section built on
/// it leaves the data valid at each step, so a poisoned lock holds nothing half-written.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

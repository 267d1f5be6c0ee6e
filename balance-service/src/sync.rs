//! The mutex the shared state is built on: std's normally, loom's under `--cfg orders_loom`,
//! so that a model checker can run the very code that uses it under every interleaving.
//! (The cfg is not `loom`: that name also switches tokio's internals and breaks axum.)

#[cfg(not(orders_loom))]
pub use std::sync::{Mutex, MutexGuard};

#[cfg(orders_loom)]
pub use loom::sync::{Mutex, MutexGuard};

/// Locks `mutex`, carrying on if a previous holder panicked: every critical section built on
/// it leaves the data valid at each step, so a poisoned lock holds nothing half-written.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(orders_loom))]
    return mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(orders_loom)]
    return mutex.lock().unwrap();
}

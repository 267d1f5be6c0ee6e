//! The synchronization primitives the shared state is built on.
//!
//! Normally these are `std`'s and tokio's. Under `--cfg orders_loom` they are loom's, so the
//! loom models in `tests/loom.rs` run the very code the service runs and explore every
//! interleaving of it. (The cfg is not `loom`: that name also switches tokio's internals and
//! breaks axum.)

#[cfg(not(orders_loom))]
pub use std::sync::{Mutex, MutexGuard};

#[cfg(orders_loom)]
pub use loom::sync::{Mutex, MutexGuard};

use std::time::Duration;

/// Waits for `duration`. Loom has no clock: there it yields instead, which is all a model
/// needs from a pause (another thread may run).
pub async fn sleep(duration: Duration) {
    #[cfg(not(orders_loom))]
    tokio::time::sleep(duration).await;
    #[cfg(orders_loom)]
    {
        let _ = duration;
        loom::thread::yield_now();
    }
}

/// Locks `mutex`, carrying on if a previous holder panicked: every critical section in this
/// crate leaves the data valid at each step, so a poisoned lock holds nothing half-written.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(orders_loom))]
    return mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    #[cfg(orders_loom)]
    return mutex.lock().unwrap();
}

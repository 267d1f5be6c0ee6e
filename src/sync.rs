//! The synchronization primitives the shared state is built on.
//!
//! Normally these are std's and tokio's. Under `--cfg orders_loom` they are loom's, so that a
//! model checker can run the very code the service runs and explore every interleaving of
//! it. The mutex is the balance service's shim, so one cfg switches both crates together.

pub use balance_service::sync::{Mutex, MutexGuard, lock};

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

//! The synchronization primitives the shared state is built on, in one place: the balance
//! service's mutex, and tokio's sleep.

pub use balance_service::sync::{Mutex, MutexGuard, lock};
pub use tokio::time::sleep;

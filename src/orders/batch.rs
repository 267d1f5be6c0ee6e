//! Placing a batch of orders.
//!
//! In this repository the module is one of two files, chosen by the `fix-batch-priority`
//! feature: the code the candidate gets, and its reference fix. `cargo exercise export`
//! puts the chosen one here, in place of this file.

#[cfg(not(feature = "fix-batch-priority"))]
#[path = "../../variants/batch-priority/buggy/batch.rs"]
mod variant;
#[cfg(feature = "fix-batch-priority")]
#[path = "../../variants/batch-priority/fixed/batch.rs"]
mod variant;

pub use variant::*;

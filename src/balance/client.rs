//! The order service's client for the balance service's HTTP API.
//!
//! In this repository the module is one of two files, chosen by the `fix-double-charge` feature:
//! the code the candidate gets, and its reference fix. `cargo exercise export` puts the
//! chosen one here, in place of this file.

#[cfg(not(feature = "fix-double-charge"))]
#[path = "../../variants/double-charge/buggy/client.rs"]
mod variant;
#[cfg(feature = "fix-double-charge")]
#[path = "../../variants/double-charge/fixed/client.rs"]
mod variant;

pub use variant::*;

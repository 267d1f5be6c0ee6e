//! What the order service does in the background while it serves.
//!
//! In this repository the module is one of two files, chosen by the `fix-double-charge` feature:
//! the code the candidate gets, and its reference fix. `cargo exercise export` puts the
//! chosen one here, in place of this file.

#[cfg(not(feature = "fix-double-charge"))]
#[path = "../../variants/double-charge/buggy/upkeep.rs"]
mod variant;
#[cfg(feature = "fix-double-charge")]
#[path = "../../variants/double-charge/fixed/upkeep.rs"]
mod variant;

pub use variant::*;

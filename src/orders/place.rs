//! Placing one validated order: charge the customer, count the sale, record the outcome.
//!
//! In this repository the module is one of two files, chosen by the `fix-double-charge` feature:
//! the code the candidate gets, and its reference fix. `cargo exercise export` puts the
//! chosen one here, in place of this file.

#[cfg(not(feature = "fix-double-charge"))]
#[path = "../../variants/double-charge/buggy/place.rs"]
mod variant;
#[cfg(feature = "fix-double-charge")]
#[path = "../../variants/double-charge/fixed/place.rs"]
mod variant;

pub use variant::*;

//! The order book in Postgres.
//!
//! In this repository the module is one of two files, chosen by the `fix-double-charge` feature:
//! the code the candidate gets, and its reference fix. `cargo exercise export` puts the
//! chosen one here, in place of this file.

#[cfg(not(feature = "fix-double-charge"))]
#[path = "../../variants/double-charge/buggy/pg_book.rs"]
mod variant;
#[cfg(feature = "fix-double-charge")]
#[path = "../../variants/double-charge/fixed/pg_book.rs"]
mod variant;

pub use variant::*;

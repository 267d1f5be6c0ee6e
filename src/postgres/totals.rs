//! The day's totals in Postgres.
//!
//! In this repository the module is one of two files, chosen by the `fix-lost-update` feature:
//! the code the candidate gets, and its reference fix. `cargo exercise export` puts the
//! chosen one here, in place of this file.

#[cfg(not(feature = "fix-lost-update"))]
#[path = "../../variants/lost-update/buggy/pg_totals.rs"]
mod variant;
#[cfg(feature = "fix-lost-update")]
#[path = "../../variants/lost-update/fixed/pg_totals.rs"]
mod variant;

pub use variant::*;

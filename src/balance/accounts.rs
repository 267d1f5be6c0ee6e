//! Customers' balances as this service last saw them, for `GET /balance/{id}`.
//!
//! In this repository the module is one of two files, chosen by the `fix-futurelock`
//! feature: the code the candidate gets, and its reference fix. `cargo exercise export` puts
//! the chosen one here, in place of this file.

#[cfg(not(feature = "fix-futurelock"))]
#[path = "../../variants/futurelock/buggy/accounts.rs"]
mod variant;
#[cfg(feature = "fix-futurelock")]
#[path = "../../variants/futurelock/fixed/accounts.rs"]
mod variant;

#[allow(unused_imports)]
pub use variant::*;

//! Taking an order in: validating it and handing it to `place`.
//!
//! In this repository the module is one of two files, chosen by the `fix-cancelled-request`
//! feature: the code the candidate gets, and its reference fix. `cargo exercise export` puts
//! the chosen one here, in place of this file.

#[cfg(not(feature = "fix-cancelled-request"))]
#[path = "../../variants/cancelled-request/buggy/intake.rs"]
mod variant;
#[cfg(feature = "fix-cancelled-request")]
#[path = "../../variants/cancelled-request/fixed/intake.rs"]
mod variant;

#[allow(unused_imports)]
pub use variant::*;

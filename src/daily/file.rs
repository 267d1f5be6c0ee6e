//! The file the day's totals are saved to.
//!
//! In this repository the module is one of two files, chosen by the `fix-blocking-save`
//! feature: the code the candidate gets, and its reference fix. `cargo exercise export` puts
//! the chosen one here, in place of this file.

#[cfg(not(feature = "fix-blocking-save"))]
#[path = "../../variants/blocking-save/buggy/file.rs"]
mod variant;
#[cfg(feature = "fix-blocking-save")]
#[path = "../../variants/blocking-save/fixed/file.rs"]
mod variant;

pub use variant::*;

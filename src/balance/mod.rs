//! The order service's side of the balance service: the wire types it shares with it, how a
//! request reaches it ([`transport`]), the client order processing charges through
//! ([`client`]), and the balances last seen, for `GET /balance/{id}` ([`accounts`]).
//!
//! The balance service itself is the `balance-service` crate: an external system as far as
//! the order service is concerned, embedded in its process for `cargo run` and otherwise
//! its own process.

pub mod accounts;
pub mod client;
pub mod transport;

pub use balance_service::api::{Account, Deduction, DeductionRequest, ErrorBody, ErrorCode};

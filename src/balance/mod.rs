//! The customer balance service: the "external" service the order service charges.
//!
//! It runs as its own binary (`balance-service`) or embedded in the order service's process,
//! and the order service always talks to it over HTTP. Modules, in reading order:
//!
//! - [`ledger`]: the accounts, the applied deductions and the idempotency records; every
//!   deduction and its funds check are one critical section.
//! - [`faults`]: deterministic fault plans (lost responses, failures, latency).
//! - [`server`]: the HTTP API and the fault injection around each deduction.
//! - [`client`]: the [`client::Balance`] trait the order service charges through, and its
//!   HTTP implementation.

pub mod client;
pub mod faults;
pub mod ledger;
pub mod server;

use serde::{Deserialize, Serialize};

use crate::money::Cents;

/// `GET /accounts/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub customer_id: u64,
    pub balance: Cents,
}

/// The body of `POST /accounts/{id}/deductions`. `reference` names what is paid for,
/// for example `order-7`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeductionRequest {
    pub amount: Cents,
    pub reference: String,
}

/// A deduction that was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deduction {
    pub customer_id: u64,
    pub new_balance: Cents,
    pub deduction_id: u64,
}

/// The header a replayed response carries, as Stripe names it.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The request header that makes a deduction idempotent.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

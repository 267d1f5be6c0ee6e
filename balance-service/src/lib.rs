//! # balance-service
//!
//! The customer balance service: the "external" service the order service charges. It keeps
//! the customers' balances and a ledger of every deduction, honours idempotency keys, and
//! misbehaves on purpose, deterministically, under a fault plan (lost responses, failures,
//! latency), as a flaky network to a real provider would.
//!
//! It runs as its own binary (`balance-service`) or embedded in the order service's process;
//! either way it is reached over HTTP. Modules, in reading order:
//!
//! - [`api`]: the wire types: requests, answers, error bodies, headers.
//! - [`money`]: [`money::Cents`], how every amount is held and written.
//! - [`ledger`]: the accounts, the applied deductions and the idempotency records; every
//!   deduction and its funds check are one critical section.
//! - [`retained`]: how long idempotency records and ledger entries are kept.
//! - [`faults`]: deterministic fault plans.
//! - [`server`]: the HTTP API and the fault injection around each deduction.
//! - [`config`]: start-up settings (flags and environment variables).
//! - [`random`], [`sync`], [`error`], [`telemetry`]: the plumbing.

pub mod api;
pub mod config;
pub mod error;
pub mod faults;
pub mod ledger;
pub mod money;
pub mod random;
pub mod retained;
pub mod server;
pub mod sync;
pub mod telemetry;

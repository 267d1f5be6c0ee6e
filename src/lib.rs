//! # order-service
//!
//! A small order processing service with two production bugs, for live-debugging
//! interviews, and the balance service it charges customers through.
//!
//! How a request flows, and the modules in reading order:
//!
//! - [`api`]: the order service's HTTP routes; each handler hands off to [`orders`].
//! - [`orders`]: validates an order, then [`orders::place`] charges it through the balance
//!   service, counts the sale in [`stats`] and records the outcome in [`orders::book`].
//! - [`stats`]: today's revenue and order count.
//! - [`balance`]: the balance service (its ledger, fault plans and HTTP API) and the client
//!   the order service uses to reach it.
//! - [`money`]: [`money::Cents`], how every amount is held.
//! - [`app`] and [`config`]: binding, start-up settings, graceful shutdown.
//! - [`error`], [`telemetry`], [`random`], [`sync`]: the plumbing.

pub mod api;
pub mod app;
pub mod balance;
pub mod config;
pub mod daily;
pub mod error;
pub mod money;
pub mod orders;
pub mod random;
#[cfg_attr(
    not(feature = "fix-lost-update"),
    path = "../variants/lost-update/buggy/stats.rs"
)]
#[cfg_attr(
    feature = "fix-lost-update",
    path = "../variants/lost-update/fixed/stats.rs"
)]
pub mod stats;
pub mod sync;
pub mod telemetry;

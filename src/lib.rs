//! # order-service
//!
//! A small order processing service: it takes orders over HTTP, charges each customer
//! through the balance service, and keeps the day's statistics.
//!
//! How a request flows, and the modules in reading order:
//!
//! - [`api`]: the HTTP routes; each handler hands off to [`orders`].
//! - [`orders`]: validates an order, then [`orders::place`] charges it through the balance
//!   service, counts the sale in [`stats`] and records the outcome in [`orders::book`].
//! - [`stats`] and [`daily`]: today's revenue and order count, and the file they are saved
//!   to; [`store`]: where the service's state is kept.
//! - [`balance`]: how the order service reaches the balance service, and its client.
//! - [`money`]: [`money::Cents`], how every amount is held (shared with the balance
//!   service, whose API is written in it).
//! - [`retained`]: how long order records are kept (shared with the balance service).
//! - [`app`] and [`config`]: binding, start-up settings, graceful shutdown.
//! - [`error`], [`telemetry`], [`sync`], [`patience`]: the plumbing.

pub mod api;
pub mod app;
pub mod balance;
pub mod config;
pub mod daily;
pub mod error;
pub mod orders;
pub mod patience;
pub mod stats;
pub mod store;
pub mod sync;
pub mod telemetry;

pub use balance_service::{money, retained};

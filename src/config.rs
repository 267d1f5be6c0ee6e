//! The order service's command-line and environment configuration. Every flag has an
//! environment variable, so the same settings work in a shell and in docker compose.

use std::net::SocketAddr;
use std::time::Duration;

use balance_service::config::BalanceArgs;

use crate::orders::RetryPolicy;
use crate::retained::Retention;

/// `order-service`: the order processing service.
#[derive(Debug, Clone, clap::Parser)]
#[command(version)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "ORDERS_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,

    /// Base URL of the balance service. Without it, a balance service runs embedded on an
    /// ephemeral loopback port (still reached over HTTP).
    #[arg(long, env = "BALANCE_URL")]
    pub balance_url: Option<String>,

    /// The file today's totals are saved to after each sale and read back from at start-up,
    /// so a restart carries on from them.
    #[arg(long, env = "ORDERS_STATS_FILE", default_value = "orders-stats.json")]
    pub stats_file: std::path::PathBuf,

    /// Time allowed for each balance service request, in milliseconds.
    #[arg(long, env = "ORDERS_ATTEMPT_TIMEOUT_MS", default_value_t = 500)]
    pub attempt_timeout_ms: u64,

    /// Deduction attempts per order, the first included.
    #[arg(long, env = "ORDERS_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub attempts: u32,

    /// Pause before the first retry, in milliseconds; doubles for each further retry.
    #[arg(long, env = "ORDERS_BACKOFF_MS", default_value_t = 50)]
    pub backoff_ms: u64,

    /// Longest pause between two attempts, in milliseconds.
    #[arg(long, env = "ORDERS_BACKOFF_CAP_MS", default_value_t = 1000)]
    pub backoff_cap_ms: u64,

    /// No retry starts later than this many milliseconds after an order's first attempt.
    #[arg(long, env = "ORDERS_DEADLINE_MS", default_value_t = 5000)]
    pub deadline_ms: u64,

    /// Seconds an order's record (what `GET /orders/{id}` shows) is kept after its last
    /// change; after that the order is forgotten.
    #[arg(long, env = "ORDERS_RETENTION_SECS", default_value_t = Retention::DEFAULT.window.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub order_retention_secs: u64,

    /// Order records kept at most; past it the least recently changed go first.
    #[arg(long, env = "ORDERS_RETAINED", default_value_t = Retention::DEFAULT.cap, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub retained_orders: usize,

    /// How long `GET /balance/{id}` waits for the balance service before it answers with the
    /// balance last seen for the customer, in milliseconds.
    #[arg(long, env = "ORDERS_BALANCE_PATIENCE_MS", default_value_t = 300)]
    pub balance_patience_ms: u64,

    #[command(flatten)]
    pub balance: BalanceArgs,
}

impl Config {
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms)
    }

    /// How long, and how many, order records are kept.
    pub fn order_retention(&self) -> Retention {
        Retention {
            window: Duration::from_secs(self.order_retention_secs),
            cap: self.retained_orders,
        }
    }

    pub fn balance_patience(&self) -> Duration {
        Duration::from_millis(self.balance_patience_ms)
    }

    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            attempts: self.attempts,
            backoff: Duration::from_millis(self.backoff_ms),
            backoff_cap: Duration::from_millis(self.backoff_cap_ms),
            deadline: Duration::from_millis(self.deadline_ms),
        }
    }
}

//! Command-line and environment configuration of both binaries. Every flag has an
//! environment variable, so the same settings work in a shell and in docker compose.

use std::net::SocketAddr;
use std::time::Duration;

use crate::balance::faults::FaultPlan;
use crate::balance::server::BalanceConfig;
use crate::orders::RetryPolicy;

/// The balance service's fault profile and load behaviour: the `balance-service` binary's
/// settings, and the embedded one's when the order service starts it.
#[derive(Debug, Clone, clap::Args)]
pub struct BalanceArgs {
    /// Fault profile: `default` (10-50 ms, ~5% failures before applying, ~5% lost
    /// responses), `none`, or either followed by key=value items, for example
    /// `none,script=drop_response;ok` or `default,fail=0.2,latency=5..20`.
    #[arg(long, env = "BALANCE_FAULTS", default_value = "default")]
    pub faults: FaultPlan,

    /// Seed of the fault decisions; without one, a fresh seed is picked and logged.
    #[arg(long, env = "BALANCE_SEED")]
    pub seed: Option<u64>,

    /// Deductions the balance service processes at once; more wait, so latency grows with
    /// load.
    #[arg(long, env = "BALANCE_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
}

impl BalanceArgs {
    /// The balance service's configuration, with the seed settled: `--seed`, else a
    /// `seed=` in the profile, else a fresh one.
    pub fn config(&self) -> BalanceConfig {
        let mut faults = self.faults.clone();
        if let Some(seed) = self.seed {
            faults.seed = seed;
        } else if faults.seed == 0 {
            faults.seed = crate::random::fresh_seed();
        }
        BalanceConfig {
            faults,
            concurrency: self.concurrency,
        }
    }
}

/// `order-service`: the order processing service.
#[derive(Debug, Clone, clap::Parser)]
#[command(version, about)]
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

    #[command(flatten)]
    pub balance: BalanceArgs,
}

impl Config {
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms)
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

/// `balance-service`: the customer balance service, with fault injection.
#[derive(Debug, Clone, clap::Parser)]
#[command(version, about)]
pub struct BalanceServiceConfig {
    /// Address to listen on.
    #[arg(long, env = "BALANCE_ADDR", default_value = "127.0.0.1:8001")]
    pub addr: SocketAddr,

    #[command(flatten)]
    pub balance: BalanceArgs,
}

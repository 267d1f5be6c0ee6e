//! The balance service's settings: the `balance-service` binary's flags, and the embedded
//! service's when the order service starts one. Every flag has an environment variable.

use std::net::SocketAddr;

use crate::faults::FaultPlan;
use crate::server::BalanceConfig;

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

/// `balance-service`: the customer balance service the order service charges, with
/// deterministic network faults.
#[derive(Debug, Clone, clap::Parser)]
#[command(version)]
pub struct BalanceServiceConfig {
    /// Address to listen on.
    #[arg(long, env = "BALANCE_ADDR", default_value = "127.0.0.1:8001")]
    pub addr: SocketAddr,

    #[command(flatten)]
    pub balance: BalanceArgs,
}

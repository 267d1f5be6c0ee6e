//! The balance service's settings: the `balance-service` binary's flags, and the embedded
//! service's when the order service starts one. Every flag has an environment variable.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use crate::faults::FaultPlan;
use crate::money::Cents;
use crate::retained::Retention;
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

    /// Seconds an idempotency record or ledger entry is kept after its last write; a key
    /// sent again after that is a new request.
    #[arg(long, env = "BALANCE_RECORD_RETENTION_SECS", default_value_t = Retention::DEFAULT.window.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub record_retention_secs: u64,

    /// Idempotency records, and ledger entries, kept at most; past it the oldest go first.
    #[arg(long, env = "BALANCE_RETAINED_RECORDS", default_value_t = Retention::DEFAULT.cap, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub retained_records: usize,

    /// Customers and their opening balances in dollars, `ID=DOLLARS,...`; what `POST /reset`
    /// goes back to. The default is the original exercise's five customers.
    #[arg(long, env = "BALANCE_ACCOUNTS", default_value_t = Accounts::seed())]
    pub accounts: Accounts,
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
            retention: Retention {
                window: Duration::from_secs(self.record_retention_secs),
                cap: self.retained_records,
            },
            accounts: self.accounts.0.clone(),
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

/// Customers and their balances, written `1=500,2=1000.50`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts(pub Vec<(u64, Cents)>);

impl Accounts {
    /// The original exercise's five customers, as `POST /reset` restores them.
    pub fn seed() -> Self {
        Accounts(crate::ledger::SEED_BALANCES.to_vec())
    }
}

impl std::fmt::Display for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|(id, balance)| format!("{id}={balance}"))
            .collect();
        f.write_str(&items.join(","))
    }
}

impl FromStr for Accounts {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut accounts = Vec::new();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let (id, dollars) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?} is not ID=DOLLARS"))?;
            let id: u64 = id
                .trim()
                .parse()
                .map_err(|_| format!("{id:?} is not a customer id"))?;
            let balance = Cents::parse_decimal(dollars.trim())
                .map_err(|error| format!("customer {id}'s balance {dollars:?}: {error}"))?;
            if balance < Cents::ZERO {
                return Err(format!("customer {id}'s balance {dollars:?} is negative"));
            }
            if accounts.iter().any(|(seen, _)| *seen == id) {
                return Err(format!("customer {id} is listed twice"));
            }
            accounts.push((id, balance));
        }
        if accounts.is_empty() {
            return Err("no accounts: give at least one ID=DOLLARS".into());
        }
        Ok(Accounts(accounts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::SEED_BALANCES;

    #[test]
    fn accounts_read_back_what_they_print() {
        let seed = Accounts::seed();
        assert_eq!(
            seed.to_string(),
            "1=500.00,2=1000.00,3=250.00,4=750.00,5=100.00"
        );
        assert_eq!(seed.to_string().parse::<Accounts>().unwrap(), seed);
        assert_eq!(seed.0, SEED_BALANCES);
    }

    #[test]
    fn accounts_take_cents_and_refuse_what_is_not_an_account() {
        let parsed: Accounts = "7=10.25, 8=1".parse().unwrap();
        assert_eq!(parsed.0, [(7, Cents::new(1025)), (8, Cents::dollars(1))]);
        for bad in ["", "7", "x=1", "7=ten", "7=-1", "7=1,7=2", "7=0.001"] {
            assert!(bad.parse::<Accounts>().is_err(), "{bad:?} was accepted");
        }
    }
}

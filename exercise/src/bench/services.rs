//! The services a benchmark runs: a `balance-service` process with the stub's latency and no
//! faults, and an order service in front of it, each a child process.

use std::path::Path;

use anyhow::{Context, Result};

use super::Options;
use crate::child::{Address, Service, Spec};

/// The stub latency of the default profile, in milliseconds.
pub const LATENCY_MS: (u64, u64) = (10, 50);

/// Opening balances for every run: enough one-cent orders that no account runs dry.
const ACCOUNTS: &str = "1=10000000,2=10000000,3=10000000,4=10000000,5=10000000";

/// How the balance stub answers in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The default profile's 10-50 ms per deduction.
    Latency,
    /// No latency: the order service's own cost.
    NoLatency,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Latency, Profile::NoLatency];

    pub fn label(self) -> String {
        match self {
            Profile::Latency => format!("latency {}-{} ms", LATENCY_MS.0, LATENCY_MS.1),
            Profile::NoLatency => "no latency".to_owned(),
        }
    }

    /// The balance service's fault plan.
    pub fn faults(self) -> String {
        match self {
            Profile::Latency => format!("none,latency={}..{}", LATENCY_MS.0, LATENCY_MS.1),
            Profile::NoLatency => "none".to_owned(),
        }
    }
}

/// VmRSS of a process, from /proc.
pub fn resident_kib(service: &Service) -> Result<u64> {
    let pid = service.pid().context("the service has exited")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// A `balance-service` process with `faults`, a slot per connection, money for any run, and
/// `extra` settings.
pub async fn balance(
    binary: &Path,
    faults: &str,
    options: &Options,
    log: &Path,
    extra: &[(String, String)],
) -> Result<Service> {
    let spec = Spec::new(
        "the balance-service",
        binary,
        log,
        Address::Logged {
            marker: "balance service listening",
        },
    )
    .env("BALANCE_ADDR", "127.0.0.1:0")
    .env("BALANCE_FAULTS", faults)
    .env("BALANCE_SEED", "1")
    .env("BALANCE_CONCURRENCY", options.connections.to_string())
    .env("BALANCE_ACCOUNTS", ACCOUNTS)
    .env("RUST_LOG", "warn,balance_service=info")
    .envs(extra);
    Service::start(spec).await
}

/// An order service `binary` in front of the balance service at `balance_url`, with its
/// default settings and `extra` ones.
pub async fn order_service(
    binary: &Path,
    balance_url: &str,
    log: &Path,
    extra: &[(String, String)],
) -> Result<Service> {
    Service::start(crate::drive::order_service(binary, balance_url, log).envs(extra)).await
}

/// A balance service with `faults` and the order service `binary` in front of it.
pub struct Pair {
    pub balance: Service,
    pub orders: Service,
}

impl Pair {
    pub async fn start(
        binary: &Path,
        balance_binary: &Path,
        faults: &str,
        options: &Options,
        logs: &Path,
        name: &str,
    ) -> Result<Pair> {
        let balance = balance(
            balance_binary,
            faults,
            options,
            &logs.join(format!("balance-{name}.log")),
            &[],
        )
        .await?;
        let orders = order_service(
            binary,
            &balance.url(),
            &logs.join(format!("order-service-{name}.log")),
            &[],
        )
        .await?;
        Ok(Pair { balance, orders })
    }
}

/// The order count the service reports, to size "orders served".
pub async fn order_count(http: &reqwest::Client, url: &str) -> Result<u64> {
    let stats: serde_json::Value = http
        .get(format!("{url}/stats"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("read {url}/stats"))?;
    stats["order_count"]
        .as_u64()
        .context("no order_count in /stats")
}

pub async fn reset(http: &reqwest::Client, url: &str) -> Result<()> {
    http.post(format!("{url}/reset"))
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("POST {url}/reset"))?;
    Ok(())
}

//! A long full-speed run of one build, sampling both services' resident memory, to see it
//! stay flat once records start to expire.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::measure::Bench;
use super::services::{self, resident_kib};
use super::wrk::{self, Round};

/// What a soak run saw: resident memory of both services every `every`.
#[derive(Debug)]
pub struct Soak {
    pub retention: Duration,
    pub every: Duration,
    /// (seconds since start, order service KiB, balance service KiB, orders so far)
    pub samples: Vec<(u64, u64, u64, u64)>,
    pub round: Round,
}

/// Runs `binary` at full speed (no stub latency) for `length`, with both services keeping
/// records for `retention`, and samples their resident memory.
pub async fn soak(
    bench: &Bench,
    binary: &Path,
    length: Duration,
    retention: Duration,
) -> Result<Soak> {
    let (options, script, logs) = (&bench.options, bench.script.as_path(), &bench.logs);
    let window = [(
        "BALANCE_RECORD_RETENTION_SECS".to_owned(),
        retention.as_secs().to_string(),
    )];
    let balance = services::balance(
        &bench.balance,
        "none",
        options,
        &logs.join("balance-soak.log"),
        &window,
    )
    .await?;
    let orders = services::order_service(
        binary,
        &balance.url(),
        &logs.join("order-service-soak.log"),
        &[(
            "ORDERS_RETENTION_SECS".to_owned(),
            retention.as_secs().to_string(),
        )],
    )
    .await?;
    let http = &bench.http;
    let url = orders.url();
    let every = Duration::from_secs(10)
        .min(length / 4)
        .max(Duration::from_secs(1));
    let load = wrk::round(&url, Some(script), options, length);
    tokio::pin!(load);
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut ticks = tokio::time::interval(every);
    let round = loop {
        tokio::select! {
            result = &mut load => break result?,
            _ = ticks.tick() => {
                let served = services::order_count(http, &url).await.unwrap_or(0);
                let sample = (
                    started.elapsed().as_secs(),
                    resident_kib(&orders)?,
                    resident_kib(&balance)?,
                    served,
                );
                eprintln!(
                    "==> soak {:>4} s: order service {:.1} MiB, balance service {:.1} MiB, {} orders",
                    sample.0,
                    sample.1 as f64 / 1024.0,
                    sample.2 as f64 / 1024.0,
                    sample.3
                );
                samples.push(sample);
            }
        }
    };
    Ok(Soak {
        retention,
        every,
        samples,
        round,
    })
}

/// The soak's samples, and how flat memory stayed once the window was reached.
pub fn render(soak: &Soak) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nsoak: {:.0} orders/s for {} s, records kept {} s; resident memory every {} s",
        soak.round.requests_per_sec,
        soak.samples.last().map_or(0, |s| s.0),
        soak.retention.as_secs(),
        soak.every.as_secs()
    );
    let _ = writeln!(
        out,
        "{:>6} {:>16} {:>18} {:>12}",
        "s", "order service", "balance service", "orders"
    );
    for (at, orders, balance, served) in &soak.samples {
        let _ = writeln!(
            out,
            "{at:>6} {:>12.1} MiB {:>14.1} MiB {served:>12}",
            *orders as f64 / 1024.0,
            *balance as f64 / 1024.0
        );
    }
    // Steady state: from twice the window on, when the first records have expired and the
    // allocator has settled.
    let steady: Vec<_> = soak
        .samples
        .iter()
        .filter(|(at, ..)| *at >= 2 * soak.retention.as_secs())
        .collect();
    for (name, pick) in [
        (
            "order service",
            (|s: &(u64, u64, u64, u64)| s.1) as fn(&(u64, u64, u64, u64)) -> u64,
        ),
        ("balance service", |s| s.2),
    ] {
        let values: Vec<u64> = steady.iter().map(|s| pick(s)).collect();
        match (values.iter().min(), values.iter().max()) {
            (Some(&low), Some(&high)) if low > 0 => {
                let _ = writeln!(
                    out,
                    "{name}: {:.1} to {:.1} MiB from {} s on, max/min {:.2} (goal <= 1.20)",
                    low as f64 / 1024.0,
                    high as f64 / 1024.0,
                    2 * soak.retention.as_secs(),
                    high as f64 / low as f64
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "{name}: no samples after twice the window; soak longer"
                );
            }
        }
    }
    out
}

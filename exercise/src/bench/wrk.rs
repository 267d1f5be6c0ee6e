//! Driving wrk (Debian's `wrk` package) and reading its report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::Command;

use super::Options;

/// One wrk run.
#[derive(Debug, Clone)]
pub struct Round {
    pub requests_per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Answers other than 2xx, and socket errors (connect, read, write, timeout).
    pub errors: u64,
}

/// The wrk binary, or a message saying how to get it.
fn wrk() -> Result<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("wrk"))
        .find(|candidate| candidate.is_file());
    found.context("`exercise bench` runs wrk, which is not installed: apt-get install wrk")
}

/// Runs wrk once against `url` for `duration`, with `script` shaping each request.
pub async fn round(
    url: &str,
    script: Option<&Path>,
    options: &Options,
    duration: Duration,
) -> Result<Round> {
    let mut command = Command::new(wrk()?);
    command.args([
        "--latency",
        "-t",
        &options.threads.to_string(),
        "-c",
        &options.connections.to_string(),
        "-d",
        &format!("{}s", duration.as_secs().max(1)),
        "--timeout",
        "10s",
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command
        .arg(url)
        .kill_on_drop(true)
        .output()
        .await
        .context("run wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&text).with_context(|| format!("read wrk's report:\n{text}"))
}

/// Reads requests/s, the 50th and 99th percentile latency and the errors from wrk's report.
fn parse(text: &str) -> Result<Round> {
    let mut requests_per_sec = None;
    let (mut p50, mut p99) = (None, None);
    let mut errors = 0;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            requests_per_sec = rest.trim().parse::<f64>().ok();
        } else if let Some(rest) = line.strip_prefix("50%") {
            p50 = parse_duration(rest.trim());
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99 = parse_duration(rest.trim());
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += rest.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            errors += rest
                .split(',')
                .filter_map(|item| item.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    Ok(Round {
        requests_per_sec: requests_per_sec.context("no Requests/sec")?,
        p50: p50.context("no 50% latency")?,
        p99: p99.context("no 99% latency")?,
        errors,
    })
}

/// wrk's durations: `812.00us`, `31.52ms`, `1.02s`, `2.00m`.
fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The mean requests/s of `rounds`.
pub fn mean(rounds: &[Round]) -> f64 {
    rounds.iter().map(|r| r.requests_per_sec).sum::<f64>() / rounds.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_wrk_report() {
        let text = "Running 10s test @ http://127.0.0.1:8000/orders
  2 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    31.52ms   11.73ms  60.03ms   57.65%
    Req/Sec     4.05k   200.10     4.50k    70.00%
  Latency Distribution
     50%   31.00ms
     75%   41.20ms
     90%   47.10ms
     99%   52.33ms
  80812 requests in 10.01s, 12.34MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   8073.12
Transfer/sec:      1.23MB
";
        let round = parse(text).unwrap();
        assert_eq!(round.requests_per_sec, 8073.12);
        assert_eq!(round.p50, Duration::from_micros(31_000));
        assert_eq!(round.p99, Duration::from_micros(52_330));
        assert_eq!(round.errors, 7);
    }

    #[test]
    fn reads_wrk_durations() {
        assert_eq!(parse_duration("812.00us"), Some(Duration::from_micros(812)));
        assert_eq!(parse_duration("1.50s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2.00m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("fast"), None);
    }
}

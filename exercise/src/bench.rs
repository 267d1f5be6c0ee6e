//! `exercise bench`: how fast the order service serves orders, and how much memory it holds,
//! measured with wrk (Debian's `wrk` package) against release builds started here.
//!
//! Each build runs behind its own `balance-service` process, with the stub's latency and
//! no faults: the question is the order service's own cost, and a fault plan would make
//! rounds differ by what it drew. The balance service gets as many processing slots as wrk
//! has connections, so the stub's latency is the only wait and the latency-bound limit is
//! exactly connections / mean latency.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The stub latency of the default profile, in milliseconds.
const LATENCY_MS: (u64, u64) = (10, 50);

/// Opening balances for every run: enough one-cent orders that no account runs dry.
const ACCOUNTS: &str = "1=10000000,2=10000000,3=10000000,4=10000000,5=10000000";

#[derive(Debug, Clone)]
pub struct Options {
    /// Length of each measured round.
    pub duration: Duration,
    /// wrk's connections.
    pub connections: u32,
    /// wrk's threads.
    pub threads: u32,
    /// Rounds of each measurement.
    pub rounds: usize,
}

/// One wrk run.
#[derive(Debug, Clone)]
pub struct Round {
    pub requests_per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Answers other than 2xx, and socket errors (connect, read, write, timeout).
    pub errors: u64,
}

/// What the service rounds measured.
#[derive(Debug, Default)]
pub struct Report {
    /// (label, rounds)
    pub rows: Vec<(String, Vec<Round>)>,
    /// (build, resident KiB after start, resident KiB after its rounds, orders it served)
    pub memory: Vec<(String, u64, u64, u64)>,
    pub limit: f64,
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

/// A child process that is killed when dropped.
struct Process {
    child: Child,
    url: String,
}

impl Process {
    fn resident_kib(&self) -> Result<u64> {
        resident_kib(self.child.id())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VmRSS of a process, from /proc.
fn resident_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn spawn(binary: &Path, envs: &[(&str, String)], log: &Path) -> Result<Process> {
    let port = free_port()?;
    let log_file =
        std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let child = Command::new(binary)
        .envs(envs.iter().map(|(key, value)| (*key, value.as_str())))
        .env("ORDERS_ADDR", format!("127.0.0.1:{port}"))
        .env("BALANCE_ADDR", format!("127.0.0.1:{port}"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("start {}", binary.display()))?;
    let mut process = Process {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = process.child.try_wait() {
            bail!(
                "{} exited with {status}; see {}",
                binary.display(),
                log.display()
            );
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(process);
        }
        if started.elapsed() > Duration::from_secs(20) {
            bail!(
                "{} did not listen within 20 s; see {}",
                binary.display(),
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The stub's two profiles: (label, fault plan).
fn profiles() -> [(String, String); 2] {
    [
        (
            format!("latency {}-{} ms", LATENCY_MS.0, LATENCY_MS.1),
            format!("none,latency={}..{}", LATENCY_MS.0, LATENCY_MS.1),
        ),
        ("no latency".to_owned(), "none".to_owned()),
    ]
}

/// The balance service's settings for a bench run: `faults`, a slot per connection, money
/// for any run.
fn balance_env(faults: &str, options: &Options) -> Vec<(&'static str, String)> {
    vec![
        ("BALANCE_FAULTS", faults.to_owned()),
        ("BALANCE_SEED", "1".into()),
        ("BALANCE_CONCURRENCY", options.connections.to_string()),
        ("BALANCE_ACCOUNTS", ACCOUNTS.into()),
        ("RUST_LOG", "warn".into()),
    ]
}

/// A balance service with `faults` and a slot per connection, and the order service
/// `binary` in front of it with its default settings.
struct Pair {
    balance: Process,
    orders: Process,
}

fn start_pair(
    binary: &Path,
    balance_binary: &Path,
    faults: &str,
    options: &Options,
    logs: &Path,
    name: &str,
) -> Result<Pair> {
    std::fs::create_dir_all(logs)?;
    let balance = spawn(
        balance_binary,
        &balance_env(faults, options),
        &logs.join(format!("balance-{name}.log")),
    )?;
    let stats_file = logs.join(format!("stats-{name}.json"));
    let _ = std::fs::remove_file(&stats_file);
    let orders = spawn(
        binary,
        &[
            ("BALANCE_URL", balance.url.clone()),
            ("ORDERS_STATS_FILE", stats_file.display().to_string()),
        ],
        &logs.join(format!("order-service-{name}.log")),
    )?;
    Ok(Pair { balance, orders })
}

/// Runs wrk once against `url` and reads its report.
fn run_wrk(
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
    let output = command.arg(url).output().context("run wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_wrk(&text).with_context(|| format!("read wrk's report:\n{text}"))
}

/// Reads requests/s, the 50th and 99th percentile latency and the errors from wrk's report.
fn parse_wrk(text: &str) -> Result<Round> {
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

/// The order count the service reports, to size "orders served".
async fn order_count(http: &reqwest::Client, url: &str) -> Result<u64> {
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

async fn reset(http: &reqwest::Client, url: &str) -> Result<()> {
    http.post(format!("{url}/reset"))
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("POST {url}/reset"))?;
    Ok(())
}

/// wrk in a blocking thread, off the runtime.
async fn wrk_round(
    url: &str,
    script: Option<&Path>,
    options: &Options,
    duration: Duration,
) -> Result<Round> {
    let (url, script, options) = (url.to_owned(), script.map(Path::to_owned), options.clone());
    tokio::task::spawn_blocking(move || run_wrk(&url, script.as_deref(), &options, duration))
        .await
        .context("wrk's thread")?
}

/// The service rounds: `GET /health`, then each build under the stub's latency and with
/// none, `options.rounds` times each, interleaved so drift hits every row alike.
pub async fn measure(
    builds: &[(String, PathBuf)],
    balance_binary: &Path,
    script: &Path,
    options: &Options,
    logs: &Path,
) -> Result<Report> {
    let mean_latency = (LATENCY_MS.0 + LATENCY_MS.1) as f64 / 2.0 / 1e3;
    let mut report = Report {
        limit: f64::from(options.connections) / mean_latency,
        ..Report::default()
    };
    let warm_up = Duration::from_secs(2);
    let http = reqwest::Client::builder().no_proxy().build()?;
    let profiles = profiles();

    let (last_name, last_binary) = builds.last().context("no builds to measure")?;
    {
        // What the stub serves on its own under the same latency: the most any build in
        // front of it can reach on this machine.
        let (label, faults) = &profiles[0];
        eprintln!("==> the balance service alone, {label}");
        let pair = start_pair(last_binary, balance_binary, faults, options, logs, "alone")?;
        let deductions = script.with_file_name("deductions.lua");
        let url = &pair.balance.url;
        wrk_round(url, Some(&deductions), options, warm_up).await?;
        let mut rounds = Vec::new();
        for _ in 0..options.rounds {
            rounds.push(wrk_round(url, Some(&deductions), options, options.duration).await?);
        }
        report
            .rows
            .push((format!("balance service alone, {label}"), rounds));
    }
    {
        eprintln!("==> GET /health on the {last_name} build");
        let pair = start_pair(last_binary, balance_binary, "none", options, logs, "health")?;
        let url = format!("{}/health", pair.orders.url);
        wrk_round(&url, None, options, warm_up).await?;
        let mut rounds = Vec::new();
        for _ in 0..options.rounds {
            rounds.push(wrk_round(&url, None, options, options.duration).await?);
        }
        report
            .rows
            .push((format!("GET /health ({last_name})"), rounds));
        drop(pair.balance);
    }

    for (profile, faults) in &profiles {
        let mut pairs = Vec::new();
        for (name, binary) in builds {
            let pair = start_pair(binary, balance_binary, faults, options, logs, name)?;
            let before = pair.orders.resident_kib()?;
            pairs.push((name, pair, before, 0u64));
        }
        let mut rows: Vec<Vec<Round>> = vec![Vec::new(); pairs.len()];
        for round in 0..=options.rounds {
            for (index, (name, pair, _, served)) in pairs.iter_mut().enumerate() {
                let url = &pair.orders.url;
                reset(&http, url).await?;
                if round == 0 {
                    eprintln!("==> {name}, {profile}: warming up");
                    wrk_round(url, Some(script), options, warm_up).await?;
                    continue;
                }
                eprintln!("==> {name}, {profile}: round {round}/{}", options.rounds);
                let result = wrk_round(url, Some(script), options, options.duration).await?;
                *served += order_count(&http, url).await?;
                rows[index].push(result);
            }
        }
        for ((name, pair, before, served), rounds) in pairs.into_iter().zip(rows) {
            let after = pair.orders.resident_kib()?;
            report.rows.push((format!("{name}, {profile}"), rounds));
            if profile.starts_with("no latency") {
                report.memory.push((name.clone(), before, after, served));
            }
        }
    }
    Ok(report)
}

/// Stage two's cost: the fixed build with the memory store, one process, against the fixed
/// build with the Postgres store, `replicas` processes behind nginx, under the stub's latency
/// and with none. Rows are added to `report`.
#[allow(clippy::too_many_arguments)]
pub async fn measure_replicas(
    memory_binary: &Path,
    postgres_binary: &Path,
    balance_binary: &Path,
    database_url: &str,
    replicas: usize,
    script: &Path,
    options: &Options,
    logs: &Path,
    report: &mut Report,
) -> Result<()> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    let warm_up = Duration::from_secs(2);
    for (label, faults) in profiles() {
        let memory = start_pair(
            memory_binary,
            balance_binary,
            &faults,
            options,
            logs,
            "memory",
        )?;
        let name = format!("fixed, memory store, 1 process, {label}");
        let rounds =
            rounds_against(&http, &memory.orders.url, &name, script, options, warm_up).await?;
        report.rows.push((name, rounds));
        drop(memory);

        let balance = spawn(
            balance_binary,
            &balance_env(&faults, options),
            &logs.join("balance-postgres.log"),
        )?;
        let mut services = Vec::new();
        for n in 1..=replicas {
            services.push(spawn(
                postgres_binary,
                &[
                    ("BALANCE_URL", balance.url.clone()),
                    ("ORDERS_STORE", "postgres".into()),
                    ("DATABASE_URL", database_url.to_owned()),
                ],
                &logs.join(format!("order-service-postgres-{n}.log")),
            )?);
        }
        let urls: Vec<String> = services.iter().map(|s| s.url.clone()).collect();
        let nginx = crate::lb::start(&logs.join("nginx"), &urls)?;
        let name = format!("fixed, postgres store, {replicas} behind nginx, {label}");
        let rounds = rounds_against(&http, &nginx.url, &name, script, options, warm_up).await?;
        report.rows.push((name, rounds));
    }
    Ok(())
}

/// A warm-up, then `options.rounds` measured rounds, each after `POST /reset`.
async fn rounds_against(
    http: &reqwest::Client,
    url: &str,
    name: &str,
    script: &Path,
    options: &Options,
    warm_up: Duration,
) -> Result<Vec<Round>> {
    reset(http, url).await?;
    eprintln!("==> {name}: warming up");
    wrk_round(url, Some(script), options, warm_up).await?;
    let mut rounds = Vec::new();
    for round in 1..=options.rounds {
        eprintln!("==> {name}: round {round}/{}", options.rounds);
        reset(http, url).await?;
        rounds.push(wrk_round(url, Some(script), options, options.duration).await?);
    }
    Ok(rounds)
}

fn mean(rounds: &[Round]) -> f64 {
    rounds.iter().map(|r| r.requests_per_sec).sum::<f64>() / rounds.len().max(1) as f64
}

fn row<'a>(report: &'a Report, prefix: &str) -> Option<&'a [Round]> {
    report
        .rows
        .iter()
        .find(|(label, _)| label.starts_with(prefix))
        .map(|(_, rounds)| rounds.as_slice())
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// The table, the ratios against their goals, and the memory figures.
pub fn render(report: &Report, options: &Options, timings: &[(String, Duration)]) -> String {
    let mut out = String::new();
    if !report.rows.is_empty() {
        render_service(&mut out, report, options);
    }
    render_timings(&mut out, timings);
    out
}

/// The service rounds, the ratios and the memory.
fn render_service(out: &mut String, report: &Report, options: &Options) {
    let _ = writeln!(
        out,
        "wrk: {} connections, {} threads, {} s rounds; the balance service has {} slots and no faults",
        options.connections,
        options.threads,
        options.duration.as_secs(),
        options.connections
    );
    let _ = writeln!(
        out,
        "\n{:<58} {:>10} {:>10} {:>10} {:>8}",
        "round", "req/s", "p50", "p99", "errors"
    );
    for (label, rounds) in &report.rows {
        for (index, round) in rounds.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:<58} {:>10.0} {:>10} {:>10} {:>8}",
                format!("{label} #{}", index + 1),
                round.requests_per_sec,
                millis(round.p50),
                millis(round.p99),
                round.errors
            );
        }
    }
    let _ = writeln!(
        out,
        "\nlatency-bound limit: {} connections / {} ms mean stub latency = {:.0} orders/s",
        options.connections,
        (LATENCY_MS.0 + LATENCY_MS.1) / 2,
        report.limit
    );

    let _ = writeln!(
        out,
        "\n{:<52} {:>11} {:>6}   goal",
        "ratio", "worst round", "mean"
    );
    let latency = format!("latency {}-{} ms", LATENCY_MS.0, LATENCY_MS.1);
    let fixed_latency = row(report, &format!("fixed, {latency}"));
    let buggy_latency = row(report, &format!("buggy, {latency}"));
    let fixed_zero = row(report, "fixed, no latency");
    let buggy_zero = row(report, "buggy, no latency");
    let health = row(report, "GET /health");
    let alone = row(report, "balance service alone");
    let mut ratio = |name: &str, top: Option<&[Round]>, bottom: Option<f64>, goal: &str| {
        let (Some(top), Some(bottom)) = (top, bottom) else {
            return;
        };
        let worst = top
            .iter()
            .map(|r| r.requests_per_sec / bottom)
            .fold(f64::INFINITY, f64::min);
        let _ = writeln!(
            out,
            "{name:<52} {worst:>11.2} {:>6.2}   {goal}",
            mean(top) / bottom
        );
    };
    let limit = Some(report.limit);
    ratio(
        "fixed / limit, with latency",
        fixed_latency,
        limit,
        ">= 0.95 every round",
    );
    ratio(
        "balance service alone / limit",
        alone,
        limit,
        "(the stub's own overhead)",
    );
    ratio(
        "fixed / balance service alone",
        fixed_latency,
        alone.map(mean),
        "(what is reachable)",
    );
    ratio(
        "fixed / buggy, with latency",
        fixed_latency,
        buggy_latency.map(mean),
        ">= 0.95",
    );
    ratio(
        "fixed / buggy, no latency",
        fixed_zero,
        buggy_zero.map(mean),
        ">= 0.95",
    );
    ratio(
        "fixed / GET /health, no latency",
        fixed_zero,
        health.map(mean),
        ">= 0.30",
    );
    for label in ["latency", "no latency"] {
        let suffix = if label == "latency" {
            format!("latency {}-{} ms", LATENCY_MS.0, LATENCY_MS.1)
        } else {
            "no latency".to_owned()
        };
        let postgres = report
            .rows
            .iter()
            .find(|(name, _)| name.starts_with("fixed, postgres store") && name.ends_with(&suffix));
        let memory = row(report, &format!("fixed, memory store, 1 process, {suffix}"));
        if let Some((name, rounds)) = postgres {
            let replicas = name.split(", ").nth(2).unwrap_or("replicas");
            ratio(
                &format!("postgres {replicas} / memory 1, {suffix}"),
                Some(rounds),
                memory.map(mean),
                "(measured, no goal)",
            );
        }
    }
    if let Some(rounds) = fixed_latency {
        let worst = rounds.iter().map(|r| r.p99).max().unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<52} {:>11}            <= 55 ms",
            "fixed p99, with latency",
            millis(worst)
        );
    }

    if !report.memory.is_empty() {
        let _ = writeln!(
            out,
            "\nresident memory of the order service (no-latency rounds)"
        );
        for (name, before, after, served) in &report.memory {
            let _ = writeln!(
                out,
                "{name:<8} {:>8.1} MiB after start, {:>8.1} MiB after the warm-up and {} rounds ({served} orders in /stats)",
                *before as f64 / 1024.0,
                *after as f64 / 1024.0,
                options.rounds
            );
        }
    }
}

/// How long the harness and the builds took, and the build ratios against their goal.
fn render_timings(out: &mut String, timings: &[(String, Duration)]) {
    if !timings.is_empty() {
        let _ = writeln!(out, "\nharness");
        for (what, took) in timings {
            let _ = writeln!(out, "{what:<64} {:>7.1} s", took.as_secs_f64());
        }
        // HEAD against the baseline, for each cold build both were timed on.
        for (what, took) in timings
            .iter()
            .filter(|(what, _)| what.starts_with("HEAD: "))
        {
            let step = &what["HEAD: ".len()..];
            let baseline = timings.iter().find(|(other, _)| {
                !other.starts_with("HEAD: ") && other.ends_with(&format!(": {step}"))
            });
            if let Some((other, before)) = baseline {
                let rev = other.split(':').next().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "HEAD / {rev}, {step}: {:.2} (goal <= 0.70)",
                    took.as_secs_f64() / before.as_secs_f64()
                );
            }
        }
    }
}

/// Builds the release `balance-service` binary and copies it out of `target/`.
pub fn build_balance(root: &Path) -> Result<PathBuf> {
    let mut command = crate::tools::cargo();
    command.current_dir(root).env_remove("RUSTFLAGS").args([
        "build",
        "--release",
        "--quiet",
        "--package",
        "balance-service",
        "--bin",
        "balance-service",
    ]);
    crate::tools::run_cargo(command, "build the balance-service")?;
    Ok(root.join("target/release/balance-service"))
}

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
    binary: &Path,
    balance_binary: &Path,
    script: &Path,
    options: &Options,
    length: Duration,
    retention: Duration,
    logs: &Path,
) -> Result<Soak> {
    std::fs::create_dir_all(logs)?;
    let window = retention.as_secs().to_string();
    let mut env = balance_env("none", options);
    env.push(("BALANCE_RECORD_RETENTION_SECS", window.clone()));
    let balance = spawn(balance_binary, &env, &logs.join("balance-soak.log"))?;
    let stats_file = logs.join("stats-soak.json");
    let _ = std::fs::remove_file(&stats_file);
    let orders = spawn(
        binary,
        &[
            ("BALANCE_URL", balance.url.clone()),
            ("ORDERS_STATS_FILE", stats_file.display().to_string()),
            ("ORDERS_RETENTION_SECS", window),
        ],
        &logs.join("order-service-soak.log"),
    )?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let every = Duration::from_secs(10)
        .min(length / 4)
        .max(Duration::from_secs(1));
    let load = wrk_round(&orders.url, Some(script), options, length);
    tokio::pin!(load);
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut ticks = tokio::time::interval(every);
    let round = loop {
        tokio::select! {
            result = &mut load => break result?,
            _ = ticks.tick() => {
                let served = order_count(&http, &orders.url).await.unwrap_or(0);
                let sample = (
                    started.elapsed().as_secs(),
                    orders.resident_kib()?,
                    balance.resident_kib()?,
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
pub fn render_soak(soak: &Soak) -> String {
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

/// Runs `command`, failing with its output when it fails, and says how long it took.
fn timed(command: Command, what: &str) -> Result<Duration> {
    timed_with(command, what, &[0])
}

/// [`timed`], for a command whose exit codes in `expected` all mean it did its work (`grade`
/// exits 1 when a bug is not fixed, which an unmodified export never is).
fn timed_with(mut command: Command, what: &str, expected: &[i32]) -> Result<Duration> {
    eprintln!("==> {what}");
    let started = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot {what}"))?;
    let took = started.elapsed();
    if !output
        .status
        .code()
        .is_some_and(|code| expected.contains(&code))
    {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<_> = stderr.lines().rev().take(30).collect();
        bail!(
            "could not {what} ({}):\n{}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(took)
}

/// This harness, as a command, on the repository at `root`.
fn harness(root: &Path) -> Result<Command> {
    let mut command = Command::new(std::env::current_exe().context("find this harness")?);
    command.arg("--root").arg(root);
    Ok(command)
}

/// Times what an interviewer waits for: `grade` on a fresh export with its build
/// directories removed (cold), the same again (warm), and `verify`.
pub fn time_harness(root: &Path, scratch: &Path) -> Result<Vec<(String, Duration)>> {
    let candidate = scratch.join("grade-candidate");
    let _ = std::fs::remove_dir_all(&candidate);
    let mut export = harness(root)?;
    export.arg("export").arg("--out").arg(&candidate);
    timed(export, "export a candidate's crate")?;
    for dir in ["target/grade", "target/grade-loom", "target/grade-work"] {
        let _ = std::fs::remove_dir_all(root.join(dir));
    }
    let mut timings = Vec::new();
    for label in [
        "exercise grade, unmodified export, cold",
        "exercise grade, the same again, warm",
    ] {
        let mut grade = harness(root)?;
        grade.arg("grade").arg(&candidate);
        timings.push((label.to_owned(), timed_with(grade, label, &[0, 1])?));
    }
    let mut verify = harness(root)?;
    verify.arg("verify");
    let label = "exercise verify (1 run of each of 5 builds)";
    timings.push((label.to_owned(), timed(verify, label)?));
    Ok(timings)
}

/// Cold build times of the tree at `baseline` and of HEAD, alternating, each in a fresh
/// target directory: the candidate's export (`cargo build && cargo test --no-run`) and
/// `cargo build --release` of the order service, as `cargo run --release` builds it.
pub fn time_builds(root: &Path, baseline: &str, scratch: &Path) -> Result<Vec<(String, Duration)>> {
    let mut trees = Vec::new();
    for rev in [baseline, "HEAD"] {
        // Outside the repository: a tree under its target/ would be taken for a package of
        // its workspace.
        let dir = std::env::temp_dir()
            .join("order-service-bench-trees")
            .join(format!("tree-{}", rev.to_lowercase()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "git -C '{}' archive {rev} | tar -x -C '{}'",
                root.display(),
                dir.display()
            ))
            .status()
            .context("run git archive")?;
        if !status.success() {
            bail!("git archive {rev} failed");
        }
        // Each tree exports itself with its own harness (built once, untimed).
        let export = dir.join("candidate-export");
        // Before the workspace split the harness was a binary of the one package.
        let harness = if dir.join("exercise/Cargo.toml").exists() {
            ["--package", "exercise"]
        } else {
            ["--bin", "exercise"]
        };
        let mut command = crate::tools::cargo();
        command
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", scratch.join("harness"))
            .args(["run", "--quiet"])
            .args(harness)
            .args(["--", "export", "--out"])
            .arg(&export);
        timed(command, &format!("export the candidate's crate of {rev}"))?;
        trees.push((rev.to_owned(), dir, export));
    }
    let mut timings = Vec::new();
    for step in ["export", "release"] {
        for (rev, dir, export) in &trees {
            let target = scratch.join(format!("target-{step}-{}", rev.to_lowercase()));
            let _ = std::fs::remove_dir_all(&target);
            let took = if step == "export" {
                let mut build = crate::tools::cargo();
                build
                    .current_dir(export)
                    .env("CARGO_TARGET_DIR", &target)
                    .args(["build", "--quiet"]);
                let built = timed(build, &format!("{rev}: the export, cargo build"))?;
                let mut tests = crate::tools::cargo();
                tests
                    .current_dir(export)
                    .env("CARGO_TARGET_DIR", &target)
                    .args(["test", "--no-run", "--quiet"]);
                built + timed(tests, &format!("{rev}: the export, cargo test --no-run"))?
            } else {
                let mut build = crate::tools::cargo();
                build
                    .current_dir(dir)
                    .env("CARGO_TARGET_DIR", &target)
                    .args(["build", "--release", "--quiet", "--bin", "order-service"]);
                timed(
                    build,
                    &format!("{rev}: cargo build --release, a fresh clone"),
                )?
            };
            let _ = std::fs::remove_dir_all(&target);
            let label = match step {
                "export" => format!("{rev}: export, cargo build && cargo test --no-run, cold"),
                _ => format!("{rev}: fresh clone, cargo build --release, cold"),
            };
            timings.push((label, took));
        }
    }
    Ok(timings)
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
        let round = parse_wrk(text).unwrap();
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

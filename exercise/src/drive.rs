//! Running the black-box scenarios against a built `order-service` binary: the balance
//! service runs in this process with the scenario's fault plan, the order service runs as a
//! child process pointed at it, and the scenario talks to both over HTTP.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use balance_service::server::{BalanceConfig, BalanceServer};

use crate::suite::{Observation, Scenario};
use scenarios::services::{Setup, TestApp};

/// Builds `order-service` with `features` (release) and copies it out of `target/`, so
/// builds with different features can sit side by side.
pub fn build_binary(root: &Path, name: &str, features: &[String]) -> Result<PathBuf> {
    let mut command = crate::tools::cargo();
    command.current_dir(root).env_remove("RUSTFLAGS").args([
        "build",
        "--release",
        "--quiet",
        "--bin",
        "order-service",
    ]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    crate::tools::run_cargo(command, &format!("build the {name} order-service"))?;
    let built = root.join("target/release/order-service");
    let dir = root.join("target/exercise/bin");
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join(format!("order-service-{name}"));
    std::fs::copy(&built, &copy).with_context(|| format!("copy {}", built.display()))?;
    Ok(copy)
}

/// A launched pair of services; dropping it stops both.
pub struct Launched {
    pub app: Arc<TestApp>,
    _order_service: OrderService,
    balance: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Launched {
    fn drop(&mut self) {
        self.balance.abort();
    }
}

/// Starts a balance service in this process with `setup`'s fault plan: its URL, and the task
/// serving it.
pub async fn start_balance(
    setup: &Setup,
) -> Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let balance = BalanceServer::bind(
        ([127, 0, 0, 1], 0).into(),
        BalanceConfig {
            faults: setup.faults.clone(),
            concurrency: setup.concurrency,
            ..BalanceConfig::default()
        },
    )
    .await
    .context("bind a balance service")?;
    let url = balance.url();
    Ok((url, tokio::spawn(balance.run(std::future::pending()))))
}

/// An order service running as a child process; dropping it stops it.
pub struct OrderService {
    pub url: String,
    child: Child,
}

impl Drop for OrderService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `binary` in front of the balance service at `balance_url`, with `setup`'s retry
/// settings and the `extra` environment, logging to `log`, and waits until it answers.
pub async fn start_order_service(
    binary: &Path,
    balance_url: &str,
    setup: &Setup,
    log: &Path,
    extra: &[(&str, String)],
) -> Result<OrderService> {
    let port = free_port()?;
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let log_file =
        std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    // A fresh stats file for every launch: a run must not carry on from the last one's totals.
    let stats_file = log.with_extension("stats.json");
    let _ = std::fs::remove_file(&stats_file);
    let retry = setup.retry;
    let child = Command::new(binary)
        .env("ORDERS_ADDR", format!("127.0.0.1:{port}"))
        .env("BALANCE_URL", balance_url)
        .env(
            "ORDERS_ATTEMPT_TIMEOUT_MS",
            setup.attempt_timeout.as_millis().to_string(),
        )
        .env("ORDERS_ATTEMPTS", retry.attempts.to_string())
        .env("ORDERS_BACKOFF_MS", retry.backoff.as_millis().to_string())
        .env(
            "ORDERS_BACKOFF_CAP_MS",
            retry.backoff_cap.as_millis().to_string(),
        )
        .env("ORDERS_DEADLINE_MS", retry.deadline.as_millis().to_string())
        .env("ORDERS_STATS_FILE", &stats_file)
        .env("RUST_LOG", "order_service=info")
        .env("NO_COLOR", "1")
        .envs(extra.iter().map(|(key, value)| (*key, value.as_str())))
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("start {}", binary.display()))?;
    let mut service = OrderService {
        url: format!("http://127.0.0.1:{port}"),
        child,
    };
    let http = reqwest::Client::builder().no_proxy().build()?;
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = service.child.try_wait() {
            bail!(
                "{} exited with {status} before answering; its log:\n{}",
                binary.display(),
                tail(log)
            );
        }
        let health = http
            .get(format!("{}/health", service.url))
            .timeout(Duration::from_millis(500))
            .send()
            .await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return Ok(service);
        }
        if started.elapsed() > Duration::from_secs(20) {
            bail!(
                "{} did not answer /health within 20 s; its log:\n{}",
                binary.display(),
                tail(log)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a balance service in this process with `setup`'s fault plan, and `binary` in
/// front of it with `setup`'s retry settings, and waits until the order service answers.
pub async fn launch(binary: &Path, setup: &Setup, log: &Path) -> Result<Launched> {
    let (balance_url, balance) = start_balance(setup).await?;
    let order_service = start_order_service(binary, &balance_url, setup, log, &[]).await?;
    Ok(Launched {
        app: Arc::new(TestApp {
            url: order_service.url.clone(),
            balance_url,
            http: reqwest::Client::builder().no_proxy().build()?,
            plan: setup.faults.to_string(),
            stats_file: None,
        }),
        _order_service: order_service,
        balance,
    })
}

/// A port nothing listens on right now.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<_> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// How one run of a scenario went.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub passed: bool,
    /// The failure message, or why the scenario could not run.
    pub message: String,
    /// The fault plan it ran with, in the compact form `--faults` takes.
    pub plan: String,
    /// What the run showed, for a scenario that observes (see [`Scenario::observe`]).
    pub observation: Option<Observation>,
}

/// Runs `scenario` once against `binary`, with the fault plan's seed replaced by `seed` when
/// given. A failed assertion, a panic or a timeout is a failed run. With `observe`, runs the
/// scenario's observation instead of its check, and keeps what it saw.
pub async fn run(
    binary: &Path,
    scenario: &Scenario,
    seed: Option<u64>,
    logs: &Path,
    observe: bool,
) -> RunOutcome {
    let mut setup = (scenario.setup)();
    if let Some(seed) = seed {
        setup.faults.seed = seed;
    }
    let plan = setup.faults.to_string();
    let log = match seed {
        Some(seed) => logs.join(format!("{}-seed-{seed}.log", scenario.name)),
        None => logs.join(format!("{}.log", scenario.name)),
    };
    let launched = match launch(binary, &setup, &log).await {
        Ok(launched) => launched,
        Err(error) => {
            return RunOutcome {
                passed: false,
                message: format!("{error:#}"),
                plan,
                observation: None,
            };
        }
    };
    let app = launched.app.clone();
    let check = match (observe, scenario.observe) {
        (true, Some(observe)) => tokio::spawn(async move { Some(observe(app).await) }),
        _ => {
            let check = (scenario.check)(app);
            tokio::spawn(async move {
                check.await;
                None
            })
        }
    };
    let result = tokio::time::timeout(scenario.timeout, check).await;
    drop(launched);
    let mut observation = None;
    let (passed, message) = match result {
        Ok(Ok(Some(seen))) => {
            let outcome = (
                seen.held,
                if seen.held {
                    String::new()
                } else {
                    seen.line.clone()
                },
            );
            observation = Some(seen);
            outcome
        }
        Ok(Ok(None)) => (true, String::new()),
        Ok(Err(error)) if error.is_panic() => (false, panic_message(error.into_panic())),
        Ok(Err(error)) => (false, error.to_string()),
        Err(_) => (
            false,
            format!("did not finish within {:?}", scenario.timeout),
        ),
    };
    RunOutcome {
        passed,
        message,
        plan,
        observation,
    }
}

/// The text of a failed assertion, without `assert_eq!`'s preamble.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else {
        "panicked".to_owned()
    };
    text.trim_start_matches("assertion `left == right` failed: ")
        .to_owned()
}

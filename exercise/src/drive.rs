//! Running the black-box scenarios against a built `order-service` binary: the balance
//! service runs in this process with the scenario's fault plan, the order service runs as a
//! child process pointed at it, and the scenario talks to both over HTTP.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use scenarios::services::{RunningBalance, Setup, TestApp, start_balance};

use crate::catalog::disk::Disk;
use crate::catalog::support::Inconclusive;
use crate::catalog::{Observation, Scenario};
use crate::child::{Address, Service, Spec};

/// How a built order service says where it listens.
pub const ORDER_SERVICE: Address = Address::Logged {
    marker: "order service listening",
};

/// A launched pair of services; dropping it stops both.
pub struct Launched {
    pub app: Arc<TestApp>,
    _order_service: Service,
    _balance: RunningBalance,
}

/// How to start a built `order-service` in front of the balance service at `balance_url`:
/// on a port of its choosing, logging to `log`, its totals in a fresh file beside the log (a
/// run must not carry on from the last one's totals).
pub fn order_service(binary: &Path, balance_url: &str, log: &Path) -> Spec {
    let stats_file = stats_file_of(log);
    let _ = std::fs::remove_file(&stats_file);
    Spec::new(
        format!("the order-service at {}", binary.display()),
        binary,
        log,
        ORDER_SERVICE,
    )
    .env("ORDERS_ADDR", "127.0.0.1:0")
    .env("BALANCE_URL", balance_url)
    .env("ORDERS_STATS_FILE", stats_file.display().to_string())
    // The service's own default, said outright: the listening line must be logged.
    .env("RUST_LOG", "order_service=info,tower_http=info")
}

/// Where the order service logging to `log` keeps its totals.
fn stats_file_of(log: &Path) -> std::path::PathBuf {
    log.with_extension("stats.json")
}

/// Starts `binary` in front of the balance service at `balance_url`, with `setup`'s retry
/// settings and the `extra` environment, logging to `log`, and waits until it listens.
pub async fn start_order_service(
    binary: &Path,
    balance_url: &str,
    setup: &Setup,
    log: &Path,
    extra: &[(String, String)],
) -> Result<Service> {
    let retry = setup.retry;
    let spec = order_service(binary, balance_url, log)
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
        .env(
            "ORDERS_BALANCE_PATIENCE_MS",
            setup.balance_patience.as_millis().to_string(),
        )
        .envs(
            setup
                .worker_threads
                .map(|n| ("TOKIO_WORKER_THREADS".to_owned(), n.to_string()))
                .as_slice(),
        )
        .envs(extra);
    Service::start(spec).await
}

/// Starts a balance service in this process with `setup`'s fault plan, and `binary` in
/// front of it with `setup`'s retry settings, and waits until the order service listens.
pub async fn launch(binary: &Path, setup: &Setup, log: &Path) -> Result<Launched> {
    launch_on(binary, setup, log, None).await
}

/// [`launch`], with the order service's stats file at `stats_file`.
pub async fn launch_at(
    binary: &Path,
    setup: &Setup,
    log: &Path,
    stats_file: &Path,
) -> Result<Launched> {
    let extra = [(
        "ORDERS_STATS_FILE".to_owned(),
        stats_file.display().to_string(),
    )];
    launch_with(binary, setup, log, &extra, stats_file).await
}

/// [`launch`], with the order service's stats file on `disk` when given (a slow disk the
/// scenario controls: [`Disk`]).
pub async fn launch_on(
    binary: &Path,
    setup: &Setup,
    log: &Path,
    disk: Option<&Disk>,
) -> Result<Launched> {
    let (extra, stats_file) = match disk {
        Some(disk) => (
            disk.environment()
                .context("put the slow disk's shim in place")?,
            disk.stats_file(),
        ),
        None => (Vec::new(), stats_file_of(log)),
    };
    launch_with(binary, setup, log, &extra, &stats_file).await
}

/// Starts the pair with `extra` in the order service's environment, which keeps its totals
/// at `stats_file`.
async fn launch_with(
    binary: &Path,
    setup: &Setup,
    log: &Path,
    extra: &[(String, String)],
    stats_file: &Path,
) -> Result<Launched> {
    let balance = start_balance(setup)
        .await
        .context("bind a balance service")?;
    let order_service = start_order_service(binary, &balance.url, setup, log, extra).await?;
    let stats_file = stats_file.to_path_buf();
    Ok(Launched {
        app: Arc::new(TestApp {
            url: order_service.url(),
            balance_url: balance.url.clone(),
            http: reqwest::Client::builder().no_proxy().build()?,
            plan: setup.faults.to_string(),
            stats_dir: None,
            stats_file: Some(stats_file),
            pid: order_service.pid().unwrap_or(0),
        }),
        _order_service: order_service,
        _balance: balance,
    })
}

/// How one run of a scenario went.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub passed: bool,
    /// The check could not judge (see [`Inconclusive`]); `message` says why.
    pub inconclusive: bool,
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
    let disk = match scenario.disk.then(|| Disk::for_run(&log)) {
        None => None,
        Some(Ok(disk)) if Disk::supported() => Some(disk),
        Some(made) => {
            return RunOutcome {
                passed: false,
                inconclusive: true,
                message: match made {
                    Ok(_) => "the slow disk needs Linux (the shim interposes glibc's calls)".into(),
                    Err(error) => format!("cannot make the slow disk's folders: {error}"),
                },
                plan,
                observation: None,
            };
        }
    };
    let launched = match launch_on(binary, &setup, &log, disk.as_ref()).await {
        Ok(launched) => launched,
        Err(error) => {
            return RunOutcome {
                passed: false,
                inconclusive: false,
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
    let mut inconclusive = false;
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
        Ok(Err(error)) if error.is_panic() => match error.into_panic().downcast::<Inconclusive>() {
            Ok(why) => {
                inconclusive = true;
                (false, why.0)
            }
            Err(payload) => (false, panic_message(payload)),
        },
        Ok(Err(error)) => (false, error.to_string()),
        Err(_) => (
            false,
            format!("did not finish within {:?}", scenario.timeout),
        ),
    };
    RunOutcome {
        passed,
        inconclusive,
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

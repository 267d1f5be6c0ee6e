//! `exercise demo`: the original exercise's workload against a running service, and the
//! symptoms it shows: revenue and order count lost from `/stats`, and orders charged twice.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use order_service::money::Cents;
use order_service::orders::OrderStatus;
use serde_json::{Value, json};

use scenarios::services::{Setup, TestApp, seed_balance};

use crate::Project;
use crate::{drive, manifest};

/// Fires the original's workload (100 x $10 from 10 clients) and a flaky-network burst, and
/// prints expected against observed revenue and count, and each double charge.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A running order service; without it, one is built and started here.
    #[arg(long, conflicts_with_all = ["runs", "embedded", "stats_dir"])]
    url: Option<String>,
    /// Its balance service, to read the ledger (needed with --url).
    #[arg(long, env = "BALANCE_URL")]
    balance_url: Option<String>,
    /// The build to start when there is no --url: `default` (the brief's two bugs, as
    /// `cargo run` starts it), `buggy` (every bug), `fixed`, or a fix feature.
    #[arg(long, default_value = "default")]
    build: String,
    /// Fault seed of the balance service started here (of the first run, with --runs).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Start the service this many times, with the seeds from --seed on, and sum up how many
    /// runs showed each symptom.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Start the order service as `cargo run --release` does: alone, its balance service
    /// embedded in it (default flaky profile, the run's seed), every setting at its default.
    /// Without it, the balance service runs in this process with the same profile.
    #[arg(long)]
    embedded: bool,
    /// The folder the service's stats file goes in (a tmpfs such as /dev/shm, or a folder on
    /// disk: a slow disk and a fast one time the saves differently). Default:
    /// target/exercise/demo.
    #[arg(long)]
    stats_dir: Option<PathBuf>,
}

impl Args {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let runtime = crate::runtime()?;
        let Some(url) = self.url.clone() else {
            return self.started_here(project, &runtime);
        };
        // A running service: no source needed, so the bugs are not read.
        let with_ledger = self.balance_url.is_some();
        let app = Arc::new(TestApp {
            url: url.trim_end_matches('/').to_owned(),
            balance_url: self
                .balance_url
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned(),
            http: reqwest::Client::builder().no_proxy().build()?,
            plan: String::new(),
            stats_dir: None,
            stats_file: None,
            pid: 0,
        });
        eprintln!("Using the order service at {}", app.url);
        let observed = runtime.block_on(run(app, with_ledger))?;
        print!("\n{}", render(&observed));
        Ok(ExitCode::SUCCESS)
    }

    /// Builds the service, and starts it once per run (each with its seed and a fresh stats
    /// file): the symptom report of each, and with more than one run, how many showed each
    /// symptom.
    fn started_here(
        &self,
        project: &Project,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<ExitCode> {
        let build = manifest::build_named(&project.bugs()?, &self.build)?;
        eprintln!("==> building the {build} order-service");
        let binary = crate::tools::build_binary(&project.root, &build)?;
        let logs = project.root.join("target/exercise/demo");
        let stats_dir = self.stats_dir.clone().unwrap_or_else(|| logs.clone());
        std::fs::create_dir_all(&stats_dir)?;
        let mut runs = Vec::new();
        for seed in self.seed..self.seed + self.runs {
            eprintln!(
                "Starting the {build} order service{} on the default flaky profile (seed {seed})",
                if self.embedded {
                    " as `cargo run` does, its balance service embedded,"
                } else {
                    " with a balance service"
                }
            );
            let log = logs.join(format!("order-service-seed-{seed}.log"));
            let stats_file = stats_dir.join(format!("demo-stats-seed-{seed}.json"));
            let _ = std::fs::remove_file(&stats_file);
            let observed = runtime.block_on(async {
                if self.embedded {
                    let service = embedded(&binary, seed, &log, &stats_file).await?;
                    run(service.app.clone(), true).await
                } else {
                    let setup = Setup {
                        faults: balance_service::faults::FaultPlan::default_profile(seed),
                        concurrency: 4,
                        attempt_timeout: Duration::from_millis(500),
                        retry: order_service::orders::RetryPolicy::default(),
                        worker_threads: None,
                        balance_patience:
                            order_service::balance::accounts::Accounts::DEFAULT_PATIENCE,
                        accounts: Vec::new(),
                    };
                    let launched = drive::launch_at(&binary, &setup, &log, &stats_file).await?;
                    run(launched.app.clone(), true).await
                }
            })?;
            let _ = std::fs::remove_file(&stats_file);
            if self.runs == 1 {
                print!("\n{}", render(&observed));
            } else {
                eprintln!("  seed {seed}: {}", summary_line(&observed));
            }
            runs.push((seed, observed));
        }
        if self.runs > 1 {
            print!(
                "\n{}",
                render_runs(&format!("{build}"), &stats_dir, self.embedded, &runs)
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The order service started as `cargo run` starts it: alone, its balance service embedded.
struct Embedded {
    app: Arc<TestApp>,
    _service: crate::child::Service,
}

async fn embedded(binary: &Path, seed: u64, log: &Path, stats_file: &Path) -> Result<Embedded> {
    let spec = crate::child::Spec::new(
        format!("the order-service at {}", binary.display()),
        binary,
        log,
        drive::ORDER_SERVICE,
    )
    .env("ORDERS_ADDR", "127.0.0.1:0")
    .env("ORDERS_STATS_FILE", stats_file.display().to_string())
    .env("RUST_LOG", "order_service=info,tower_http=info")
    .arg("--seed")
    .arg(seed.to_string());
    let service = crate::child::Service::start(spec).await?;
    let said = std::fs::read_to_string(log).unwrap_or_default();
    let balance_url = said
        .lines()
        .filter(|line| line.contains("embedded balance service listening"))
        .find_map(|line| {
            let at = line.find("url=")?;
            line[at + 4..].split_whitespace().next().map(str::to_owned)
        })
        .with_context(|| format!("{} did not log its balance service's url", log.display()))?;
    Ok(Embedded {
        app: Arc::new(TestApp {
            url: service.url(),
            balance_url,
            http: reqwest::Client::builder().no_proxy().build()?,
            plan: format!("default,seed={seed}"),
            stats_dir: None,
            stats_file: Some(stats_file.to_path_buf()),
            pid: service.pid().unwrap_or(0),
        }),
        _service: service,
    })
}

/// One run in a line: `92 ok, /stats 84: 8 lost; burst: 3 charged twice`.
fn summary_line(observed: &[Observed]) -> String {
    observed
        .iter()
        .map(|o| {
            format!(
                "{} ok, /stats {}: {} lost; {} charged twice",
                o.ok,
                o.stats_count,
                o.ok as i64 - o.stats_count as i64,
                o.double_charged.as_ref().map_or(0, BTreeMap::len)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How many runs showed each symptom, for each workload.
fn render_runs(
    build: &str,
    stats_dir: &Path,
    embedded: bool,
    runs: &[(u64, Vec<Observed>)],
) -> String {
    let mut out = String::new();
    let seeds = match (runs.first(), runs.last()) {
        (Some((first, _)), Some((last, _))) => format!("seeds {first} to {last}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "The {build} build, {} runs ({seeds}), {}, the stats file in {}",
        runs.len(),
        if embedded {
            "started as `cargo run` starts it"
        } else {
            "the balance service in this process"
        },
        stats_dir.display()
    );
    let workloads = runs.first().map_or(0, |(_, o)| o.len());
    for w in 0..workloads {
        let seen: Vec<&Observed> = runs.iter().filter_map(|(_, o)| o.get(w)).collect();
        let Some(first) = seen.first() else { continue };
        let losses: Vec<f64> = seen
            .iter()
            .map(|o| (o.ok as f64 - o.stats_count as f64) / (o.ok.max(1) as f64))
            .collect();
        let lost_runs = seen.iter().filter(|o| o.stats_count < o.ok as u64).count();
        let doubled_runs = seen
            .iter()
            .filter(|o| o.double_charged.as_ref().is_some_and(|d| !d.is_empty()))
            .count();
        let mean = losses.iter().sum::<f64>() / losses.len().max(1) as f64;
        let least = losses.iter().copied().fold(f64::INFINITY, f64::min);
        let most = losses.iter().copied().fold(0.0, f64::max);
        let revenue = |pick: fn(&Observed) -> Cents| {
            let all: Vec<Cents> = seen.iter().map(|o| pick(o)).collect();
            let least = all.iter().min().copied().unwrap_or_default();
            let most = all.iter().max().copied().unwrap_or_default();
            format!("${least}-${most}")
        };
        let _ = writeln!(out, "\nWorkload {}: {}", w + 1, first.title);
        let _ = writeln!(
            out,
            "  runs that lost sales from /stats   {lost_runs} of {} (lost per run: mean {:.1}%, least {:.1}%, most {:.1}% of the orders answered ok)",
            seen.len(),
            mean * 100.0,
            least * 100.0,
            most * 100.0
        );
        let _ = writeln!(
            out,
            "  /stats revenue                     {} (orders answered ok: {})",
            revenue(|o| o.stats_revenue),
            revenue(|o| o.ok_revenue)
        );
        let _ = writeln!(
            out,
            "  runs with an order charged twice   {doubled_runs} of {}",
            seen.len()
        );
    }
    out
}

/// What one workload did.
pub struct Observed {
    pub title: String,
    pub orders: usize,
    pub ok: usize,
    pub ok_revenue: Cents,
    pub stats_count: u64,
    pub stats_revenue: Cents,
    pub balance_drop: Option<Cents>,
    /// Orders charged more than once: reference -> ledger entries.
    pub double_charged: Option<BTreeMap<String, Vec<Value>>>,
}

/// Places `orders` (id, customer, dollars) with `clients` concurrent clients, with a
/// progress bar on a terminal.
async fn place_all(
    app: &Arc<TestApp>,
    orders: Vec<(u64, u64, f64)>,
    clients: usize,
    label: &str,
) -> Vec<Value> {
    let progress = indicatif::ProgressBar::new(orders.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template(&format!("  {label} [{{bar:30}}] {{pos}}/{{len}}"))
            .expect("the progress template parses")
            .progress_chars("#>-"),
    );
    let queue = Arc::new(std::sync::Mutex::new(orders.into_iter()));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (app, progress, queue) = (app.clone(), progress.clone(), queue.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((id, customer, amount)) = next else {
                        break;
                    };
                    let body = json!({"id": id, "customer_id": customer, "amount": amount});
                    let (_, answer) = app.post("/orders", &body).await;
                    answers.push(answer);
                    progress.inc(1);
                }
                answers
            })
        })
        .collect();
    let mut answers = Vec::new();
    for worker in workers {
        answers.extend(worker.await.unwrap_or_default());
    }
    progress.finish_and_clear();
    answers
}

async fn reset(app: &TestApp) -> Result<()> {
    let (status, body) = app.post("/reset", &json!({})).await;
    if !status.is_success() {
        bail!("POST /reset answered {status}: {body}");
    }
    Ok(())
}

/// What the service shows after `answers` came back for orders of `amount` each.
async fn observe(
    app: &Arc<TestApp>,
    title: &str,
    customer: u64,
    amount: Cents,
    answers: &[Value],
    start_balance: Option<Cents>,
    with_ledger: bool,
) -> Observed {
    let ok: Vec<_> = answers
        .iter()
        .filter(|a| a["status"] == json!(OrderStatus::Ok))
        .collect();
    let (stats_count, stats_revenue) = app.stats().await;
    let balance_drop = match start_balance {
        Some(start) => Some(start - app.balance(customer).await),
        None => None,
    };
    let double_charged = if with_ledger {
        let mut by_reference: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for entry in app.ledger(None).await {
            let reference = entry["reference"].as_str().unwrap_or("?").to_owned();
            by_reference.entry(reference).or_default().push(entry);
        }
        by_reference.retain(|_, entries| entries.len() > 1);
        Some(by_reference)
    } else {
        None
    };
    Observed {
        title: title.to_owned(),
        orders: answers.len(),
        ok: ok.len(),
        ok_revenue: amount * ok.len() as i64,
        stats_count,
        stats_revenue,
        balance_drop,
        double_charged,
    }
}

/// Runs both workloads against `app` and returns what they showed. The balance service's
/// ledger is read only when `with_ledger` (its URL is known).
pub async fn run(app: Arc<TestApp>, with_ledger: bool) -> Result<Vec<Observed>> {
    let mut observed = Vec::new();

    reset(&app).await?;
    let start = with_ledger.then_some(seed_balance(2));
    eprintln!("Workload 1: 100 orders of $10 for customer 2 from 10 concurrent clients");
    let orders = (1..=100).map(|id| (id, 2, 10.0)).collect();
    let answers = place_all(&app, orders, 10, "orders").await;
    observed.push(
        observe(
            &app,
            "100 orders of $10 for customer 2, 10 concurrent clients",
            2,
            Cents::dollars(10),
            &answers,
            start,
            with_ledger,
        )
        .await,
    );

    reset(&app).await?;
    let start = with_ledger.then_some(seed_balance(4));
    eprintln!("Workload 2: flaky-network burst, 100 orders of $1 for customer 4, all at once");
    let orders = (1001..=1100).map(|id| (id, 4, 1.0)).collect();
    let answers = place_all(&app, orders, 100, "burst ").await;
    observed.push(
        observe(
            &app,
            "flaky-network burst: 100 orders of $1 for customer 4, all at once",
            4,
            Cents::dollars(1),
            &answers,
            start,
            with_ledger,
        )
        .await,
    );
    Ok(observed)
}

/// Double-charged orders listed one by one; the rest are counted.
const SHOWN: usize = 10;

/// The symptom report.
pub fn render(observed: &[Observed]) -> String {
    let mut out = String::new();
    for (n, o) in observed.iter().enumerate() {
        let _ = writeln!(out, "Workload {}: {}", n + 1, o.title);
        let _ = writeln!(out, "  orders reported ok      {:>4} of {}", o.ok, o.orders);
        let _ = writeln!(
            out,
            "  expected in /stats      {:>4} orders, revenue {}",
            o.ok, o.ok_revenue
        );
        let lost = o.ok_revenue - o.stats_revenue;
        let verdict = if lost == Cents::ZERO && o.stats_count == o.ok as u64 {
            "as expected".to_owned()
        } else {
            format!(
                "LOST {} orders and {lost} of revenue",
                o.ok as i64 - o.stats_count as i64
            )
        };
        let _ = writeln!(
            out,
            "  observed in /stats      {:>4} orders, revenue {}   {verdict}",
            o.stats_count, o.stats_revenue
        );
        if let Some(drop) = o.balance_drop {
            let verdict = if drop == o.ok_revenue {
                "as expected".to_owned()
            } else {
                format!("{} MORE than the orders reported ok", drop - o.ok_revenue)
            };
            let _ = writeln!(out, "  customer charged        {drop}   {verdict}");
        }
        match &o.double_charged {
            None => {
                let _ = writeln!(
                    out,
                    "  double charges          unknown: pass --balance-url to read the ledger"
                );
            }
            Some(doubles) if doubles.is_empty() => {
                let _ = writeln!(out, "  double-charged orders   none");
            }
            Some(doubles) => {
                let _ = writeln!(out, "  double-charged orders   {}", doubles.len());
                for (reference, entries) in doubles.iter().take(SHOWN) {
                    let ids: Vec<_> = entries
                        .iter()
                        .map(|e| {
                            format!(
                                "#{} ({} -> balance {})",
                                e["deduction_id"], e["amount"], e["balance_after"]
                            )
                        })
                        .collect();
                    let _ = writeln!(
                        out,
                        "    {reference}: {} deductions: {}",
                        entries.len(),
                        ids.join(", ")
                    );
                }
            }
        }
        out.push('\n');
    }
    out
}

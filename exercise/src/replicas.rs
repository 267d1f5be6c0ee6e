//! `exercise replicas`: stage two. Several order-service processes behind one address, their
//! state in memory (each its own) or in one Postgres database, under the flaky network,
//! with one order in ten sent to a second replica. For each run: orders charged twice, and
//! whether every replica's `/stats` agrees with the balance service's ledger.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use scenarios::replicas::{ReplicaRun, Replicas, orders_across_replicas};
use scenarios::services::{Setup, start_balance};

use crate::Project;
use crate::{drive, manifest};

/// Stage two: several order-service processes behind one address, their state in memory
/// (each its own) or in one Postgres database, under the flaky network, one order in ten
/// also sent to another replica; per build, the runs that charged an order twice and the
/// runs whose /stats disagreed with the ledger on some replica.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    /// Runs of each build; run n uses fault seed n.
    #[arg(long, default_value_t = 3)]
    runs: u64,
    /// Orders per run (and a tenth of them sent again).
    #[arg(long, default_value_t = 1000)]
    orders: u64,
    #[arg(long, default_value_t = 20)]
    clients: u64,
    #[arg(long, value_enum, default_value = "postgres")]
    store: Store,
    /// The load balancer in front (nginx needs `apt-get install nginx`).
    #[arg(long, value_enum, default_value = "nginx")]
    lb: Lb,
    /// The Postgres database for `--store postgres` (scripts/postgres-start prints one).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Builds to run (buggy, fixed, or a fix feature).
    #[arg(long, value_delimiter = ',', default_value = "buggy,fixed")]
    build: Vec<String>,
    /// Fail unless the buggy build charges twice and gets /stats wrong on every run, and
    /// the fixed build never does.
    #[arg(long)]
    check: bool,
}

impl Args {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let bugs = project.bugs()?;
        let options = Options {
            replicas: self.replicas,
            runs: self.runs,
            orders: self.orders,
            clients: self.clients,
            store: self.store,
            database_url: self.database_url,
            lb: self.lb,
        };
        let runtime = crate::runtime()?;
        let mut tallies = Vec::new();
        for name in &self.build {
            let build = manifest::build_named(&bugs, name)?.with_feature("postgres");
            eprintln!("==> building the {name} order-service with the Postgres store");
            let binary = crate::tools::build_binary(&project.root, &build)?;
            let logs = project.root.join("target/exercise/replicas").join(name);
            tallies.push(runtime.block_on(tally(name, &binary, &options, &logs))?);
        }
        print!("\n{}", render(&options, &tallies));
        if !self.check {
            return Ok(ExitCode::SUCCESS);
        }
        if tallies.iter().all(Tally::as_expected) {
            println!(
                "\nAs expected: the buggy build failed both ways on every run, the fixed build never."
            );
            Ok(ExitCode::SUCCESS)
        } else {
            println!(
                "\nNot as expected: the buggy build should charge twice and get /stats wrong on every run, the fixed build never."
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Where the replicas keep their state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Store {
    Memory,
    Postgres,
}

/// How to run the replicas.
#[derive(Debug, Clone)]
pub struct Options {
    pub replicas: usize,
    pub runs: u64,
    pub orders: u64,
    pub clients: u64,
    pub store: Store,
    pub database_url: Option<String>,
    pub lb: Lb,
}

/// What stands in front of the replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lb {
    /// nginx, round robin (Debian's package), as the compose profile runs it.
    Nginx,
    /// None: the clients spread the orders over the replicas themselves.
    None,
}

/// What one build showed over its runs.
pub struct Tally {
    pub build: String,
    pub runs: Vec<ReplicaRun>,
    pub elapsed: Vec<Duration>,
}

impl Tally {
    pub fn runs_charging_twice(&self) -> usize {
        self.runs
            .iter()
            .filter(|r| !r.charged_twice.is_empty())
            .count()
    }

    pub fn runs_with_wrong_stats(&self) -> usize {
        self.runs.iter().filter(|r| !r.stats_exact()).count()
    }

    /// The buggy build charged twice and got /stats wrong on every run; any other build
    /// never did either.
    fn as_expected(&self) -> bool {
        let runs = self.runs.len();
        if self.build == "buggy" {
            self.runs_charging_twice() == runs && self.runs_with_wrong_stats() == runs
        } else {
            self.runs_charging_twice() == 0 && self.runs_with_wrong_stats() == 0
        }
    }
}

/// The balance service's setup for the replicas: the default flaky profile, seeded per run,
/// with room for the three replicas' deductions at once.
fn setup(seed: u64) -> Setup {
    let mut setup = Setup {
        faults: "default".parse().expect("the default profile parses"),
        concurrency: 16,
        attempt_timeout: Duration::from_millis(500),
        ..Setup::default()
    };
    setup.faults.seed = seed;
    setup
}

/// Runs the replicas of `binary` `options.runs` times, run n with fault seed n.
pub async fn tally(build: &str, binary: &Path, options: &Options, logs: &Path) -> Result<Tally> {
    let mut tally = Tally {
        build: build.to_owned(),
        runs: Vec::new(),
        elapsed: Vec::new(),
    };
    for seed in 1..=options.runs {
        let setup = setup(seed);
        let balance = start_balance(&setup)
            .await
            .context("bind a balance service")?;
        let balance_url = balance.url.clone();
        let mut extra: Vec<(String, String)> = Vec::new();
        if options.store == Store::Postgres {
            let url = options
                .database_url
                .clone()
                .context("--store postgres needs --database-url or DATABASE_URL; scripts/postgres-start starts a local Postgres and prints one")?;
            extra.push(("ORDERS_STORE".into(), "postgres".into()));
            extra.push(("DATABASE_URL".into(), url));
        }
        let mut services = Vec::new();
        for n in 1..=options.replicas {
            let log = logs.join(format!("run-{seed}/replica-{n}.log"));
            services.push(
                drive::start_order_service(binary, &balance_url, &setup, &log, &extra).await?,
            );
        }
        let urls: Vec<String> = services.iter().map(|s| s.url()).collect();
        let front = match options.lb {
            Lb::Nginx => {
                Some(crate::lb::start(&logs.join(format!("run-{seed}/nginx")), &urls).await?)
            }
            Lb::None => None,
        };
        let replicas = Arc::new(Replicas {
            urls,
            front: front.as_ref().map(|nginx| nginx.url.clone()),
            balance_url,
            http: reqwest::Client::builder().no_proxy().build()?,
        });
        // One reset clears the shared database and the balance service; each memory store
        // is its own, so each replica is reset.
        for url in &replicas.urls {
            let reset = replicas.http.post(format!("{url}/reset")).send().await?;
            if !reset.status().is_success() {
                bail!("POST {url}/reset answered {}", reset.status());
            }
            if options.store == Store::Postgres {
                break;
            }
        }
        let started = Instant::now();
        let run = orders_across_replicas(&replicas, options.orders, options.clients).await;
        tally.elapsed.push(started.elapsed());
        eprintln!(
            "  {build}, run {seed} (fault seed {seed}): {}",
            run.summary()
        );
        tally.runs.push(run);
        if let Some(nginx) = front {
            nginx.stop().await?;
        }
        drop(services);
        drop(balance);
    }
    Ok(tally)
}

/// The table `replicas` prints.
pub fn render(options: &Options, tallies: &[Tally]) -> String {
    let mut out = String::new();
    let store = match options.store {
        Store::Memory => "memory (each replica its own)",
        Store::Postgres => "postgres (one database for all)",
    };
    let front = match options.lb {
        Lb::Nginx => "behind nginx (round robin)",
        Lb::None => "spread by the clients",
    };
    let _ = writeln!(
        out,
        "{} replicas {front}, store {store}: {} runs of {} orders from {} clients, one in ten also sent to another replica\n",
        options.replicas, options.runs, options.orders, options.clients
    );
    let _ = writeln!(
        out,
        "{:<10} {:>22} {:>26} {:>14}",
        "build", "runs charging twice", "runs with /stats wrong", "orders/s"
    );
    for tally in tallies {
        let seconds: f64 = tally.elapsed.iter().map(Duration::as_secs_f64).sum();
        let sent: u64 = tally.runs.iter().map(|r| r.orders + r.resent).sum();
        let _ = writeln!(
            out,
            "{:<10} {:>22} {:>26} {:>14.0}",
            tally.build,
            format!("{}/{}", tally.runs_charging_twice(), tally.runs.len()),
            format!("{}/{}", tally.runs_with_wrong_stats(), tally.runs.len()),
            sent as f64 / seconds.max(f64::EPSILON)
        );
    }
    for tally in tallies {
        if let Some(run) = tally.runs.first() {
            let _ = writeln!(out, "\n{}, run 1: {}", tally.build, run.summary());
        }
    }
    out
}

//! `exercise bench`: how fast the order service serves orders, and how much memory it holds,
//! measured with wrk (Debian's `wrk` package) against release builds started here.
//!
//! Each build runs behind its own `balance-service` process, with the stub's latency and
//! no faults: the question is the order service's own cost, and a fault plan would make
//! rounds differ by what it drew. The balance service gets as many processing slots as wrk
//! has connections, so the stub's latency is the only wait and the latency-bound limit is
//! exactly connections / mean latency.
//!
//! - [`wrk`]: driving wrk and reading its report;
//! - [`services`]: the balance and order services a round runs against;
//! - [`measure`]: the service rounds, and stage two's replicas;
//! - [`soak`]: memory over a long run;
//! - [`builds`]: how long the harness and cold builds take;
//! - [`report`]: the typed rows and the tables printed from them.

mod builds;
mod measure;
mod report;
mod services;
mod soak;
mod wrk;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::Project;
use crate::manifest::{self, Build};
use crate::tools;

/// How fast the order service serves orders, with wrk (apt-get install wrk): GET /health,
/// then the buggy and fixed release builds under the stub's 10-50 ms latency and with none,
/// side by side; the latency-bound limit and the ratios against their goals; resident
/// memory before and after. Optionally how long the harness and the builds take.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds of each measured round.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Rounds of each measurement.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    #[arg(long, default_value_t = 256)]
    connections: u32,
    /// wrk's threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Builds to compare (buggy, fixed, or a fix feature).
    #[arg(long, value_delimiter = ',', default_value = "buggy,fixed")]
    build: Vec<String>,
    /// Also time `grade` on a fresh export (cold, then warm) and `verify`.
    #[arg(long)]
    harness: bool,
    /// Also time cold builds of this commit's tree against HEAD's: the export's
    /// `cargo build && cargo test --no-run`, and `cargo build --release`.
    #[arg(long, value_name = "COMMIT")]
    build_times: Option<String>,
    /// Skip the service rounds (to time only the harness, the builds or a soak).
    #[arg(long)]
    no_service: bool,
    /// Also run the fixed build at full speed for this many seconds, with records kept
    /// for --retention seconds, sampling resident memory.
    #[arg(long, value_name = "SECONDS")]
    soak: Option<u64>,
    /// The retention window of the soak, in seconds.
    #[arg(long, default_value_t = 30)]
    retention: u64,
    /// Also compare the fixed build's Postgres store, this many replicas behind nginx,
    /// with its memory store in one process (needs DATABASE_URL and nginx).
    #[arg(long, value_name = "N")]
    replicas: Option<usize>,
    /// The Postgres database for --replicas (scripts/postgres-start prints one).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

/// How each round is run.
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

impl Args {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let bugs = project.bugs()?;
        let options = Options {
            duration: Duration::from_secs(self.duration),
            connections: self.connections,
            threads: self.threads,
            rounds: self.rounds,
        };
        let scratch = project.root.join("target/exercise/bench");
        std::fs::create_dir_all(&scratch)?;
        let mut measured = report::Report::default();
        let mut soaked = None;
        if !self.no_service || self.soak.is_some() {
            let builds = self.builds(project, &bugs)?;
            eprintln!("==> building the balance-service (release)");
            let bench = measure::Bench {
                balance: tools::build_balance(&project.root)?,
                script: project.root.join("exercise/bench/orders.lua"),
                options: options.clone(),
                logs: scratch.clone(),
                http: reqwest::Client::builder().no_proxy().build()?,
            };
            let fixed = builds
                .iter()
                .find(|(name, _)| name == "fixed")
                .map(|(_, binary)| binary.clone());
            crate::runtime()?.block_on(async {
                if !self.no_service {
                    measured = bench.services(&builds).await?;
                }
                if let Some(count) = self.replicas {
                    let url = self.database_url.clone().context(
                        "--replicas needs DATABASE_URL; scripts/postgres-start starts a local Postgres and prints one",
                    )?;
                    let memory = fixed
                        .as_ref()
                        .context("--replicas compares the fixed build: add it to --build")?;
                    eprintln!("==> building the fixed order-service with the Postgres store");
                    let fixed = manifest::build_named(&bugs, "fixed")?;
                    let postgres =
                        tools::build_binary(&project.root, &fixed.with_feature("postgres"))?;
                    bench
                        .replicas(memory, &postgres, &url, count, &mut measured)
                        .await?;
                }
                if let Some(seconds) = self.soak {
                    let binary = fixed
                        .as_ref()
                        .or(builds.last().map(|(_, binary)| binary))
                        .context("no build to soak")?;
                    soaked = Some(
                        soak::soak(
                            &bench,
                            binary,
                            Duration::from_secs(seconds),
                            Duration::from_secs(self.retention),
                        )
                        .await?,
                    );
                }
                anyhow::Ok(())
            })?;
        }
        // What was measured so far goes to stderr before the slow timings start, so a
        // failure there does not lose half an hour of rounds.
        if self.harness || self.build_times.is_some() {
            eprint!("\n{}", report::render(&measured, &options, &[]));
            if let Some(soaked) = &soaked {
                eprint!("{}", soak::render(soaked));
            }
        }
        let mut timings = Vec::new();
        if self.harness {
            let count = manifest::matrix(&bugs).len();
            timings.extend(builds::time_harness(&project.root, &scratch, count)?);
        }
        if let Some(baseline) = &self.build_times {
            timings.extend(builds::time_builds(&project.root, baseline, &scratch)?);
        }
        print!("\n{}", report::render(&measured, &options, &timings));
        if let Some(soaked) = &soaked {
            print!("{}", soak::render(soaked));
        }
        Ok(ExitCode::SUCCESS)
    }

    /// The release binaries of the builds to compare, by name.
    fn builds(&self, project: &Project, bugs: &[manifest::Bug]) -> Result<Vec<(String, PathBuf)>> {
        let mut builds = Vec::new();
        for name in &self.build {
            let build: Build = manifest::build_named(bugs, name)?;
            eprintln!("==> building the {name} order-service (release)");
            builds.push((name.clone(), tools::build_binary(&project.root, &build)?));
        }
        Ok(builds)
    }
}

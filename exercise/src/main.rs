//! `exercise`: the interviewer's harness. Reads the bugs from `variants/*/bug.toml`,
//! verifies the build matrix, exports the candidate's crate, grades a candidate's fix,
//! measures how reliably each bug reproduces, and runs a live demo. Run it as
//! `cargo exercise COMMAND` (an alias in `.cargo/config.toml`).

mod bench;
mod demo;
mod drive;
mod export;
mod grade;
mod lb;
mod manifest;
mod replicas;
mod repro;
mod selftest;
mod suite;
mod tools;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "The interviewer's harness for the order-service debugging exercise"
)]
struct Cli {
    /// The exercise's repository (where variants/ is).
    #[arg(long, global = true, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/.."))]
    root: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The bugs: id, feature, symptom, what shows each.
    List,
    /// One bug in full: symptom, cause, the tests and models that show it, how `grade` decides,
    /// and the fix as a diff from the candidate's code to the reference fix.
    Info { bug: String },
    /// Runs the tests and loom models of every build (buggy, each single fix, fixed) and
    /// checks each fails exactly the triggering tests of the bugs it has.
    Verify {
        /// Runs of each build; a triggering test must fail on every one.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Only these builds (buggy, fixed, or a fix feature).
        #[arg(long, value_delimiter = ',')]
        builds: Vec<String>,
        /// Skip the loom models.
        #[arg(long)]
        no_loom: bool,
    },
    /// Writes the candidate's crate: the buggy code at its module paths, and nothing that
    /// gives the answer away.
    Export {
        /// Where to write it; must not exist or be empty.
        #[arg(long)]
        out: PathBuf,
        /// The bugs to leave in (default: the brief's); the others get their fix.
        #[arg(long, value_delimiter = ',')]
        bugs: Vec<String>,
        /// Include the loom models and the replay script, as a debugging tool.
        #[arg(long)]
        with_loom: bool,
        /// Include the replicas stage: the Postgres store (the `postgres` feature), its tests
        /// and scripts/postgres-start.
        #[arg(long)]
        replicas: bool,
        /// Then build the export from a clean copy and check its tests fail exactly as
        /// its bugs declare, and that nothing its tests print names a cause.
        #[arg(long)]
        check: bool,
    },
    /// Builds a candidate's crate and grades each bug: fixed, fixed with gaps, wrong fix or
    /// not fixed, with the evidence.
    Grade {
        /// The candidate's crate.
        dir: PathBuf,
        /// The bugs it was exported with (default: the brief's).
        #[arg(long, value_delimiter = ',')]
        bugs: Vec<String>,
        /// Print the scorecard as JSON.
        #[arg(long)]
        json: bool,
        /// Seeded runs of each seeded scenario.
        #[arg(long, default_value_t = 5)]
        seeds: u64,
        /// Skip clippy (no verdict depends on it).
        #[arg(long)]
        no_clippy: bool,
    },
    /// Grades the unmodified export, the reference fix and every candidate fix in the
    /// calibration corpus (exercise/corpus), and checks each scorecard says what it should.
    Selftest {
        #[arg(long, default_value_t = 3)]
        seeds: u64,
        /// Only these cases (names of corpus folders, or "unmodified" and "reference").
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// How often a bug's symptom shows on each build, with a 95% interval; for
    /// lost-update, the revenue each run lost under the original workload.
    Repro {
        bug: String,
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Builds to measure (buggy, fixed, or a fix feature).
        #[arg(long, value_delimiter = ',', default_value = "buggy,fixed")]
        build: Vec<String>,
        /// A scenario other than the bug's usual one.
        #[arg(long)]
        scenario: Option<String>,
    },
    /// Stage two: several order-service processes behind one address, their state in memory
    /// (each its own) or in one Postgres database, under the flaky network, one order in ten
    /// also sent to another replica; per build, the runs that charged an order twice and the
    /// runs whose /stats disagreed with the ledger on some replica.
    Replicas {
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
        store: replicas::Store,
        /// The load balancer in front (nginx needs `apt-get install nginx`).
        #[arg(long, value_enum, default_value = "nginx")]
        lb: replicas::Lb,
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
    },
    /// How fast the order service serves orders, with wrk (apt-get install wrk): GET /health,
    /// then the buggy and fixed release builds under the stub's 10-50 ms latency and with none,
    /// side by side; the latency-bound limit and the ratios against their goals; resident
    /// memory before and after. Optionally how long the harness and the builds take.
    Bench {
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
    },
    /// Fires the original's workload (100 x $10 from 10 clients) and a flaky-network burst,
    /// and prints expected against observed revenue and count, and each double charge.
    Demo {
        /// A running order service; without it, one is built and started here.
        #[arg(long)]
        url: Option<String>,
        /// Its balance service, to read the ledger (needed with --url).
        #[arg(long, env = "BALANCE_URL")]
        balance_url: Option<String>,
        /// The build to start when there is no --url.
        #[arg(long, default_value = "buggy")]
        build: String,
        /// Fault seed of the balance service started here.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// The cargo features of a build named on the command line.
fn features_of(bugs: &[manifest::Bug], build: &str) -> Result<Vec<String>> {
    match build {
        "buggy" => Ok(Vec::new()),
        "fixed" => Ok(vec!["fixed".into()]),
        feature if bugs.iter().any(|b| b.feature == feature) => Ok(vec![feature.into()]),
        other => bail!(
            "no build {other:?}: use buggy, fixed or one of {}",
            bugs.iter()
                .map(|b| b.feature.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start a tokio runtime")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    // Every command but `demo --url` reads the bugs; that one runs where there is no source.
    let bugs = match &cli.command {
        Command::Demo { url: Some(_), .. } => Vec::new(),
        _ => manifest::load(&cli.root)?,
    };
    match cli.command {
        Command::List => {
            for bug in &bugs {
                println!("{}  ({})", bug.id, bug.feature);
                println!("  {}", bug.title);
                println!(
                    "  triggering tests: {}, loom models: {}{}",
                    bug.triggering.tests.len(),
                    bug.triggering.loom_models.len(),
                    if bug.brief.by_default {
                        ""
                    } else {
                        "; exported only with --bugs"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { bug } => {
            let bug = manifest::find(&bugs, &bug)?;
            print!("{}", export::describe(&cli.root, bug)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            runs,
            builds,
            no_loom,
        } => {
            let matrix: Vec<_> = manifest::matrix(&bugs)
                .into_iter()
                .filter(|b| builds.is_empty() || builds.contains(&b.name))
                .collect();
            if matrix.is_empty() {
                bail!("no such builds: {}", builds.join(", "));
            }
            // Each run's whole output is kept, for a mismatch to be looked into.
            let logs = cli.root.join("target/verify");
            std::fs::create_dir_all(&logs)
                .with_context(|| format!("cannot create {}", logs.display()))?;
            let mut reports = Vec::new();
            for build in &matrix {
                let mut results = Vec::new();
                for run in 1..=runs.max(1) {
                    eprintln!("==> {build}: run {run}/{runs}");
                    let mut suites = vec![("tests", verify::run_suite(&cli.root, build, false)?)];
                    if !no_loom {
                        suites.push(("loom", verify::run_suite(&cli.root, build, true)?));
                    }
                    let mut outcome = verify::RunResults::new();
                    for (kind, suite) in suites {
                        let log = logs.join(format!("{build}-{kind}-run{run}.log"));
                        std::fs::write(&log, &suite.output)
                            .with_context(|| format!("cannot write {}", log.display()))?;
                        outcome.extend(suite.results);
                    }
                    results.push(outcome);
                }
                reports.push(verify::BuildReport::new(&bugs, build, &results, !no_loom));
            }
            print!("\n{}", verify::render(&reports));
            let clean = reports.iter().all(|r| r.mismatches().is_empty());
            if !clean {
                println!("Each run's output: {}", logs.display());
            }
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Export {
            out,
            bugs: chosen,
            with_loom,
            replicas,
            check,
        } => {
            let chosen = manifest::choose(&bugs, &chosen)?;
            let options = export::Options {
                with_loom,
                replicas,
            };
            let exported = export::export(&cli.root, &bugs, &chosen, &out, options)?;
            println!("wrote the candidate's crate to {}", out.display());
            if check {
                export::check(&out, &exported)?;
                println!(
                    "checked: it builds and lints clean, exactly its bugs' {} triggering tests fail, and no test output names a cause",
                    exported.failing.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Grade {
            dir,
            bugs: chosen,
            json,
            seeds,
            no_clippy,
        } => {
            let chosen = manifest::choose(&bugs, &chosen)?;
            let options = grade::Options {
                seeds,
                clippy: !no_clippy,
            };
            let card =
                runtime()?.block_on(grade::grade(&cli.root, &bugs, &chosen, &dir, &options))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&card)?);
            } else {
                print!("\n{}", grade::render(&card));
            }
            Ok(if card.all_fixed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Selftest { seeds, only } => {
            let (report, held) =
                runtime()?.block_on(selftest::run(&cli.root, &bugs, seeds, &only))?;
            print!("\n{report}");
            Ok(if held {
                println!("\nEvery scorecard says what it should.");
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Repro {
            bug,
            runs,
            build,
            scenario,
        } => {
            let bug = manifest::find(&bugs, &bug)?;
            let all = suite::all();
            let chosen = match &scenario {
                Some(name) => all.iter().find(|s| s.name == name),
                None => all.iter().find(|s| s.bug == bug.id && s.repro),
            }
            .with_context(|| format!("no scenario {scenario:?} for {}", bug.id))?;
            let logs = cli.root.join("target/exercise/repro");
            let runtime = runtime()?;
            let quiet = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let mut tallies = Vec::new();
            for name in &build {
                let features = features_of(&bugs, name)?;
                eprintln!("==> building {name}");
                let binary = drive::build_binary(&cli.root, name, &features)?;
                let logs = logs.join(name);
                tallies.push(runtime.block_on(repro::tally(name, &binary, chosen, runs, &logs)));
            }
            std::panic::set_hook(quiet);
            print!("\n{}", repro::render(&bug.id, chosen.name, &tallies));
            Ok(ExitCode::SUCCESS)
        }
        Command::Replicas {
            replicas,
            runs,
            orders,
            clients,
            store,
            lb,
            database_url,
            build,
            check,
        } => {
            let options = replicas::Options {
                replicas,
                runs,
                orders,
                clients,
                store,
                database_url,
                lb,
            };
            let runtime = runtime()?;
            let mut tallies = Vec::new();
            for name in &build {
                let mut features = features_of(&bugs, name)?;
                features.push("postgres".into());
                eprintln!("==> building the {name} order-service with the Postgres store");
                let binary = drive::build_binary(&cli.root, &format!("{name}-pg"), &features)?;
                let logs = cli.root.join("target/exercise/replicas").join(name);
                tallies.push(runtime.block_on(replicas::tally(name, &binary, &options, &logs))?);
            }
            print!("\n{}", replicas::render(&options, &tallies));
            if check {
                let held = tallies.iter().all(|tally| {
                    let runs = tally.runs.len();
                    match tally.build.as_str() {
                        "buggy" => {
                            tally.runs_charging_twice() == runs
                                && tally.runs_with_wrong_stats() == runs
                        }
                        _ => tally.runs_charging_twice() == 0 && tally.runs_with_wrong_stats() == 0,
                    }
                });
                if !held {
                    println!(
                        "\nNot as expected: the buggy build should charge twice and get /stats wrong on every run, the fixed build never."
                    );
                    return Ok(ExitCode::FAILURE);
                }
                println!(
                    "\nAs expected: the buggy build failed both ways on every run, the fixed build never."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            duration,
            rounds,
            connections,
            threads,
            build,
            harness,
            build_times,
            no_service,
            soak,
            retention,
            replicas,
            database_url,
        } => {
            let options = bench::Options {
                duration: Duration::from_secs(duration),
                connections,
                threads,
                rounds,
            };
            let scratch = cli.root.join("target/exercise/bench");
            std::fs::create_dir_all(&scratch)?;
            let mut report = bench::Report::default();
            let script = cli.root.join("exercise/bench/orders.lua");
            let mut soaked = None;
            if !no_service || soak.is_some() {
                let mut builds = Vec::new();
                for name in &build {
                    let features = features_of(&bugs, name)?;
                    eprintln!("==> building the {name} order-service (release)");
                    builds.push((
                        name.clone(),
                        drive::build_binary(&cli.root, name, &features)?,
                    ));
                }
                eprintln!("==> building the balance-service (release)");
                let balance = bench::build_balance(&cli.root)?;
                let runtime = runtime()?;
                if !no_service {
                    report = runtime.block_on(bench::measure(
                        &builds, &balance, &script, &options, &scratch,
                    ))?;
                }
                if let Some(count) = replicas {
                    let url = database_url.context(
                        "--replicas needs DATABASE_URL; scripts/postgres-start starts a local Postgres and prints one",
                    )?;
                    let (_, fixed) = builds
                        .iter()
                        .find(|(name, _)| name == "fixed")
                        .context("--replicas compares the fixed build: add it to --build")?;
                    eprintln!("==> building the fixed order-service with the Postgres store");
                    let postgres = drive::build_binary(
                        &cli.root,
                        "fixed-pg",
                        &["fixed".into(), "postgres".into()],
                    )?;
                    runtime.block_on(bench::measure_replicas(
                        fixed,
                        &postgres,
                        &balance,
                        &url,
                        count,
                        &script,
                        &options,
                        &scratch,
                        &mut report,
                    ))?;
                }
                if let Some(seconds) = soak {
                    let (_, fixed) = builds
                        .iter()
                        .find(|(name, _)| name == "fixed")
                        .or(builds.last())
                        .context("no build to soak")?;
                    soaked = Some(runtime.block_on(bench::soak(
                        fixed,
                        &balance,
                        &script,
                        &options,
                        Duration::from_secs(seconds),
                        Duration::from_secs(retention),
                        &scratch,
                    ))?);
                }
            }
            // What was measured so far goes to stderr before the slow timings start, so a
            // failure there does not lose half an hour of rounds.
            if harness || build_times.is_some() {
                eprint!("\n{}", bench::render(&report, &options, &[]));
                if let Some(soaked) = &soaked {
                    eprint!("{}", bench::render_soak(soaked));
                }
            }
            let mut timings = Vec::new();
            if harness {
                timings.extend(bench::time_harness(&cli.root, &scratch)?);
            }
            if let Some(baseline) = &build_times {
                timings.extend(bench::time_builds(&cli.root, baseline, &scratch)?);
            }
            print!("\n{}", bench::render(&report, &options, &timings));
            if let Some(soaked) = &soaked {
                print!("{}", bench::render_soak(soaked));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            url,
            balance_url,
            build,
            seed,
        } => {
            let runtime = runtime()?;
            let http = reqwest::Client::builder().no_proxy().build()?;
            let observed = match url {
                Some(url) => {
                    let with_ledger = balance_url.is_some();
                    let app = std::sync::Arc::new(scenarios::services::TestApp {
                        url: url.trim_end_matches('/').to_owned(),
                        balance_url: balance_url
                            .unwrap_or_default()
                            .trim_end_matches('/')
                            .to_owned(),
                        http,
                        plan: String::new(),
                        stats_file: None,
                    });
                    eprintln!("Using the order service at {}", app.url);
                    runtime.block_on(demo::run(app, with_ledger))?
                }
                None => {
                    let features = features_of(&bugs, &build)?;
                    eprintln!("==> building the {build} order-service");
                    let binary = drive::build_binary(&cli.root, &build, &features)?;
                    let setup = scenarios::services::Setup {
                        faults: balance_service::faults::FaultPlan::default_profile(seed),
                        concurrency: 4,
                        attempt_timeout: Duration::from_millis(500),
                        retry: order_service::orders::RetryPolicy::default(),
                    };
                    eprintln!(
                        "Starting the {build} order service with a balance service on the default flaky profile (seed {seed})"
                    );
                    runtime.block_on(async {
                        let log = cli.root.join("target/exercise/demo/order-service.log");
                        let launched = drive::launch(&binary, &setup, &log).await?;
                        demo::run(launched.app.clone(), true).await
                    })?
                }
            };
            print!("\n{}", demo::render(&observed));
            Ok(ExitCode::SUCCESS)
        }
    }
}

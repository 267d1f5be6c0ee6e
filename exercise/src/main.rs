//! `exercise`: the interviewer's harness. Reads the bugs from `variants/*/bug.toml`,
//! verifies the build matrix, exports the candidate's crate, grades a candidate's fix,
//! measures how reliably each bug reproduces, and runs a live demo.

mod demo;
mod drive;
mod export;
mod grade;
mod manifest;
mod repro;
mod selftest;
mod suite;
mod tools;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// One bug in full: symptom, files, triggering tests and models, how to replay them,
    /// and the fix as a diff from the candidate's code to the reference fix.
    Info { bug: String },
    /// Runs the tests and loom models of every build (buggy, each single fix, fixed) and
    /// checks each fails exactly the triggering tests of the bugs it has.
    Verify {
        /// Runs of each build; a triggering test must fail on every one.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Only these builds (buggy, fix-lost-update, fix-double-charge, fixed).
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
        /// The bugs to leave in (default: all); the others get their fix.
        #[arg(long, value_delimiter = ',')]
        bugs: Vec<String>,
        /// Include the loom models and the replay script, as a debugging tool.
        #[arg(long)]
        with_loom: bool,
        /// Then build the export from a clean copy and check its tests fail exactly as its
        /// README says.
        #[arg(long)]
        check: bool,
    },
    /// Builds a candidate's crate and grades each bug: fixed, not fixed, or fixed by a wrong
    /// fix, with the evidence.
    Grade {
        /// The candidate's crate.
        dir: PathBuf,
        /// Print the scorecard as JSON.
        #[arg(long)]
        json: bool,
        /// Seeded flaky runs for the money-conservation scenario.
        #[arg(long, default_value_t = 5)]
        seeds: u64,
    },
    /// Grades the unmodified export, the reference fix and each wrong fix kept in
    /// tests/fixtures/wrong-fixes, and checks each scorecard says what it should.
    Selftest {
        #[arg(long, default_value_t = 3)]
        seeds: u64,
        /// Only these cases ("unmodified export", "reference fix", or a fixture's name).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// How often a bug's triggering scenario fails on each build, with a 95% interval.
    Repro {
        bug: String,
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Builds to measure (buggy, fixed, or a fix feature).
        #[arg(long, value_delimiter = ',', default_value = "buggy,fixed")]
        build: Vec<String>,
        /// A scenario other than the bug's first triggering one.
        #[arg(long)]
        scenario: Option<String>,
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
fn features_of(bugs: &[manifest::Bug], build: &str) -> Result<Vec<String>, String> {
    match build {
        "buggy" => Ok(Vec::new()),
        "fixed" => Ok(vec!["fixed".into()]),
        feature if bugs.iter().any(|b| b.feature == feature) => Ok(vec![feature.into()]),
        other => Err(format!(
            "no build {other:?}: use buggy, fixed or one of {}",
            bugs.iter()
                .map(|b| b.feature.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
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
                    "  triggering tests: {}, loom models: {}",
                    bug.triggering.tests.len(),
                    bug.triggering.loom_models.len()
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
                return Err(format!("no such builds: {}", builds.join(", ")));
            }
            let mut reports = Vec::new();
            for build in &matrix {
                let mut results = Vec::new();
                for run in 1..=runs.max(1) {
                    eprintln!("==> {build}: run {run}/{runs}");
                    let mut outcome = verify::run_suite(&cli.root, build, false)?;
                    if !no_loom {
                        outcome.extend(verify::run_suite(&cli.root, build, true)?);
                    }
                    results.push(outcome);
                }
                reports.push(verify::BuildReport::new(&bugs, build, &results, !no_loom));
            }
            print!("\n{}", verify::render(&reports));
            let clean = reports.iter().all(|r| r.mismatches().is_empty());
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
            check,
        } => {
            let chosen: Vec<_> = if chosen.is_empty() {
                bugs.iter().collect()
            } else {
                chosen
                    .iter()
                    .map(|id| manifest::find(&bugs, id))
                    .collect::<Result<_, _>>()?
            };
            let exported = export::export(&cli.root, &bugs, &chosen, &out, with_loom)?;
            println!("wrote the candidate's crate to {}", out.display());
            if check {
                export::check(&out, &exported)?;
                println!("checked: it builds, and exactly the tests its README names fail");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Grade { dir, json, seeds } => {
            let card = runtime()?.block_on(grade::grade(&cli.root, &bugs, &dir, seeds))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&card).map_err(|e| e.to_string())?
                );
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
                None => all
                    .iter()
                    .find(|s| s.bug == bug.id && s.role == suite::Role::Symptom),
            }
            .ok_or_else(|| format!("no scenario {scenario:?} for {}", bug.id))?;
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
        Command::Demo {
            url,
            balance_url,
            build,
            seed,
        } => {
            let runtime = runtime()?;
            let http = reqwest::Client::builder()
                .no_proxy()
                .build()
                .map_err(|e| e.to_string())?;
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

//! `exercise`: the interviewer's harness. Reads the bugs from `variants/*/bug.toml`,
//! verifies the build matrix, and exports the candidate's crate.

mod export;
mod manifest;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "The interviewer's harness for the order-service debugging exercise"
)]
struct Cli {
    /// The exercise's repository (where variants/ is).
    #[arg(long, global = true, default_value = env!("CARGO_MANIFEST_DIR"))]
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
    let bugs = manifest::load(&cli.root)?;
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
    }
}

//! `exercise repro`: how often a bug's symptom shows, per build, with a 95% Wilson interval,
//! so "fixed" can be stated as "0 of 1000". A seeded scenario runs with fault seed n in run
//! n; for one that observes (the original workload), each run's numbers are printed too.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::Project;
use crate::catalog::{self, Observation, Scenario};
use crate::{drive, manifest};

/// How often a bug's symptom shows on each build, with a 95% interval; for lost-update, the
/// revenue each run lost under the original workload.
#[derive(Debug, clap::Args)]
pub struct Args {
    bug: String,
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Builds to measure: buggy (every bug), default (the brief's two, as `cargo run`
    /// starts it), fixed, or a fix feature. By default the build `cargo run` starts when it
    /// has the bug (a bug of the brief), else buggy; and fixed.
    #[arg(long, value_delimiter = ',')]
    build: Vec<String>,
    /// A scenario other than the bug's usual one.
    #[arg(long)]
    scenario: Option<String>,
    /// Where each run's logs and the order service's stats file go (a tmpfs such as
    /// /dev/shm, or a folder on disk, to measure both).
    #[arg(long)]
    work: Option<std::path::PathBuf>,
}

impl Args {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let bugs = project.bugs()?;
        let bug = manifest::find(&bugs, &self.bug)?;
        let scenarios = catalog::checks_of(&bug.id).scenarios;
        let chosen = match &self.scenario {
            Some(name) => scenarios.iter().find(|s| s.name == name),
            None => scenarios.iter().find(|s| s.repro),
        }
        .with_context(|| {
            let names: Vec<_> = scenarios.iter().map(|s| s.name).collect();
            format!(
                "no scenario {} for {}; its scenarios: {}",
                self.scenario.as_deref().unwrap_or("to measure"),
                bug.id,
                if names.is_empty() {
                    "none (it is graded by its triggering tests)".to_owned()
                } else {
                    names.join(", ")
                }
            )
        })?;
        let logs = self
            .work
            .clone()
            .unwrap_or_else(|| project.root.join("target/exercise/repro"));
        let builds = if self.build.is_empty() {
            let first = if bug.brief.by_default {
                "default"
            } else {
                "buggy"
            };
            vec![first.to_owned(), "fixed".to_owned()]
        } else {
            self.build.clone()
        };
        let runtime = crate::runtime()?;
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let mut tallies = Vec::new();
        for name in &builds {
            let build = manifest::build_named(&bugs, name)?;
            eprintln!("==> building {name}");
            let binary = crate::tools::build_binary(&project.root, &build)?;
            let logs = logs.join(name);
            tallies.push(runtime.block_on(tally(name, &binary, chosen, self.runs, &logs)));
        }
        std::panic::set_hook(quiet);
        print!("\n{}", render(&bug.id, chosen.name, &tallies));
        Ok(ExitCode::SUCCESS)
    }
}

/// The failures of one build over its runs.
pub struct Tally {
    pub build: String,
    pub runs: usize,
    pub failures: usize,
    /// The first failing run: its number, fault plan and message.
    pub first_failure: Option<(usize, String, String)>,
    /// What each run showed, for a scenario that observes.
    pub observations: Vec<Observation>,
}

/// Runs `scenario` `runs` times against `binary`, run n with fault seed n.
pub async fn tally(
    build: &str,
    binary: &Path,
    scenario: &Scenario,
    runs: usize,
    logs: &Path,
) -> Tally {
    let mut tally = Tally {
        build: build.to_owned(),
        runs,
        failures: 0,
        first_failure: None,
        observations: Vec::new(),
    };
    let progress =
        indicatif::ProgressBar::new(runs as u64).with_message(format!("{build}: 0 failed"));
    progress.set_style(
        indicatif::ProgressStyle::with_template("  {msg} [{bar:30}] {pos}/{len} runs")
            .expect("the progress template parses")
            .progress_chars("#>-"),
    );
    for run in 1..=runs {
        let seed = scenario.seeded.then_some(run as u64);
        let logs = logs.join(format!("run-{run}"));
        let outcome = drive::run(binary, scenario, seed, &logs, true).await;
        if !outcome.passed {
            tally.failures += 1;
            if tally.first_failure.is_none() {
                tally.first_failure = Some((run, outcome.plan.clone(), outcome.message));
            }
        }
        if let Some(seen) = outcome.observation {
            tally.observations.push(seen);
        }
        progress.set_message(format!("{build}: {} failed", tally.failures));
        progress.inc(1);
    }
    progress.finish();
    eprintln!("  {build}: {} of {runs} runs failed", tally.failures);
    tally
}

/// The 95% Wilson score interval of `failures` in `runs`.
pub fn wilson(failures: usize, runs: usize) -> (f64, f64) {
    if runs == 0 {
        return (0.0, 1.0);
    }
    let n = runs as f64;
    let p = failures as f64 / n;
    let z = 1.959_963_984_540_054_f64;
    let z2 = z * z;
    let center = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((center - half).max(0.0), (center + half).min(1.0))
}

pub fn render(bug: &str, scenario: &str, tallies: &[Tally]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "repro {bug}: scenario {scenario}\n");
    let _ = writeln!(
        out,
        "{:<20} {:>10} {:>7}  95% interval",
        "build", "failed", "rate"
    );
    for tally in tallies {
        let (low, high) = wilson(tally.failures, tally.runs);
        let _ = writeln!(
            out,
            "{:<20} {:>10} {:>6.1}%  [{:.1}%, {:.1}%]",
            tally.build,
            format!("{}/{}", tally.failures, tally.runs),
            100.0 * tally.failures as f64 / tally.runs.max(1) as f64,
            100.0 * low,
            100.0 * high
        );
    }
    for tally in tallies {
        if !tally.observations.is_empty() {
            let _ = writeln!(out, "\n{}, run by run:", tally.build);
            for (n, seen) in tally.observations.iter().enumerate() {
                let _ = writeln!(out, "  run {:>3}: {}", n + 1, seen.line);
            }
            let losses: Vec<f64> = tally.observations.iter().filter_map(|o| o.loss).collect();
            if !losses.is_empty() {
                let mean = losses.iter().sum::<f64>() / losses.len() as f64;
                let (low, high) = losses
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(l, h), x| (l.min(*x), h.max(*x)));
                let _ = writeln!(
                    out,
                    "  lost: mean {:.1}%, least {:.1}%, most {:.1}% of the orders answered ok",
                    100.0 * mean,
                    100.0 * low,
                    100.0 * high
                );
            }
        }
        if let Some((run, plan, message)) = &tally.first_failure {
            let first_line = message.lines().next().unwrap_or_default();
            let _ = writeln!(
                out,
                "\n{}: first failure in run {run}, balance service faults `{plan}`\n  {first_line}",
                tally.build
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals_match_the_textbook_values() {
        let (low, high) = wilson(0, 50);
        assert!(
            low.abs() < 1e-9 && (high - 0.0713).abs() < 0.0005,
            "{low} {high}"
        );
        let (low, high) = wilson(50, 50);
        assert!(
            (low - 0.9287).abs() < 0.0005 && (high - 1.0).abs() < 1e-9,
            "{low} {high}"
        );
        let (low, high) = wilson(5, 10);
        assert!(
            (low - 0.2366).abs() < 0.0005 && (high - 0.7634).abs() < 0.0005,
            "{low} {high}"
        );
    }

    #[test]
    fn the_repro_table_reads_as_rates_and_intervals() {
        let tallies = [
            Tally {
                build: "buggy".into(),
                runs: 50,
                failures: 50,
                first_failure: Some((
                    1,
                    "default,seed=1".into(),
                    "/stats shows 84 orders and $840.00, but 92 orders of $10 were answered ok"
                        .into(),
                )),
                observations: vec![
                    Observation {
                        held: false,
                        line: "92 ok ($920.00); /stats 84 orders ($840.00): 8 lost".into(),
                        loss: Some(8.0 / 92.0),
                    },
                    Observation {
                        held: false,
                        line: "90 ok ($900.00); /stats 79 orders ($790.00): 11 lost".into(),
                        loss: Some(11.0 / 90.0),
                    },
                ],
            },
            Tally {
                build: "fixed".into(),
                runs: 50,
                failures: 0,
                first_failure: None,
                observations: Vec::new(),
            },
        ];
        insta::assert_snapshot!(render(
            "lost-update",
            "stats_match_the_orders_answered_ok_under_the_original_workload",
            &tallies
        ));
    }
}

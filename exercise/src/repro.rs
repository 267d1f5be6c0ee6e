//! `exercise repro`: how often a bug's triggering scenario fails, per build, with a 95%
//! Wilson interval, so "fixed" can be stated as "0 of 1000".

use std::fmt::Write as _;
use std::path::Path;

use crate::drive;
use crate::suite::Scenario;

/// The failures of one build over its runs.
pub struct Tally {
    pub build: String,
    pub runs: usize,
    pub failures: usize,
    /// The first failing run: its number, seed, fault plan and message.
    pub first_failure: Option<(usize, u64, String, String)>,
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
    };
    for run in 1..=runs {
        let seed = run as u64;
        let outcome = drive::run(
            binary,
            scenario,
            Some(seed),
            &logs.join(format!("run-{run}")),
        )
        .await;
        if !outcome.passed {
            tally.failures += 1;
            if tally.first_failure.is_none() {
                tally.first_failure = Some((run, seed, outcome.plan, outcome.message));
            }
        }
        eprint!("\r  {build}: {run}/{runs} runs, {} failed", tally.failures);
    }
    eprintln!();
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
        if let Some((run, seed, plan, message)) = &tally.first_failure {
            let first_line = message.lines().next().unwrap_or_default();
            let _ = writeln!(
                out,
                "\n{}: first failure in run {run} (fault seed {seed})\n  fault plan: {plan}\n  {first_line}",
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
                    1,
                    r#"{"script":["drop_response"]}"#.into(),
                    "order 1 was charged 2 times, expected once".into(),
                )),
            },
            Tally {
                build: "fixed".into(),
                runs: 50,
                failures: 0,
                first_failure: None,
            },
        ];
        insta::assert_snapshot!(render(
            "double-charge",
            "an_order_is_charged_once_when_its_response_is_lost",
            &tallies
        ));
    }
}

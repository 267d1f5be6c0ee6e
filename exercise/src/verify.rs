//! `exercise verify`: every build of the matrix fails exactly the triggering tests and loom
//! models of the bugs it does not fix, on every run, and passes everything else.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::Project;
use crate::libtest::{self, RunResults};
use crate::manifest::{self, Bug, Build};

/// Runs the tests and loom models of every build (buggy, each single fix, fixed) and checks
/// each fails exactly the triggering tests of the bugs it has.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runs of each build; a triggering test must fail on every one.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Only these builds (buggy, fixed, or a fix feature).
    #[arg(long, value_delimiter = ',')]
    builds: Vec<String>,
    /// Skip the loom models.
    #[arg(long)]
    no_loom: bool,
}

impl Args {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let bugs = project.bugs()?;
        let matrix: Vec<_> = manifest::matrix(&bugs)
            .into_iter()
            .filter(|b| self.builds.is_empty() || self.builds.contains(&b.name))
            .collect();
        if matrix.is_empty() {
            bail!("no such builds: {}", self.builds.join(", "));
        }
        // Each run's whole output is kept, for a mismatch to be looked into.
        let logs = project.root.join("target/verify");
        std::fs::create_dir_all(&logs)
            .with_context(|| format!("cannot create {}", logs.display()))?;
        let mut reports = Vec::new();
        for build in &matrix {
            let results = self.runs_of(project, build, &logs)?;
            reports.push(BuildReport::new(&bugs, build, &results, !self.no_loom));
        }
        print!("\n{}", render(&reports));
        if reports.iter().all(|r| r.mismatches().is_empty()) {
            Ok(ExitCode::SUCCESS)
        } else {
            println!("Each run's output: {}", logs.display());
            Ok(ExitCode::FAILURE)
        }
    }

    /// Every run of `build`: its tests, then its loom models, each run's output kept in `logs`.
    fn runs_of(
        &self,
        project: &Project,
        build: &Build,
        logs: &std::path::Path,
    ) -> Result<Vec<RunResults>> {
        let runs = self.runs.max(1);
        let mut results = Vec::new();
        for run in 1..=runs {
            eprintln!("==> {build}: run {run}/{runs}");
            let mut outcome = RunResults::new();
            let kinds: &[(&str, bool)] = if self.no_loom {
                &[("tests", false)]
            } else {
                &[("tests", false), ("loom", true)]
            };
            for (kind, loom) in kinds {
                let suite = libtest::run_suite(&project.root, build, *loom)?;
                let log: PathBuf = logs.join(format!("{build}-{kind}-run{run}.log"));
                std::fs::write(&log, &suite.output)
                    .with_context(|| format!("cannot write {}", log.display()))?;
                outcome.extend(suite.results);
            }
            results.push(outcome);
        }
        Ok(results)
    }
}

/// What one build did over all its runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildReport {
    pub build: String,
    pub runs: usize,
    /// Tests that must fail on every run: the triggering tests of the bugs not fixed.
    pub expected_failing: BTreeSet<String>,
    /// Runs in which each test failed.
    pub failures: BTreeMap<String, usize>,
    /// Every test that ran.
    pub seen: BTreeSet<String>,
    /// Declared triggering tests and models that never ran.
    pub missing: BTreeSet<String>,
    /// How to run this build's tests again: `--features ...` or nothing.
    pub cargo_args: String,
}

impl BuildReport {
    pub fn new(bugs: &[Bug], build: &Build, runs: &[RunResults], loom: bool) -> Self {
        let expected_failing = bugs
            .iter()
            .filter(|bug| !build.has_fix(bug))
            .flat_map(|bug| bug.triggering())
            .map(str::to_owned)
            .collect();
        let mut failures = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for run in runs {
            for (test, passed) in run {
                seen.insert(test.clone());
                if !passed {
                    *failures.entry(test.clone()).or_insert(0) += 1;
                }
            }
        }
        let missing = bugs
            .iter()
            .flat_map(|bug| bug.triggering())
            .filter(|test| loom || !test.starts_with("loom::"))
            .filter(|test| !seen.contains(*test))
            .map(str::to_owned)
            .collect();
        BuildReport {
            build: build.name.clone(),
            runs: runs.len(),
            expected_failing,
            failures,
            seen,
            missing,
            cargo_args: build.cargo_args().join(" "),
        }
    }

    fn failed(&self, test: &str) -> usize {
        self.failures.get(test).copied().unwrap_or(0)
    }

    /// Triggering tests that failed on every run, of those that ran.
    fn triggering_held(&self) -> (usize, usize) {
        let ran: Vec<_> = self
            .expected_failing
            .iter()
            .filter(|t| self.seen.contains(*t))
            .collect();
        let held = ran.iter().filter(|t| self.failed(t) == self.runs).count();
        (held, ran.len())
    }

    /// Other tests that passed on every run.
    fn others_held(&self) -> (usize, usize) {
        let others: Vec<_> = self
            .seen
            .iter()
            .filter(|t| !self.expected_failing.contains(*t))
            .collect();
        let held = others.iter().filter(|t| self.failed(t) == 0).count();
        (held, others.len())
    }

    /// Everything that is not as declared, each with how to look into it.
    pub fn mismatches(&self) -> Vec<String> {
        let mut found = Vec::new();
        for test in &self.missing {
            found.push(format!(
                "{}: declared triggering test {test} did not run (renamed or removed? fix its bug.toml)",
                self.build
            ));
        }
        for test in &self.expected_failing {
            let failed = self.failed(test);
            if self.seen.contains(test) && failed != self.runs {
                let why = if failed == 0 {
                    "the bug does not show: the test cannot fail"
                } else {
                    "flaky: a triggering test must fail on every run"
                };
                found.push(format!(
                    "{}: {test} failed {failed}/{} runs, expected {}/{} ({why}); {}",
                    self.build,
                    self.runs,
                    self.runs,
                    self.runs,
                    self.rerun(test)
                ));
            }
        }
        for (test, failed) in &self.failures {
            if !self.expected_failing.contains(test) {
                found.push(format!(
                    "{}: {test} failed {failed}/{} runs, expected 0 (not a triggering test of a bug this build has); {}",
                    self.build,
                    self.runs,
                    self.rerun(test)
                ));
            }
        }
        found
    }

    /// The command that runs one test of this build again.
    fn rerun(&self, test: &str) -> String {
        let features = if self.cargo_args.is_empty() {
            String::new()
        } else {
            format!(" {}", self.cargo_args)
        };
        match test.split_once("::") {
            Some(("loom", model)) => format!("replay: scripts/loom-replay {model}{features}"),
            Some(("order_service", path)) => {
                format!("rerun: cargo test{features} --lib -- --exact {path}")
            }
            Some((target, path)) => {
                format!("rerun: cargo test{features} --test {target} -- --exact {path}")
            }
            None => format!("rerun: cargo test{features} {test}"),
        }
    }
}

/// The table `verify` prints, and the mismatches under it.
pub fn render(reports: &[BuildReport]) -> String {
    let mut out = String::new();
    let runs = reports.first().map_or(0, |r| r.runs);
    let width = reports
        .iter()
        .map(|r| r.build.to_string().len())
        .max()
        .unwrap_or(0)
        .max(20);
    let _ = writeln!(
        out,
        "{:<width$} {:>18} {:>22}  verdict",
        "build", "triggering failed", "others passed"
    );
    for report in reports {
        let (held, triggering) = report.triggering_held();
        let (passed, others) = report.others_held();
        let verdict = if report.mismatches().is_empty() {
            "as declared"
        } else {
            "MISMATCH"
        };
        let _ = writeln!(
            out,
            "{:<width$} {:>18} {:>22}  {verdict}",
            report.build.to_string(),
            format!("{held}/{triggering}"),
            format!("{passed}/{others}"),
        );
    }
    let _ = writeln!(
        out,
        "({runs} run{} of each build; a count is tests that did so on every run)",
        if runs == 1 { "" } else { "s" }
    );
    let mismatches: Vec<_> = reports.iter().flat_map(BuildReport::mismatches).collect();
    if mismatches.is_empty() {
        out.push_str("\nEvery build fails exactly the triggering tests of the bugs it has.\n");
    } else {
        out.push_str("\nMismatches:\n");
        for mismatch in mismatches {
            let _ = writeln!(out, "  - {mismatch}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::bug;
    use crate::manifest::{Bug, matrix};

    fn bugs() -> Vec<Bug> {
        vec![
            bug("double-charge", &["api::c::resent"], &["loom::twice"]),
            bug("lost-update", &["api::c::stats"], &["loom::sales"]),
        ]
    }

    fn run(failing: &[&str]) -> RunResults {
        [
            "api::c::resent",
            "api::c::stats",
            "api::o::ok",
            "loom::twice",
            "loom::sales",
        ]
        .into_iter()
        .map(|t| (t.to_owned(), !failing.contains(&t)))
        .collect()
    }

    /// The table for a matrix that behaves as declared.
    #[test]
    fn a_matrix_as_declared_renders_a_clean_table() {
        let bugs = bugs();
        let builds = matrix(&bugs);
        let outcomes = [
            vec![
                "api::c::resent",
                "api::c::stats",
                "loom::twice",
                "loom::sales",
            ],
            vec!["api::c::stats", "loom::sales"],
            vec!["api::c::resent", "loom::twice"],
            vec![],
        ];
        let reports: Vec<_> = builds
            .iter()
            .zip(outcomes)
            .map(|(build, failing)| {
                BuildReport::new(&bugs, build, &[run(&failing), run(&failing)], true)
            })
            .collect();
        insta::assert_snapshot!(render(&reports));
    }

    /// A flaky triggering test, a test that fails where it should not, and a triggering
    /// test that never ran are each reported with how to look into them.
    #[test]
    fn mismatches_say_what_and_how_to_rerun() {
        let bugs = bugs();
        let builds = matrix(&bugs);
        let without_stats = |failing: &[&str]| {
            let mut results = run(failing);
            results.remove("api::c::stats");
            results
        };
        let reports = vec![
            BuildReport::new(
                &bugs,
                &builds[0],
                &[
                    without_stats(&["api::c::resent", "loom::twice", "loom::sales"]),
                    without_stats(&["api::c::resent", "loom::twice"]),
                ],
                true,
            ),
            BuildReport::new(&bugs, &builds[3], &[run(&["api::o::ok"]), run(&[])], true),
        ];
        insta::assert_snapshot!(render(&reports));
    }
}

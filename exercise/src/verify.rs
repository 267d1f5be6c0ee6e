//! `exercise verify`: every build of the matrix fails exactly the triggering tests and loom
//! models of the bugs it does not fix, on every run, and passes everything else.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::manifest::{Bug, Build};

/// Each test's outcome in one run of one build: `target::path` -> passed.
pub type RunResults = BTreeMap<String, bool>;

/// One `cargo test` run: each test's outcome, and everything it printed.
pub struct SuiteRun {
    pub results: RunResults,
    pub output: String,
}

/// Runs the test suite of `build` once, or its loom models with `loom`, and reads each
/// test's outcome from the test harness's output.
pub fn run_suite(root: &Path, build: &Build, loom: bool) -> Result<SuiteRun> {
    run_suite_in(root, build, loom, None, &[])
}

/// [`run_suite`] with its own target directory (loom's defaults to `target/loom`), and only
/// the test targets in `tests` when any are given. Only the order service's own tests run:
/// the other crates build and test the same in every build.
///
/// libtest has no structured output on stable Rust (`--format json` needs
/// `-Z unstable-options`), so the outcomes are read from its `--format pretty` lines,
/// `test NAME ... ok` and `test NAME ... FAILED`, each under the `Running` line of its test
/// binary.
pub fn run_suite_in(
    root: &Path,
    build: &Build,
    loom: bool,
    target_dir: Option<&Path>,
    tests: &[&str],
) -> Result<SuiteRun> {
    let mut command = crate::tools::cargo();
    command
        .current_dir(root)
        .args(["test", "--no-fail-fast", "--package", "order-service"]);
    if loom {
        // Not `--cfg loom`: that also switches tokio's internals (see src/sync.rs).
        let flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        command
            .env("RUSTFLAGS", format!("{flags} --cfg orders_loom").trim())
            .arg("--target-dir")
            .arg(target_dir.unwrap_or(Path::new("target/loom")))
            .args(["--test", "loom"]);
    } else {
        command.env_remove("RUSTFLAGS");
        if let Some(dir) = target_dir {
            command.arg("--target-dir").arg(dir);
        }
        for test in tests {
            command.args(["--test", test]);
        }
    }
    // A snapshot that does not match fails its test and is not written beside the tests as
    // `.snap.new`: a check leaves the tree as it found it.
    command
        .env("INSTA_UPDATE", "no")
        .env_remove("INSTA_FORCE_PASS")
        .args(build.cargo_args())
        .args(["--", "--format", "pretty"]);
    let shown = format!("{command:?}");
    // One pipe for stdout and stderr, so each "Running <target>" line stays in front of
    // that target's results.
    let (reader, writer) = std::io::pipe()?;
    command.stdout(writer.try_clone()?).stderr(writer);
    let mut child = command.spawn().context("cannot run cargo")?;
    drop(command);
    let mut output = String::new();
    for line in BufReader::new(reader).lines() {
        output.push_str(&line?);
        output.push('\n');
    }
    child.wait()?;
    let results = read_results(&output);
    if results.is_empty() {
        let tail: Vec<_> = output.lines().rev().take(40).collect();
        bail!(
            "{shown} ran no tests:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(SuiteRun { results, output })
}

/// Each test's outcome, from the output of `cargo test -- --format pretty`: its
/// `test NAME ... ok|FAILED` line, under the `Running` line of its binary, and the list of
/// failures libtest prints at the end of each binary. The list settles a test whose own
/// line came out garbled (a server thread of another test writing to the same pipe).
pub fn read_results(output: &str) -> RunResults {
    let mut results = RunResults::new();
    let mut target = String::from("?");
    let mut listing_failures = false;
    for line in output.lines() {
        if let Some(name) = running_target(line) {
            target = name;
            listing_failures = false;
        } else if line == "failures:" {
            listing_failures = true;
        } else if listing_failures {
            match line.strip_prefix("    ") {
                Some(test) if !test.is_empty() && !test.contains(char::is_whitespace) => {
                    results.insert(format!("{target}::{test}"), false);
                }
                // A blank line ends the list (and the captured output's section, which
                // starts with one).
                _ => listing_failures = false,
            }
        } else if let Some((test, passed)) = test_result(line) {
            results.insert(format!("{target}::{test}"), passed);
        }
    }
    results
}

/// The test binary a `Running` line starts: its name, from the file cargo built
/// (`Running tests/api/main.rs (target/debug/deps/api-1f2e)` -> `api`).
fn running_target(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("Running ")?;
    let built = rest.rsplit_once('(')?.1.trim_end_matches(')');
    let file = Path::new(built).file_name()?.to_str()?;
    let (name, _hash) = file.rsplit_once('-')?;
    Some(name.to_owned())
}

/// `test concurrency::x ... ok` -> (`concurrency::x`, true).
fn test_result(line: &str) -> Option<(String, bool)> {
    let rest = line.strip_prefix("test ")?;
    let (name, outcome) = rest.split_once(" ... ")?;
    match outcome.trim() {
        "ok" => Some((name.to_owned(), true)),
        "FAILED" => Some((name.to_owned(), false)),
        _ => None,
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
    let _ = writeln!(
        out,
        "{:<20} {:>18} {:>22}  verdict",
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
            "{:<20} {:>18} {:>22}  {verdict}",
            report.build,
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

    #[test]
    fn cargo_output_lines_are_read_as_targets_and_results() {
        assert_eq!(
            running_target("     Running tests/api/main.rs (target/debug/deps/api-1f2e)"),
            Some("api".into())
        );
        assert_eq!(
            running_target(
                "     Running unittests src/lib.rs (target/debug/deps/order_service-9a)"
            ),
            Some("order_service".into())
        );
        assert_eq!(
            running_target("     Running tests/loom.rs (target/loom/debug/deps/loom-1)"),
            Some("loom".into())
        );
        assert_eq!(
            test_result("test concurrency::a ... FAILED"),
            Some(("concurrency::a".into(), false))
        );
        assert_eq!(test_result("test result: ok. 3 passed"), None);
    }

    /// A test whose own line is garbled is still read as failed, from libtest's list of
    /// failures; a failing test's captured output does not count as that list.
    #[test]
    fn a_garbled_result_line_is_settled_by_the_list_of_failures() {
        let output = "     Running tests/api/main.rs (target/debug/deps/api-1f2e)

running 3 tests
test orders::a ... ok
test orders::b ... 2026-11-25 WARN a server thread's log line
FAILED
test orders::c ... FAILED

failures:

---- orders::c stdout ----
    not_a_test_name but output

failures:
    orders::b
    orders::c

test result: FAILED. 1 passed; 2 failed
";
        let results = read_results(output);
        assert_eq!(
            results,
            RunResults::from([
                ("api::orders::a".into(), true),
                ("api::orders::b".into(), false),
                ("api::orders::c".into(), false),
            ])
        );
    }
}

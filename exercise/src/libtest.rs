//! Running a crate's tests and reading each test's outcome from libtest's output: what
//! `verify`, `export --check` and `grade` all need.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::manifest::Build;

/// Each test's outcome in one run of one build: `target::path` -> passed.
pub type RunResults = BTreeMap<String, bool>;

/// One `cargo test` run: each test's outcome, and everything it printed.
pub struct SuiteRun {
    pub results: RunResults,
    pub output: String,
    /// The tests were still running at the limit, and were killed: the tests without an
    /// outcome did not finish.
    pub timed_out: Option<Duration>,
}

/// How long a test suite may run once built. The fixed build's whole suite runs in about a
/// minute on a 2-core machine.
pub const SUITE_LIMIT: Duration = Duration::from_secs(10 * 60);

/// How long a suite's build may take, and its run once built.
#[derive(Debug, Clone, Copy)]
pub struct SuiteLimits {
    pub build: Duration,
    pub run: Duration,
}

impl Default for SuiteLimits {
    /// A build as long as a grade allows one by default, and [`SUITE_LIMIT`] to run.
    fn default() -> Self {
        SuiteLimits {
            build: crate::tools::Limits::DEFAULT.build,
            run: SUITE_LIMIT,
        }
    }
}

/// Runs the test suite of `build` once, or its loom models with `loom`, and reads each
/// test's outcome from the test harness's output.
pub fn run_suite(root: &Path, build: &Build, loom: bool) -> Result<SuiteRun> {
    run_suite_in(root, build, loom, None, &[], &[], SuiteLimits::default())
}

/// [`run_suite`] with its own target directory (loom's defaults to `target/loom`), only the
/// test targets in `tests` when any are given, only the tests named in `names` (their exact
/// paths in their target, `reported::a_test`) when any are, within `limits`. Only the order
/// service's own tests run: the other crates build and test the same in every build.
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
    names: &[String],
    limits: SuiteLimits,
) -> Result<SuiteRun> {
    let command = |build_only: bool| {
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
        // A snapshot that does not match fails its test and is not written beside the tests
        // as `.snap.new`: a check leaves the tree as it found it.
        command
            .env("INSTA_UPDATE", "no")
            .env_remove("INSTA_FORCE_PASS")
            .args(build.cargo_args());
        if build_only {
            command.arg("--no-run");
        } else {
            command.args(["--", "--format", "pretty"]);
            if !names.is_empty() {
                command.arg("--exact").args(names);
            }
        }
        command
    };
    // Built first, under the build's limit, so that the tests' own limit is theirs alone.
    let built = crate::tools::run_limited(command(true), limits.build)?;
    if !built.succeeded() {
        bail!(
            "could not build the tests ({}):\n{}",
            built.ending(),
            crate::tools::last_lines(&built.output, 40)
        );
    }
    let tested = command(false);
    let shown = format!("{tested:?}");
    // One pipe for stdout and stderr, so each "Running <target>" line stays in front of
    // that target's results.
    let run = crate::tools::run_limited(tested, limits.run).context("cannot run cargo")?;
    let results = read_results(&run.output);
    if results.is_empty() && !run.timed_out() {
        bail!(
            "{shown} ran no tests:\n{}",
            crate::tools::last_lines(&run.output, 40)
        );
    }
    Ok(SuiteRun {
        results,
        timed_out: run.timed_out().then_some(limits.run),
        output: run.output,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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

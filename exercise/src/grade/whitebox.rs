//! The checks that call the candidate's code directly, run on a copy of their crate: each
//! bug's probes (`variants/<bug>/probes.rs`), the reference loom models, and, for a bug with
//! no public scenarios, its triggering tests as the reference wrote them.
//!
//! A check that cannot build (the candidate changed an interface it uses), or that panics in
//! the candidate's code rather than in its own assertion, is inconclusive: it counts for
//! nothing either way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use super::judge::Evidence;
use crate::catalog::{self, Checks, Kind, Role};
use crate::libtest::{self, RunResults};
use crate::manifest::{Bug, Build};
use crate::tools::{copy_tree, is_build_or_history};
use crate::trees;

/// How long the probes and the public tests may run once built: they run in a few seconds
/// on the reference on a 2-core machine. A fix whose orders never finish is found by the
/// black-box checks, and its white-box tests are stopped here.
const TARGET_LIMIT: Duration = Duration::from_secs(30);

/// How long the loom models may run once built: about 10 s on the reference, exhaustively.
const LOOM_LIMIT: Duration = Duration::from_secs(120);

/// What running the copy's test targets gave.
#[derive(Debug, Clone, Default)]
struct Outcomes {
    results: RunResults,
    /// Why a failed check did not fail by its own assertion.
    not_by_assertion: BTreeMap<String, String>,
    /// What a failed check printed: its assertion, or loom's interleaving.
    reports: BTreeMap<String, String>,
    /// Why a test target could not say anything of some of its tests.
    problems: BTreeMap<String, Problem>,
}

impl Outcomes {
    fn merge(&mut self, other: Outcomes) {
        self.results.extend(other.results);
        self.not_by_assertion.extend(other.not_by_assertion);
        self.reports.extend(other.reports);
        self.problems.extend(other.problems);
    }
}

/// Why a test target left tests without an outcome.
#[derive(Debug, Clone)]
enum Problem {
    /// It did not build, or could not run: its first compiler error, or what went wrong.
    Unbuilt(String),
    /// It was still running at the limit, and was stopped.
    Unfinished(Duration),
}

impl Problem {
    fn why(&self) -> String {
        match self {
            Problem::Unbuilt(error) => {
                format!("did not build against the candidate's code ({error})")
            }
            Problem::Unfinished(limit) => format!(
                "its tests did not finish within {limit:?} and were stopped: one of them waits \
                 on the candidate's code for ever"
            ),
        }
    }
}

/// The copy of the candidate's crate with the white-box checks added, ready to run any
/// number of times.
pub struct Prepared {
    /// The copy, kept in step with the candidate's crate (see `trees`).
    copy: PathBuf,
    targets: Vec<(String, PathBuf)>,
    /// Why the checks could not be added, when they could not.
    problem: Option<String>,
    /// A graded bug is judged by its public tests (it has no public scenarios), or the
    /// candidate edited some, so the reference's public tests run too; otherwise nothing
    /// reads them.
    public_tests: bool,
    /// A graded bug has a loom model among its checks; otherwise nothing reads the models'
    /// outcomes, and building the crate under loom is skipped.
    loom_models: bool,
    /// The loom models' outcomes, once they have run.
    loom: std::sync::Mutex<Option<Outcomes>>,
    /// How long building a test target may take.
    build_limit: std::time::Duration,
}

/// Copies the candidate's crate at `dir` to `work/whitebox` with the white-box checks added:
/// once per grade, however many rounds run them. The copy is laid out whole in
/// `work/whitebox-next` and the kept one brought in step with it, so that only what the
/// candidate changed since the last grade is built again.
pub fn prepare(
    dir: &Path,
    work: &Path,
    root: &Path,
    bugs: &[(&Bug, Checks)],
    tests_edited: bool,
    build_limit: std::time::Duration,
) -> Prepared {
    let targets = probe_targets(root, bugs);
    let (next, copy) = (work.join("whitebox-next"), work.join("whitebox"));
    let laid = (|| {
        let _ = std::fs::remove_dir_all(&next);
        copy_tree(dir, &next, &is_build_or_history)?;
        add_checks(&next, root, &targets)?;
        trees::sync(&next, &copy, &is_build_or_history)
    })();
    let _ = std::fs::remove_dir_all(&next);
    Prepared {
        copy,
        targets,
        problem: laid.err().map(|problem| first_error(&problem)),
        public_tests: tests_edited || bugs.iter().any(|(_, checks)| checks.grades_public_tests()),
        loom_models: bugs.iter().any(|(_, checks)| {
            checks
                .white_box
                .iter()
                .any(|check| check.target == catalog::Target::Loom)
        }),
        loom: std::sync::Mutex::new(None),
        build_limit,
    }
}

/// Runs the white-box checks of a prepared copy, and gives each graded bug's evidence.
/// `reworked` are the files a check may skip ([`WhiteBox::skips`](catalog::WhiteBox)) that
/// the candidate changed.
pub fn evidence(
    prepared: &Prepared,
    root: &Path,
    bugs: &[(&Bug, Checks)],
    reworked: &BTreeSet<&str>,
    edited: &BTreeMap<String, String>,
) -> Vec<(String, Evidence)> {
    let targets = &prepared.targets;
    let outcomes = match &prepared.problem {
        None => run_targets(prepared, root),
        Some(why) => Outcomes {
            problems: targets
                .iter()
                .map(|(name, _)| name.clone())
                .chain(["api".into(), "loom".into()])
                .map(|target| (target, Problem::Unbuilt(why.clone())))
                .collect(),
            ..Outcomes::default()
        },
    };
    bugs.iter()
        .flat_map(|(bug, checks)| evidence_of(bug, checks, &outcomes, reworked, edited))
        .collect()
}

/// Of the files the white-box checks of `bugs` skip, those the candidate's crate at `dir`
/// has changed: different from the crate handed over (`given`) and from every bug's
/// reference fix of that file (a candidate may write exactly the reference's).
pub fn reworked(
    bugs: &[(&Bug, Checks)],
    root: &Path,
    given: &Path,
    dir: &Path,
) -> BTreeSet<&'static str> {
    let skipped: BTreeSet<&'static str> = bugs
        .iter()
        .flat_map(|(_, checks)| checks.white_box.iter().flat_map(|check| check.skips))
        .copied()
        .collect();
    let references: Vec<(String, PathBuf)> = bugs
        .iter()
        .flat_map(|(bug, _)| {
            bug.files
                .iter()
                .map(|file| (file.module.clone(), bug.variant(root, "fixed", file)))
        })
        .collect();
    skipped
        .into_iter()
        .filter(|file| {
            let theirs = std::fs::read(dir.join(file)).ok();
            let ours = std::iter::once(given.join(file)).chain(
                references
                    .iter()
                    .filter(|(module, _)| module == file)
                    .map(|(_, fixed)| fixed.clone()),
            );
            ours.map(|path| std::fs::read(path).ok())
                .all(|ours| ours != theirs)
        })
        .collect()
}

/// Each graded bug's probe file, as the test target it is added as.
fn probe_targets(root: &Path, bugs: &[(&Bug, Checks)]) -> Vec<(String, PathBuf)> {
    bugs.iter()
        .map(|(bug, _)| bug)
        .map(|bug| {
            (
                catalog::probe_target(&bug.id),
                bug.dir(root).join("probes.rs"),
            )
        })
        .filter(|(_, path)| path.exists())
        .collect()
}

/// Adds to the copy the probes, the loom models with the loom-capable shims and manifests,
/// and the reference's public tests and scenarios.
fn add_checks(copy: &Path, root: &Path, probes: &[(String, PathBuf)]) -> Result<()> {
    std::fs::create_dir_all(copy.join("tests"))?;
    for (target, file) in probes {
        std::fs::copy(file, copy.join("tests").join(format!("{target}.rs")))?;
    }
    std::fs::copy(root.join("tests/loom.rs"), copy.join("tests/loom.rs"))?;
    // The loom models need the loom-capable shims and loom itself, which an export without
    // `--with-loom` leaves out.
    for (shim, exported) in [
        (
            "src/sync.rs",
            include_str!("../../templates/order-service-sync.rs"),
        ),
        (
            "balance-service/src/sync.rs",
            include_str!("../../templates/balance-service-sync.rs"),
        ),
    ] {
        let theirs = std::fs::read_to_string(copy.join(shim)).unwrap_or_default();
        let loom_capable = std::fs::read_to_string(root.join(shim))?;
        std::fs::write(
            copy.join(shim),
            merge_shim(&loom_capable, exported, &theirs),
        )?;
    }
    for manifest in ["Cargo.toml", "balance-service/Cargo.toml"] {
        let path = copy.join(manifest);
        let text = std::fs::read_to_string(&path)?;
        std::fs::write(&path, crate::export::with_loom(&text)?)?;
    }
    // The reference's public tests and scenarios: a bug without held-back scenarios is
    // graded by its triggering tests, as the reference wrote them.
    for shared in ["tests/api", "scenarios"] {
        let _ = std::fs::remove_dir_all(copy.join(shared));
        copy_tree(&root.join(shared), &copy.join(shared), &is_build_or_history)?;
    }
    Ok(())
}

/// Runs each target on its own, so one that does not build does not stop the others. The
/// probes and public tests share the grade build's dependencies; loom keeps its own, so the
/// models are built and run beside the probes, on the other core. They run once per grade:
/// they explore every interleaving, so a second run of one build can only repeat the
/// first, and later rounds reuse it.
fn run_targets(prepared: &Prepared, root: &Path) -> Outcomes {
    let copy = &prepared.copy;
    let mut outcomes = Outcomes::default();
    let mut targets: Vec<String> = prepared.targets.iter().map(|(t, _)| t.clone()).collect();
    if prepared.public_tests {
        targets.push("api".into());
    }
    let mut loom = prepared.loom.lock().unwrap_or_else(|e| e.into_inner());
    let models = std::thread::scope(|scope| {
        let models = (prepared.loom_models && loom.is_none())
            .then(|| scope.spawn(|| run_target(copy, root, "loom", true, prepared.build_limit)));
        for target in targets {
            outcomes.merge(run_target(copy, root, &target, false, prepared.build_limit));
        }
        models.map(|models| {
            models.join().unwrap_or_else(|_| Outcomes {
                problems: [(
                    "loom".to_owned(),
                    Problem::Unbuilt("the loom models' runner panicked".into()),
                )]
                .into(),
                ..Outcomes::default()
            })
        })
    });
    if let Some(models) = models {
        *loom = Some(models);
    }
    if let Some(models) = loom.as_ref() {
        outcomes.merge(models.clone());
    }
    outcomes
}

/// Runs one test target of the copy (the loom models with `loom`). The copy has its own
/// target directories: sharing the crate's would build both again on every grade (see
/// `trees::claim`).
fn run_target(
    copy: &Path,
    root: &Path,
    target: &str,
    loom: bool,
    build_limit: std::time::Duration,
) -> Outcomes {
    let mut outcomes = Outcomes::default();
    let dir = root.join(if loom {
        "target/grade-loom"
    } else {
        "target/grade-whitebox"
    });
    let _claim = match trees::claim(&dir, copy) {
        Ok(claim) => claim,
        Err(problem) => {
            let why = Problem::Unbuilt(first_error(&problem));
            outcomes.problems.insert(target.to_owned(), why);
            return outcomes;
        }
    };
    let only: Vec<&str> = if loom { Vec::new() } else { vec![target] };
    let build = Build::plain("candidate");
    let limit = if loom { LOOM_LIMIT } else { TARGET_LIMIT };
    match libtest::run_suite_in(
        copy,
        &build,
        loom,
        Some(&dir),
        &only,
        &[],
        libtest::SuiteLimits {
            build: build_limit,
            run: limit,
        },
    ) {
        Ok(suite) => {
            for (name, passed) in &suite.results {
                if *passed {
                    continue;
                }
                let test = name.split_once("::").map_or(name.as_str(), |(_, t)| t);
                if let Some(elsewhere) = panic_outside_tests(&suite.output, test) {
                    outcomes.not_by_assertion.insert(name.clone(), elsewhere);
                }
                if let Some(report) = failure_report(&suite.output, test) {
                    outcomes.reports.insert(name.clone(), report);
                }
            }
            if let Some(limit) = suite.timed_out {
                outcomes
                    .problems
                    .insert(target.to_owned(), Problem::Unfinished(limit));
            }
            outcomes.results.extend(suite.results);
        }
        Err(problem) => {
            outcomes
                .problems
                .insert(target.to_owned(), Problem::Unbuilt(first_error(&problem)));
        }
    }
    outcomes
}

/// A bug's white-box evidence: its probes and models, and its triggering tests as the
/// reference wrote them when it has no scenarios of its own or when the candidate edited them
/// (`edited`: what they did to each).
fn evidence_of(
    bug: &Bug,
    checks: &Checks,
    outcomes: &Outcomes,
    reworked: &BTreeSet<&str>,
    edited: &BTreeMap<String, String>,
) -> Vec<(String, Evidence)> {
    let mut found: Vec<(String, Kind, Role, &[&str])> = checks
        .white_box
        .iter()
        .map(|check| {
            (
                check.full_name(&bug.id),
                check.kind(),
                check.role,
                check.skips,
            )
        })
        .collect();
    found.extend(
        bug.triggering
            .tests
            .iter()
            .filter(|test| checks.grades_public_tests() || edited.contains_key(*test))
            .map(|test| (test.clone(), Kind::PublicTest, Role::Symptom, &[][..])),
    );
    found
        .into_iter()
        .map(|(name, kind, role, skips)| {
            let target = name.split("::").next().unwrap_or_default();
            let bypassed: Vec<&str> = skips
                .iter()
                .copied()
                .filter(|file| reworked.contains(file))
                .collect();
            let evidence = match outcomes.results.get(&name) {
                Some(false) if !bypassed.is_empty() => Evidence::inconclusive(
                    &name,
                    kind,
                    role,
                    format!(
                        "it starts below {}, which this fix changed and it does not run: \
                         whatever the fix does there is judged by the black-box checks",
                        bypassed.join(" and ")
                    ),
                ),
                Some(false) if outcomes.not_by_assertion.contains_key(&name) => {
                    Evidence::inconclusive(
                        &name,
                        kind,
                        role,
                        format!(
                            "it panicked in the candidate's code, not in its own check ({})",
                            outcomes.not_by_assertion[&name]
                        ),
                    )
                }
                Some(true) => Evidence::new(&name, kind, role, true, String::new()),
                Some(false) => {
                    let said = outcomes
                        .reports
                        .get(&name)
                        .map_or("failed (it printed nothing)", String::as_str);
                    Evidence::new(&name, kind, role, false, said.to_owned())
                }
                None => Evidence::inconclusive(
                    &name,
                    kind,
                    role,
                    outcomes.problems.get(target).map_or_else(
                        || Problem::Unbuilt("it did not run".into()).why(),
                        Problem::why,
                    ),
                ),
            };
            let mut evidence = evidence;
            if let Some(what) = edited.get(&name) {
                evidence.edited = what.clone();
            }
            (bug.id.clone(), evidence)
        })
        .collect()
}

/// The first compiler error of a failure, or its first line.
pub(super) fn first_error(problem: &anyhow::Error) -> String {
    let text = format!("{problem:#}");
    text.lines()
        .find(|line| line.starts_with("error"))
        .or_else(|| text.lines().next())
        .unwrap_or_default()
        .to_owned()
}

/// What libtest printed of a failed test (`---- NAME stdout ----` up to the next report or
/// the list of failures): its assertion's message, or loom's account of the interleaving,
/// up to 25 lines, without the backtrace or the hint to get one.
pub(super) fn failure_report(output: &str, test: &str) -> Option<String> {
    const SHOWN: usize = 25;
    let report = output.split(&format!("---- {test} stdout ----")).nth(1)?;
    let lines: Vec<&str> = report
        .lines()
        .take_while(|line| {
            !line.starts_with("---- ") && *line != "failures:" && *line != "stack backtrace:"
        })
        .filter(|line| {
            !line.trim().is_empty() && !line.starts_with("note: run with `RUST_BACKTRACE")
        })
        .collect();
    let mut said = lines[..lines.len().min(SHOWN)].join("\n");
    if lines.len() > SHOWN {
        said.push_str(&format!("\n... and {} more lines", lines.len() - SHOWN));
    }
    (!said.is_empty()).then_some(said)
}

/// The loom-capable shim, plus whatever lines the candidate added to the one they were given
/// (a re-export of another primitive, say), so their code still builds against it.
fn merge_shim(loom_capable: &str, exported: &str, theirs: &str) -> String {
    let given: std::collections::HashSet<&str> = exported.lines().map(str::trim).collect();
    let added: Vec<&str> = theirs
        .lines()
        .filter(|line| !line.trim().is_empty() && !given.contains(line.trim()))
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect();
    if added.is_empty() {
        return loom_capable.to_owned();
    }
    format!(
        "{loom_capable}\n// Added by the candidate:\n{}\n",
        added.join("\n")
    )
}

/// Where a failed test panicked, when that was not in a test file: the location and message,
/// read from libtest's report of the test (`---- NAME stdout ----`, then `panicked at
/// PATH:LINE:COL:` and the message).
fn panic_outside_tests(output: &str, test: &str) -> Option<String> {
    let report = output.split(&format!("---- {test} stdout ----")).nth(1)?;
    let mut lines = report.lines();
    let panicked = lines.find(|line| line.contains("panicked at "))?;
    let location = panicked.split("panicked at ").nth(1)?.trim_end_matches(':');
    // insta's snapshot assertions panic inside insta: a failed snapshot is the test's own
    // check.
    if location.starts_with("tests/") || location.contains("/insta-") {
        return None;
    }
    let message = lines.next().unwrap_or_default();
    Some(format!("{location}: {message}"))
}

#[cfg(test)]
#[path = "tests/whitebox.rs"]
mod tests;

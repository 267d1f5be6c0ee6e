//! `exercise grade DIR`: builds a candidate's crate, runs its `order-service` as a black box
//! against the reference balance service, adds held-back probes and the loom models to a
//! copy of it, and gives each bug one of four verdicts, decided by symptoms:
//!
//! - `not_fixed`: a black-box symptom check failed (an order charged twice; `/stats` lower
//!   than the orders charged);
//! - `wrong_fix`: no symptom, but a guard failed: something the buggy code did right broke;
//! - `fixed_with_gaps`: no symptom, no broken guard, but robustness checks failed: gaps;
//! - `fixed`: everything held.
//!
//! The verdict rests on what the service does over HTTP. The white-box checks (probes and
//! loom models run on a copy of the candidate's code) call its functions directly, which a
//! design may never do concurrently (one that serializes orders higher up, say): a failing
//! white-box robustness check is a gap, and a failing white-box symptom check that no
//! black-box scenario confirms is a note to discuss, not a verdict.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::drive;
use crate::manifest::{Bug, Build};
use crate::suite::{self, Role};
use crate::tools::copy_tree;
use crate::verify;

/// One piece of evidence: a scenario, probe or model, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub check: String,
    /// `scenario`, `held-back scenario`, `probe` or `loom model`.
    pub kind: String,
    /// `symptom`, `guard` or `robustness`.
    pub role: String,
    pub passed: bool,
    /// It calls the candidate's code directly (a probe or a loom model).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub white_box: bool,
    /// It could not run against the candidate's code (it counts for nothing).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inconclusive: bool,
    /// Why it failed, or why it could not run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The wrong fix or the gap its failure means.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub failure_means: String,
}

impl Evidence {
    fn new(check: &str, kind: &str, role: Role, passed: bool, detail: String) -> Self {
        Evidence {
            check: check.to_owned(),
            kind: kind.to_owned(),
            role: role.kind().to_owned(),
            passed,
            white_box: kind == "probe" || kind == "loom model",
            inconclusive: false,
            detail,
            failure_means: role.meaning().to_owned(),
        }
    }

    fn failed_as(&self, role: &str) -> bool {
        !self.passed && !self.inconclusive && self.role == role
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Fixed,
    FixedWithGaps,
    WrongFix,
    NotFixed,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Fixed => "FIXED",
            Verdict::FixedWithGaps => "FIXED WITH GAPS",
            Verdict::WrongFix => "WRONG FIX",
            Verdict::NotFixed => "NOT FIXED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BugGrade {
    pub bug: String,
    pub verdict: Verdict,
    /// The verdict as a sentence an interviewer can read aloud.
    pub summary: String,
    /// The defect the fix traded the symptom for, when the verdict is `wrong_fix`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrong_fix: Option<String>,
    /// Robustness gaps, in an interviewer's words (also listed under other verdicts).
    pub gaps: Vec<String>,
    /// White-box findings no black-box scenario confirms: worth asking about.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scorecard {
    pub crate_dir: String,
    /// Files the candidate changed outside the order service: graded with the reference's
    /// own, and worth a conversation.
    pub external_changes: Vec<String>,
    /// `cargo clippy --all-targets -D warnings` passed; not run when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clippy_clean: Option<bool>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub clippy_detail: String,
    pub bugs: Vec<BugGrade>,
}

impl Scorecard {
    /// Every bug fixed, with or without gaps.
    pub fn all_fixed(&self) -> bool {
        self.bugs
            .iter()
            .all(|b| matches!(b.verdict, Verdict::Fixed | Verdict::FixedWithGaps))
    }
}

/// Decides a bug's verdict from its evidence: symptoms first, then guards, then robustness.
pub fn judge(bug: &str, evidence: Vec<Evidence>) -> BugGrade {
    let first = |role: &str| {
        evidence
            .iter()
            .find(|e| e.failed_as(role) && !(role == "symptom" && e.white_box))
    };
    let mut gaps: Vec<String> = Vec::new();
    for e in evidence.iter().filter(|e| e.failed_as("robustness")) {
        if !gaps.contains(&e.failure_means) {
            gaps.push(e.failure_means.clone());
        }
    }
    let (verdict, wrong_fix, summary) = if let Some(symptom) = first("symptom") {
        (
            Verdict::NotFixed,
            None,
            format!(
                "the reported symptom still shows in {}: {}",
                symptom.check,
                symptom
                    .detail
                    .lines()
                    .take(2)
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        )
    } else if let Some(guard) = first("guard") {
        (
            Verdict::WrongFix,
            Some(guard.failure_means.clone()),
            format!(
                "the symptom is gone, traded for another defect: {}",
                guard.failure_means
            ),
        )
    } else if !gaps.is_empty() {
        (
            Verdict::FixedWithGaps,
            None,
            format!(
                "the symptom never shows; {} gap{} to discuss: {}",
                gaps.len(),
                if gaps.len() == 1 { "" } else { "s" },
                gaps.join("; ")
            ),
        )
    } else {
        let unknown = evidence.iter().filter(|e| e.inconclusive).count();
        (
            Verdict::Fixed,
            None,
            if unknown == 0 {
                "the symptom never shows, and every guard and robustness check holds".to_owned()
            } else {
                format!(
                    "the symptom never shows, and every guard and robustness check that ran holds \
                     ({unknown} inconclusive: read them below)"
                )
            },
        )
    };
    let notes = if verdict == Verdict::NotFixed {
        Vec::new()
    } else {
        evidence
            .iter()
            .filter(|e| e.failed_as("symptom") && e.white_box)
            .map(|e| {
                format!(
                    "{} fails on the candidate's code although no black-box scenario shows the symptom: ask how the service keeps it from happening",
                    e.check
                )
            })
            .collect()
    };
    BugGrade {
        bug: bug.to_owned(),
        verdict,
        summary,
        wrong_fix,
        gaps,
        notes,
        evidence,
    }
}

/// The white-box checks and what each tells about which bug.
pub const PROBES: &[(&str, &str, Role)] = &[
    (
        "grade_probes::stats_snapshots_are_never_torn",
        "lost-update",
        Role::Robustness(suite::TORN),
    ),
    (
        "loom::concurrent_sales_are_all_counted",
        "lost-update",
        Role::Symptom,
    ),
    (
        "loom::stats_are_never_seen_half_updated",
        "lost-update",
        Role::Robustness(suite::TORN),
    ),
    (
        "loom::an_order_is_charged_once_on_a_flaky_network",
        "double-charge",
        Role::Symptom,
    ),
    (
        "loom::an_order_sent_twice_at_once_is_charged_once",
        "double-charge",
        Role::Symptom,
    ),
    (
        "loom::an_order_sent_twice_at_once_is_counted_once",
        "double-charge",
        Role::Robustness(suite::COPIES_COUNTED),
    ),
];

/// What the candidate changed outside the order service, against the exports the candidate
/// could have been given (`references`, with and without the loom models): the balance
/// service (the candidate's service is always graded against the reference's) and the
/// public scenarios (the harness runs its own copy). Each is reported rather than graded.
fn external_changes(references: &[PathBuf], dir: &Path) -> Vec<String> {
    let mut changed = Vec::new();
    for (tree, what) in [
        (
            "balance-service",
            "the balance service (an external service) was changed; graded against the reference's, discuss",
        ),
        (
            "scenarios",
            "the public scenarios (their fault plans and checks) were changed; graded with the reference's",
        ),
    ] {
        let files = |base: &Path| -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
            let mut found = std::collections::BTreeMap::new();
            let mut stack = vec![base.join(tree)];
            while let Some(at) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&at) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.file_name().is_some_and(|n| n == "target") {
                        continue;
                    }
                    if path.is_dir() {
                        stack.push(path);
                    } else if let (Ok(relative), Ok(bytes)) =
                        (path.strip_prefix(base), std::fs::read(&path))
                    {
                        found.insert(relative.to_path_buf(), bytes);
                    }
                }
            }
            found
        };
        let theirs = files(dir);
        let ours: Vec<_> = references.iter().map(|r| files(r)).collect();
        let differing: Vec<String> = ours
            .iter()
            .flat_map(|o| o.keys())
            .chain(theirs.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|file| ours.iter().all(|o| o.get(*file) != theirs.get(*file)))
            .map(|file| file.display().to_string())
            .collect();
        if !differing.is_empty() {
            changed.push(format!("{}: {what}", differing.join(", ")));
        }
    }
    changed
}

/// How to grade.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seeded runs of each seeded scenario.
    pub seeds: u64,
    /// Lint the crate too (the scorecard reports it; no verdict depends on it).
    pub clippy: bool,
}

/// Grades `bugs` in the crate at `dir`.
pub async fn grade(
    root: &Path,
    bugs_all: &[Bug],
    bugs: &[&Bug],
    dir: &Path,
    options: &Options,
) -> Result<Scorecard> {
    let seeds = options.seeds;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("no crate at {}", dir.display()))?;
    let target = root.join("target/grade");
    let work = root.join("target/grade-work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    eprintln!("==> building {}", dir.display());
    let cargo = || {
        let mut command = crate::tools::cargo();
        command
            .current_dir(&dir)
            .env_remove("RUSTFLAGS")
            .env("CARGO_TARGET_DIR", &target);
        command
    };
    // The exports the candidate could have been given, to see what they changed outside the
    // order service.
    let mut references = Vec::new();
    for with_loom in [false, true] {
        let reference = work.join(if with_loom {
            "export-with-loom"
        } else {
            "export"
        });
        let options = crate::export::Options {
            with_loom,
            replicas: false,
        };
        crate::export::export(root, bugs_all, bugs, &reference, options)?;
        references.push(reference);
    }

    let mut clippy_detail = String::new();
    let mut build = cargo();
    build.args(["build", "--release", "--quiet", "--bin", "order-service"]);
    crate::tools::run_cargo(build, "build the candidate's order-service")?;
    let binary = work.join("order-service");
    std::fs::copy(target.join("release/order-service"), &binary)?;

    let clippy_clean = if options.clippy {
        eprintln!("==> clippy");
        let mut clippy = cargo();
        clippy.args(["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"]);
        match crate::tools::run_cargo(clippy, "lint the candidate's crate") {
            Ok(()) => Some(true),
            Err(detail) => {
                clippy_detail = format!("{detail:#}");
                Some(false)
            }
        }
    } else {
        None
    };

    let graded = |bug: &str| bugs.iter().any(|b| b.id == bug);
    let mut found: Vec<(String, Evidence)> = Vec::new();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for scenario in suite::all().into_iter().filter(|s| graded(s.bug)) {
        let kind = if scenario.public {
            "scenario"
        } else {
            "held-back scenario"
        };
        let runs: Vec<Option<u64>> = if scenario.seeded {
            (1..=seeds).map(Some).collect()
        } else {
            vec![None]
        };
        eprintln!(
            "==> {} ({} run{})",
            scenario.name,
            runs.len(),
            if runs.len() == 1 { "" } else { "s" }
        );
        let mut failure = None;
        for seed in runs {
            let logs = work.join("logs").join(scenario.name);
            let outcome = drive::run(&binary, &scenario, seed, &logs, false).await;
            if !outcome.passed {
                failure = Some(outcome.message);
                break;
            }
        }
        found.push((
            scenario.bug.to_owned(),
            Evidence::new(
                scenario.name,
                kind,
                scenario.role,
                failure.is_none(),
                failure.unwrap_or_default(),
            ),
        ));
    }
    std::panic::set_hook(quiet);

    eprintln!("==> white-box probes and loom models on a copy");
    found.extend(
        probes(&dir, &work, root, bugs)
            .await
            .into_iter()
            .filter(|(bug, _)| graded(bug)),
    );

    let bugs = bugs
        .iter()
        .map(|bug| {
            let evidence = found
                .iter()
                .filter(|(b, _)| *b == bug.id)
                .map(|(_, e)| e.clone())
                .collect();
            judge(&bug.id, evidence)
        })
        .collect();
    Ok(Scorecard {
        crate_dir: dir.display().to_string(),
        external_changes: external_changes(&references, &dir),
        clippy_clean,
        clippy_detail,
        bugs,
    })
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

/// Copies the candidate's crate, adds the probes and the reference loom models, and runs
/// them. A check that cannot build (the candidate changed an interface it uses) is reported
/// as inconclusive, not as a failure.
async fn probes(dir: &Path, work: &Path, root: &Path, bugs: &[&Bug]) -> Vec<(String, Evidence)> {
    let copy = work.join("crate");
    let prepared = (|| -> Result<()> {
        copy_tree(dir, &copy, &|path| {
            path.file_name()
                .is_some_and(|name| name == "target" || name == ".git")
        })?;
        std::fs::create_dir_all(copy.join("tests"))?;
        std::fs::write(
            copy.join("tests/grade_probes.rs"),
            include_str!("grade_probes.rs"),
        )?;
        std::fs::copy(root.join("tests/loom.rs"), copy.join("tests/loom.rs"))?;
        // The loom models need the loom-capable shims and loom itself, which an export
        // without `--with-loom` leaves out.
        for (shim, exported) in [
            (
                "src/sync.rs",
                include_str!("../templates/order-service-sync.rs"),
            ),
            (
                "balance-service/src/sync.rs",
                include_str!("../templates/balance-service-sync.rs"),
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
            copy_tree(&root.join(shared), &copy.join(shared), &|path| {
                path.file_name().is_some_and(|name| name == "target")
            })?;
        }
        Ok(())
    })();
    let build = Build {
        name: "candidate".into(),
        features: Vec::new(),
        fixed: Vec::new(),
    };
    let mut results = verify::RunResults::new();
    // Why a white-box check that failed did not fail by its own assertion: a panic in the
    // candidate's code (a check can misuse a design it does not know) says nothing either way.
    let mut not_by_assertion: std::collections::BTreeMap<String, String> = Default::default();
    // Why each test target could not run: its first compiler error, or what went wrong.
    let mut problems: std::collections::BTreeMap<&str, String> = Default::default();
    let first_error = |problem: &anyhow::Error| {
        let text = format!("{problem:#}");
        text.lines()
            .find(|line| line.starts_with("error"))
            .or_else(|| text.lines().next())
            .unwrap_or_default()
            .to_owned()
    };
    if let Err(problem) = prepared {
        for target in ["grade_probes", "api", "loom"] {
            problems.insert(target, first_error(&problem));
        }
    } else {
        // The probes share the grade build's dependencies; loom builds keep their own. Each
        // target runs on its own, so one that does not build does not stop the others.
        for (loom, test) in [(false, "grade_probes"), (false, "api"), (true, "loom")] {
            let target: PathBuf = root.join(if loom {
                "target/grade-loom"
            } else {
                "target/grade"
            });
            let tests: &[&str] = if loom { &[] } else { &[test] };
            match verify::run_suite_in(&copy, &build, loom, Some(&target), tests) {
                Ok(outcome) => {
                    for (name, passed) in &outcome.results {
                        if *passed {
                            continue;
                        }
                        let test = name.split_once("::").map_or(name.as_str(), |(_, t)| t);
                        if let Some(elsewhere) = panic_outside_tests(&outcome.output, test) {
                            not_by_assertion.insert(name.clone(), elsewhere);
                        }
                    }
                    results.extend(outcome.results)
                }
                Err(problem) => {
                    problems.insert(test, first_error(&problem));
                }
            }
        }
    }
    let inconclusive = |check: &str, kind: &str, role: Role| {
        let target = check.split("::").next().unwrap_or_default();
        Evidence {
            inconclusive: true,
            detail: format!(
                "inconclusive: did not build against the candidate's code ({})",
                problems
                    .get(target)
                    .map(String::as_str)
                    .unwrap_or("it did not run")
            ),
            ..Evidence::new(check, kind, role, true, String::new())
        }
    };
    // A bug the suite has no scenario for is graded by its triggering tests.
    let scenarios = suite::all();
    let by_tests: Vec<(String, Evidence)> = bugs
        .iter()
        .filter(|bug| !scenarios.iter().any(|s| s.bug == bug.id))
        .flat_map(|bug| {
            bug.triggering.tests.iter().map(|test| {
                let evidence = match results.get(test) {
                    Some(passed) => Evidence::new(
                        test,
                        "public test",
                        Role::Symptom,
                        *passed,
                        if *passed {
                            String::new()
                        } else {
                            format!("failed: rerun it in target/grade-work/crate with cargo test --test api -- --exact {}", test.trim_start_matches("api::"))
                        },
                    ),
                    None => inconclusive(test, "public test", Role::Symptom),
                };
                (bug.id.clone(), evidence)
            })
        })
        .collect();
    PROBES
        .iter()
        .map(|(check, bug, role)| {
            let kind = if check.starts_with("loom::") {
                "loom model"
            } else {
                "probe"
            };
            let evidence = match results.get(*check) {
                Some(false) if not_by_assertion.contains_key(*check) => Evidence {
                    inconclusive: true,
                    detail: format!(
                        "inconclusive: it panicked in the candidate's code, not in its own check ({})",
                        not_by_assertion[*check]
                    ),
                    ..Evidence::new(check, kind, *role, true, String::new())
                },
                Some(passed) => Evidence::new(
                    check,
                    kind,
                    *role,
                    *passed,
                    if *passed {
                        String::new()
                    } else {
                        "failed: rerun it in target/grade-work/crate".into()
                    },
                ),
                None => inconclusive(check, kind, *role),
            };
            ((*bug).to_owned(), evidence)
        })
        .chain(by_tests)
        .collect()
}

/// Where a failed test panicked, when that was not in a test file: the location and message,
/// read from libtest's report of the test (`---- NAME stdout ----`, then `panicked at
/// PATH:LINE:COL:` and the message).
fn panic_outside_tests(output: &str, test: &str) -> Option<String> {
    let report = output.split(&format!("---- {test} stdout ----")).nth(1)?;
    let mut lines = report.lines();
    let panicked = lines.find(|line| line.contains("panicked at "))?;
    let location = panicked.split("panicked at ").nth(1)?.trim_end_matches(':');
    if location.starts_with("tests/") {
        return None;
    }
    let message = lines.next().unwrap_or_default();
    Some(format!("{location}: {message}"))
}

/// The scorecard as text: one line per bug to read aloud, then the evidence.
pub fn render(card: &Scorecard) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Scorecard for {}\n", card.crate_dir);
    for bug in &card.bugs {
        let _ = writeln!(out, "{}: {}: {}", bug.bug, bug.verdict.label(), bug.summary);
    }
    for bug in &card.bugs {
        for note in &bug.notes {
            let _ = writeln!(out, "note ({}): {note}", bug.bug);
        }
    }
    for change in &card.external_changes {
        let _ = writeln!(out, "note: {change}");
    }
    if let Some(clean) = card.clippy_clean {
        let _ = writeln!(
            out,
            "clippy --all-targets -D warnings: {}",
            if clean { "clean" } else { "FAILS" }
        );
    }
    for bug in &card.bugs {
        let _ = writeln!(out, "\n{} ({})", bug.bug, bug.verdict.label());
        for e in &bug.evidence {
            let mark = match (e.passed, e.inconclusive) {
                (_, true) => "?",
                (true, false) => "ok",
                (false, false) => "FAIL",
            };
            let _ = writeln!(out, "  {mark:<4} {} ({}, {})", e.check, e.role, e.kind);
            if !e.passed || e.inconclusive {
                for line in e.detail.lines().take(6) {
                    let _ = writeln!(out, "       {line}");
                }
                if !e.passed && !e.failure_means.is_empty() {
                    let _ = writeln!(out, "       means: {}", e.failure_means);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shim_the_candidate_extended_keeps_their_additions() {
        let exported = "//! Primitives.\n\npub use balance_service::sync::{Mutex, lock};\npub use tokio::time::sleep;\n";
        let loom = "pub use balance_service::sync::{Mutex, lock};\npub async fn sleep() {}\n";
        assert_eq!(
            merge_shim(loom, exported, exported),
            loom,
            "an untouched shim is replaced"
        );
        let theirs = format!(
            "{exported}// tokio's, for the save\npub use tokio::sync::Mutex as AsyncMutex;\n"
        );
        let merged = merge_shim(loom, exported, &theirs);
        assert!(
            merged.starts_with(loom)
                && merged.contains("pub use tokio::sync::Mutex as AsyncMutex;"),
            "the candidate's re-export is kept after the loom shim:\n{merged}"
        );
        assert!(
            !merged.contains("tokio::time::sleep"),
            "lines they were given are not repeated:\n{merged}"
        );
    }

    fn check(name: &str, role: Role, passed: bool) -> Evidence {
        Evidence::new(
            name,
            "scenario",
            role,
            passed,
            if passed {
                String::new()
            } else {
                format!("{name} failed")
            },
        )
    }

    const SERIAL: Role = Role::Guard(suite::SERIALIZED);
    const GAP: Role = Role::Robustness(suite::ALL_LOST);

    #[test]
    fn a_symptom_decides_not_fixed_even_when_a_guard_fails_too() {
        let grade = judge(
            "lost-update",
            vec![
                check("stats", Role::Symptom, false),
                check("throughput", SERIAL, false),
            ],
        );
        assert_eq!(grade.verdict, Verdict::NotFixed);
        assert!(grade.summary.contains("stats failed"), "{}", grade.summary);
    }

    #[test]
    fn guards_decide_wrong_fix_and_robustness_decides_gaps() {
        let wrong = judge(
            "d",
            vec![
                check("resent", Role::Symptom, true),
                check("throughput", SERIAL, false),
                check("all lost", GAP, false),
            ],
        );
        assert_eq!(
            (wrong.verdict, wrong.wrong_fix.as_deref()),
            (Verdict::WrongFix, Some(suite::SERIALIZED))
        );
        let gaps = judge(
            "d",
            vec![
                check("resent", Role::Symptom, true),
                check("all lost", GAP, false),
                check("all lost again", GAP, false),
            ],
        );
        assert_eq!(gaps.verdict, Verdict::FixedWithGaps);
        assert_eq!(gaps.gaps, [suite::ALL_LOST]);
        let fixed = judge("d", vec![check("resent", Role::Symptom, true)]);
        assert_eq!(fixed.verdict, Verdict::Fixed);
    }

    #[test]
    fn a_white_box_symptom_alone_is_a_note_not_a_verdict() {
        let grade = judge(
            "lost-update",
            vec![
                check("stats", Role::Symptom, true),
                Evidence {
                    white_box: true,
                    kind: "loom model".into(),
                    ..check(
                        "loom::concurrent_sales_are_all_counted",
                        Role::Symptom,
                        false,
                    )
                },
            ],
        );
        assert_eq!(grade.verdict, Verdict::Fixed);
        assert_eq!(grade.notes.len(), 1, "{:?}", grade.notes);
    }

    #[test]
    fn a_panic_in_the_candidates_code_is_told_from_a_failed_check() {
        let output = "test a ... FAILED\n\n---- a stdout ----\n\nthread 'a' (1) panicked at src/stats.rs:55:9:\nthere is no reactor running\nstack backtrace:\n\n---- b stdout ----\n\nthread 'b' (2) panicked at tests/loom.rs:183:9:\n2 sales were counted\n";
        assert_eq!(
            panic_outside_tests(output, "a").as_deref(),
            Some("src/stats.rs:55:9: there is no reactor running")
        );
        assert_eq!(panic_outside_tests(output, "b"), None);
    }

    #[test]
    fn an_inconclusive_check_counts_for_nothing() {
        let grade = judge(
            "d",
            vec![
                check("resent", Role::Symptom, true),
                Evidence {
                    inconclusive: true,
                    ..check("loom", Role::Symptom, false)
                },
            ],
        );
        assert_eq!(grade.verdict, Verdict::Fixed);
    }

    #[test]
    fn the_scorecard_leads_with_a_line_per_bug() {
        let card = Scorecard {
            crate_dir: "/tmp/candidate".into(),
            external_changes: vec![
                "src/balance/ledger.rs: the balance service (an external service) was changed; graded against the reference's, discuss".into(),
            ],
            clippy_clean: Some(true),
            clippy_detail: String::new(),
            bugs: vec![
                judge(
                    "double-charge",
                    vec![
                        check(
                            "orders_on_a_flaky_network_are_charged_once",
                            Role::Symptom,
                            true,
                        ),
                        check("an_order_whose_every_response_was_lost_is_reported_ok", GAP, false),
                        Evidence {
                            inconclusive: true,
                            detail: "inconclusive: did not build against the candidate's code"
                                .into(),
                            ..check(
                                "loom::an_order_sent_twice_at_once_is_charged_once",
                                Role::Symptom,
                                true,
                            )
                        },
                    ],
                ),
                judge(
                    "lost-update",
                    vec![
                        check("stats_match_the_orders_charged", Role::Symptom, true),
                        check("orders_are_processed_concurrently", SERIAL, false),
                    ],
                ),
            ],
        };
        insta::assert_snapshot!(render(&card));
        insta::assert_json_snapshot!(card);
    }
}

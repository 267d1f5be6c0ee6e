//! `exercise grade DIR`: builds a candidate's crate, runs its `order-service` as a black box
//! against the reference balance service, adds held-back probes and the loom models to a
//! copy of it, and says for each bug: fixed, not fixed, or fixed by a wrong fix.

use std::fmt::Write as _;
use std::path::Path;

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
    pub passed: bool,
    /// Why it failed, or why it could not run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The wrong fix its failure points to; empty for a triggering check.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub failure_means: String,
    /// Fails while the bug is there (as opposed to guarding what the buggy code did right).
    #[serde(skip)]
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Fixed,
    NotFixed,
    WrongFix,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BugGrade {
    pub bug: String,
    pub verdict: Verdict,
    /// The wrong fix, when the verdict is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrong_fix: Option<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scorecard {
    pub crate_dir: String,
    pub clippy_clean: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub clippy_detail: String,
    pub bugs: Vec<BugGrade>,
}

/// Decides a bug's verdict from its evidence. A guard that fails means a fix broke what the
/// buggy code did right; otherwise a failing triggering check means the bug is still there;
/// otherwise a failing detector means the fix only looks right.
pub fn judge(bug: &str, evidence: Vec<Evidence>) -> BugGrade {
    let failed = |pick: fn(&Role) -> bool| {
        evidence
            .iter()
            .find(|e| !e.passed && e.role.as_ref().is_some_and(pick))
            .cloned()
    };
    let (verdict, wrong_fix) = if let Some(guard) = failed(|r| matches!(r, Role::Guard(_))) {
        (Verdict::WrongFix, Some(guard.failure_means))
    } else if failed(|r| matches!(r, Role::Triggering)).is_some() {
        (Verdict::NotFixed, None)
    } else if let Some(detector) = failed(|r| matches!(r, Role::Detector(_))) {
        (Verdict::WrongFix, Some(detector.failure_means))
    } else {
        (Verdict::Fixed, None)
    };
    BugGrade {
        bug: bug.to_owned(),
        verdict,
        wrong_fix,
        evidence,
    }
}

fn evidence(check: &str, kind: &str, role: Role, passed: bool, detail: String) -> Evidence {
    let failure_means = match role {
        Role::Triggering => String::new(),
        Role::Guard(text) | Role::Detector(text) => text.to_owned(),
    };
    Evidence {
        check: check.to_owned(),
        kind: kind.to_owned(),
        passed,
        detail,
        failure_means,
        role: Some(role),
    }
}

/// The white-box checks and what each tells about which bug.
const PROBES: &[(&str, &str, Role)] = &[
    (
        "grade_probes::stats_snapshots_are_never_torn",
        "lost-update",
        Role::Guard("torn stats: revenue and count read separately"),
    ),
    (
        "loom::concurrent_sales_are_all_counted",
        "lost-update",
        Role::Triggering,
    ),
    (
        "loom::a_lost_response_and_its_retry_charge_once",
        "double-charge",
        Role::Triggering,
    ),
    (
        "loom::one_order_submitted_twice_at_once_charges_once",
        "double-charge",
        Role::Detector(
            "racy dedup: one order submitted twice at once is charged or counted twice in some interleaving",
        ),
    ),
];

/// Grades the crate at `dir`. `seeds` is how many seeded flaky runs check money
/// conservation.
pub async fn grade(root: &Path, bugs: &[Bug], dir: &Path, seeds: u64) -> Result<Scorecard, String> {
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let target = root.join("target/grade");
    let work = root.join("target/grade-work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;

    eprintln!("==> building {}", dir.display());
    let cargo = || {
        let mut command = crate::tools::cargo();
        command
            .current_dir(&dir)
            .env_remove("RUSTFLAGS")
            .env("CARGO_TARGET_DIR", &target);
        command
    };
    let mut build = cargo();
    build.args(["build", "--release", "--quiet", "--bin", "order-service"]);
    drive::run_cargo(build, "build the candidate's order-service")?;
    let binary = work.join("order-service");
    std::fs::copy(target.join("release/order-service"), &binary).map_err(|e| e.to_string())?;

    eprintln!("==> clippy");
    let mut clippy = cargo();
    clippy.args(["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"]);
    let (clippy_clean, clippy_detail) = match drive::run_cargo(clippy, "lint the candidate's crate")
    {
        Ok(()) => (true, String::new()),
        Err(detail) => (false, detail),
    };

    let mut found: Vec<(String, Evidence)> = Vec::new();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for scenario in suite::all() {
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
            let outcome = drive::run(&binary, &scenario, seed, &logs).await;
            if !outcome.passed {
                let seed = seed
                    .map(|s| format!(" (fault seed {s})"))
                    .unwrap_or_default();
                failure = Some(format!(
                    "{}{seed}",
                    outcome.message.lines().next().unwrap_or_default()
                ));
                break;
            }
        }
        found.push((
            scenario.bug.to_owned(),
            evidence(
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
    found.extend(probes(&dir, &work, root).await);

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
        clippy_clean,
        clippy_detail,
        bugs,
    })
}

/// Copies the candidate's crate, adds the probes and the reference loom models, and runs
/// them. A check that cannot build (the candidate changed an interface it uses) is reported
/// as inconclusive, not as a failure.
async fn probes(dir: &Path, work: &Path, root: &Path) -> Vec<(String, Evidence)> {
    let copy = work.join("crate");
    let prepared = (|| -> Result<(), String> {
        copy_tree(dir, &copy, &|path| {
            path.file_name()
                .is_some_and(|name| name == "target" || name == ".git")
        })?;
        std::fs::create_dir_all(copy.join("tests")).map_err(|e| e.to_string())?;
        std::fs::write(
            copy.join("tests/grade_probes.rs"),
            include_str!("grade_probes.rs"),
        )
        .map_err(|e| e.to_string())?;
        std::fs::copy(root.join("tests/loom.rs"), copy.join("tests/loom.rs"))
            .map_err(|e| e.to_string())?;
        Ok(())
    })();
    let build = Build {
        name: "candidate".into(),
        features: Vec::new(),
        fixed: Vec::new(),
    };
    let mut results = verify::RunResults::new();
    let mut problems = Vec::new();
    if let Err(problem) = prepared {
        problems.push(problem);
    } else {
        // The probes share the grade build's dependencies; loom builds keep their own.
        for loom in [false, true] {
            let target = root.join(if loom {
                "target/grade-loom"
            } else {
                "target/grade"
            });
            let outcome =
                verify::run_suite_in(&copy, &build, loom, Some(&target), Some("grade_probes"));
            match outcome {
                Ok(outcome) => results.extend(outcome),
                Err(problem) => {
                    problems.push(problem.lines().take(12).collect::<Vec<_>>().join("\n"))
                }
            }
        }
    }
    PROBES
        .iter()
        .map(|(check, bug, role)| {
            let kind = if check.starts_with("loom::") {
                "loom model"
            } else {
                "probe"
            };
            let evidence = match results.get(*check) {
                Some(passed) => evidence(
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
                None => Evidence {
                    check: (*check).to_owned(),
                    kind: kind.to_owned(),
                    passed: true,
                    detail: format!(
                        "inconclusive: did not build against the candidate's code{}",
                        problems
                            .first()
                            .map(|p| format!(" ({})", p.lines().next().unwrap_or_default()))
                            .unwrap_or_default()
                    ),
                    failure_means: String::new(),
                    role: None,
                },
            };
            ((*bug).to_owned(), evidence)
        })
        .collect()
}

/// The scorecard as text.
pub fn render(card: &Scorecard) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Scorecard for {}\n", card.crate_dir);
    for bug in &card.bugs {
        let verdict = match (&bug.verdict, &bug.wrong_fix) {
            (Verdict::Fixed, _) => "FIXED".to_owned(),
            (Verdict::NotFixed, _) => "NOT FIXED".to_owned(),
            (Verdict::WrongFix, Some(what)) => format!("FIXED BY A WRONG FIX: {what}"),
            (Verdict::WrongFix, None) => "FIXED BY A WRONG FIX".to_owned(),
        };
        let _ = writeln!(out, "{}: {verdict}", bug.bug);
        for e in &bug.evidence {
            let mark = match (e.passed, e.detail.starts_with("inconclusive")) {
                (_, true) => "?",
                (true, false) => "ok",
                (false, false) => "FAIL",
            };
            let _ = writeln!(out, "  {mark:<4} {} ({})", e.check, e.kind);
            if !e.passed || e.detail.starts_with("inconclusive") {
                let _ = writeln!(out, "       {}", e.detail);
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "clippy --all-targets -D warnings: {}",
        if card.clippy_clean { "clean" } else { "FAILS" }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, role: Role, passed: bool) -> Evidence {
        evidence(
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

    const SERIAL: Role =
        Role::Guard("orders run one at a time: a lock held across the whole order");
    const DEDUP: Role = Role::Detector("racy dedup");

    #[test]
    fn a_failing_guard_is_a_wrong_fix_even_when_the_bug_shows_too() {
        let grade = judge(
            "lost-update",
            vec![
                check("stats", Role::Triggering, false),
                check("throughput", SERIAL, false),
            ],
        );
        assert_eq!(grade.verdict, Verdict::WrongFix);
        assert_eq!(
            grade.wrong_fix.as_deref(),
            Some("orders run one at a time: a lock held across the whole order")
        );
    }

    #[test]
    fn a_failing_triggering_check_is_not_fixed_and_a_failing_detector_alone_is_a_wrong_fix() {
        let not_fixed = judge(
            "d",
            vec![
                check("resent", Role::Triggering, false),
                check("burst", DEDUP, false),
            ],
        );
        assert_eq!(not_fixed.verdict, Verdict::NotFixed);
        let wrong = judge(
            "d",
            vec![
                check("resent", Role::Triggering, true),
                check("burst", DEDUP, false),
            ],
        );
        assert_eq!(
            (wrong.verdict, wrong.wrong_fix.as_deref()),
            (Verdict::WrongFix, Some("racy dedup"))
        );
        let fixed = judge(
            "d",
            vec![
                check("resent", Role::Triggering, true),
                check("burst", DEDUP, true),
            ],
        );
        assert_eq!(fixed.verdict, Verdict::Fixed);
    }

    #[test]
    fn the_scorecard_reads_per_bug_with_its_evidence() {
        let card = Scorecard {
            crate_dir: "/tmp/candidate".into(),
            clippy_clean: true,
            clippy_detail: String::new(),
            bugs: vec![
                judge(
                    "double-charge",
                    vec![
                        check(
                            "an_order_is_charged_once_when_its_response_is_lost",
                            Role::Triggering,
                            true,
                        ),
                        check(
                            "duplicate_bursts_are_charged_and_counted_once",
                            DEDUP,
                            false,
                        ),
                        Evidence {
                            check: "loom::one_order_submitted_twice_at_once_charges_once".into(),
                            kind: "loom model".into(),
                            passed: true,
                            detail: "inconclusive: did not build against the candidate's code"
                                .into(),
                            failure_means: String::new(),
                            role: None,
                        },
                    ],
                ),
                judge(
                    "lost-update",
                    vec![
                        check("concurrent_orders_keep_exact_stats", Role::Triggering, true),
                        check("orders_are_processed_concurrently", SERIAL, true),
                    ],
                ),
            ],
        };
        insta::assert_snapshot!(render(&card));
        insta::assert_json_snapshot!(card);
    }
}

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
//!
//! - [`judge`]: the scorecard's types and the verdict, a pure function;
//! - [`whitebox`]: the checks run on a copy of the candidate's crate;
//! - [`changes`]: what the candidate changed outside the order service;
//! - [`public_tests`]: the public tests they deleted, ignored or weakened;
//! - [`own_tests`]: the tests they added or changed, and what each catches;
//! - [`render`]: the scorecard as text.

mod changes;
pub mod judge;
pub mod own_tests;
pub mod public_tests;
mod render;
mod whitebox;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

pub use judge::{BugGrade, Evidence, Scorecard};
pub use render::render;

use crate::Project;
use crate::catalog::{self, RoleKind, Scenario, Verdict};
use crate::drive;
use crate::manifest::{self, Bug};
use crate::tools::{copy_tree, is_build_or_history};

/// Builds a candidate's crate and grades each bug: fixed, fixed with gaps, wrong fix or not
/// fixed, with the evidence.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The candidate's crate.
    dir: PathBuf,
    /// The bugs it was exported with (default: the brief's).
    #[arg(long, value_delimiter = ',')]
    bugs: Vec<String>,
    /// Print the scorecard as JSON.
    #[arg(long)]
    json: bool,
    /// Seeded runs of each seeded scenario.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Skip clippy (no verdict depends on it).
    #[arg(long)]
    no_clippy: bool,
    /// Run every check this many times on the one build, and report any verdict that differs
    /// between rounds (the scorecard shows the first round's).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Skip labelling the tests the candidate added or changed.
    #[arg(long)]
    no_own_tests: bool,
}

impl Args {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let bugs = project.bugs()?;
        let chosen = manifest::choose(&bugs, &self.bugs)?;
        let options = Options {
            seeds: self.seeds,
            clippy: !self.no_clippy,
            rounds: self.rounds,
            own_tests: !self.no_own_tests,
        };
        let card = crate::runtime()?.block_on(grade(
            &project.root,
            &bugs,
            &chosen,
            &self.dir,
            &options,
        ))?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&card)?);
        } else {
            print!("\n{}", render(&card));
        }
        Ok(if card.all_fixed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

/// How to grade.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seeded runs of each seeded scenario.
    pub seeds: u64,
    /// Lint the crate too (the scorecard reports it; no verdict depends on it).
    pub clippy: bool,
    /// Times to run every check on the one build; verdicts that differ between rounds are
    /// reported.
    pub rounds: usize,
    /// Label the tests the candidate added or changed (builds the export four more ways).
    pub own_tests: bool,
}

/// Grades `bugs` in the crate at `dir`.
pub async fn grade(
    root: &Path,
    bugs_all: &[Bug],
    bugs: &[&Bug],
    dir: &Path,
    options: &Options,
) -> Result<Scorecard> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("no crate at {}", dir.display()))?;
    let work = root.join("target/grade-work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
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

    // Everything is built from a copy, never from the candidate's folder: the build
    // directories are shared between crates, and cargo keeps a build whose sources are older
    // than it, by their paths relative to the package. A candidate's files, last touched
    // before the previous candidate was graded, would get the previous candidate's binary.
    // A fresh copy's files are always newer than any build.
    let copy = work.join("crate");
    copy_tree(&dir, &copy, &is_build_or_history)?;
    eprintln!("==> building {}", dir.display());
    let built = Built::new(root, &copy, &work, options.clippy)?;

    let checks: Vec<_> = bugs
        .iter()
        .map(|bug| (*bug, catalog::checks_of(&bug.id)))
        .collect();
    let prepared = whitebox::prepare(&copy, root, &checks);
    let mut rounds: Vec<Vec<BugGrade>> = Vec::new();
    for round in 1..=options.rounds.max(1) {
        if options.rounds > 1 {
            eprintln!("==> round {round} of {}", options.rounds);
        }
        let graded = run_checks(&built, &prepared, &copy, root, &checks, options, &work).await;
        rounds.push(graded);
    }
    let unsteady = unsteady_verdicts(&rounds);
    // The export they were given: its first commit in their repository when there is one
    // (the hand-over commits it), else a fresh export, the one with the loom models if they
    // have them.
    let given = match first_commit(&dir, &work.join("given")) {
        Some(tree) => tree,
        None => references[usize::from(dir.join("tests/loom.rs").exists())].clone(),
    };
    let given = &given;
    let own_tests = if options.own_tests {
        own_tests::label(root, bugs_all, bugs, given, &dir, &work)
    } else {
        Vec::new()
    };
    Ok(Scorecard {
        crate_dir: dir.display().to_string(),
        public_tests_changed: public_tests::changed(given, &dir),
        own_tests,
        external_changes: changes::external_changes(&references, &dir),
        clippy_clean: built.clippy_clean,
        clippy_detail: built.clippy_detail,
        bugs: rounds.swap_remove(0),
        unsteady,
    })
}

/// Runs every check of `checks` once against the built crate, and judges each bug.
async fn run_checks(
    built: &Built,
    prepared: &whitebox::Prepared,
    copy: &Path,
    root: &Path,
    checks: &[(&Bug, catalog::Checks)],
    options: &Options,
    work: &Path,
) -> Vec<BugGrade> {
    let mut found: Vec<(String, Evidence)> = Vec::new();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for (bug, checks) in checks {
        for scenario in &checks.scenarios {
            let evidence = run_scenario(&built.binary, scenario, options.seeds, work).await;
            found.push((bug.id.clone(), evidence));
        }
    }
    std::panic::set_hook(quiet);

    eprintln!("==> white-box probes and loom models on a copy");
    found.extend(whitebox::evidence(prepared, copy, root, checks));

    checks
        .iter()
        .map(|(bug, _)| {
            let evidence = found
                .iter()
                .filter(|(b, _)| *b == bug.id)
                .map(|(_, e)| e.clone())
                .collect();
            judge::judge(&bug.id, evidence)
        })
        .collect()
}

/// The first commit of the git repository at `dir`, written out to `out`: the crate as it was
/// handed over. `None` when `dir` has no history of its own (a repository further up, as a
/// corpus case's copy inside this one's `target/`, does not count).
fn first_commit(dir: &Path, out: &Path) -> Option<PathBuf> {
    if !dir.join(".git").exists() {
        return None;
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let roots = git(&["rev-list", "--max-parents=0", "HEAD"])?;
    let first = String::from_utf8_lossy(&roots.stdout)
        .lines()
        .last()?
        .trim()
        .to_owned();
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).ok()?;
    crate::tools::git_archive(dir, &first, out).ok()?;
    Some(out.to_path_buf())
}

/// Each bug whose verdict was not the same in every round: `lost-update: NOT FIXED, then
/// WRONG FIX`.
fn unsteady_verdicts(rounds: &[Vec<BugGrade>]) -> Vec<String> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .filter_map(|(i, grade)| {
            let verdicts: Vec<Verdict> = rounds
                .iter()
                .filter_map(|r| Some(r.get(i)?.verdict))
                .collect();
            verdicts.iter().any(|v| *v != grade.verdict).then(|| {
                let said: Vec<&str> = verdicts.iter().map(|v| v.label()).collect();
                format!(
                    "{}: {} in {} rounds",
                    grade.bug,
                    said.join(", then "),
                    rounds.len()
                )
            })
        })
        .collect()
}

/// The candidate's crate, built and linted.
struct Built {
    binary: PathBuf,
    clippy_clean: Option<bool>,
    clippy_detail: String,
}

impl Built {
    fn new(root: &Path, dir: &Path, work: &Path, clippy: bool) -> Result<Built> {
        let target = root.join("target/grade");
        let cargo = || {
            let mut command = crate::tools::cargo();
            command
                .current_dir(dir)
                .env_remove("RUSTFLAGS")
                .env("CARGO_TARGET_DIR", &target);
            command
        };
        // The dev profile, as the candidate's own `cargo test` runs it: the white-box tests
        // then reuse its build of the crate, and the checks judge the service as the
        // candidate saw it.
        let mut build = cargo();
        build.args(["build", "--quiet", "--bin", "order-service"]);
        crate::tools::run_cargo(build, "build the candidate's order-service")?;
        let binary = work.join("order-service");
        std::fs::copy(target.join("debug/order-service"), &binary)?;
        let mut built = Built {
            binary,
            clippy_clean: None,
            clippy_detail: String::new(),
        };
        if clippy {
            eprintln!("==> clippy");
            let mut lint = cargo();
            lint.args(["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"]);
            built.clippy_clean = Some(
                match crate::tools::run_cargo(lint, "lint the candidate's crate") {
                    Ok(()) => true,
                    Err(detail) => {
                        built.clippy_detail = format!("{detail:#}");
                        false
                    }
                },
            );
        }
        Ok(built)
    }
}

/// Runs one scenario against the candidate's binary, once or once per seed, up to the first
/// failure. A failed guard or robustness check is run again with the same seed before it
/// counts: one that holds on the rerun is recorded as unsteady, not as failed. A symptom
/// counts the first time it shows: a customer who saw it once saw it.
async fn run_scenario(binary: &Path, scenario: &Scenario, seeds: u64, work: &Path) -> Evidence {
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
    let logs = work.join("logs").join(scenario.name);
    let (kind, role) = (scenario.kind(), scenario.role);
    let mut unsteady = None;
    let mut inconclusive = None;
    let mut judged = 0;
    let total = runs.len();
    for (n, seed) in runs.into_iter().enumerate() {
        let outcome = drive::run(binary, scenario, seed, &logs, false).await;
        if outcome.inconclusive {
            inconclusive.get_or_insert(outcome.message);
            continue;
        }
        judged += 1;
        if outcome.passed {
            continue;
        }
        let which = match seed {
            Some(seed) => format!("seed {seed} (run {} of {total}): ", n + 1),
            None => String::new(),
        };
        if role.kind() != RoleKind::Symptom {
            let again = drive::run(binary, scenario, seed, &logs, false).await;
            if again.passed {
                unsteady.get_or_insert(format!("{which}{}", outcome.message));
                continue;
            }
        }
        return Evidence::new(
            scenario.name,
            kind,
            role,
            false,
            format!("{which}{}", outcome.message),
        );
    }
    match (inconclusive, unsteady) {
        (Some(why), _) if judged == 0 => Evidence::inconclusive(scenario.name, kind, role, why),
        (Some(why), _) => {
            let mut evidence = Evidence::new(scenario.name, kind, role, true, String::new());
            evidence.detail =
                format!("held in the {judged} of {total} runs that could judge; the others: {why}");
            evidence
        }
        (None, Some(first)) => {
            let mut evidence = Evidence::new(scenario.name, kind, role, true, String::new());
            evidence.unsteady = true;
            evidence.detail =
                format!("failed once, held when run again with the same plan: {first}");
            evidence
        }
        (None, None) => Evidence::new(scenario.name, kind, role, true, String::new()),
    }
}

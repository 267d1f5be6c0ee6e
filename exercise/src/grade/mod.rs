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
pub mod worker;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub use judge::{BugGrade, Evidence, Scorecard};
pub use render::render;

use crate::Project;
use crate::catalog::{self, RoleKind, Scenario, Verdict};
use crate::drive;
use crate::manifest::{self, Bug};
use crate::sandbox::Sandbox;
use crate::tools::is_build_or_history;
use crate::trees;

/// The target directories a grade builds in, under the repository: the candidate's crate,
/// the white-box copy, loom, and the labels tree (see `trees::claim`).
pub const TARGET_DIRS: [&str; 4] = [
    "target/grade",
    "target/grade-whitebox",
    "target/grade-loom",
    "target/grade-labels",
];

/// Builds a candidate's crate and grades each bug: fixed, fixed with gaps, wrong fix or not
/// fixed, with the evidence.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The candidate's crate (with --session: the session's, when not given).
    #[arg(required_unless_present = "session")]
    dir: Option<PathBuf>,
    /// A session of `session new` (its id under sessions/): its bugs, seeds and work
    /// directory are used, and its crate unless DIR is given.
    #[arg(long, conflicts_with = "bugs")]
    session: Option<String>,
    /// Where that session is kept (default: sessions/ in this repository), as `session
    /// --sessions`.
    #[arg(long, requires = "session")]
    sessions: Option<PathBuf>,
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
    /// Where to keep the copies of the crate and the evidence (default: target/grade-work).
    /// Grading the same candidate again in the same place rebuilds only what changed.
    #[arg(long)]
    work: Option<PathBuf>,
    /// Where the candidate's code is built and run: bwrap (the default, where it is
    /// installed), docker (a container; scripts/sandbox-setup --docker), or none (their code
    /// runs with your rights; said on every run).
    #[arg(long, value_enum)]
    sandbox: Option<Sandbox>,
    /// How long each build of the candidate's crate may take, in minutes: a build still
    /// running then (a build script that never ends) makes the crate not gradable.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    build_limit_mins: u64,
}

impl Args {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let bugs = project.bugs()?;
        let mut options = Options {
            seeds: self.seeds,
            clippy: !self.no_clippy,
            rounds: self.rounds,
            own_tests: !self.no_own_tests,
            work: self.work,
            given: None,
            progress: None,
            sandbox: Sandbox::choose(self.sandbox)?,
            limits: crate::tools::Limits {
                build: Duration::from_secs(self.build_limit_mins * 60),
                ..Default::default()
            },
        };
        let (dir, ids) = match &self.session {
            Some(id) => {
                let sessions = self
                    .sessions
                    .clone()
                    .unwrap_or_else(|| project.root.join("sessions"));
                let store = crate::session::find(&sessions, id)?;
                let setup = store.setup()?;
                options.seeds = setup.seeds;
                options.work.get_or_insert_with(|| store.dir.join("work"));
                (self.dir.clone().unwrap_or(setup.repo), setup.bugs)
            }
            None => (self.dir.clone().unwrap_or_default(), self.bugs.clone()),
        };
        let chosen = manifest::choose(&bugs, &ids)?;
        let card =
            crate::runtime()?.block_on(grade(&project.root, &bugs, &chosen, &dir, &options))?;
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
    /// Where the copies and the evidence are kept; `target/grade-work` when `None`.
    pub work: Option<PathBuf>,
    /// The crate as it was handed over, when the caller has it (else the first commit of
    /// the candidate's repository, or a fresh export).
    pub given: Option<PathBuf>,
    /// Told each step as it happens (the session page shows them).
    pub progress: Option<Progress>,
    /// Where the candidate's code is built and run ([`Sandbox::choose`]).
    pub sandbox: Sandbox,
    /// How long each build and run of their code may take.
    pub limits: crate::tools::Limits,
}

/// Where a grade has got to.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Building the candidate's crate.
    Building,
    /// A black-box check finished.
    Checked {
        bug: String,
        evidence: Evidence,
    },
    /// Every black-box check finished: each bug's verdict so far.
    BlackBox(Vec<BugGrade>),
    /// Running the white-box checks, then clippy and the candidate's own tests.
    WhiteBox,
    OwnTests,
}

/// A callback for each [`Step`] of a grade.
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(Step) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl Options {
    fn tell(&self, step: Step) {
        if let Some(progress) = &self.progress {
            (progress.0)(step);
        }
    }
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
    // Absolute: the sandbox binds it by its path, and its commands run elsewhere.
    let work = std::path::absolute(match &options.work {
        Some(work) => work.clone(),
        None => root.join("target/grade-work"),
    })?;
    if matches!(options.sandbox, Sandbox::Bwrap | Sandbox::Docker) && !Sandbox::inside() {
        return worker::sandboxed(root, bugs, &dir, &work, options).await;
    }
    options.sandbox.warn_if_none();
    std::fs::create_dir_all(&work)?;
    // One grade at a time in one work directory: a second would overwrite the first's copies.
    let lock = std::fs::File::create(work.join(".grade-lock"))?;
    if lock.try_lock().is_err() {
        eprintln!(
            "==> waiting for the grade already under way in {}",
            work.display()
        );
        lock.lock()?;
    }
    // The copies stay, to be brought up to date (see `trees`); what one grade found does not.
    for stale in ["logs", "given", "export", "export-with-loom"] {
        let _ = std::fs::remove_dir_all(work.join(stale));
    }
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

    // The export they were given: its first commit in their repository when there is one
    // (the hand-over commits it), else a fresh export, the one with the loom models if they
    // have them.
    let given = match options.given.clone() {
        Some(given) => given,
        None => match first_commit(&dir, &work.join("given")) {
            Some(tree) => tree,
            None => references[usize::from(dir.join("tests/loom.rs").exists())].clone(),
        },
    };
    let given = &given;
    if let Some(wrong) =
        bugs_handed_over(root, bugs_all, given).filter(|found| !same_bugs(found, bugs))
    {
        if wrong.is_empty() {
            bail!(
                "{} was handed over with every bug fixed: nothing to grade",
                dir.display()
            );
        }
        bail!(
            "{} was handed over with the bugs {} in, not {}: grade it with --bugs {}",
            dir.display(),
            wrong.join(", "),
            bugs.iter()
                .map(|b| b.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            wrong.join(",")
        );
    }
    // Everything is built from a copy, never from the candidate's folder: cargo keeps a
    // build whose sources are older than it, found by their paths inside the workspace, so a
    // candidate's files last touched before the previous candidate was graded would get the
    // previous candidate's binary. The copy is kept in step file by file, so that a commit
    // that changes one file rebuilds one crate (see `trees`).
    let copy = work.join("crate");
    let changed = trees::sync(&dir, &copy, &is_build_or_history)?;
    eprintln!("==> building {} ({changed} files changed)", dir.display());
    options.tell(Step::Building);
    let built = Built::new(root, &copy, &work, options.limits.build)?;

    let checks: Vec<_> = bugs
        .iter()
        .map(|bug| (*bug, catalog::checks_of(&bug.id)))
        .collect();
    let test_changes = public_tests::changed(given, &dir);
    let edited = edited_tests(bugs, &test_changes);
    let prepared = whitebox::prepare(
        &dir,
        &work,
        root,
        &checks,
        !edited.is_empty(),
        options.limits.build,
    );
    let reworked = whitebox::reworked(&checks, root, given, &dir);
    let started = Instant::now();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let black = black_box(&built.binary, &checks, options, &work).await;
    std::panic::set_hook(quiet);
    let mut rounds: Vec<Vec<BugGrade>> = Vec::new();
    for (round, found) in black.into_iter().enumerate() {
        if options.rounds > 1 {
            eprintln!("==> round {} of {}", round + 1, options.rounds);
        }
        let checked = Checked {
            prepared: &prepared,
            reworked: &reworked,
            edited: &edited,
            root,
            checks: &checks,
        };
        rounds.push(checked.judge(found, round == 0, started, options));
    }
    let unsteady = unsteady_verdicts(&rounds);
    let (clippy_clean, clippy_detail) = match options.clippy {
        true => {
            let (clean, detail) = clippy(root, &copy, options.limits.build);
            (Some(clean), detail)
        }
        false => (None, String::new()),
    };
    let own_tests = if options.own_tests {
        options.tell(Step::OwnTests);
        own_tests::label(root, bugs_all, bugs, given, &dir, &work, options.limits)
    } else {
        Vec::new()
    };
    Ok(Scorecard {
        crate_dir: dir.display().to_string(),
        public_tests_changed: test_changes,
        own_tests,
        external_changes: changes::external_changes(&references, &dir),
        clippy_clean,
        clippy_detail,
        bugs: rounds.swap_remove(0),
        sandbox: options.sandbox.describe(None),
        unsteady,
    })
}

/// The triggering tests of `bugs` that the candidate changed, or whose snapshot or helpers
/// they changed: each test by its libtest name, with what was done (`assertions changed,
/// snapshot rewritten`). Each is run as handed over on their code; one that fails there was
/// edited to accept what it rejected.
fn edited_tests(
    bugs: &[&Bug],
    changes: &[public_tests::TestChange],
) -> std::collections::BTreeMap<String, String> {
    let mut edited = std::collections::BTreeMap::new();
    for test in bugs.iter().flat_map(|bug| &bug.triggering.tests) {
        let mut what: Vec<String> = Vec::new();
        for change in changes.iter().filter(|change| change.bears_on(test)) {
            let said = if change.helper {
                format!("{} {}", change.test, change.change.label())
            } else {
                change.change.label().to_owned()
            };
            if !what.contains(&said) {
                what.push(said);
            }
        }
        if !what.is_empty() {
            edited.insert(test.clone(), what.join(", "));
        }
    }
    edited
}

/// What a round's white-box checks and verdicts need besides its black-box evidence.
struct Checked<'a> {
    prepared: &'a whitebox::Prepared,
    reworked: &'a std::collections::BTreeSet<&'a str>,
    edited: &'a std::collections::BTreeMap<String, String>,
    root: &'a Path,
    checks: &'a [(&'a Bug, catalog::Checks)],
}

impl Checked<'_> {
    /// Judges each bug on one round's black-box evidence, whose verdicts are printed (and, for
    /// the first round, told) as soon as they are known, then with the white-box checks.
    fn judge(
        &self,
        mut found: Vec<(String, Evidence)>,
        first: bool,
        started: Instant,
        options: &Options,
    ) -> Vec<BugGrade> {
        let so_far = judge_all(self.checks, &found);
        if first {
            options.tell(Step::BlackBox(so_far.clone()));
        }
        eprintln!(
            "==> black-box verdicts after {:.1?} (white-box checks follow): {}",
            started.elapsed(),
            so_far
                .iter()
                .map(|grade| format!("{} {}", grade.bug, grade.verdict.label()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        eprintln!("==> white-box probes and loom models on a copy");
        if first {
            options.tell(Step::WhiteBox);
        }
        found.extend(whitebox::evidence(
            self.prepared,
            self.root,
            self.checks,
            self.reworked,
            self.edited,
        ));
        judge_all(self.checks, &found)
    }
}

/// Each bug's grade from the evidence found so far.
fn judge_all(checks: &[(&Bug, catalog::Checks)], found: &[(String, Evidence)]) -> Vec<BugGrade> {
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

/// How many runs of scenarios go at once. They wait on the network, on timeouts and on the
/// balance service's latency far more than they compute: eight at once keep two cores busy
/// without slowing any of them enough to change what it sees.
const RUNS_AT_ONCE: usize = 8;

/// Runs every scenario of `checks` once per round ([`Options::rounds`]), the rounds side by
/// side, [`RUNS_AT_ONCE`] runs at a time, then the ones that judge by timing
/// ([`Scenario::alone`]) one by one with nothing else running. For each round, each bug's
/// evidence, in the catalog's order. Only the first round's checks are told to
/// [`Options::progress`].
async fn black_box(
    binary: &Path,
    checks: &[(&Bug, catalog::Checks)],
    options: &Options,
    work: &Path,
) -> Vec<Vec<(String, Evidence)>> {
    let seeds = options.seeds;
    let rounds = options.rounds.max(1);
    let graded: Vec<&str> = checks.iter().map(|(bug, _)| bug.id.as_str()).collect();
    let all: Vec<(String, Scenario)> = checks
        .iter()
        .flat_map(|(bug, checks)| checks.scenarios.iter().map(|s| (bug.id.clone(), *s)))
        .filter(|(_, s)| !s.unless_graded.iter().any(|other| graded.contains(other)))
        .collect();
    if let Err(why) = starts(binary, work).await {
        let found = not_started(&all, &why, options);
        return vec![found; rounds];
    }
    // Each round logs to a folder of its own: rounds run at once.
    let logs_of = |round: usize| match round {
        0 => work.join("logs"),
        round => work.join("logs").join(format!("round-{}", round + 1)),
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(RUNS_AT_ONCE));
    let mut running = tokio::task::JoinSet::new();
    for round in 0..rounds {
        for (n, (bug, scenario)) in all.iter().enumerate().filter(|(_, (_, s))| !s.alone) {
            let (binary, logs, slots) = (binary.to_path_buf(), logs_of(round), slots.clone());
            let (bug, scenario, options) = (bug.clone(), *scenario, options.clone());
            running.spawn(async move {
                let evidence = run_scenario(&binary, &scenario, seeds, &logs, &slots).await;
                if round == 0 {
                    options.tell(Step::Checked {
                        bug: bug.clone(),
                        evidence: evidence.clone(),
                    });
                }
                (round, n, bug, evidence)
            });
        }
    }
    let mut found: Vec<(usize, usize, String, Evidence)> = running.join_all().await;
    let alone = Arc::new(tokio::sync::Semaphore::new(1));
    for round in 0..rounds {
        for (n, (bug, scenario)) in all.iter().enumerate().filter(|(_, (_, s))| s.alone) {
            let evidence = run_scenario(binary, scenario, seeds, &logs_of(round), &alone).await;
            if round == 0 {
                options.tell(Step::Checked {
                    bug: bug.clone(),
                    evidence: evidence.clone(),
                });
            }
            found.push((round, n, bug.clone(), evidence));
        }
    }
    found.sort_by_key(|(round, n, _, _)| (*round, *n));
    let mut by_round: Vec<Vec<(String, Evidence)>> = vec![Vec::new(); rounds];
    for (round, _, bug, evidence) in found {
        by_round[round].push((bug, evidence));
    }
    by_round
}

/// Starts the candidate's service once, with the scenarios' default settings, and stops it:
/// why it did not start, if it did not. Every scenario would fail the same way, each only
/// after the start-up limit (minutes of them, with the reruns), so this is tried first.
async fn starts(binary: &Path, work: &Path) -> Result<(), String> {
    let log = work.join("logs").join("start-up.log");
    drive::launch(binary, &scenarios::services::Setup::default(), &log)
        .await
        .map(drop)
        .map_err(|error| format!("the order service did not start: {error:#}"))
}

/// The evidence of scenarios that could not run because the service did not start (`why`):
/// the symptom is not gone (no order goes through at all), said in full once per bug; what
/// a guard or a robustness check would have shown is not known.
fn not_started(
    all: &[(String, Scenario)],
    why: &str,
    options: &Options,
) -> Vec<(String, Evidence)> {
    const NOT_RUN: &str = "not run: the order service did not start";
    let mut said_for: Vec<&str> = Vec::new();
    all.iter()
        .map(|(bug, scenario)| {
            let (kind, role) = (scenario.kind(), scenario.role);
            let evidence = if role.kind() != RoleKind::Symptom {
                Evidence::inconclusive(scenario.name, kind, role, NOT_RUN.into())
            } else if said_for.contains(&bug.as_str()) {
                Evidence::new(scenario.name, kind, role, false, NOT_RUN.into())
            } else {
                said_for.push(bug);
                Evidence::new(scenario.name, kind, role, false, why.to_owned())
            };
            eprintln!("==> {:<4} {} (not run)", evidence.mark(), scenario.name);
            options.tell(Step::Checked {
                bug: bug.clone(),
                evidence: evidence.clone(),
            });
            (bug.clone(), evidence)
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
    let roots = crate::tools::git(dir, &["rev-list", "--max-parents=0", "HEAD"]).ok()?;
    let first = roots.lines().last()?.trim().to_owned();
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).ok()?;
    crate::tools::git_archive(dir, &first, out).ok()?;
    Some(out.to_path_buf())
}

/// The bugs the crate as handed over (`given`) has in, told by its variant files: each is
/// the buggy or the fixed side of its bug, as the export wrote it. `None` when some file is
/// neither (the tree is not an export this harness wrote).
fn bugs_handed_over(root: &Path, bugs: &[Bug], given: &Path) -> Option<Vec<String>> {
    let mut found = Vec::new();
    for bug in bugs {
        let mut sides = Vec::new();
        for file in &bug.files {
            let Ok(theirs) = std::fs::read(given.join(&file.module)) else {
                continue; // a file of the replicas stage, not in this export
            };
            let side = |side: &str| std::fs::read(bug.variant(root, side, file));
            match (
                side("buggy").ok() == Some(theirs.clone()),
                side("fixed").ok() == Some(theirs),
            ) {
                (true, true) => {} // the same on both sides: it tells nothing
                (true, false) => sides.push(true),
                (false, true) => sides.push(false),
                (false, false) => return None,
            }
        }
        match (sides.iter().all(|s| *s), sides.iter().any(|s| *s)) {
            (true, true) => found.push(bug.id.clone()),
            (false, false) => {}
            // One file of the bug buggy and another fixed: not an export of ours.
            _ => return None,
        }
    }
    Some(found)
}

fn same_bugs(found: &[String], chosen: &[&Bug]) -> bool {
    let mut chosen: Vec<&str> = chosen.iter().map(|b| b.id.as_str()).collect();
    let mut found: Vec<&str> = found.iter().map(String::as_str).collect();
    chosen.sort_unstable();
    found.sort_unstable();
    chosen == found
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

/// The candidate's crate, built.
struct Built {
    binary: PathBuf,
}

impl Built {
    /// Builds the order service of the copy `dir` into `target/grade`, in the dev profile, as
    /// the candidate's own `cargo test` builds it: the checks judge the service as the
    /// candidate saw it.
    fn new(root: &Path, dir: &Path, work: &Path, limit: Duration) -> Result<Built> {
        let target = root.join("target/grade");
        let _claim = trees::claim(&target, dir)?;
        let mut build = grade_cargo(&target, dir);
        build.args(["build", "--quiet", "--bin", "order-service"]);
        crate::tools::run_cargo(build, "build the candidate's order-service", limit)?;
        let binary = work.join("order-service");
        std::fs::copy(target.join("debug/order-service"), &binary)?;
        Ok(Built { binary })
    }
}

/// A cargo command for the copy `dir`, building into `target`.
fn grade_cargo(target: &Path, dir: &Path) -> std::process::Command {
    let mut command = crate::tools::cargo();
    command
        .current_dir(dir)
        .env_remove("RUSTFLAGS")
        .env("CARGO_TARGET_DIR", target);
    command
}

/// Lints the copy `dir` as `cargo clippy --all-targets -- -D warnings` does: whether it is
/// clean, and what clippy said when it is not. No verdict depends on it, so it runs once
/// the verdicts are in.
fn clippy(root: &Path, dir: &Path, limit: Duration) -> (bool, String) {
    eprintln!("==> clippy");
    let target = root.join("target/grade");
    let _claim = match trees::claim(&target, dir) {
        Ok(claim) => claim,
        Err(problem) => return (false, format!("{problem:#}")),
    };
    let mut lint = grade_cargo(&target, dir);
    lint.args(["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"]);
    match crate::tools::run_cargo(lint, "lint the candidate's crate", limit) {
        Ok(()) => (true, String::new()),
        Err(detail) => (false, format!("{detail:#}")),
    }
}

/// Runs one scenario against the candidate's binary, once or once per seed (the seeds at
/// once, each run taking one of `slots`); the first failure in seed order counts. A failed
/// guard or robustness check is run again with the same seed before it counts: one that
/// holds on the rerun is recorded as unsteady, not as failed. A symptom counts the first time
/// it shows: a customer who saw it once saw it.
async fn run_scenario(
    binary: &Path,
    scenario: &Scenario,
    seeds: u64,
    logs: &Path,
    slots: &Arc<tokio::sync::Semaphore>,
) -> Evidence {
    let runs: Vec<Option<u64>> = if scenario.seeded {
        (1..=seeds).map(Some).collect()
    } else {
        vec![None]
    };
    let started = Instant::now();
    let logs = logs.join(scenario.name);
    let (kind, role) = (scenario.kind(), scenario.role);
    let once = |seed: Option<u64>| {
        let (binary, scenario, logs, slots) =
            (binary.to_path_buf(), *scenario, logs.clone(), slots.clone());
        async move {
            let _slot = slots.acquire().await.expect("the slots are never closed");
            drive::run(&binary, &scenario, seed, &logs, false).await
        }
    };
    let mut running = tokio::task::JoinSet::new();
    for (n, seed) in runs.iter().enumerate() {
        let run = once(*seed);
        running.spawn(async move { (n, run.await) });
    }
    let mut outcomes = running.join_all().await;
    outcomes.sort_by_key(|(n, _)| *n);
    let mut unsteady = None;
    let mut inconclusive = None;
    let mut judged = 0;
    let mut failed = None;
    let total = runs.len();
    for (seed, (n, outcome)) in runs.iter().zip(outcomes) {
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
        if role.kind() != RoleKind::Symptom && once(*seed).await.passed {
            unsteady.get_or_insert(format!("{which}{}", outcome.message));
            continue;
        }
        failed = Some(format!("{which}{}", outcome.message));
        break;
    }
    let evidence = match (failed, inconclusive, unsteady) {
        (Some(message), _, _) => Evidence::new(scenario.name, kind, role, false, message),
        (None, Some(why), _) if judged == 0 => {
            Evidence::inconclusive(scenario.name, kind, role, why)
        }
        (None, Some(why), _) => {
            let mut evidence = Evidence::new(scenario.name, kind, role, true, String::new());
            evidence.detail =
                format!("held in the {judged} of {total} runs that could judge; the others: {why}");
            evidence
        }
        (None, None, Some(first)) => {
            let mut evidence = Evidence::new(scenario.name, kind, role, true, String::new());
            evidence.unsteady = true;
            evidence.detail =
                format!("failed once, held when run again with the same plan: {first}");
            evidence
        }
        (None, None, None) => Evidence::new(scenario.name, kind, role, true, String::new()),
    };
    eprintln!(
        "==> {:<4} {} ({} run{}, {:.1?})",
        evidence.mark(),
        scenario.name,
        total,
        if total == 1 { "" } else { "s" },
        started.elapsed()
    );
    evidence
}

//! `exercise session`: the interviewer's hour, from one tool.
//!
//! - `session new --candidate NAME`: exports the crate as a git repository, warms its build
//!   and the grader's, and writes the session's folder under `sessions/`;
//! - `session open ID`: serves the session's page on 127.0.0.1 (the clock, a card per bug
//!   with its hint ladder, live verdicts of every commit, notes, the score sheet);
//! - `session end ID`: writes the report (Markdown and HTML) from what was recorded;
//! - `session regrade ID`: grades the session's commits again with the harness as it is now;
//! - `session list`: past sessions side by side;
//! - `session calibration`: the minutes they measured, per bug and per export;
//! - `session card`: the bugs' data as a sheet to print.
//!
//! [`store`] keeps a session on disk, [`state`] folds its events into what the page shows,
//! [`score`] is the decision rule, [`live`] grades each new commit, [`server`] is the page,
//! [`report`] the write-up, [`calibration`] the minutes measured across sessions.

pub mod calibration;
pub mod live;
pub mod report;
pub mod score;
pub mod server;
pub mod state;
pub mod store;

use crate::tools::git;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::Project;
use crate::manifest::{self, Bug};
use store::{ExpectedTests, FORMAT, Setup, Store};

/// Runs an interview session: prepare, hand over, grade live, decide, write it up.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where sessions are kept (default: sessions/ in this repository).
    #[arg(long, global = true)]
    sessions: Option<PathBuf>,
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Prepares a session: the candidate's crate as a git repository, warm builds, the
    /// session's folder; with --replicas, a local Postgres and nginx for stage two.
    New(NewArgs),
    /// Serves the session's page on 127.0.0.1, grading each new commit of the candidate's.
    Open(server::OpenArgs),
    /// Writes the session's report from what was recorded.
    End(EndArgs),
    /// Grades a session's commits again with the harness as it is now (each commit since the
    /// hand-over, the ones the page skipped too), for a session an older harness graded.
    Regrade(RegradeArgs),
    /// Lists past sessions side by side.
    List,
    /// How long candidates took, from the ended sessions: per export and per bug, against
    /// the bugs' own estimates.
    Calibration,
    /// Writes the session card: the bugs' data as a sheet to print, for paper.
    Card(CardArgs),
}

#[derive(Debug, clap::Args)]
pub struct CardArgs {
    /// The bugs left in (default: the brief's).
    #[arg(long, value_delimiter = ',')]
    bugs: Vec<String>,
    /// Where to write it (default: sessions/card.html).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The candidate's name, as the report shows it.
    #[arg(long)]
    candidate: String,
    // With --replicas, `new` starts stage two's Postgres and nginx too (said in its help).
    #[command(flatten)]
    contents: crate::export::Contents,
    /// Seeded runs of each seeded check when a commit is graded.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Skip warming the builds (the first grade and the candidate's first build are cold).
    #[arg(long)]
    no_warm: bool,
    /// Where the candidate's code is built and run when a commit is graded, as `grade
    /// --sandbox`.
    #[arg(long, value_enum)]
    sandbox: Option<crate::sandbox::Sandbox>,
}

#[derive(Debug, clap::Args)]
pub struct EndArgs {
    /// The session's id (its folder's name under sessions/).
    id: String,
    /// When the candidate left, on the session's clock (`52:30`), for a session ended later
    /// than that: its length, and what counts as graded after it, are measured to then. On a
    /// session already ended it moves the end there (the decision stays as it was made).
    #[arg(long, value_name = "MM:SS")]
    at: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RegradeArgs {
    /// The session's id (its folder's name under sessions/).
    id: String,
    /// Only these commits (default: every commit since the hand-over, and every one graded).
    commits: Vec<String>,
    /// The candidate's repository, when it is not the session's own (as `session open
    /// --repo`).
    #[arg(long)]
    repo: Option<String>,
}

impl Args {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let sessions = self
            .sessions
            .clone()
            .unwrap_or_else(|| project.root.join("sessions"));
        match self.command {
            Sub::New(args) => new(project, &sessions, &args),
            Sub::Open(args) => args.run(project, &sessions),
            Sub::End(args) => {
                let store = find(&sessions, &args.id)?;
                let state = state::State::load(&store)?;
                let left_ms = args
                    .at
                    .as_deref()
                    .map(|at| state.at_clock(at, store::now_ms()))
                    .transpose()?;
                match (&state.ended, left_ms) {
                    (None, left_ms) => {
                        let all = project.bugs()?;
                        let bugs = manifest::choose(&all, &state.setup.bugs)?;
                        let outcome = state.decision(&bugs).outcome.label().to_owned();
                        store.append(store::Event::Ended { outcome, left_ms })?;
                    }
                    (Some((ended, outcome)), Some(left_ms)) => {
                        let (from, to) = (state.clock(*ended), state.clock(left_ms));
                        if from == to {
                            eprintln!("the session already ends at {to}");
                        } else {
                            store.append(store::Event::Ended {
                                outcome: outcome.clone(),
                                left_ms: Some(left_ms),
                            })?;
                            eprintln!(
                                "the session's end moves from {from} to {to}; the decision \
                                 stays as it was made ({outcome})"
                            );
                        }
                    }
                    (Some((ended, outcome)), None) => eprintln!(
                        "the session already ended at {} ({outcome}); its report is written \
                         again from the record: the decision as it was made, each commit's \
                         latest grade",
                        state.clock(*ended)
                    ),
                }
                let written = report::write(project, &store)?;
                println!("{}", written.markdown.display());
                println!("{}", written.html.display());
                Ok(ExitCode::SUCCESS)
            }
            Sub::Regrade(args) => {
                let store = find(&sessions, &args.id)?;
                let setup = store.setup()?;
                let source = live::Source::of(&store, &setup, args.repo.as_deref());
                live::regrade(project, &store, &source, &args.commits)?;
                let state = state::State::load(&store)?;
                if let Some((at, outcome)) = &state.ended {
                    eprintln!(
                        "The session ended at {} ({outcome}); its report still shows the \
                         verdicts of then. `{}` writes it again with these, and keeps the \
                         decision as it was made.",
                        state.clock(*at),
                        store.command(&project.root, "end")
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Sub::List => {
                print!("{}", report::list(project, &sessions)?);
                Ok(ExitCode::SUCCESS)
            }
            Sub::Calibration => {
                let all = project.bugs()?;
                let (mut timed, mut left_out) = (Vec::new(), 0);
                for (id, state) in report::past(&sessions) {
                    match state.map(|state| calibration::Timed::of(&state)) {
                        Ok(Some(session)) => timed.push(session),
                        Ok(None) => left_out += 1,
                        Err(error) => {
                            eprintln!(
                                "session {id} cannot be read, so it is not counted: {error:#}"
                            )
                        }
                    }
                }
                print!(
                    "{}",
                    report::markdown(&calibration::blocks(&all, &timed, left_out))
                );
                Ok(ExitCode::SUCCESS)
            }
            Sub::Card(args) => {
                let bugs = project.bugs()?;
                let chosen = manifest::choose(&bugs, &args.bugs)?;
                let out = args.out.unwrap_or_else(|| sessions.join("card.html"));
                if let Some(dir) = out.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let page = report::html("Session card", &report::card(&chosen));
                store::write_atomically(&out, page.as_bytes())?;
                println!("{}", out.display());
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// The harness's commit, as a session records it: `37a8f4d`, `37a8f4d+changes` when files
/// git tracks differ from it.
pub fn harness(root: &Path) -> String {
    let Ok(head) = git(root, &["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    match git(root, &["status", "--porcelain", "--untracked-files=no"]) {
        Ok(changes) if !changes.is_empty() => format!("{head}+changes"),
        _ => head,
    }
}

/// The harness's checkout as a run of grades found it, so that the run can tell when it
/// changes under it. The grade worker reads the catalog (`variants/`) and builds the reference
/// from the checkout, so a `git pull` or an edit while a page is open would grade the
/// commits after it with another harness than the one the record names.
pub struct Checkout {
    /// What the session records: [`harness`].
    pub label: String,
    /// The commit and the tracked files' changes from it, hashed.
    tree: u64,
}

impl Checkout {
    pub fn read(root: &Path) -> Checkout {
        Checkout {
            label: harness(root),
            tree: tree(root),
        }
    }

    /// Why no more grades should run, if the checkout is no longer what this run started
    /// with.
    pub fn moved(&self, root: &Path) -> Option<String> {
        if tree(root) == self.tree {
            return None;
        }
        let now = harness(root);
        let what = if now == self.label {
            format!("its files changed (at {now})")
        } else {
            format!("it was at {}, it is at {now}", self.label)
        };
        Some(format!(
            "the harness's checkout {} has changed since grading started: {what}. Grading is \
             paused: a grade now would be recorded under {} but made with the checkout as it \
             is",
            root.display(),
            self.label
        ))
    }
}

/// [`Checkout`]'s fingerprint: `HEAD` and `git diff HEAD`, hashed (0 where git cannot say).
fn tree(root: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    git(root, &["rev-parse", "HEAD"]).ok().hash(&mut hasher);
    git(root, &["diff", "HEAD", "--binary"])
        .ok()
        .hash(&mut hasher);
    hasher.finish()
}

/// The session `id` under `sessions`, read and checked.
pub fn find(sessions: &Path, id: &str) -> Result<Store> {
    if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
        bail!(
            "{id:?} is not a session id (a folder name under {})",
            sessions.display()
        );
    }
    let store = Store {
        dir: sessions.join(id),
    };
    store.setup()?;
    Ok(store)
}

/// A session id: the day and the candidate's name, `2026-12-01-ada-lovelace`.
fn session_id(sessions: &Path, candidate: &str) -> Result<String> {
    let slug: String = candidate
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        bail!("the candidate's name {candidate:?} has no letters or digits to name the session by");
    }
    let day = report::utc_day(store::now_ms());
    let base = format!("{day}-{slug}");
    (1..100)
        .map(|n| match n {
            1 => base.clone(),
            n => format!("{base}-{n}"),
        })
        .find(|id| !sessions.join(id).exists())
        .context("too many sessions of this candidate today")
}

/// `session new`.
fn new(project: &Project, sessions: &Path, args: &NewArgs) -> Result<ExitCode> {
    let root = &project.root;
    let bugs = project.bugs()?;
    let contents = &args.contents;
    let chosen = manifest::choose(&bugs, &contents.bugs)?;
    let id = session_id(sessions, &args.candidate)?;
    let store = Store {
        dir: sessions.join(&id),
    };
    let crate_dir = store.dir.join("candidate");
    eprintln!(
        "==> exporting the candidate's crate to {}",
        crate_dir.display()
    );
    crate::export::export(root, &bugs, &chosen, &crate_dir, contents.options())?;
    // The hand-over commit has an author of its own: the candidate's commits then show as
    // theirs, whatever identity their machine has.
    git(&crate_dir, &["init", "-q", "-b", "main"])?;
    git(&crate_dir, &["add", "-A"])?;
    git(
        &crate_dir,
        &[
            "-c",
            "user.name=order-service exercise",
            "-c",
            "user.email=exercise@localhost",
            "commit",
            "-q",
            "-m",
            "The order service, as handed over",
        ],
    )?;
    let handed_over = git(&crate_dir, &["rev-parse", "HEAD"])?;
    let handover = store.dir.join("handover");
    std::fs::create_dir_all(&handover)?;
    let bundle = handover.join("candidate.bundle");
    git(
        &crate_dir,
        &[
            "bundle",
            "create",
            "-q",
            &bundle.display().to_string(),
            "--all",
        ],
    )?;
    let archive = handover.join("candidate.tar.gz");
    git(
        &crate_dir,
        &[
            "archive",
            "--format=tar.gz",
            "--prefix=candidate/",
            "-o",
            &archive.display().to_string(),
            "HEAD",
        ],
    )?;

    let expected_tests = if args.no_warm {
        expected_from_manifests(&chosen)
    } else {
        eprintln!("==> warming the candidate's build (cargo build, cargo test)");
        warm_candidate(&crate_dir)?
    };
    if contents.replicas {
        eprintln!("==> starting Postgres for stage two (scripts/postgres-start)");
        let url = Command::new(root.join("scripts/postgres-start"))
            .output()
            .context("run scripts/postgres-start")?;
        if !url.status.success() {
            bail!(
                "scripts/postgres-start failed: {}",
                String::from_utf8_lossy(&url.stderr).trim()
            );
        }
        eprintln!("==> the load balancer for stage two (scripts/nginx-setup)");
        let nginx = Command::new(root.join("scripts/nginx-setup"))
            .status()
            .context("run scripts/nginx-setup")?;
        if !nginx.success() {
            bail!("scripts/nginx-setup failed ({nginx}): stage two needs nginx");
        }
        crate::lb::binary().context("stage two needs nginx")?;
    }
    let setup = Setup {
        format: FORMAT.to_owned(),
        id: id.clone(),
        candidate: args.candidate.clone(),
        created_ms: store::now_ms(),
        bugs: chosen.iter().map(|bug| bug.id.clone()).collect(),
        with_loom: contents.with_loom,
        replicas: contents.replicas,
        repo: crate_dir.canonicalize()?,
        handed_over: handed_over.clone(),
        harness: harness(root),
        expected_tests,
        seeds: args.seeds,
        sandbox: Some(crate::sandbox::Sandbox::choose(args.sandbox)?),
    };
    store.create(&setup)?;
    if !args.no_warm {
        eprintln!("==> warming the grader: grading the crate as handed over");
        live::grade_commit(project, &store, &setup, &handed_over)?;
    }
    print!("{}", handover_text(&project.root, &store, &setup, &chosen));
    Ok(ExitCode::SUCCESS)
}

/// Builds the candidate's crate as they will (its own `target/`), runs its tests once, and
/// counts what passed and failed.
fn warm_candidate(dir: &Path) -> Result<ExpectedTests> {
    // The candidate's own target directory, as their `cargo test` will find it.
    let suite = crate::libtest::run_suite_in(
        dir,
        &crate::manifest::Build::plain("export"),
        false,
        Some(&dir.join("target")),
        &[],
        &[],
        crate::libtest::SuiteLimits::default(),
    )
    .context("run the candidate's tests")?;
    let failed = suite.results.values().filter(|passed| !**passed).count();
    Ok(ExpectedTests {
        passed: suite.results.len() - failed,
        failed,
    })
}

/// What the counts would be, from the bugs' manifests, when the tests are not run: the
/// failing ones are known, the total is not.
fn expected_from_manifests(chosen: &[&Bug]) -> ExpectedTests {
    ExpectedTests {
        passed: 0,
        failed: chosen.iter().map(|bug| bug.triggering.tests.len()).sum(),
    }
}

/// What `session new` prints: where everything is and how to hand it over.
fn handover_text(root: &Path, store: &Store, setup: &Setup, chosen: &[&Bug]) -> String {
    let dir = store.dir.display();
    let bugs: Vec<&str> = chosen.iter().map(|bug| bug.id.as_str()).collect();
    let tests = match setup.expected_tests {
        ExpectedTests { passed: 0, failed } => format!("{failed} tests fail"),
        ExpectedTests { passed, failed } => format!("{passed} passed; {failed} failed"),
    };
    format!(
        "\nSession {id} is ready: {dir}\n\
         Bugs left in: {bugs}. The candidate's `cargo test` ends with {tests}.\n\
         \n\
         Hand the crate over, one of:\n\
         - here: the candidate works in {dir}/candidate,\n  \
           a git repository whose first commit is the crate as handed over.\n  \
           Ask them to commit as they go: each commit is graded.\n\
         - a git bundle: {dir}/handover/candidate.bundle\n  \
           (`git clone candidate.bundle candidate`; to grade live, open the session with\n  \
           `--repo` on their repository, a path or a git URL)\n\
         - an archive: {dir}/handover/candidate.tar.gz\n\
         \n\
         What the candidate needs: Rust 1.88 or later and git, and crates.io for their first\n\
         build (have them run `cargo test` once before the session); or Docker with compose,\n\
         where `docker compose run --rm app cargo test` tests their edits (the source is mounted).\n\
         They may use any editor, documentation and search; the balance service is another\n\
         team's system: they may read it and use its ledger, but fix the order service.\n\
         \n\
         Run the session (the page is on http://127.0.0.1:7878/):\n  \
           {open}\n",
        id = setup.id,
        open = store.command(root, "open"),
        bugs = bugs.join(", "),
    )
}

//! Live grading: the candidate's repository is watched, and each new commit is graded in the
//! session's own work directory, one at a time. A commit that arrives while another is graded
//! waits; when several have, the newest is graded and the ones between are skipped (the page
//! shows what the candidate has now, not what they had).
//!
//! While a commit is graded, [`Live`] holds what is known so far (each black-box check as it
//! finishes, then the verdicts they make); the scorecard and the verdicts are written to the
//! session once the grade is done.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use super::state::State;
use super::store::{Event, Setup, Store, now_ms};
use crate::Project;
use crate::grade::{self, Progress, Step};
use crate::manifest;
use crate::tools::git;

/// How often the repository is looked at for a new commit.
const POLL: Duration = Duration::from_secs(2);

/// What is known of the grade under way.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Live {
    /// The commit being graded, if one is.
    pub commit: Option<String>,
    pub subject: String,
    pub started_ms: u64,
    /// Where it has got to, in a few words.
    pub step: String,
    /// Each black-box check finished so far: bug, check, mark (`ok`, `FAIL`, `ok?`, `?`).
    pub checks: Vec<(String, String, String)>,
    /// The black-box checks' verdicts, once they are all in: bug and verdict, as the
    /// scorecard writes it (`FIXED WITH GAPS`).
    pub verdicts: Vec<(String, &'static str)>,
    /// A problem with the repository itself (it cannot be read, say).
    pub trouble: Option<String>,
}

/// Where the candidate's commits come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A repository on this machine.
    Local(PathBuf),
    /// A remote the session fetches from into a mirror of its own.
    Remote { url: String, mirror: PathBuf },
}

impl Source {
    /// `repo` as given to `session open --repo`, or the session's own repository.
    pub fn of(store: &Store, setup: &Setup, repo: Option<&str>) -> Source {
        match repo {
            None => Source::Local(setup.repo.clone()),
            Some(path) if Path::new(path).join(".git").exists() => {
                Source::Local(PathBuf::from(path))
            }
            Some(url) => Source::Remote {
                url: url.to_owned(),
                mirror: store.dir.join("remote.git"),
            },
        }
    }

    /// The repository commits are read from.
    fn repository(&self) -> &Path {
        match self {
            Source::Local(path) => path,
            Source::Remote { mirror, .. } => mirror,
        }
    }

    /// The candidate's newest commit.
    fn head(&self) -> Result<String> {
        match self {
            Source::Local(path) => git(path, &["rev-parse", "HEAD"]),
            Source::Remote { url, mirror } => {
                if !mirror.exists() {
                    std::fs::create_dir_all(mirror)?;
                    git(mirror, &["init", "-q", "--bare"])?;
                }
                git(mirror, &["fetch", "-q", url, "+HEAD:refs/heads/candidate"])?;
                git(mirror, &["rev-parse", "refs/heads/candidate"])
            }
        }
    }
}

/// Watches `source` until `stop`, grading each new commit.
pub fn watch(
    project: &Project,
    store: &Store,
    source: &Source,
    live: &Arc<Mutex<Live>>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::Relaxed) {
        let next = source.head().and_then(|head| {
            let state = State::load(store)?;
            Ok((!state.has_graded(&head) && state.ended.is_none()).then_some((head, state)))
        });
        match next {
            Ok(Some((commit, state))) => {
                lock(live).trouble = None;
                if let Err(error) = grade_at(project, store, &state.setup, source, &commit, live) {
                    lock(live).trouble = Some(format!("{error:#}"));
                }
            }
            Ok(None) => {}
            Err(error) => lock(live).trouble = Some(format!("{error:#}")),
        }
        let mut waited = Duration::ZERO;
        while waited < POLL && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            waited += Duration::from_millis(100);
        }
    }
}

fn lock(live: &Mutex<Live>) -> std::sync::MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Grades `commit` of the session's own repository (`session new` grades the hand-over).
pub fn grade_commit(project: &Project, store: &Store, setup: &Setup, commit: &str) -> Result<()> {
    let source = Source::Local(setup.repo.clone());
    grade_at(
        project,
        store,
        setup,
        &source,
        commit,
        &Arc::new(Mutex::new(Live::default())),
    )
}

/// Grades `commit`, keeping `live` up to date, and records the verdicts (or why it could not
/// be graded) in the session.
fn grade_at(
    project: &Project,
    store: &Store,
    setup: &Setup,
    source: &Source,
    commit: &str,
    live: &Arc<Mutex<Live>>,
) -> Result<()> {
    let repository = source.repository();
    let subject = git(repository, &["log", "-1", "--format=%s", commit]).unwrap_or_default();
    let committed_ms = git(repository, &["log", "-1", "--format=%ct", commit])
        .ok()
        .and_then(|seconds| seconds.parse::<u64>().ok())
        .map(|seconds| seconds * 1000);
    *lock(live) = Live {
        commit: Some(commit.to_owned()),
        subject: subject.clone(),
        started_ms: now_ms(),
        step: "starting".into(),
        ..Live::default()
    };
    let work = store.dir.join("work");
    let tree = work.join("commit");
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(&tree)?;
    crate::tools::git_archive(repository, commit, &tree)
        .with_context(|| format!("check out {commit}"))?;
    let given = work.join("handed-over");
    if !given.join("Cargo.toml").exists() {
        let _ = std::fs::remove_dir_all(&given);
        std::fs::create_dir_all(&given)?;
        crate::tools::git_archive(&setup.repo, &setup.handed_over, &given)
            .context("check out the commit the crate was handed over as")?;
    }
    let bugs = project.bugs()?;
    let chosen = manifest::choose(&bugs, &setup.bugs)?;
    let told = live.clone();
    let options = grade::Options {
        seeds: setup.seeds,
        clippy: true,
        rounds: 1,
        own_tests: true,
        work: Some(work.clone()),
        given: Some(given),
        sandbox: crate::sandbox::Sandbox::choose(setup.sandbox)?,
        limits: Default::default(),
        progress: Some(Progress(Arc::new(move |step| {
            let mut live = lock(&told);
            live.step = match step {
                Step::Building => "building".into(),
                Step::Checked { bug, evidence } => {
                    live.checks
                        .push((bug, evidence.check.clone(), evidence.mark().to_owned()));
                    "black-box checks".into()
                }
                Step::BlackBox(grades) => {
                    live.verdicts = grades
                        .iter()
                        .map(|g| (g.bug.clone(), g.verdict.label()))
                        .collect();
                    "black-box verdicts in".into()
                }
                Step::WhiteBox => "white-box checks and clippy".into(),
                Step::OwnTests => "labelling the candidate's own tests".into(),
            };
        }))),
    };
    let graded =
        crate::runtime()?.block_on(grade::grade(&project.root, &bugs, &chosen, &tree, &options));
    let event = match graded {
        Ok(card) => {
            let folder = store.dir.join("graded");
            std::fs::create_dir_all(&folder)?;
            let name = format!("graded/{commit}");
            super::store::write_atomically(
                &store.dir.join(format!("{name}.json")),
                serde_json::to_string_pretty(&card)?.as_bytes(),
            )?;
            super::store::write_atomically(
                &store.dir.join(format!("{name}.txt")),
                grade::render(&card).as_bytes(),
            )?;
            Event::Graded {
                commit: commit.to_owned(),
                committed_ms,
                subject,
                verdicts: card
                    .bugs
                    .iter()
                    .map(|b| (b.bug.clone(), b.verdict))
                    .collect(),
                scorecard: format!("{name}.txt"),
            }
        }
        Err(error) => Event::GradeFailed {
            commit: commit.to_owned(),
            committed_ms,
            subject,
            why: crate::tools::last_lines(&format!("{error:#}"), 12),
        },
    };
    store.append(event)?;
    *lock(live) = Live::default();
    Ok(())
}

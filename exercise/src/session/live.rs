//! Live grading: the candidate's repository is watched, and each new commit is graded in the
//! session's own work directory, one at a time. A commit that arrives while another is graded
//! waits; when several have, the newest is graded first (the page shows what the candidate has
//! now), and the ones between once nothing newer waits, oldest first, so that the timeline
//! (and the minutes `session calibration` reads from it) has every commit.
//!
//! [`regrade`] grades a session's commits again with the harness as it is now, for a session
//! graded by an older one. One grade of a session runs at a time, whichever process runs it:
//! the work directory is locked while it is in use.
//!
//! While a commit is graded, [`Live`] holds what is known so far (each black-box check as it
//! finishes, then the verdicts they make); the scorecard and the verdicts are written to the
//! session once the grade is done.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::Checkout;
use super::report::short;
use super::state::{GradedCommit, State};
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
    // This process's harness: what it was built from. The checkout it grades with may
    // change under it; then no grade runs until the page is opened again (or the checkout
    // is put back as it was).
    let checkout = Checkout::read(&project.root);
    let harness = checkout.label.clone();
    while !stop.load(Ordering::Relaxed) {
        match next_to_grade(store, source) {
            Ok(Some((commit, state))) => {
                if let Some(moved) = checkout.moved(&project.root) {
                    lock(live).trouble = Some(format!(
                        "{moved}. Put the checkout back, or open the page again (`{}`) to \
                         grade with it as it is now ({} is next)",
                        store.command(&project.root, "open"),
                        short(&commit)
                    ));
                } else {
                    lock(live).trouble = None;
                    let graded = grade_at(
                        project,
                        store,
                        &state.setup,
                        source,
                        &commit,
                        &harness,
                        live,
                    );
                    if let Err(error) = graded {
                        lock(live).trouble = Some(format!("{error:#}"));
                    }
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

/// The commit to grade next, if any: the candidate's newest, else the oldest since the
/// hand-over that was skipped; nothing once the session has ended.
fn next_to_grade(store: &Store, source: &Source) -> Result<Option<(String, State)>> {
    let head = source.head()?;
    let state = State::load(store)?;
    if state.ended.is_some() {
        return Ok(None);
    }
    if !state.has_graded(&head) {
        return Ok(Some((head, state)));
    }
    // A history the hand-over is not part of (a remote that was pushed anew) has nothing
    // skipped to find: only its newest commit is graded.
    let skipped = since(source.repository(), &state.setup.handed_over, &head)
        .unwrap_or_default()
        .into_iter()
        .find(|commit| !state.has_graded(commit));
    Ok(skipped.map(|commit| (commit, state)))
}

/// Where `commit` stands in the candidate's history: when it was committed (milliseconds since
/// the Unix epoch, as git says) and how many commits it is after the hand-over; `None` for
/// what git cannot say (a commit no longer there).
fn placed(repository: &Path, handed_over: &str, commit: &str) -> (Option<u64>, Option<u64>) {
    let number = |args: &[&str]| {
        git(repository, args)
            .ok()
            .and_then(|said| said.parse::<u64>().ok())
    };
    (
        number(&["log", "-1", "--format=%ct", commit]).map(|seconds| seconds * 1000),
        number(&["rev-list", "--count", commit, &format!("^{handed_over}")]),
    )
}

/// The commits after `handed_over` up to `head`, oldest first.
fn since(repository: &Path, handed_over: &str, head: &str) -> Result<Vec<String>> {
    let listed = git(
        repository,
        &["rev-list", "--reverse", head, &format!("^{handed_over}")],
    )?;
    Ok(listed.lines().map(str::to_owned).collect())
}

fn lock(live: &Mutex<Live>) -> std::sync::MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Grades `commit` of the session's own repository (`session new` grades the hand-over, with
/// the harness the session records).
pub fn grade_commit(project: &Project, store: &Store, setup: &Setup, commit: &str) -> Result<()> {
    let source = Source::Local(setup.repo.clone());
    grade_at(
        project,
        store,
        setup,
        &source,
        commit,
        &setup.harness,
        &Arc::new(Mutex::new(Live::default())),
    )
    .map(drop)
}

/// Grades `commit` with the harness at `harness`, keeping `live` up to date, and records the
/// verdicts (or why it could not be graded) in the session: the event recorded.
fn grade_at(
    project: &Project,
    store: &Store,
    setup: &Setup,
    source: &Source,
    commit: &str,
    harness: &str,
    live: &Arc<Mutex<Live>>,
) -> Result<Event> {
    let repository = source.repository();
    let subject = git(repository, &["log", "-1", "--format=%s", commit]).unwrap_or_default();
    let (committed_ms, after_hand_over) = placed(repository, &setup.handed_over, commit);
    *lock(live) = Live {
        commit: Some(commit.to_owned()),
        subject: subject.clone(),
        started_ms: now_ms(),
        step: "starting".into(),
        ..Live::default()
    };
    let work = store.dir.join("work");
    std::fs::create_dir_all(&work)?;
    let _only = lock_work(&work, live)?;
    let earlier = State::load(store)?
        .graded
        .iter()
        .find(|g| g.commit == commit)
        .map_or(0, |g| g.grades);
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
            // A grade again keeps the first's scorecard: the report links to it.
            let name = match earlier {
                0 => format!("graded/{commit}"),
                n => format!("graded/{commit}-{}", n + 1),
            };
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
                after_hand_over,
                subject,
                verdicts: card
                    .bugs
                    .iter()
                    .map(|b| (b.bug.clone(), b.verdict))
                    .collect(),
                scorecard: format!("{name}.txt"),
                harness: Some(harness.to_owned()),
            }
        }
        Err(error) => Event::GradeFailed {
            commit: commit.to_owned(),
            committed_ms,
            after_hand_over,
            subject,
            why: crate::tools::last_lines(&format!("{error:#}"), 12),
            harness: Some(harness.to_owned()),
        },
    };
    let logged = store.append(event)?;
    *lock(live) = Live::default();
    Ok(logged.event)
}

/// Holds the session's work directory for one grade: waits (saying so on the page) while
/// another process grades in it.
fn lock_work(work: &Path, live: &Mutex<Live>) -> Result<std::fs::File> {
    let path = work.join("grading.lock");
    let file = std::fs::File::create(&path).with_context(|| format!("open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            lock(live).step = "waiting: another grade of this session is under way (session \
                               regrade?)"
                .into();
            file.lock()
                .with_context(|| format!("lock {}", path.display()))?;
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("lock {}", path.display()));
        }
    }
    Ok(file)
}

/// Grades `commits` of the session in `store` again (each since the hand-over that was graded
/// or skipped when none are given), oldest first, with the harness as it is now; says on
/// stderr what each grade changed.
pub fn regrade(
    project: &Project,
    store: &Store,
    source: &Source,
    commits: &[String],
) -> Result<()> {
    let state = State::load(store)?;
    let repository = source.repository();
    let mut chosen: Vec<((u64, u64), String)> = Vec::new();
    let wanted: Vec<String> = if commits.is_empty() {
        let head = source.head()?;
        let mut all: Vec<String> = state.graded.iter().map(|g| g.commit.clone()).collect();
        all.extend(since(repository, &state.setup.handed_over, &head)?);
        all
    } else {
        commits
            .iter()
            .map(|given| {
                git(
                    repository,
                    &["rev-parse", "--verify", &format!("{given}^{{commit}}")],
                )
                .with_context(|| {
                    format!(
                        "{given} is not a commit of the candidate's repository {}",
                        repository.display()
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    for commit in wanted {
        if chosen.iter().any(|(_, c)| *c == commit) {
            continue;
        }
        match placed(repository, &state.setup.handed_over, &commit) {
            (Some(committed), after) => chosen.push(((committed, after.unwrap_or(0)), commit)),
            (None, _) => eprintln!(
                "{} is no longer in {} (it was graded before; a rewritten history may have let \
                 git remove it): its grade stays as it was",
                short(&commit),
                repository.display()
            ),
        }
    }
    chosen.sort();
    let checkout = Checkout::read(&project.root);
    let harness = checkout.label.clone();
    let live = Arc::new(Mutex::new(Live::default()));
    let mut failed = 0;
    for (n, (_, commit)) in chosen.iter().enumerate() {
        if let Some(moved) = checkout.moved(&project.root) {
            bail!(
                "{moved}. {} of {} commits were graded again; run the regrade again for the \
                 rest",
                n,
                chosen.len()
            );
        }
        eprintln!(
            "==> grading {} ({} of {}) with the harness at {harness}",
            short(commit),
            n + 1,
            chosen.len()
        );
        let before = State::load(store)?;
        let before = before.graded.iter().find(|g| g.commit == *commit);
        let stands = match before {
            Some(earlier) if earlier.failed.is_none() => " (its earlier grade stands)",
            _ => "",
        };
        match grade_at(
            project,
            store,
            &state.setup,
            source,
            commit,
            &harness,
            &live,
        ) {
            Err(error) => {
                failed += 1;
                eprintln!("    could not be graded{stands}: {error:#}");
            }
            Ok(Event::GradeFailed { why, .. }) => {
                failed += 1;
                eprintln!("    could not be graded{stands}: {why}");
            }
            Ok(_) => {
                let after = State::load(store)?;
                if let Some(after) = after.graded.iter().find(|g| g.commit == *commit) {
                    eprintln!("    {}", change(before, after));
                }
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} commits could not be graded (above)",
            chosen.len()
        );
    }
    Ok(())
}

/// What a completed grade again changed, in a line: `lost-update WRONG FIX -> FIXED;
/// double-charge FIXED (as before)`.
fn change(before: Option<&GradedCommit>, after: &GradedCommit) -> String {
    after
        .verdicts
        .iter()
        .map(|(bug, _)| {
            let now = after.said(bug);
            match before.map(|g| g.said(bug)) {
                Some(then) if then != now => format!("{bug} {then} -> {now}"),
                Some(_) => format!("{bug} {now} (as before)"),
                None => format!("{bug} {now} (first grade)"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository of `n` commits after the hand-over: the hand-over, then the commits,
    /// oldest first.
    fn repository(dir: &Path, n: usize) -> (String, Vec<String>) {
        std::fs::create_dir_all(dir).unwrap();
        let run = |args: &[&str]| git(dir, args).unwrap();
        run(&["init", "-q"]);
        let mut commits = Vec::new();
        for i in 0..=n {
            std::fs::write(dir.join("file"), i.to_string()).unwrap();
            run(&["add", "file"]);
            run(&[
                "-c",
                "user.name=c",
                "-c",
                "user.email=c@example.invalid",
                "commit",
                "-q",
                "-m",
                &format!("commit {i}"),
            ]);
            commits.push(run(&["rev-parse", "HEAD"]));
        }
        let handed_over = commits.remove(0);
        (handed_over, commits)
    }

    /// A run of grades sees the harness's checkout change under it (an edit, another commit),
    /// and go on once it is back as it was.
    #[test]
    fn a_run_sees_its_checkout_change() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        repository(root, 1);
        let checkout = Checkout::read(root);
        assert_eq!(checkout.moved(root), None, "nothing changed yet");

        std::fs::write(root.join("file"), "edited").unwrap();
        let edited = checkout
            .moved(root)
            .expect("an edit to a tracked file is seen");
        assert!(
            edited.contains(&format!("it is at {}+changes", checkout.label)),
            "{edited}"
        );
        let dirty = Checkout::read(root);
        std::fs::write(root.join("file"), "edited again").unwrap();
        let again = dirty.moved(root).expect("another edit is seen");
        assert!(again.contains("its files changed (at"), "{again}");
        git(root, &["checkout", "-q", "file"]).unwrap();
        assert_eq!(checkout.moved(root), None, "the edits undone");

        std::fs::write(root.join("untracked"), "notes").unwrap();
        assert_eq!(checkout.moved(root), None, "a file git does not track");

        git(root, &["checkout", "-q", "HEAD~1"]).unwrap();
        let pulled = checkout.moved(root).expect("another commit is seen");
        assert!(
            pulled.contains(&format!("it was at {}, it is at", checkout.label)),
            "{pulled}"
        );
    }

    /// A grade of `commit`, `after` commits after the hand-over, all made in one second.
    fn graded(commit: &str, after: u64) -> Event {
        Event::Graded {
            commit: commit.into(),
            committed_ms: Some(1_000),
            after_hand_over: Some(after),
            subject: String::new(),
            verdicts: Vec::new(),
            scorecard: format!("graded/{commit}.txt"),
            harness: None,
        }
    }

    #[test]
    fn the_newest_commit_is_graded_first_then_the_skipped_ones_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut setup = super::super::store::tests::setup(dir.path());
        let (handed_over, commits) = repository(&setup.repo, 3);
        setup.handed_over = handed_over.clone();
        let store = Store {
            dir: dir.path().join("session"),
        };
        store.create(&setup).unwrap();
        store.append(graded(&handed_over, 0)).unwrap();
        let source = Source::Local(setup.repo.clone());
        let next = || next_to_grade(&store, &source).unwrap().map(|(c, _)| c);

        assert_eq!(next().as_deref(), Some(commits[2].as_str()), "the newest");
        store.append(graded(&commits[2], 3)).unwrap();
        assert_eq!(next().as_deref(), Some(commits[0].as_str()), "skipped");
        store.append(graded(&commits[0], 1)).unwrap();
        assert_eq!(next().as_deref(), Some(commits[1].as_str()), "skipped");
        store.append(graded(&commits[1], 2)).unwrap();
        assert_eq!(next(), None, "every commit graded");
        let timeline: Vec<String> = State::load(&store)
            .unwrap()
            .graded
            .into_iter()
            .map(|g| g.commit)
            .collect();
        assert_eq!(
            timeline,
            [&handed_over, &commits[0], &commits[1], &commits[2]].map(String::clone),
            "the timeline is in the order the commits were made, not graded"
        );

        store
            .append(Event::Ended {
                outcome: "hire".into(),
                left_ms: None,
            })
            .unwrap();
        repository(&setup.repo, 1);
        assert_eq!(next(), None, "nothing is graded once the session ended");
    }
}

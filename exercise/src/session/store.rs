//! A session on disk: `session.json`, what was set up (written once, atomically), and
//! `events.jsonl`, everything that happened since, one event a line. An event is on disk
//! (written and synced) before the page shows it, so reopening a session after a kill shows
//! everything that was shown.
//!
//! A line cut short at the end of the log is a write under way, or one a kill interrupted:
//! nothing showed it, so a reader leaves it out, and the next append cuts it off (with a
//! warning) before it writes. Reading never changes the file. Anything else that does not
//! read is an error that names the file and the line.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::score::{Level, RowKey};
use crate::catalog::Verdict;

/// What `session.json` says it is: a file of another kind, or of a later format, is refused.
pub const FORMAT: &str = "order-service session 1";

/// What a session was set up with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    pub format: String,
    pub id: String,
    pub candidate: String,
    /// When it was set up, in milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// The bugs left in the candidate's crate, by id.
    pub bugs: Vec<String>,
    pub with_loom: bool,
    pub replicas: bool,
    /// The candidate's git repository, watched for commits.
    pub repo: PathBuf,
    /// The commit the crate was handed over as.
    pub handed_over: String,
    /// This repository's commit when the session was set up.
    pub harness: String,
    /// What `cargo test` in the crate as handed over ends with.
    pub expected_tests: ExpectedTests,
    /// Seeded runs of each seeded check, when a commit is graded.
    pub seeds: u64,
    /// Where the candidate's code is built and run when a commit is graded (a session set
    /// up before there was a choice has none: the default is chosen at each grade).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<crate::sandbox::Sandbox>,
}

/// The counts `cargo test` prints for the order service's tests in the crate as handed over.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpectedTests {
    pub passed: usize,
    pub failed: usize,
}

/// One thing that happened in a session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// The clock started: the candidate has the crate.
    Started,
    /// A rung of a bug's hint ladder was given (1 is the first).
    Hint { bug: String, rung: usize },
    /// The notes, as they stand now.
    Notes { text: String },
    /// The interviewer scored a row of the rubric (`None` takes the score back).
    Score { row: RowKey, level: Option<Level> },
    /// Whether the candidate got to a bug at all.
    Reached { bug: String, reached: bool },
    /// A commit of the candidate's was graded: each bug's verdict, and where the scorecard is
    /// (relative to the session's folder).
    Graded {
        commit: String,
        /// When it was committed (milliseconds since the Unix epoch), as git says.
        #[serde(default)]
        committed_ms: Option<u64>,
        /// How many commits it is after the hand-over, as git counts them: orders two
        /// commits made in the same second.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_hand_over: Option<u64>,
        subject: String,
        verdicts: Vec<(String, Verdict)>,
        scorecard: String,
        /// The harness that graded it (this repository's commit; a log written before this
        /// was recorded has none: the session's own harness graded it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        harness: Option<String>,
    },
    /// A commit could not be graded (it does not build, say).
    GradeFailed {
        commit: String,
        #[serde(default)]
        committed_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_hand_over: Option<u64>,
        subject: String,
        why: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        harness: Option<String>,
    },
    /// The session ended with this decision. A later one, from `session end --at` on an
    /// ended session, moves the end and keeps the first one's decision.
    Ended {
        outcome: String,
        /// When the candidate left, where that is not when the session was ended (`session
        /// end --at`); milliseconds since the Unix epoch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        left_ms: Option<u64>,
    },
}

/// An event and when it happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Logged {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub event: Event,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A session's folder.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    /// The command that runs `sub` (`open`, `end`, ...) on this session, with `--sessions`
    /// when it is kept elsewhere than `root`'s `sessions/` (a pooled record, say): a command
    /// a person can copy as it is printed.
    pub fn command(&self, root: &Path, sub: &str) -> String {
        let id = self.dir.file_name().unwrap_or_default().to_string_lossy();
        match self.dir.parent() {
            Some(sessions) if sessions != root.join("sessions") => format!(
                "cargo exercise session --sessions {} {sub} {id}",
                sessions.display()
            ),
            _ => format!("cargo exercise session {sub} {id}"),
        }
    }

    pub fn setup_file(&self) -> PathBuf {
        self.dir.join("session.json")
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("events.jsonl")
    }

    /// Writes `session.json` for a new session, atomically (a temporary file renamed).
    pub fn create(&self, setup: &Setup) -> Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        write_atomically(
            &self.setup_file(),
            serde_json::to_string_pretty(setup)?.as_bytes(),
        )?;
        std::fs::File::create(self.log_file())?.sync_all()?;
        Ok(())
    }

    /// Reads `session.json`, refusing a file that is not a session's.
    pub fn setup(&self) -> Result<Setup> {
        let path = self.setup_file();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("no session at {} (no session.json)", self.dir.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not JSON: the session file is damaged",
                path.display()
            )
        })?;
        let format = value.get("format").and_then(|f| f.as_str());
        if format != Some(FORMAT) {
            bail!(
                "{} is not a session of this harness: its format is {}, not {FORMAT:?}",
                path.display(),
                format.map_or("missing".to_owned(), |f| format!("{f:?}"))
            );
        }
        let mut setup: Setup = serde_json::from_value(value)
            .with_context(|| format!("{} does not read as a session", path.display()))?;
        // The session's own repository (`session new` makes it in the session's folder) moves
        // with the folder: a record sent from another interviewer's machine, or sessions kept
        // elsewhere, is read where it is now, never from where it was made.
        if setup.repo.ends_with(Path::new(&setup.id).join("candidate")) {
            setup.repo = self.dir.join("candidate");
        }
        Ok(setup)
    }

    /// Every event of the log, in order, leaving out a last line not yet ended (see the
    /// module's notes); any other line that does not read is an error.
    pub fn events(&self) -> Result<Vec<Logged>> {
        let path = self.log_file();
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        text[..complete_lines(&text)]
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                serde_json::from_str(line).with_context(|| {
                    format!(
                        "{} line {} is not a session event: the log is damaged (nothing was \
                         changed; move the line aside to go on)",
                        path.display(),
                        n + 1
                    )
                })
            })
            .collect()
    }

    /// Appends `event`, and returns once it is on disk. One append at a time, in this process
    /// and across processes (the page and `session regrade` may both write); a last line a
    /// kill cut short is cut off first, so the event starts a line of its own.
    pub fn append(&self, event: Event) -> Result<Logged> {
        let path = self.log_file();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        // Held until `file` closes; a lock of the open file, so two appends of this process
        // exclude each other as two processes' do.
        file.lock()
            .with_context(|| format!("lock {}", path.display()))?;
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let complete = complete_lines(&text);
        if complete < text.len() {
            eprintln!(
                "warning: {} ended in an event cut short (a write stopped by a kill, never \
                 shown): dropped",
                path.display()
            );
            file.set_len(complete as u64)?;
        }
        let logged = Logged {
            at_ms: now_ms(),
            event,
        };
        let mut line = serde_json::to_string(&logged)?;
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.sync_data()?;
        Ok(logged)
    }
}

/// How much of the log `text` is whole lines: up to and with its last newline.
fn complete_lines(text: &str) -> usize {
    text.rfind('\n').map_or(0, |end| end + 1)
}

/// Writes `bytes` to `path` through a temporary file beside it, synced and renamed, so a
/// reader sees the old contents or the new, never part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("a file has a folder")?;
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary
        .persist(path)
        .with_context(|| format!("write {}", path.display()))?;
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A command printed for a session names where it is kept only when that is not the
    /// repository's own `sessions/`.
    #[test]
    fn a_printed_command_finds_the_session() {
        let root = Path::new("/harness");
        let here = Store {
            dir: root.join("sessions/2026-12-07-ada"),
        };
        assert_eq!(
            here.command(root, "open"),
            "cargo exercise session open 2026-12-07-ada"
        );
        let pooled = Store {
            dir: PathBuf::from("/pool/2026-12-07-ada"),
        };
        assert_eq!(
            pooled.command(root, "end"),
            "cargo exercise session --sessions /pool end 2026-12-07-ada"
        );
    }

    /// A session's setup for tests, its repository under `dir`.
    pub(crate) fn setup(dir: &Path) -> Setup {
        Setup {
            format: FORMAT.into(),
            id: "2026-12-01-ada".into(),
            candidate: "Ada".into(),
            created_ms: 1,
            bugs: vec!["lost-update".into()],
            with_loom: false,
            replicas: false,
            repo: dir.join("candidate"),
            handed_over: "abc".into(),
            harness: "def".into(),
            expected_tests: ExpectedTests {
                passed: 17,
                failed: 5,
            },
            seeds: 5,
            sandbox: None,
        }
    }

    #[test]
    fn events_read_back_in_order_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            dir: dir.path().join("s"),
        };
        store.create(&setup(dir.path())).unwrap();
        store.append(Event::Started).unwrap();
        store
            .append(Event::Hint {
                bug: "lost-update".into(),
                rung: 1,
            })
            .unwrap();
        let reopened = Store {
            dir: store.dir.clone(),
        };
        assert_eq!(reopened.setup().unwrap(), setup(dir.path()));
        let events: Vec<Event> = reopened
            .events()
            .unwrap()
            .into_iter()
            .map(|l| l.event)
            .collect();
        assert_eq!(
            events,
            [
                Event::Started,
                Event::Hint {
                    bug: "lost-update".into(),
                    rung: 1
                }
            ]
        );
    }

    /// A session's folder moved (to another machine, under another name) reads its own
    /// repository where it is now; a repository elsewhere stays where it is.
    #[test]
    fn a_session_moved_elsewhere_reads_the_candidate_repository_it_carries() {
        let dir = tempfile::tempdir().unwrap();
        let made = setup(dir.path());
        let store = Store {
            dir: dir.path().join("pooled").join("2026-12-01-ada-alice"),
        };
        store
            .create(&Setup {
                repo: "/home/alice/sessions/2026-12-01-ada/candidate".into(),
                ..made.clone()
            })
            .unwrap();
        assert_eq!(store.setup().unwrap().repo, store.dir.join("candidate"));

        store
            .create(&Setup {
                repo: "/home/alice/their-fork".into(),
                ..made
            })
            .unwrap();
        assert_eq!(
            store.setup().unwrap().repo,
            Path::new("/home/alice/their-fork")
        );
    }

    #[test]
    fn a_last_event_cut_short_is_dropped_and_the_next_starts_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            dir: dir.path().join("s"),
        };
        store.create(&setup(dir.path())).unwrap();
        store.append(Event::Started).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(store.log_file())
            .unwrap();
        file.write_all(br#"{"at_ms":5,"event":{"kind":"no"#)
            .unwrap();
        assert_eq!(store.events().unwrap().len(), 1);
        store
            .append(Event::Notes {
                text: "after".into(),
            })
            .unwrap();
        assert_eq!(store.events().unwrap().len(), 2);
    }

    #[test]
    fn a_damaged_line_or_a_foreign_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            dir: dir.path().join("s"),
        };
        store.create(&setup(dir.path())).unwrap();
        store.append(Event::Started).unwrap();
        let log = std::fs::read_to_string(store.log_file()).unwrap();
        std::fs::write(store.log_file(), format!("garbage\n{log}")).unwrap();
        let error = format!("{:#}", store.events().unwrap_err());
        assert!(error.contains("line 1 is not a session event"), "{error}");
        assert_eq!(
            std::fs::read_to_string(store.log_file()).unwrap(),
            format!("garbage\n{log}"),
            "a damaged log was changed"
        );

        std::fs::write(store.setup_file(), r#"{"format": "something else"}"#).unwrap();
        let error = format!("{:#}", store.setup().unwrap_err());
        assert!(
            error.contains("is not a session of this harness"),
            "{error}"
        );
    }
}

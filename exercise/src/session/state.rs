//! A session as its events make it: what the page shows and the report writes. Folded from
//! the log every time it is read, so what is shown is always what is on disk.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use serde::Serialize;

use super::score::{self, BugRow, Decision, Level, RowKey};
use super::store::{Event, Logged, Setup, Store};
use crate::catalog::Verdict;
use crate::manifest::Bug;

/// A graded commit, as the timeline shows it: its latest grade.
#[derive(Debug, Clone, Serialize)]
pub struct GradedCommit {
    /// When it was first graded (what the page showed during the session).
    pub first_at_ms: u64,
    /// When its latest grade was made.
    pub at_ms: u64,
    /// How many times it was graded (more than once: `session regrade`).
    pub grades: usize,
    /// The harness that made its latest grade (a log from before grades named theirs: the
    /// session's own).
    pub harness: String,
    /// When it was committed, as git says.
    pub committed_ms: Option<u64>,
    /// How many commits it is after the hand-over.
    pub after_hand_over: Option<u64>,
    pub commit: String,
    pub subject: String,
    /// Each bug's verdict; empty when the grade failed.
    pub verdicts: Vec<(String, Verdict)>,
    /// The scorecard, relative to the session's folder.
    pub scorecard: Option<String>,
    /// Why it could not be graded.
    pub failed: Option<String>,
}

impl GradedCommit {
    /// What its grade said of `bug`: the verdict's label, `not graded` when it could not be
    /// graded, `-` when the bug was not in it.
    pub fn said(&self, bug: &str) -> String {
        match &self.failed {
            Some(_) => "not graded".into(),
            None => self
                .verdicts
                .iter()
                .find(|(b, _)| b == bug)
                .map_or("-".into(), |(_, v)| v.label().to_owned()),
        }
    }
}

/// A hint given.
#[derive(Debug, Clone, Serialize)]
pub struct GivenHint {
    pub at_ms: u64,
    pub rung: usize,
}

/// Everything recorded.
#[derive(Debug, Clone, Serialize)]
pub struct State {
    pub setup: Setup,
    pub started_ms: Option<u64>,
    pub hints: BTreeMap<String, Vec<GivenHint>>,
    pub notes: String,
    #[serde(serialize_with = "scores_as_list")]
    pub scores: BTreeMap<RowKey, Level>,
    pub unreached: BTreeSet<String>,
    pub graded: Vec<GradedCommit>,
    /// When the candidate left (the end, or the time `session end --at` gave), and the
    /// decision.
    pub ended: Option<(u64, String)>,
    /// When the session was ended (End, or `session end`): the page grades nothing after it,
    /// so a grade made later is `session regrade`'s.
    pub closed_ms: Option<u64>,
}

fn scores_as_list<S: serde::Serializer>(
    scores: &BTreeMap<RowKey, Level>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(scores.iter())
}

impl State {
    /// The session in `store`, as its log leaves it. Its graded commits are in the order they
    /// were made (as git dates them; the order they were graded where git says nothing), each
    /// once, with its latest grade.
    pub fn load(store: &Store) -> Result<State> {
        let setup = store.setup()?;
        let mut state = State {
            setup,
            started_ms: None,
            hints: BTreeMap::new(),
            notes: String::new(),
            scores: BTreeMap::new(),
            unreached: BTreeSet::new(),
            graded: Vec::new(),
            ended: None,
            closed_ms: None,
        };
        for logged in store.events()? {
            state.apply(logged);
        }
        state.graded.sort_by_key(|g| {
            (
                g.committed_ms.unwrap_or(g.first_at_ms),
                g.after_hand_over.unwrap_or(0),
            )
        });
        Ok(state)
    }

    fn apply(&mut self, logged: Logged) {
        let at_ms = logged.at_ms;
        match logged.event {
            Event::Started => {
                self.started_ms.get_or_insert(at_ms);
            }
            Event::Hint { bug, rung } => self
                .hints
                .entry(bug)
                .or_default()
                .push(GivenHint { at_ms, rung }),
            Event::Notes { text } => self.notes = text,
            Event::Score { row, level } => match level {
                Some(level) => {
                    self.scores.insert(row, level);
                }
                None => {
                    self.scores.remove(&row);
                }
            },
            Event::Reached { bug, reached } => {
                if reached {
                    self.unreached.remove(&bug);
                } else {
                    self.unreached.insert(bug);
                }
            }
            Event::Graded {
                commit,
                committed_ms,
                after_hand_over,
                subject,
                verdicts,
                scorecard,
                harness,
            } => self.grade(GradedCommit {
                after_hand_over,
                first_at_ms: at_ms,
                at_ms,
                grades: 1,
                harness: harness.unwrap_or_else(|| self.setup.harness.clone()),
                committed_ms,
                commit,
                subject,
                verdicts,
                scorecard: Some(scorecard),
                failed: None,
            }),
            Event::GradeFailed {
                commit,
                committed_ms,
                after_hand_over,
                subject,
                why,
                harness,
            } => self.grade(GradedCommit {
                after_hand_over,
                first_at_ms: at_ms,
                at_ms,
                grades: 1,
                harness: harness.unwrap_or_else(|| self.setup.harness.clone()),
                committed_ms,
                commit,
                subject,
                verdicts: Vec::new(),
                scorecard: None,
                failed: Some(why),
            }),
            // A second end (`session end --at` on an ended session) moves the end and keeps
            // the decision as it was made.
            Event::Ended { outcome, left_ms } => {
                let outcome = self.ended.take().map_or(outcome, |(_, made)| made);
                self.ended = Some((left_ms.unwrap_or(at_ms), outcome));
                self.closed_ms.get_or_insert(at_ms);
            }
        }
    }

    /// Records a grade of a commit: a commit graded again keeps its place and when it was
    /// first graded, and takes the new grade. A grade again that could not be made leaves a
    /// completed grade as it was: the code did not change, so the failure is the harness's or
    /// the machine's.
    fn grade(&mut self, graded: GradedCommit) {
        match self.graded.iter_mut().find(|g| g.commit == graded.commit) {
            Some(earlier) if graded.failed.is_some() && earlier.failed.is_none() => {}
            Some(earlier) => {
                *earlier = GradedCommit {
                    first_at_ms: earlier.first_at_ms,
                    grades: earlier.grades + 1,
                    committed_ms: graded.committed_ms.or(earlier.committed_ms),
                    after_hand_over: graded.after_hand_over.or(earlier.after_hand_over),
                    ..graded
                }
            }
            None => self.graded.push(graded),
        }
    }

    /// The harnesses that made the grades it holds (each commit's latest), sorted.
    pub fn harnesses(&self) -> Vec<String> {
        self.graded
            .iter()
            .map(|g| g.harness.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Whether `graded` was first graded after the session was ended (`session regrade`
    /// graded a commit the page never got to). A grade the page made after the candidate
    /// left, before End was pressed, is the page's.
    pub fn graded_after_end(&self, graded: &GradedCommit) -> bool {
        self.closed_ms
            .is_some_and(|closed| graded.first_at_ms > closed)
    }

    /// Whether `commit` has been graded (or failed to be).
    pub fn has_graded(&self, commit: &str) -> bool {
        self.graded.iter().any(|g| g.commit == commit)
    }

    /// The latest verdict of `bug`.
    pub fn verdict(&self, bug: &str) -> Option<Verdict> {
        self.graded
            .iter()
            .rev()
            .find(|g| g.failed.is_none())
            .and_then(|g| g.verdicts.iter().find(|(b, _)| b == bug).map(|(_, v)| *v))
    }

    /// The score sheet of the session's bugs, and its decision.
    pub fn decision(&self, bugs: &[&Bug]) -> Decision {
        let sheet = score::Sheet {
            bugs: bugs
                .iter()
                .map(|bug| score::BugSheet {
                    id: bug.id.clone(),
                    tier: bug.tier,
                    reached: !self.unreached.contains(&bug.id),
                    verdict: self.verdict(&bug.id),
                    ladder: bug.hints.iter().map(|hint| hint.lowers).collect(),
                    hints: self.hints.get(&bug.id).map_or(0, Vec::len),
                })
                .collect(),
            scores: self.scores.clone(),
            stage_two: self.setup.replicas,
        };
        score::decide(&sheet)
    }

    /// Minutes and seconds since the clock started, `14:05`, for a moment `at_ms`.
    /// Before the clock started, the time before it: `-1:07`.
    pub fn clock(&self, at_ms: u64) -> String {
        let start = self.started_ms.unwrap_or(self.setup.created_ms);
        let (sign, since) = match at_ms.checked_sub(start) {
            Some(since) => ("", since),
            None => ("-", start - at_ms),
        };
        let seconds = since / 1000;
        format!("{sign}{}:{:02}", seconds / 60, seconds % 60)
    }

    /// The moment `12:30` on the session's clock (minutes and seconds, or whole minutes),
    /// in milliseconds since the Unix epoch; refused when the clock never started or the
    /// moment has not come yet.
    pub fn at_clock(&self, text: &str, now_ms: u64) -> Result<u64> {
        let Some(start) = self.started_ms else {
            bail!("the session's clock never started, so there is no {text} on it");
        };
        let (minutes, seconds) = text.split_once(':').unwrap_or((text, "0"));
        let seconds = match (minutes.parse::<u64>(), seconds.parse::<u64>()) {
            (Ok(minutes), Ok(seconds)) if seconds < 60 => minutes * 60 + seconds,
            _ => {
                bail!("{text:?} is not a time on the session's clock: minutes and seconds, `52:30`")
            }
        };
        let at = start + seconds * 1000;
        if at > now_ms {
            bail!(
                "{text} on the session's clock has not come yet (it is {} now)",
                self.clock(now_ms)
            );
        }
        Ok(at)
    }

    /// Checks that `event` can happen now, in a session of `bugs`: a clear error if not, and
    /// nothing is written.
    pub fn check(&self, event: &Event, bugs: &[&Bug]) -> Result<()> {
        if let Some((at, _)) = &self.ended {
            bail!(
                "the session ended at {}, and its report was written: nothing changes now",
                self.clock(*at)
            );
        }
        let known = |id: &str| -> Result<&Bug> {
            match bugs.iter().find(|bug| bug.id == id) {
                Some(bug) => Ok(bug),
                None => bail!("{id} is not a bug of this session"),
            }
        };
        match event {
            Event::Hint { bug, rung } => {
                let ladder = known(bug)?.hints.len();
                let given = self.hints.get(bug).map_or(0, Vec::len);
                if *rung != given + 1 {
                    bail!("the next hint of {bug} is rung {}, not {rung}", given + 1);
                }
                if *rung > ladder {
                    bail!("{bug}'s ladder has {ladder} rungs, all given");
                }
            }
            Event::Score {
                row: RowKey::Bug { bug, row },
                level,
            } => {
                known(bug)?;
                if let (BugRow::Fixing, Some(verdict), Some(level)) =
                    (row, self.verdict(bug), level)
                {
                    let (low, high, _) = score::fixing_bounds(verdict);
                    if level < &low || level > &high {
                        bail!(
                            "{bug} is {}: fixing can be {} to {}, not {}",
                            verdict.label(),
                            low.label(),
                            high.label(),
                            level.label()
                        );
                    }
                }
            }
            Event::Score {
                row: RowKey::StageTwo,
                ..
            } if !self.setup.replicas => {
                bail!("stage two was not prepared for this session (session new --replicas)");
            }
            Event::Reached { bug, .. } => {
                known(bug)?;
            }
            _ => {}
        }
        Ok(())
    }
}

//! How long candidates took, measured from the sessions run (`session calibration`).
//!
//! A bug's tier and minutes (`bug.toml`) and the guide's table of which mix suits which level
//! are estimates until real candidates have sat the exercise: a helper playing a candidate
//! reads a small crate faster than any person, so its minutes are a floor. Every session
//! records when the clock started and when each commit was made and what its grade said; this
//! reads them back as minutes:
//!
//! - a bug is **fixed at** the commit from which every graded commit kept it FIXED or FIXED
//!   WITH GAPS to the end of the session (a later commit that undid the fix starts it over; a
//!   commit that could not be graded says nothing either way);
//! - its **minutes on it** are the minutes since the session's previous fix (or the clock's
//!   start): what the bug took if the candidate took one bug at a time;
//! - an export is **all fixed at** the last of its bugs' minutes.
//!
//! A bug not fixed by the end counts as slower than any fixed one, so a median over sessions
//! where most did not fix it says so instead of reporting the few who did. Only ended sessions
//! count: an open one has not said how it ends.

use std::collections::BTreeMap;

use super::report::Block;
use super::state::State;
use crate::catalog::Verdict;
use crate::manifest::Bug;

/// Sessions it takes before a measured median is set against a bug's `minutes`.
pub const ENOUGH: usize = 3;

/// One ended session, its times in seconds from the start of its clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    /// The bugs handed over, in the order the session lists them.
    pub bugs: Vec<String>,
    /// Seconds from the clock's start to the end of the session.
    pub length: u64,
    /// Each bug's seconds to its fix, `None` when it was not fixed by the end.
    pub fixed: Vec<(String, Option<u64>)>,
    /// The bugs a hint was given for.
    pub hinted: Vec<String>,
    /// The decision it ended with (`hire`): the level the interviewer saw.
    pub decision: String,
    /// The harnesses whose grades it counts (a commit's latest grade), sorted.
    pub harnesses: Vec<String>,
}

impl Timed {
    /// The session's times, if its clock started and it ended.
    pub fn of(state: &State) -> Option<Timed> {
        let start = state.started_ms?;
        let (end, decision) = state.ended.as_ref()?;
        let fixed = state
            .setup
            .bugs
            .iter()
            .map(|bug| {
                let at = fixed_at(state, bug).map(|ms| ms.saturating_sub(start) / 1000);
                (bug.clone(), at)
            })
            .collect();
        Some(Timed {
            bugs: state.setup.bugs.clone(),
            length: end.saturating_sub(start) / 1000,
            fixed,
            hinted: state
                .hints
                .iter()
                .filter(|(_, given)| !given.is_empty())
                .map(|(bug, _)| bug.clone())
                .collect(),
            decision: decision.clone(),
            harnesses: state.harnesses(),
        })
    }

    /// Seconds to the last fix, `None` unless every bug was fixed.
    pub fn all_fixed(&self) -> Option<u64> {
        let every: Option<Vec<u64>> = self.fixed.iter().map(|(_, at)| *at).collect();
        every?.into_iter().max()
    }

    /// Seconds from the previous fix (or the start) to `bug`'s.
    pub fn on(&self, bug: &str) -> Option<u64> {
        let at = self.fixed.iter().find(|(b, _)| b == bug)?.1?;
        let before = self
            .fixed
            .iter()
            .filter_map(|(_, other)| *other)
            .filter(|other| *other < at)
            .max()
            .unwrap_or(0);
        Some(at - before)
    }
}

/// When `bug`'s fix was committed (as git says, else when it was graded), counting only a fix
/// that every later graded commit kept.
fn fixed_at(state: &State, bug: &str) -> Option<u64> {
    let mut held = None;
    for graded in state.graded.iter().filter(|g| g.failed.is_none()) {
        let verdict = graded
            .verdicts
            .iter()
            .find(|(b, _)| b == bug)
            .map(|(_, v)| *v);
        if matches!(verdict, Some(Verdict::Fixed | Verdict::FixedWithGaps)) {
            held.get_or_insert(graded.committed_ms.unwrap_or(graded.at_ms));
        } else {
            held = None;
        }
    }
    held
}

/// The median of `values`, where `None` is slower than any value: `None` when at least half
/// are `None` (at the middle of an even count, the slower of the two decides).
pub fn median(values: &[Option<u64>]) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by_key(|v| v.map_or((1, 0), |v| (0, v)));
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        Some((sorted[n / 2 - 1]? + sorted[n / 2]?) / 2)
    }
}

/// Seconds as whole minutes, rounded: `14`.
fn minutes(seconds: u64) -> u64 {
    (seconds + 30) / 60
}

/// `14 (9-31)`: the median and the range, or what stands in for them when too few were
/// fixed; `never` says what none being fixed means.
fn summary(values: &[Option<u64>], never: &str) -> String {
    let done: Vec<u64> = values.iter().flatten().copied().collect();
    let (Some(fastest), Some(slowest)) = (done.iter().min(), done.iter().max()) else {
        return never.into();
    };
    let range = if fastest == slowest {
        minutes(*fastest).to_string()
    } else {
        format!("{}-{}", minutes(*fastest), minutes(*slowest))
    };
    match median(values) {
        Some(_) if fastest == slowest => range,
        Some(median) => format!("{} ({range})", minutes(median)),
        None => format!("not fixed in half or more ({range} when fixed)"),
    }
}

/// The sessions grouped by `key` (of the export's bugs, sorted, and a session), a row each:
/// how many, how many fixed every bug, when, how long they ran, how many had hints.
fn exports_table(timed: &[Timed], head: &str, key: impl Fn(&[String], &Timed) -> String) -> Block {
    let mut groups: BTreeMap<String, Vec<&Timed>> = BTreeMap::new();
    for session in timed {
        let mut bugs = session.bugs.clone();
        bugs.sort();
        groups.entry(key(&bugs, session)).or_default().push(session);
    }
    Block::Table(
        [
            head,
            "sessions",
            "all fixed",
            "all fixed at, minute (median, range)",
            "session length",
            "with hints",
        ]
        .map(String::from)
        .to_vec(),
        groups
            .into_iter()
            .map(|(key, sessions)| {
                let all: Vec<Option<u64>> = sessions.iter().map(|s| s.all_fixed()).collect();
                let lengths: Vec<Option<u64>> = sessions.iter().map(|s| Some(s.length)).collect();
                vec![
                    key,
                    sessions.len().to_string(),
                    all.iter().flatten().count().to_string(),
                    summary(&all, "never all fixed"),
                    summary(&lengths, "-"),
                    sessions
                        .iter()
                        .filter(|s| !s.hinted.is_empty())
                        .count()
                        .to_string(),
                ]
            })
            .collect(),
    )
}

/// `session calibration`: the measured minutes, per bug and per export, and where they
/// disagree with the bugs' own estimates. `left_out` says how many sessions did not count.
pub fn blocks(all: &[Bug], timed: &[Timed], left_out: usize) -> Vec<Block> {
    let mut out = vec![Block::Heading(
        1,
        format!(
            "Minutes measured in {} ended session{}",
            timed.len(),
            if timed.len() == 1 { "" } else { "s" }
        ),
    )];
    if left_out > 0 {
        out.push(Block::Paragraph(format!(
            "{left_out} more not counted: not started, or not ended yet."
        )));
    }
    if timed.is_empty() {
        out.push(Block::Paragraph(
            "No session has both started its clock and ended: nothing to measure yet.".into(),
        ));
        return out;
    }

    out.push(Block::Heading(2, "Per export".into()));
    out.push(exports_table(timed, "export", |bugs, _| bugs.join(", ")));
    out.push(Block::Heading(2, "Per export and decision".into()));
    out.push(Block::Paragraph(
        "The decision each session ended with: the level the interviewer saw.".into(),
    ));
    out.push(exports_table(timed, "export, decision", |bugs, session| {
        format!("{}: {}", bugs.join(", "), session.decision)
    }));

    out.push(Block::Heading(2, "Per bug".into()));
    let mut rows = Vec::new();
    let mut findings = Vec::new();
    let mut too_few = Vec::new();
    for bug in all {
        let sessions: Vec<&Timed> = timed.iter().filter(|s| s.bugs.contains(&bug.id)).collect();
        if sessions.is_empty() {
            continue;
        }
        let at: Vec<Option<u64>> = sessions
            .iter()
            .map(|s| s.fixed.iter().find(|(b, _)| *b == bug.id).and_then(|f| f.1))
            .collect();
        let on: Vec<Option<u64>> = sessions.iter().map(|s| s.on(&bug.id)).collect();
        rows.push(vec![
            bug.id.clone(),
            format!("{}, about {}", bug.tier.label(), bug.minutes),
            sessions.len().to_string(),
            at.iter().flatten().count().to_string(),
            summary(&at, "never fixed"),
            summary(&on, "never fixed"),
            sessions
                .iter()
                .filter(|s| s.hinted.contains(&bug.id))
                .count()
                .to_string(),
        ]);
        if sessions.len() < ENOUGH {
            too_few.push(format!("{} ({})", bug.id, sessions.len()));
        } else {
            let estimate = u64::from(bug.minutes);
            let measured = median(&on).map(minutes);
            let off = match measured {
                None => true,
                Some(m) => m * 2 < estimate || m > estimate * 3 / 2,
            };
            if off {
                findings.push(format!(
                    "{}: bug.toml says about {estimate} minutes; {} sessions say {}. Set \
                     `minutes` (and the tier, if it moves) in variants/{}/bug.toml from them.",
                    bug.id,
                    sessions.len(),
                    measured.map_or("most did not fix it".into(), |m| format!("{m} (median)")),
                    bug.id
                ));
            }
        }
    }
    out.push(Block::Table(
        [
            "bug",
            "bug.toml",
            "sessions",
            "fixed",
            "fixed at, minute",
            "minutes on it",
            "with hints",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ));
    out.push(Block::Paragraph(
        "Fixed: graded FIXED or FIXED WITH GAPS by the commit that made it so and by every \
         graded commit after it. \"Fixed at\": minutes from the clock's start to that commit; \
         \"minutes on it\": from the session's previous fix, the median set against bug.toml. \
         A bug not fixed counts as slower than any fixed. Each commit counts with its latest \
         grade; one never graded (the session ended before the page got to it) counts with \
         the next graded one."
            .into(),
    ));
    let mut harnesses: BTreeMap<&str, usize> = BTreeMap::new();
    for session in timed {
        for harness in &session.harnesses {
            *harnesses.entry(harness).or_default() += 1;
        }
    }
    if !harnesses.is_empty() {
        let listed: Vec<String> = harnesses
            .iter()
            .map(|(harness, n)| match n {
                1 => format!("{harness} (1 session)"),
                n => format!("{harness} ({n} sessions)"),
            })
            .collect();
        out.push(Block::Paragraph(format!(
            "The grades counted were made by the harness at {}; a session graded by more \
             than one counts under each. A verdict is the grader's of its day: `session \
             regrade ID` grades a session's commits again with the harness as it is now.",
            listed.join(", ")
        )));
    }
    if !too_few.is_empty() {
        out.push(Block::Paragraph(format!(
            "Set against their estimates from {ENOUGH} sessions on; so far: {}.",
            too_few.join(", ")
        )));
    }
    if !findings.is_empty() {
        out.push(Block::Heading(
            2,
            "Estimates the sessions disagree with".into(),
        ));
        out.push(Block::List(findings));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::store::{Event, Logged, Setup, Store};
    use super::*;
    use crate::manifest::Tier;
    use crate::manifest::tests::bug;
    use std::io::Write as _;

    const MIN: u64 = 60_000;
    const START: u64 = 1_796_083_200_000;

    /// A session of `bugs` whose events happen at these minutes after the clock's start.
    fn session(dir: &std::path::Path, id: &str, bugs: &[&str], events: &[(u64, Event)]) -> State {
        let store = Store { dir: dir.join(id) };
        store
            .create(&Setup {
                id: id.into(),
                candidate: id.into(),
                created_ms: START - 5 * MIN,
                bugs: bugs.iter().map(|b| b.to_string()).collect(),
                ..super::super::store::tests::setup(dir)
            })
            .unwrap();
        let mut log = std::fs::File::create(store.log_file()).unwrap();
        let mut write = |at_ms: u64, event: Event| {
            let line = serde_json::to_string(&Logged { at_ms, event }).unwrap();
            writeln!(log, "{line}").unwrap();
        };
        write(START, Event::Started);
        for (minute, event) in events {
            write(START + minute * MIN, event.clone());
        }
        State::load(&store).unwrap()
    }

    fn graded(commit: &str, minute: u64, verdicts: &[(&str, Verdict)]) -> (u64, Event) {
        // Graded a minute after it was committed: the commit's time is what counts.
        graded_at(commit, minute, minute + 1, verdicts)
    }

    fn graded_at(
        commit: &str,
        minute: u64,
        graded: u64,
        verdicts: &[(&str, Verdict)],
    ) -> (u64, Event) {
        (
            graded,
            Event::Graded {
                commit: commit.into(),
                committed_ms: Some(START + minute * MIN),
                after_hand_over: None,
                subject: commit.into(),
                verdicts: verdicts.iter().map(|(b, v)| (b.to_string(), *v)).collect(),
                scorecard: format!("graded/{commit}.txt"),
                harness: None,
            },
        )
    }

    fn ended(minute: u64) -> (u64, Event) {
        ended_as(minute, "hire")
    }

    fn ended_as(minute: u64, outcome: &str) -> (u64, Event) {
        (
            minute,
            Event::Ended {
                outcome: outcome.into(),
                left_ms: None,
            },
        )
    }

    /// Ended at `minute` with `outcome`, the candidate having left at `left` (`session end
    /// --at`).
    fn ended_left(minute: u64, outcome: &str, left: u64) -> (u64, Event) {
        (
            minute,
            Event::Ended {
                outcome: outcome.into(),
                left_ms: Some(START + left * MIN),
            },
        )
    }

    use Verdict::{Fixed, FixedWithGaps, NotFixed, WrongFix};

    #[test]
    fn a_fix_counts_from_the_commit_that_kept_it_and_a_grade_that_failed_says_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = session(
            dir.path(),
            "a",
            &["lost-update", "double-charge"],
            &[
                graded(
                    "c1",
                    10,
                    &[("lost-update", Fixed), ("double-charge", NotFixed)],
                ),
                graded(
                    "c2",
                    20,
                    &[("lost-update", Fixed), ("double-charge", WrongFix)],
                ),
                // Undone, then fixed again: the fix counts from c4.
                graded(
                    "c3",
                    30,
                    &[("lost-update", NotFixed), ("double-charge", FixedWithGaps)],
                ),
                graded(
                    "c4",
                    35,
                    &[("lost-update", Fixed), ("double-charge", Fixed)],
                ),
                (
                    41,
                    Event::GradeFailed {
                        commit: "c5".into(),
                        committed_ms: Some(START + 40 * MIN),
                        after_hand_over: None,
                        subject: "does not build".into(),
                        why: "cargo build failed".into(),
                        harness: None,
                    },
                ),
                ended(55),
            ],
        );
        let timed = Timed::of(&state).expect("started and ended");
        assert_eq!(
            timed.fixed,
            [
                ("lost-update".to_owned(), Some(35 * 60)),
                ("double-charge".to_owned(), Some(30 * 60)),
            ]
        );
        assert_eq!(timed.all_fixed(), Some(35 * 60));
        assert_eq!(timed.length, 55 * 60);
        assert_eq!(timed.on("double-charge"), Some(30 * 60));
        assert_eq!(
            timed.on("lost-update"),
            Some(5 * 60),
            "since the previous fix"
        );
    }

    #[test]
    fn a_commit_graded_late_or_again_counts_where_it_was_made() {
        let dir = tempfile::tempdir().unwrap();
        let mut events = vec![
            graded("c1", 10, &[("lost-update", WrongFix)]),
            graded("c3", 30, &[("lost-update", Fixed)]),
            // Committed while c1 was graded, graded once the page was idle.
            graded_at("c2", 20, 32, &[("lost-update", Fixed)]),
            ended(40),
        ];
        let late = session(dir.path(), "late", &["lost-update"], &events);
        let order: Vec<&str> = late.graded.iter().map(|g| g.commit.as_str()).collect();
        assert_eq!(order, ["c1", "c2", "c3"], "the timeline is in commit order");
        assert_eq!(
            Timed::of(&late).unwrap().on("lost-update"),
            Some(20 * 60),
            "the fix counts from c2, committed at 20 though graded after c3"
        );
        // Graded again by a mended harness after the session ended, and one the page never
        // got to, graded then.
        events.push(graded_at("c1", 10, 90, &[("lost-update", Fixed)]));
        events.push(graded_at("c4", 35, 91, &[("lost-update", Fixed)]));
        let again = session(dir.path(), "again", &["lost-update"], &events);
        let c1 = &again.graded[0];
        assert_eq!(
            (c1.commit.as_str(), c1.grades),
            ("c1", 2),
            "{:?}",
            again.graded
        );
        assert_eq!(
            c1.first_at_ms,
            START + 11 * MIN,
            "first graded during the session"
        );
        assert_eq!(again.graded.len(), 4, "one row per commit");
        assert_eq!(Timed::of(&again).unwrap().on("lost-update"), Some(10 * 60));
        let day = super::super::report::utc_day(START);
        let when: Vec<String> = again
            .graded
            .iter()
            .map(|g| super::super::report::graded_when(&again, g))
            .collect();
        assert_eq!(
            when,
            [
                format!("11:00; again {day} by def"),
                "32:00".into(),
                "31:00".into(),
                format!("after the session, {day} by def"),
            ],
            "the timeline's graded column"
        );
        // A grade again that could not be made (the harness's binary rebuilt under it, say)
        // leaves the completed grade as it was.
        events.push((
            95,
            Event::GradeFailed {
                commit: "c3".into(),
                committed_ms: Some(START + 30 * MIN),
                after_hand_over: None,
                subject: "c3".into(),
                why: "the grade worker ended".into(),
                harness: None,
            },
        ));
        let failed = session(dir.path(), "failed", &["lost-update"], &events);
        let c3 = failed.graded.iter().find(|g| g.commit == "c3").unwrap();
        assert_eq!((c3.grades, c3.failed.is_none()), (1, true), "{c3:?}");
    }

    #[test]
    fn a_session_ended_late_is_measured_to_when_the_candidate_left() {
        let dir = tempfile::tempdir().unwrap();
        let left = ended_left(300, "hire", 50);
        let late = session(
            dir.path(),
            "late",
            &["lost-update"],
            &[graded("c1", 10, &[("lost-update", Fixed)]), left.clone()],
        );
        assert_eq!(Timed::of(&late).unwrap().length, 50 * 60, "not 300 minutes");
        let moved = ended_left(310, "no hire", 40);
        let corrected = session(
            dir.path(),
            "corrected",
            &["lost-update"],
            &[graded("c1", 10, &[("lost-update", Fixed)]), left, moved],
        );
        let timed = Timed::of(&corrected).unwrap();
        assert_eq!(
            (timed.length, timed.decision.as_str()),
            (40 * 60, "hire"),
            "an end moved again is measured to the new time and keeps the decision made"
        );

        let mut open = session(dir.path(), "open", &["lost-update"], &[]);
        let now = START + 60 * MIN;
        assert_eq!(
            open.at_clock("52:30", now).unwrap(),
            START + 52 * MIN + 30_000
        );
        assert_eq!(open.at_clock("52", now).unwrap(), START + 52 * MIN);
        for bad in ["", "52:60", "ab", "-1:00", "1:2:3"] {
            let error = open.at_clock(bad, now).unwrap_err().to_string();
            assert!(
                error.contains("not a time on the session's clock"),
                "{bad:?}: {error}"
            );
        }
        let error = open.at_clock("61:00", now).unwrap_err().to_string();
        assert!(
            error.contains("has not come yet (it is 60:00 now)"),
            "{error}"
        );
        open.started_ms = None;
        let error = open.at_clock("5:00", now).unwrap_err().to_string();
        assert!(error.contains("clock never started"), "{error}");
    }

    /// A session ended at the minute the candidate left, after the page had graded a commit
    /// made before then: that grade is still the page's, not one made after the session.
    #[test]
    fn a_grade_the_page_made_before_an_end_set_earlier_is_the_pages() {
        let dir = tempfile::tempdir().unwrap();
        let events = [
            graded_at("c1", 20, 31, &[("lost-update", Fixed)]),
            ended_left(40, "hire", 25),
            graded_at("c1", 20, 50, &[("lost-update", Fixed)]),
        ];
        let state = session(dir.path(), "left", &["lost-update"], &events);
        let day = super::super::report::utc_day(START);
        assert_eq!(
            super::super::report::graded_when(&state, &state.graded[0]),
            format!("31:00; again {day} by def")
        );
        assert!(!state.graded_after_end(&state.graded[0]));
    }

    #[test]
    fn a_session_not_started_or_not_ended_is_not_measured() {
        let dir = tempfile::tempdir().unwrap();
        let open = session(dir.path(), "open", &["lost-update"], &[]);
        assert_eq!(Timed::of(&open), None, "not ended");
        let mut unstarted = session(dir.path(), "unstarted", &["lost-update"], &[ended(3)]);
        unstarted.started_ms = None;
        assert_eq!(Timed::of(&unstarted), None, "clock never started");
        let unfixed = session(dir.path(), "unfixed", &["lost-update"], &[ended(60)]);
        let timed = Timed::of(&unfixed).unwrap();
        assert_eq!(timed.all_fixed(), None);
        assert_eq!(timed.on("lost-update"), None);
        let all = [bug("lost-update", &[], &[])];
        let text = super::super::report::markdown(&blocks(&all, &[timed], 2));
        assert!(
            text.contains("| lost-update | 1 | 0 | never all fixed | 60 | 0 |"),
            "{text}"
        );
        assert!(
            text.contains("from 3 sessions on; so far: lost-update (1)."),
            "{text}"
        );
    }

    #[test]
    fn a_median_counts_a_bug_not_fixed_as_the_slowest() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[Some(3), Some(1), Some(2)]), Some(2));
        assert_eq!(median(&[Some(10), None, Some(20)]), Some(20));
        assert_eq!(median(&[Some(10), Some(20)]), Some(15));
        assert_eq!(median(&[Some(10), None]), None, "half not fixed");
        assert_eq!(median(&[None, None, Some(5)]), None);
    }

    #[test]
    fn the_tables_say_what_was_measured_and_which_estimate_is_off() {
        let dir = tempfile::tempdir().unwrap();
        let brief = ["lost-update", "double-charge"];
        let deep = ["lost-update", "double-charge", "futurelock"];
        let timed: Vec<Timed> = [
            session(
                dir.path(),
                "s1",
                &brief,
                &[
                    graded(
                        "a",
                        12,
                        &[("lost-update", Fixed), ("double-charge", NotFixed)],
                    ),
                    graded("b", 30, &[("lost-update", Fixed), ("double-charge", Fixed)]),
                    ended(50),
                ],
            ),
            session(
                dir.path(),
                "s2",
                &deep,
                &[
                    graded(
                        "a",
                        15,
                        &[
                            ("lost-update", Fixed),
                            ("double-charge", Fixed),
                            ("futurelock", NotFixed),
                        ],
                    ),
                    graded(
                        "b",
                        55,
                        &[
                            ("lost-update", Fixed),
                            ("double-charge", Fixed),
                            ("futurelock", Fixed),
                        ],
                    ),
                    ended(60),
                ],
            ),
            session(
                dir.path(),
                "s3",
                &deep,
                &[
                    graded(
                        "a",
                        20,
                        &[
                            ("lost-update", Fixed),
                            ("double-charge", Fixed),
                            ("futurelock", NotFixed),
                        ],
                    ),
                    (
                        21,
                        Event::Hint {
                            bug: "futurelock".into(),
                            rung: 1,
                        },
                    ),
                    ended_as(60, "no hire"),
                ],
            ),
            session(
                dir.path(),
                "s4",
                &deep,
                &[
                    graded(
                        "a",
                        10,
                        &[
                            ("lost-update", Fixed),
                            ("double-charge", Fixed),
                            ("futurelock", Fixed),
                        ],
                    ),
                    ended(45),
                ],
            ),
        ]
        .iter()
        .map(|s| Timed::of(s).unwrap())
        .collect();
        let mut futurelock = bug("futurelock", &[], &[]);
        futurelock.tier = Tier::Deep;
        futurelock.minutes = 20;
        let mut lost = bug("lost-update", &[], &[]);
        lost.minutes = 15;
        let all = [lost, bug("double-charge", &[], &[]), futurelock];
        let text = super::super::report::markdown(&blocks(&all, &timed, 2));
        assert!(
            text.contains("# Minutes measured in 4 ended sessions"),
            "{text}"
        );
        assert!(text.contains("2 more not counted"), "{text}");
        // The deep export: fixed at 55 and 10, not by the end in s3: the median is 55.
        assert!(
            text.contains(
                "| double-charge, futurelock, lost-update | 3 | 2 | 55 (10-55) | 60 (45-60) | 1 |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| double-charge, lost-update | 1 | 1 | 30 | 50 | 0 |"),
            "{text}"
        );
        // By decision: the two hires fixed all three, the session that did not ended "no hire".
        assert!(
            text.contains("| double-charge, futurelock, lost-update: hire | 2 | 2 | 33 (10-55) |"),
            "{text}"
        );
        assert!(
            text.contains(
                "| double-charge, futurelock, lost-update: no hire | 1 | 0 | never all fixed |"
            ),
            "{text}"
        );
        assert!(
            !text.contains("so far:"),
            "every bug had 3 sessions or more: {text}"
        );
        // futurelock: 40 minutes after the previous fix in s2, shared commit in s4 (10), not in
        // s3: median 40, twice the estimate of 20.
        assert!(
            text.contains("| futurelock | deep, about 20 | 3 | 2 | 55 (10-55) | 40 (10-40) | 1 |"),
            "{text}"
        );
        assert!(
            text.contains("futurelock: bug.toml says about 20 minutes; 3 sessions say 40 (median)"),
            "{text}"
        );
        // lost-update: 12, 15, 20, 10 on it: median 14 against 15, not a finding.
        assert!(!text.contains("lost-update: bug.toml says"), "{text}");
        assert!(
            text.contains("The grades counted were made by the harness at def (4 sessions);"),
            "which grader's verdicts these are: {text}"
        );
    }

    #[test]
    fn with_no_session_measured_it_says_so() {
        let text = super::super::report::markdown(&blocks(&[], &[], 0));
        assert!(text.contains("nothing to measure yet"), "{text}");
    }
}

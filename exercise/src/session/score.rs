//! The score sheet: the rubric's rows as the interviewer scored them, the hints given, the
//! grader's verdicts, and the decision they make, with its reasons. A pure function, so that
//! every case has an outcome and the tests below can say which.
//!
//! The rule:
//!
//! - Each bug of the export the candidate reached has three rows: reproducing, reasoning and
//!   fixing. The candidate as a whole has two: verifying and production; stage two, when it
//!   was offered, has one.
//! - **Fixing** starts from the bug's verdict, within bounds the interviewer may move it in:
//!   `NOT FIXED` is weak; `WRONG FIX` weak, or solid if they spotted the trade-off when asked;
//!   `FIXED WITH GAPS` solid, or strong if they named the gaps themselves; `FIXED` strong, or
//!   solid if the fix did not stay small. With no verdict (the grade failed, or never ran) the
//!   interviewer scores it.
//! - **A hint caps the row it helped with** (`lowers` in the bug's ladder): the first rung at
//!   solid, the second and third at weak. So a first hint keeps a hire possible, and a second
//!   does not.
//! - A bug's level is its lowest row.
//! - **Hire**: every core bug reached, every reached bug solid or better, and verifying solid or
//!   better. A warm-up or deep bug not reached does not count against the candidate.
//! - **Strong hire**: a hire who is strong on at least two of the three rows of every core bug,
//!   and strong on verifying, production or stage two.
//! - **No hire** otherwise. Until every row that counts is scored, the sheet says which rows
//!   are missing instead of deciding.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::Verdict;
use crate::manifest::{Row, Tier};

/// How a row went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Weak,
    Solid,
    Strong,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Weak => "weak",
            Level::Solid => "solid",
            Level::Strong => "strong",
        }
    }
}

/// A row of the sheet: one of a bug's, or one of the candidate's as a whole.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKey {
    Bug { bug: String, row: BugRow },
    Verifying,
    Production,
    StageTwo,
}

impl fmt::Display for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowKey::Bug { bug, row } => write!(f, "{bug} {}", row.label()),
            RowKey::Verifying => f.write_str("verifying"),
            RowKey::Production => f.write_str("production"),
            RowKey::StageTwo => f.write_str("stage two"),
        }
    }
}

/// The rows each bug has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BugRow {
    Reproducing,
    Reasoning,
    Fixing,
}

impl BugRow {
    pub const ALL: [BugRow; 3] = [BugRow::Reproducing, BugRow::Reasoning, BugRow::Fixing];

    pub fn label(self) -> &'static str {
        match self {
            BugRow::Reproducing => "reproducing",
            BugRow::Reasoning => "reasoning",
            BugRow::Fixing => "fixing",
        }
    }

    /// The bug row a hint's rubric row is, if it is one.
    pub fn of(row: Row) -> Option<BugRow> {
        match row {
            Row::Reproducing => Some(BugRow::Reproducing),
            Row::Reasoning => Some(BugRow::Reasoning),
            Row::Fixing => Some(BugRow::Fixing),
            Row::Verifying | Row::Production => None,
        }
    }
}

/// What the sheet knows of one bug.
#[derive(Debug, Clone)]
pub struct BugSheet {
    pub id: String,
    pub tier: Tier,
    /// `false` once the interviewer says the candidate never got to it.
    pub reached: bool,
    /// The latest graded commit's verdict.
    pub verdict: Option<Verdict>,
    /// The rubric row each rung of its ladder lowers, in ladder order.
    pub ladder: Vec<Row>,
    /// How many rungs were given (the ladder is climbed in order).
    pub hints: usize,
}

/// Everything the decision rests on.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    pub bugs: Vec<BugSheet>,
    /// The interviewer's scores, row by row.
    pub scores: BTreeMap<RowKey, Level>,
    /// Stage two was offered (the session was set up with replicas).
    pub stage_two: bool,
}

/// How a row came out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowResult {
    pub row: RowKey,
    /// What it counts as; `None` while it is to be scored.
    pub level: Option<Level>,
    /// Where the level came from: the verdict, a hint's cap, the interviewer.
    pub why: String,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    StrongHire,
    Hire,
    NoHire,
    /// Rows that count are not scored yet.
    Incomplete,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::StrongHire => "strong hire",
            Outcome::Hire => "hire",
            Outcome::NoHire => "no hire",
            Outcome::Incomplete => "not decided yet",
        }
    }
}

/// The outcome, its reasons, and each row as it counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub reasons: Vec<String>,
    pub rows: Vec<RowResult>,
}

/// The bounds the interviewer may move fixing in, for a verdict, and where it starts.
pub fn fixing_bounds(verdict: Verdict) -> (Level, Level, Level) {
    // (lowest, highest, where it starts)
    match verdict {
        Verdict::NotFixed => (Level::Weak, Level::Weak, Level::Weak),
        Verdict::WrongFix => (Level::Weak, Level::Solid, Level::Weak),
        Verdict::FixedWithGaps => (Level::Solid, Level::Strong, Level::Solid),
        Verdict::Fixed => (Level::Solid, Level::Strong, Level::Strong),
    }
}

/// The cap a bug's hints put on `row`, and the rung that set it.
fn hint_cap(bug: &BugSheet, row: BugRow) -> Option<(Level, usize)> {
    bug.ladder
        .iter()
        .take(bug.hints)
        .enumerate()
        .filter(|(_, lowers)| BugRow::of(**lowers) == Some(row))
        .map(|(n, _)| {
            let cap = if n == 0 { Level::Solid } else { Level::Weak };
            (cap, n + 1)
        })
        .min_by_key(|(cap, _)| *cap)
}

/// How one of a bug's rows counts.
fn bug_row(sheet: &Sheet, bug: &BugSheet, row: BugRow) -> RowResult {
    let key = RowKey::Bug {
        bug: bug.id.clone(),
        row,
    };
    let scored = sheet.scores.get(&key).copied();
    let (mut level, mut why) = match (row, bug.verdict) {
        (BugRow::Fixing, Some(verdict)) => {
            let (low, high, start) = fixing_bounds(verdict);
            let level = scored.unwrap_or(start).clamp(low, high);
            let why = match scored {
                Some(s) if s != level => format!(
                    "{}: {} (scored {}, outside what the verdict allows)",
                    verdict.label(),
                    level.label(),
                    s.label()
                ),
                Some(_) => format!("{}, as you scored it", verdict.label()),
                None => format!("from the verdict, {}", verdict.label()),
            };
            (Some(level), why)
        }
        (BugRow::Fixing, None) => (scored, "no verdict: yours to score".to_owned()),
        _ => (scored, "as you scored it".to_owned()),
    };
    if let (Some(current), Some((cap, rung))) = (level, hint_cap(bug, row))
        && current > cap
    {
        level = Some(cap);
        why = format!(
            "{why}; capped at {} by hint {rung} of the ladder",
            cap.label()
        );
    }
    RowResult {
        row: key,
        level,
        why,
    }
}

/// The decision the sheet makes.
pub fn decide(sheet: &Sheet) -> Decision {
    let mut rows = Vec::new();
    let mut reasons = Vec::new();
    let mut missing = Vec::new();
    let mut below = Vec::new();
    let mut strong_enough = true;
    for bug in &sheet.bugs {
        if !bug.reached {
            match bug.tier {
                Tier::Core => below.push(format!("did not reach {}, a core bug", bug.id)),
                _ => reasons.push(format!(
                    "did not reach {} ({}): not counted",
                    bug.id,
                    bug.tier.label()
                )),
            }
            if bug.tier == Tier::Core {
                strong_enough = false;
            }
            continue;
        }
        let results: Vec<RowResult> = BugRow::ALL
            .iter()
            .map(|row| bug_row(sheet, bug, *row))
            .collect();
        for result in &results {
            match result.level {
                None => missing.push(result.row.to_string()),
                Some(Level::Weak) => below.push(format!("{}: weak ({})", result.row, result.why)),
                Some(_) => {}
            }
        }
        if bug.tier == Tier::Core {
            let strong = results
                .iter()
                .filter(|r| r.level == Some(Level::Strong))
                .count();
            strong_enough &= strong >= 2;
        }
        rows.extend(results);
    }
    let mut whole = vec![RowKey::Verifying, RowKey::Production];
    if sheet.stage_two {
        whole.push(RowKey::StageTwo);
    }
    for key in whole {
        let level = sheet.scores.get(&key).copied();
        if level.is_none() && key != RowKey::StageTwo {
            missing.push(key.to_string());
        }
        if key == RowKey::Verifying && level == Some(Level::Weak) {
            below.push("verifying: weak".to_owned());
        }
        rows.push(RowResult {
            row: key,
            level,
            why: "as you scored it".to_owned(),
        });
    }
    let any_strong_whole = rows.iter().any(|r| {
        matches!(
            r.row,
            RowKey::Verifying | RowKey::Production | RowKey::StageTwo
        ) && r.level == Some(Level::Strong)
    });
    if sheet.bugs.iter().all(|b| !b.reached) {
        below.push("reached none of the bugs".to_owned());
    }
    let outcome = if !missing.is_empty() {
        reasons.insert(0, format!("to score: {}", missing.join(", ")));
        Outcome::Incomplete
    } else if !below.is_empty() {
        reasons.insert(
            0,
            "no hire: a hire needs every core bug reached, every row of each bug reached solid \
             or better, and verifying solid or better; below that:"
                .to_owned(),
        );
        reasons.splice(1..1, below);
        Outcome::NoHire
    } else if strong_enough && any_strong_whole {
        reasons.insert(
            0,
            "a strong hire: solid or better on every row, strong on two of the three rows of \
             every core bug, and strong on verifying, production or stage two"
                .to_owned(),
        );
        Outcome::StrongHire
    } else {
        let mut why = "a hire: solid or better on every row that counts".to_owned();
        if !strong_enough {
            why.push_str(" (a strong hire needs two strong rows of the three on every core bug)");
        } else if !any_strong_whole {
            why.push_str(" (a strong hire needs verifying, production or stage two strong)");
        }
        reasons.insert(0, why);
        Outcome::Hire
    };
    Decision {
        outcome,
        reasons,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LADDER: [Row; 3] = [Row::Reproducing, Row::Reasoning, Row::Reasoning];

    fn bug(id: &str, tier: Tier, verdict: Option<Verdict>) -> BugSheet {
        BugSheet {
            id: id.into(),
            tier,
            reached: true,
            verdict,
            ladder: LADDER.to_vec(),
            hints: 0,
        }
    }

    fn brief(verdicts: [Verdict; 2]) -> Sheet {
        Sheet {
            bugs: vec![
                bug("lost-update", Tier::Core, Some(verdicts[0])),
                bug("double-charge", Tier::Core, Some(verdicts[1])),
            ],
            ..Sheet::default()
        }
    }

    fn score(sheet: &mut Sheet, level: Level) {
        for bug in &sheet.bugs {
            for row in [BugRow::Reproducing, BugRow::Reasoning] {
                sheet.scores.insert(
                    RowKey::Bug {
                        bug: bug.id.clone(),
                        row,
                    },
                    level,
                );
            }
        }
        sheet.scores.insert(RowKey::Verifying, level);
        sheet.scores.insert(RowKey::Production, level);
    }

    #[test]
    fn nothing_scored_says_what_is_to_score() {
        let decision = decide(&brief([Verdict::Fixed, Verdict::Fixed]));
        assert_eq!(decision.outcome, Outcome::Incomplete);
        assert!(
            decision.reasons[0].contains("lost-update reproducing")
                && decision.reasons[0].contains("verifying"),
            "{:?}",
            decision.reasons
        );
        assert!(
            !decision.reasons[0].contains("fixing"),
            "fixing comes from the verdicts: {:?}",
            decision.reasons
        );
    }

    #[test]
    fn solid_everywhere_with_both_fixed_is_a_hire() {
        let mut sheet = brief([Verdict::Fixed, Verdict::FixedWithGaps]);
        score(&mut sheet, Level::Solid);
        assert_eq!(decide(&sheet).outcome, Outcome::Hire);
    }

    #[test]
    fn a_first_hint_keeps_a_hire_and_a_second_does_not() {
        let mut sheet = brief([Verdict::Fixed, Verdict::Fixed]);
        score(&mut sheet, Level::Strong);
        sheet.bugs[1].hints = 1;
        let decision = decide(&sheet);
        assert_eq!(decision.outcome, Outcome::StrongHire, "{decision:?}");
        let capped = decision
            .rows
            .iter()
            .find(|r| r.row.to_string() == "double-charge reproducing")
            .unwrap();
        assert_eq!(capped.level, Some(Level::Solid), "{capped:?}");
        assert!(capped.why.contains("hint 1"), "{capped:?}");

        sheet.bugs[1].hints = 2;
        let decision = decide(&sheet);
        assert_eq!(decision.outcome, Outcome::NoHire);
        assert!(
            decision.reasons[1].contains("double-charge reasoning: weak")
                && decision.reasons[1].contains("hint 2"),
            "{:?}",
            decision.reasons
        );
    }

    #[test]
    fn a_wrong_fix_is_weak_unless_the_trade_off_was_spotted() {
        let mut sheet = brief([Verdict::Fixed, Verdict::WrongFix]);
        score(&mut sheet, Level::Solid);
        assert_eq!(decide(&sheet).outcome, Outcome::NoHire);
        let fixing = RowKey::Bug {
            bug: "double-charge".into(),
            row: BugRow::Fixing,
        };
        sheet.scores.insert(fixing.clone(), Level::Strong);
        let decision = decide(&sheet);
        assert_eq!(decision.outcome, Outcome::Hire, "{decision:?}");
        let row = decision.rows.iter().find(|r| r.row == fixing).unwrap();
        assert_eq!(row.level, Some(Level::Solid), "a wrong fix is never strong");
    }

    #[test]
    fn not_fixed_is_weak_however_it_is_scored() {
        let mut sheet = brief([Verdict::NotFixed, Verdict::Fixed]);
        score(&mut sheet, Level::Strong);
        sheet.scores.insert(
            RowKey::Bug {
                bug: "lost-update".into(),
                row: BugRow::Fixing,
            },
            Level::Strong,
        );
        assert_eq!(decide(&sheet).outcome, Outcome::NoHire);
    }

    #[test]
    fn an_unreached_core_bug_is_no_hire_and_an_unreached_warm_up_does_not_count() {
        let mut sheet = brief([Verdict::Fixed, Verdict::Fixed]);
        sheet
            .bugs
            .push(bug("batch-priority", Tier::WarmUp, Some(Verdict::NotFixed)));
        score(&mut sheet, Level::Strong);
        sheet.bugs[2].reached = false;
        let decision = decide(&sheet);
        assert_eq!(decision.outcome, Outcome::StrongHire, "{decision:?}");
        assert!(
            decision
                .reasons
                .iter()
                .any(|r| r.contains("did not reach batch-priority")),
            "{decision:?}"
        );
        sheet.bugs[1].reached = false;
        let decision = decide(&sheet);
        assert_eq!(decision.outcome, Outcome::NoHire);
        assert!(
            decision.reasons[1].contains("did not reach double-charge, a core bug"),
            "{:?}",
            decision.reasons
        );
    }

    #[test]
    fn a_bug_without_a_verdict_waits_for_its_fixing_score() {
        let mut sheet = Sheet {
            bugs: vec![bug("double-charge", Tier::Core, None)],
            ..Sheet::default()
        };
        score(&mut sheet, Level::Solid);
        let decision = decide(&sheet);
        assert_eq!(decision.outcome, Outcome::Incomplete);
        assert!(decision.reasons[0].contains("double-charge fixing"));
        sheet.scores.insert(
            RowKey::Bug {
                bug: "double-charge".into(),
                row: BugRow::Fixing,
            },
            Level::Solid,
        );
        assert_eq!(decide(&sheet).outcome, Outcome::Hire);
    }

    #[test]
    fn weak_verifying_is_no_hire_and_strong_stage_two_can_make_a_strong_hire() {
        let mut sheet = brief([Verdict::Fixed, Verdict::Fixed]);
        score(&mut sheet, Level::Strong);
        sheet.scores.insert(RowKey::Verifying, Level::Weak);
        assert_eq!(decide(&sheet).outcome, Outcome::NoHire);
        sheet.scores.insert(RowKey::Verifying, Level::Solid);
        sheet.scores.insert(RowKey::Production, Level::Solid);
        assert_eq!(decide(&sheet).outcome, Outcome::Hire);
        sheet.stage_two = true;
        sheet.scores.insert(RowKey::StageTwo, Level::Strong);
        assert_eq!(decide(&sheet).outcome, Outcome::StrongHire);
    }

    #[test]
    fn reaching_nothing_is_no_hire() {
        let mut sheet = brief([Verdict::NotFixed, Verdict::NotFixed]);
        for bug in &mut sheet.bugs {
            bug.reached = false;
        }
        sheet.scores.insert(RowKey::Verifying, Level::Weak);
        sheet.scores.insert(RowKey::Production, Level::Weak);
        let decision = decide(&sheet);
        assert_eq!(decision.outcome, Outcome::NoHire);
        assert!(decision.reasons.iter().any(|r| r.contains("reached none")));
    }
}

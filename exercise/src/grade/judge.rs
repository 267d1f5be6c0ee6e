//! The scorecard's types, and `judge`: a bug's verdict from its evidence, as a pure function.

use serde::{Deserialize, Serialize};

use super::own_tests::OwnTest;
use super::public_tests::TestChange;
use crate::catalog::{Kind, Role, RoleKind, Verdict};

/// How a wrong fix begins when the defect is a gap that a public test, edited by the
/// candidate to accept it, hides.
pub const HIDDEN_BY_AN_EDIT: &str =
    "a public test was edited to accept a defect, which a held-back check finds";

/// One piece of evidence: a scenario, probe, model or test, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub check: String,
    pub kind: Kind,
    pub role: RoleKind,
    pub passed: bool,
    /// It calls the candidate's code directly (a probe or a loom model).
    #[serde(default)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub white_box: bool,
    /// It could not run against the candidate's code, or could not judge (it counts for
    /// nothing).
    #[serde(default)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inconclusive: bool,
    /// It failed once and held when run again with the same plan (it counts as held).
    #[serde(default)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unsteady: bool,
    /// Why it failed, or why it could not run.
    #[serde(default)]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The wrong fix or the gap its failure means.
    #[serde(default)]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub failure_means: String,
    /// For a public test: what the candidate did to it, or to a helper or snapshot it uses
    /// (`assertions changed, snapshot rewritten`); empty when they left it as handed over.
    #[serde(default)]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub edited: String,
}

impl Evidence {
    /// How a scorecard marks it: `ok`, `FAIL`, `ok?` (held on a rerun), `?` (could not judge).
    pub fn mark(&self) -> &'static str {
        match (self.passed, self.inconclusive, self.unsteady) {
            (_, true, _) => "?",
            (true, false, true) => "ok?",
            (true, false, false) => "ok",
            (false, false, _) => "FAIL",
        }
    }

    pub fn new(check: &str, kind: Kind, role: Role, passed: bool, detail: String) -> Self {
        Evidence {
            check: check.to_owned(),
            kind,
            role: role.kind(),
            passed,
            white_box: kind.white_box(),
            inconclusive: false,
            unsteady: false,
            detail,
            failure_means: role.meaning().to_owned(),
            edited: String::new(),
        }
    }

    /// A public test the candidate edited which, as handed over, fails on their code: the
    /// edit accepts behaviour the original rejected.
    fn hides_a_change(&self) -> bool {
        self.kind == Kind::PublicTest
            && !self.edited.is_empty()
            && self.failed_as(RoleKind::Symptom)
    }

    /// A check that could not say anything, and why.
    pub fn inconclusive(check: &str, kind: Kind, role: Role, why: String) -> Self {
        Evidence {
            inconclusive: true,
            detail: format!("inconclusive: {why}"),
            ..Evidence::new(check, kind, role, true, String::new())
        }
    }

    fn failed_as(&self, role: RoleKind) -> bool {
        !self.passed && !self.inconclusive && self.role == role
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BugGrade {
    pub bug: String,
    pub verdict: Verdict,
    /// The verdict as a sentence an interviewer can read aloud.
    pub summary: String,
    /// The defect the fix traded the symptom for, when the verdict is `wrong_fix`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrong_fix: Option<String>,
    /// Robustness gaps, in an interviewer's words (also listed under other verdicts).
    pub gaps: Vec<String>,
    /// White-box findings no black-box scenario confirms: worth asking about.
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scorecard {
    pub crate_dir: String,
    /// Public tests the candidate deleted, ignored or changed, and snapshots they rewrote:
    /// the grader ran its own copies, so no verdict rests on them.
    pub public_tests_changed: Vec<TestChange>,
    /// The tests the candidate added or changed, each with what it catches.
    pub own_tests: Vec<OwnTest>,
    /// Files the candidate changed outside the order service: graded with the reference's
    /// own, and worth a conversation.
    pub external_changes: Vec<String>,
    /// `cargo clippy --all-targets -D warnings` passed; not run when absent.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clippy_clean: Option<bool>,
    #[serde(default)]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub clippy_detail: String,
    pub bugs: Vec<BugGrade>,
    /// Verdicts that differed between rounds of the same build (`grade --rounds`): each a
    /// bug and its verdict in every round. Empty when every round agreed.
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsteady: Vec<String>,
    /// The sandbox the candidate's code was built and run in, as a person reads it.
    #[serde(default)]
    pub sandbox: String,
}

impl Scorecard {
    /// Every bug fixed, with or without gaps.
    pub fn all_fixed(&self) -> bool {
        self.bugs
            .iter()
            .all(|b| matches!(b.verdict, Verdict::Fixed | Verdict::FixedWithGaps))
    }
}

/// Decides a bug's verdict from its evidence: symptoms first, then guards, then robustness.
/// A white-box symptom alone is a note, not a verdict, while a black-box symptom check could
/// judge: the candidate's design may keep its functions from ever being called that way.
/// When none could (each was inconclusive: its orders were refused for another reason, say),
/// the white-box symptom is the best evidence there is, and decides.
///
/// A public test the candidate edited so that it accepts what it rejected as handed over (the
/// original fails on their code, their version passes) is evidence that they saw the change
/// and hid it. Where a held-back check finds a defect in the bug's behaviour too, the edit
/// hides that defect: the fix is wrong, not a fix with gaps. A reformat, or a test made
/// stricter (the original still passes), changes nothing.
pub fn judge(bug: &str, evidence: Vec<Evidence>) -> BugGrade {
    let black_box_judged = evidence
        .iter()
        .any(|e| e.role == RoleKind::Symptom && !e.white_box && !e.inconclusive);
    let first = |role: RoleKind| {
        evidence.iter().find(|e| {
            e.failed_as(role) && !(role == RoleKind::Symptom && e.white_box && black_box_judged)
        })
    };
    let mut gaps: Vec<String> = Vec::new();
    for e in evidence
        .iter()
        .filter(|e| e.failed_as(RoleKind::Robustness))
    {
        if !gaps.contains(&e.failure_means) {
            gaps.push(e.failure_means.clone());
        }
    }
    let hiding: Vec<&Evidence> = evidence.iter().filter(|e| e.hides_a_change()).collect();
    let edits = || {
        hiding
            .iter()
            .map(|e| {
                format!(
                    "{} ({}; as handed over it fails on this code: {})",
                    e.check,
                    e.edited,
                    first_reason(&e.detail)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (verdict, wrong_fix, summary) = if let Some(symptom) = first(RoleKind::Symptom) {
        (
            Verdict::NotFixed,
            None,
            format!(
                "the reported symptom still shows in {}: {}",
                symptom.check,
                symptom
                    .detail
                    .lines()
                    .take(2)
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        )
    } else if let Some(guard) = first(RoleKind::Guard) {
        let mut summary = format!(
            "the symptom is gone, traded for another defect: {}",
            guard.failure_means
        );
        if !hiding.is_empty() {
            summary.push_str(&format!(
                "; a public test was edited to accept it: {}",
                edits()
            ));
        }
        (
            Verdict::WrongFix,
            Some(guard.failure_means.clone()),
            summary,
        )
    } else if !gaps.is_empty() && !hiding.is_empty() {
        (
            Verdict::WrongFix,
            Some(format!("{HIDDEN_BY_AN_EDIT}: {}", gaps.join("; "))),
            format!(
                "the symptom is gone, and a public test was edited to accept what it rejected: {}. \
                 The defect it now hides: {}",
                edits(),
                gaps.join("; ")
            ),
        )
    } else if !gaps.is_empty() {
        (
            Verdict::FixedWithGaps,
            None,
            format!(
                "the symptom never shows; {} gap{} to discuss: {}",
                gaps.len(),
                if gaps.len() == 1 { "" } else { "s" },
                gaps.join("; ")
            ),
        )
    } else {
        let unknown = evidence.iter().filter(|e| e.inconclusive).count();
        (
            Verdict::Fixed,
            None,
            if unknown == 0 {
                "the symptom never shows, and every guard and robustness check holds".to_owned()
            } else {
                format!(
                    "the symptom never shows, and every guard and robustness check that ran holds \
                     ({unknown} inconclusive: read them below)"
                )
            },
        )
    };
    let mut notes: Vec<String> = if verdict == Verdict::NotFixed {
        Vec::new()
    } else {
        evidence
            .iter()
            .filter(|e| e.failed_as(RoleKind::Symptom) && e.white_box)
            .map(|e| match (e.kind, e.edited.is_empty()) {
                (Kind::PublicTest, true) => format!(
                    "the public test {}, as handed over, fails on the candidate's code although no black-box scenario shows the symptom: ask what it asserts that the fix changed",
                    e.check
                ),
                (Kind::PublicTest, false) => format!(
                    "the public test {} was edited ({}) and, as handed over, fails on the candidate's code: ask why they changed it",
                    e.check, e.edited
                ),
                _ => format!(
                    "{} fails on the candidate's code although no black-box scenario shows the symptom: ask how the service keeps it from happening",
                    e.check
                ),
            })
            .collect()
    };
    notes.extend(evidence.iter().filter(|e| e.unsteady).map(|e| {
        format!(
            "{} failed once and held when run again: {}",
            e.check,
            e.detail.lines().next().unwrap_or_default()
        )
    }));
    BugGrade {
        bug: bug.to_owned(),
        verdict,
        summary,
        wrong_fix,
        gaps,
        notes,
        evidence,
    }
}

/// The line of a failed test's output that says why: an assertion's (insta's "snapshot
/// assertion for ... failed" too), else the first that is not the panic's header or a
/// rule of box-drawing characters.
fn first_reason(detail: &str) -> &str {
    let lines = || detail.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| l.contains("assertion") && !l.starts_with("thread "))
        .or_else(|| lines().find(|l| !l.starts_with("thread ") && !l.starts_with(['━', '─'])))
        .unwrap_or("it failed")
}

#[cfg(test)]
#[path = "tests/judge.rs"]
pub mod tests;

//! A bug's own facts: its declared checks, the interviewer's data that names them, and the
//! corpus cases that data cites.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{defines_fn, manifest_of, read};
use crate::catalog::{Checks, RoleKind, Target, Verdict};
use crate::export::cause_words_in;
use crate::info::role_of;
use crate::manifest::Bug;
use crate::selftest;

/// A bug's checks: names unique; each white-box test exists; each public scenario is in the
/// `scenarios` crate and no held-back one is; each triggering loom model is run by `grade`.
pub fn declared(root: &Path, bug: &Bug, checks: &Checks, found: &mut Vec<String>) {
    let source = format!("variants/{}/checks.rs", bug.id);
    let mut scenarios = BTreeSet::new();
    for scenario in &checks.scenarios {
        if !scenarios.insert(scenario.name) {
            found.push(format!(
                "{source} declares scenario {} twice",
                scenario.name
            ));
        }
    }
    let mut white_box = BTreeSet::new();
    for check in &checks.white_box {
        if !white_box.insert(check.full_name(&bug.id)) {
            found.push(format!(
                "{source} declares white-box check {} twice",
                check.test
            ));
        }
    }
    let probes = read(root, &format!("variants/{}/probes.rs", bug.id));
    let loom = read(root, "tests/loom.rs");
    for check in &checks.white_box {
        let (file, text) = match check.target {
            Target::Probe => (format!("variants/{}/probes.rs", bug.id), &probes),
            Target::Loom => ("tests/loom.rs".to_owned(), &loom),
        };
        if !defines_fn(text, check.test) {
            found.push(format!(
                "{source} declares white-box check {}, but {file} has no fn {}",
                check.test, check.test
            ));
        }
    }
    let public = read(root, "scenarios/src/reported.rs");
    for scenario in &checks.scenarios {
        let there = public.contains(&format!("pub async fn {}(", scenario.name));
        if scenario.public && !there {
            found.push(format!(
                "{source} declares {} public, but scenarios/src/reported.rs has no pub async fn {}",
                scenario.name, scenario.name
            ));
        }
        if !scenario.public && there {
            found.push(format!(
                "{source} holds {} back, but the candidate's scenarios/src/reported.rs has it",
                scenario.name
            ));
        }
    }
    if !checks.scenarios.is_empty() || !checks.white_box.is_empty() {
        for model in &bug.triggering.loom_models {
            let name = model.trim_start_matches("loom::");
            if !checks.white_box.iter().any(|w| w.test == name) {
                found.push(format!(
                    "{} names loom model {model} as triggering, but {source} does not declare it, so grade never runs it",
                    manifest_of(bug)
                ));
            }
        }
    }
}

/// The interviewer's data: a hint ladder; each wrong fix and gap names checks of the bug
/// whose role fits; every guard has a wrong fix and every robustness check a gap; the
/// symptom as the README tells it names no cause.
pub fn interviewer_data(bug: &Bug, checks: &Checks, found: &mut Vec<String>) {
    let manifest = manifest_of(bug);
    if bug.hints.is_empty() {
        found.push(format!("{manifest} has no [[hints]]: the ladder is empty"));
    }
    let expect = |verdict: Verdict| match verdict {
        Verdict::WrongFix => RoleKind::Guard,
        Verdict::FixedWithGaps => RoleKind::Robustness,
        _ => RoleKind::Symptom,
    };
    let named = |what: &str, names: &[String], role: RoleKind, found: &mut Vec<String>| {
        if names.is_empty() {
            found.push(format!("{manifest}: {what} names no checks"));
        }
        for name in names {
            match role_of(bug, checks, name) {
                None => found.push(format!(
                    "{manifest}: {what} names {name}, which is neither a check of variants/{}/checks.rs nor a triggering test",
                    bug.id
                )),
                Some(actual) if actual.kind() != role => found.push(format!(
                    "{manifest}: {what} names {name}, a {} check, where a {} check is expected",
                    actual.kind().label(),
                    role.label()
                )),
                Some(_) => {}
            }
        }
    };
    for wrong in &bug.wrong_fixes {
        let what = format!("the wrong fix {:?}", wrong.fix);
        let role = match wrong.hidden_by_an_edited_test {
            true => RoleKind::Robustness,
            false => expect(wrong.verdict),
        };
        named(&what, &wrong.checks, role, found);
        if wrong.hidden_by_an_edited_test && wrong.verdict != Verdict::WrongFix {
            found.push(format!(
                "{manifest}: {what} is hidden by an edited test, which makes it a wrong fix, but says {}",
                wrong.verdict.label()
            ));
        }
        if wrong.verdict == Verdict::Fixed {
            found.push(format!("{manifest}: {what} is graded fixed"));
        }
    }
    for gap in &bug.gaps {
        named("a [[gaps]] entry", &gap.checks, RoleKind::Robustness, found);
    }
    for (name, role) in checks.names_and_roles() {
        let in_wrong_fixes = bug
            .wrong_fixes
            .iter()
            .flat_map(|w| &w.checks)
            .any(|n| n == name);
        let in_gaps = bug.gaps.iter().flat_map(|g| &g.checks).any(|n| n == name);
        match role.kind() {
            RoleKind::Guard if !in_wrong_fixes => {
                found.push(format!(
                    "variants/{}/checks.rs has guard {name}, but {manifest} has no [[wrong_fixes]] it shows",
                    bug.id
                ))
            }
            RoleKind::Robustness if !in_gaps => {
                found.push(format!(
                    "variants/{}/checks.rs has robustness check {name}, but {manifest} has no [[gaps]] with a question for it",
                    bug.id
                ))
            }
            _ => {}
        }
    }
    for (field, text) in [("symptom", &bug.symptom), ("brief.title", &bug.brief.title)] {
        let words = cause_words_in(text);
        if !words.is_empty() {
            found.push(format!(
                "{manifest}: the {field} the candidate's README shows names a cause: {words:?}"
            ));
        }
    }
}

/// Corpus cases: names unique across bugs; each names bugs that exist; each case a manifest
/// cites exists and expects what the manifest says of it.
pub fn corpus(root: &Path, bugs: &[Bug], with_checks: &[(&Bug, Checks)], found: &mut Vec<String>) {
    let cases = match selftest::corpus(root, bugs) {
        Ok(cases) => cases,
        Err(error) => {
            found.push(format!("the corpus cannot be read: {error:#}"));
            return;
        }
    };
    let mut by_name: BTreeMap<&str, &selftest::Case> = BTreeMap::new();
    for case in &cases {
        if by_name.insert(&case.name, case).is_some() {
            found.push(format!(
                "two corpus cases are named {:?}; names are unique across variants/*/corpus",
                case.name
            ));
        }
        for id in case
            .expected
            .bugs
            .iter()
            .map(|b| &b.bug)
            .chain(&case.expected.export)
        {
            if !bugs.iter().any(|bug| bug.id == *id) {
                found.push(format!(
                    "corpus case {} names bug {id:?}, which has no variants/{id}/bug.toml",
                    case.name
                ));
            }
        }
    }
    for (bug, checks) in with_checks {
        let meanings = |names: &[String], hidden: bool| -> Vec<String> {
            names
                .iter()
                .filter_map(|n| role_of(bug, checks, n))
                .map(|r| match hidden {
                    true => format!(
                        "{}: {}",
                        crate::grade::judge::HIDDEN_BY_AN_EDIT,
                        r.meaning()
                    ),
                    false => r.meaning().to_owned(),
                })
                .collect()
        };
        let cited = bug
            .wrong_fixes
            .iter()
            .map(|w| {
                (
                    &w.corpus,
                    w.verdict,
                    meanings(&w.checks, w.hidden_by_an_edited_test),
                )
            })
            .chain(bug.gaps.iter().map(|g| {
                (
                    &g.corpus,
                    Verdict::FixedWithGaps,
                    meanings(&g.checks, false),
                )
            }));
        for (names, verdict, meanings) in cited {
            for name in names {
                let Some(case) = by_name.get(name.as_str()) else {
                    found.push(format!(
                        "{} cites corpus case {name:?}, which is in no variants/*/corpus",
                        manifest_of(bug)
                    ));
                    continue;
                };
                let Some(expected) = case.expected.bugs.iter().find(|b| b.bug == bug.id) else {
                    found.push(format!(
                        "{} cites corpus case {name}, whose expected.toml says nothing of {}",
                        manifest_of(bug),
                        bug.id
                    ));
                    continue;
                };
                let words: Vec<&String> = expected
                    .gaps
                    .iter()
                    .chain(expected.wrong_fix.as_ref())
                    .collect();
                let matches = words.is_empty()
                    || words
                        .iter()
                        .any(|w| meanings.iter().any(|m| m.contains(w.as_str())));
                if expected.verdict != verdict || !matches {
                    found.push(format!(
                        "{} cites corpus case {name} as {}, but its expected.toml says {} {words:?}",
                        manifest_of(bug),
                        verdict.label(),
                        expected.verdict.label()
                    ));
                }
            }
        }
    }
}

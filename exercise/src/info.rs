//! `exercise list` and `exercise info`: the bugs, and one bug as the interviewer needs it.
//!
//! A bug's sheet is rendered from its folder: the manifest's text (cause, hints, wrong fixes,
//! gaps, follow-ups) and its checks (what each failure means). The same sheets, without the
//! diffs, make `docs/bugs.md`, which a unit test keeps up to date.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::Project;
use crate::catalog::{self, Checks, Kind, Role, Verdict};
use crate::manifest::{self, Bug};

/// The bugs: id, feature, tier, symptom, what shows each.
#[derive(Debug, clap::Args)]
pub struct ListArgs {}

impl ListArgs {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        for bug in &project.bugs()? {
            println!(
                "{}  ({}; {}, about {} minutes)",
                bug.id,
                bug.feature,
                bug.tier.label(),
                bug.minutes
            );
            println!("  {}", bug.title);
            println!(
                "  triggering tests: {}, loom models: {}{}",
                bug.triggering.tests.len(),
                bug.triggering.loom_models.len(),
                if bug.brief.by_default {
                    ""
                } else {
                    "; exported only with --bugs"
                }
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// One bug in full: symptom, cause, hint ladder, wrong fixes and gaps with what to ask, how
/// `grade` decides, and the fix as a diff from the candidate's code to the reference. Without
/// a bug, every bug's sheet (docs/bugs.md).
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    bug: Option<String>,
}

impl InfoArgs {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let bugs = project.bugs()?;
        match &self.bug {
            Some(id) => {
                let bug = manifest::find(&bugs, id)?;
                print!("{}", sheet(&project.root, bug));
                print!("\n{}", fix_diff(&project.root, bug)?);
            }
            None => print!("{}", bugs_doc(&project.root, &bugs)),
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// What a check named in a manifest is, and the role its failure plays: one of the bug's
/// registered checks, or one of its triggering tests (a symptom).
pub fn role_of(bug: &Bug, checks: &Checks, name: &str) -> Option<Role> {
    checks
        .names_and_roles()
        .into_iter()
        .find(|(check, _)| *check == name)
        .map(|(_, role)| role)
        .or_else(|| bug.triggering().any(|t| t == name).then_some(Role::Symptom))
}

/// What `grade` prints for a verdict a check's failure leads to.
fn shown_as(verdict: Verdict, check: &str, role: Option<Role>) -> String {
    match (verdict, role) {
        (Verdict::NotFixed, _) => format!("NOT FIXED (the symptom shows in `{check}`)"),
        (_, Some(role)) if !role.meaning().is_empty() => {
            format!("{}: {} (`{check}`)", verdict.label(), role.meaning())
        }
        _ => format!("{} (`{check}`)", verdict.label()),
    }
}

/// The bug as the interviewer needs it, in Markdown.
pub fn sheet(root: &Path, bug: &Bug) -> String {
    let checks = catalog::checks_of(&bug.id);
    let mut out = String::new();
    let text = |s: &str| s.trim().replace('\n', " ");
    let _ = writeln!(out, "## {}: {}\n", bug.id, bug.title);
    let _ = writeln!(
        out,
        "Tier {}, about {} minutes for a solid candidate. Feature `{}` is the reference fix. {}\n",
        bug.tier.label(),
        bug.minutes,
        bug.feature,
        if bug.brief.by_default {
            format!(
                "In every export, as the README's problem \"{}\".",
                bug.brief.title
            )
        } else {
            format!(
                "Exported only when `--bugs` names it (`--bugs lost-update,double-charge,{}` for \
                 all three), as the README's problem \"{}\".",
                bug.id, bug.brief.title
            )
        }
    );
    let _ = writeln!(
        out,
        "**Symptom** (the candidate's README): {}\n",
        text(&bug.symptom)
    );
    let _ = writeln!(out, "**What the candidate sees.** {}\n", text(&bug.sees));
    let _ = writeln!(out, "**Cause.** {}\n", text(&bug.cause));
    if !bug.interleaving.trim().is_empty() {
        let _ = writeln!(
            out,
            "```text\n{}\n```\n",
            bug.interleaving.trim_matches('\n')
        );
    }
    let _ = writeln!(
        out,
        "**The reference fix** (`cargo exercise info {}` prints it as a diff). {}\n",
        bug.id,
        text(&bug.fix)
    );
    list(&mut out, "Acceptable alternatives.", &bug.alternatives);
    list(
        &mut out,
        "What candidates usually try first.",
        &bug.first_tries,
    );

    let _ = writeln!(out, "**Hint ladder.** Give a rung when its moment comes:\n");
    for (n, hint) in bug.hints.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}. *When:* {} *Say:* \"{}\"",
            n + 1,
            hint.when,
            hint.say
        );
    }
    out.push('\n');

    if !bug.wrong_fixes.is_empty() {
        let _ = writeln!(out, "**Wrong fixes, and what `grade` shows for each.**\n");
        for wrong in &bug.wrong_fixes {
            let check = wrong.checks.first().map(String::as_str).unwrap_or("");
            let mut shown = shown_as(wrong.verdict, check, role_of(bug, &checks, check));
            if wrong.hidden_by_an_edited_test {
                shown = format!(
                    "{}: {} (`{check}` finds it; the edited public test hides it)",
                    wrong.verdict.label(),
                    crate::grade::judge::HIDDEN_BY_AN_EDIT
                );
            }
            let _ = writeln!(
                out,
                "- {} Graded {shown}.{}",
                wrong.fix,
                corpus(&wrong.corpus)
            );
            let _ = writeln!(out, "  Ask: \"{}\"", wrong.ask);
        }
        out.push('\n');
    }

    if !bug.gaps.is_empty() {
        let _ = writeln!(
            out,
            "**Gaps** (`FIXED WITH GAPS`: the symptom never shows, and these are worth discussing).\n"
        );
        let _ = writeln!(out, "| gap | held-back checks | what to ask |");
        let _ = writeln!(out, "| --- | --- | --- |");
        for gap in &bug.gaps {
            let meaning = gap
                .checks
                .first()
                .and_then(|c| role_of(bug, &checks, c))
                .map(|role| role.meaning())
                .unwrap_or_default();
            let names: Vec<String> = gap.checks.iter().map(|c| format!("`{c}`")).collect();
            let _ = writeln!(
                out,
                "| {meaning} | {} | \"{}\" |",
                names.join(", "),
                gap.ask
            );
        }
        out.push('\n');
    }
    list(&mut out, "Follow-up questions.", &bug.follow_ups);
    grading(&mut out, root, bug, &checks);
    corpus_table(&mut out, root, bug);
    out
}

/// The bug's calibration corpus: what each case did, and the scorecard `selftest` expects.
fn corpus_table(out: &mut String, root: &Path, bug: &Bug) {
    let cases = crate::selftest::corpus(root, std::slice::from_ref(bug)).unwrap_or_default();
    if cases.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n**Calibration corpus** (`variants/{}/corpus/`; `cargo exercise selftest` grades each):\n",
        bug.id
    );
    let _ = writeln!(out, "| case | what the candidate did | expected |");
    let _ = writeln!(out, "| --- | --- | --- |");
    for case in cases {
        let expected: Vec<String> = case
            .expected
            .bugs
            .iter()
            .map(|b| format!("{} {}", b.bug, b.verdict.label()))
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            case.name,
            case.expected.description,
            expected.join(", ")
        );
    }
}

fn list(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "**{title}**\n");
    for item in items {
        let _ = writeln!(out, "- {item}");
    }
    out.push('\n');
}

fn corpus(cases: &[String]) -> String {
    if cases.is_empty() {
        return String::new();
    }
    let names: Vec<String> = cases.iter().map(|c| format!("`{c}`")).collect();
    format!(" Corpus: {}.", names.join(", "))
}

/// How `grade` decides, check by check, and how to run the triggering tests.
fn grading(out: &mut String, root: &Path, bug: &Bug, checks: &Checks) {
    let _ = writeln!(
        out,
        "**How `grade` decides.** A failed symptom check: not fixed; a guard: a wrong fix; \
         robustness: a gap. A *scenario* runs against the candidate's service over HTTP, and \
         their own tests run it too (the test named); a *held-back scenario* the same, never \
         shown to them; a *probe* or *loom model* calls their code directly, on a copy; a \
         *public test* is their test as the reference wrote it.\n"
    );
    let mut row = |role: Role, name: &str, kind: Kind, run_by: Option<String>| {
        let meaning = role.meaning();
        let _ = writeln!(
            out,
            "- {} `{name}` ({}{}){}",
            role.kind().label(),
            kind.label(),
            run_by
                .map(|test| format!("; their test `{test}`"))
                .unwrap_or_default(),
            if meaning.is_empty() {
                String::new()
            } else {
                format!(": fails when {meaning}")
            }
        );
    };
    if checks.grades_public_tests() {
        for test in &bug.triggering.tests {
            row(Role::Symptom, test, Kind::PublicTest, None);
        }
    }
    for scenario in &checks.scenarios {
        let run_by = scenario
            .public
            .then(|| tests_running(root, scenario.name))
            .flatten();
        row(scenario.role, scenario.name, scenario.kind(), run_by);
    }
    for check in &checks.white_box {
        row(check.role, &check.full_name(&bug.id), check.kind(), None);
    }
    let _ = writeln!(
        out,
        "\n**Triggering tests** (fail in every build without the reference fix, which `verify` \
         checks; grading a candidate's fix, each counts with its role above):\n"
    );
    for test in &bug.triggering.tests {
        let (target, path) = test.split_once("::").unwrap_or(("api", test));
        let _ = writeln!(
            out,
            "- `{test}`: `cargo test --test {target} -- --exact {path}`"
        );
    }
    for model in &bug.triggering.loom_models {
        let name = model.trim_start_matches("loom::");
        let _ = writeln!(out, "- `{model}`: `scripts/loom-replay {name}`");
    }
}

/// The candidate's test that runs the public scenario `name` (`reported::...`), read from
/// the test files: the test function whose body calls it.
fn tests_running(root: &Path, name: &str) -> Option<String> {
    let call = format!("::{name}(");
    let files = crate::tools::files_under(&root.join("tests/api"), &|_| false).ok()?;
    for file in files {
        let text = std::fs::read_to_string(&file).ok()?;
        let module = file.file_stem()?.to_string_lossy().into_owned();
        for chunk in text.split("\nasync fn ").skip(1) {
            let test: String = chunk
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let body = chunk.split("\n}\n").next().unwrap_or_default();
            if body.contains(&call) {
                return Some(format!("{module}::{test}"));
            }
        }
    }
    None
}

/// The fix, from the candidate's code (buggy) to the reference (fixed), as unified diffs.
pub fn fix_diff(root: &Path, bug: &Bug) -> Result<String> {
    let mut out = String::from("The fix, from the candidate's code (buggy) to the reference:\n\n");
    for file in &bug.files {
        let dir = bug.dir(root);
        let read = |side: &str| -> Result<String> {
            let path = dir.join(side).join(&file.variant);
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))
        };
        let (buggy, fixed) = (read("buggy")?, read("fixed")?);
        let diff = similar::TextDiff::from_lines(&buggy, &fixed);
        let _ = write!(
            out,
            "{}",
            diff.unified_diff().context_radius(3).header(
                &format!("buggy/{} ({})", file.variant, file.module),
                &format!("fixed/{} ({})", file.variant, file.module),
            )
        );
    }
    Ok(out)
}

/// `docs/bugs.md`: every bug's sheet, tier by tier.
pub fn bugs_doc(root: &Path, bugs: &[Bug]) -> String {
    let mut sorted: Vec<&Bug> = bugs.iter().collect();
    sorted.sort_by_key(|bug| (bug.tier, bug.brief.position));
    let mut out = String::from(
        "# The bugs\n\n<!-- Generated from variants/*/bug.toml and variants/*/checks.rs by \
         `cargo test -p exercise` (info::tests): edit those, not this file. -->\n\n\
         For the interviewer's eyes only: the titles and the sheets name the causes. \
         Each bug as the interviewer needs it in a session: what the candidate sees, the \
         cause, the hint ladder with when to give each rung, the wrong fixes and what `grade` \
         shows for each, the gaps and what to ask. `cargo exercise info BUG` prints the same \
         with the fix as a diff. How to run the session and score it: \
         [interviewer-guide.md](interviewer-guide.md).\n\n",
    );
    for bug in sorted {
        out.push_str(&sheet(root, bug));
        out.push('\n');
    }
    out.trim_end().to_owned() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/bugs.md` is what the bugs' folders say; when it is not, this rewrites it and
    /// fails, so the change is seen and committed.
    #[test]
    fn the_bug_sheets_in_docs_are_up_to_date() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let bugs = manifest::load(&root).unwrap();
        let path = root.join("docs/bugs.md");
        let expected = bugs_doc(&root, &bugs);
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        if actual != expected {
            std::fs::write(&path, &expected).unwrap();
            panic!(
                "docs/bugs.md was not what variants/*/bug.toml and checks.rs say; it has been \
                 rewritten: review it (git diff docs/bugs.md) and commit it"
            );
        }
    }

    #[test]
    fn every_bug_sheet_has_its_cause_ladder_and_questions() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for bug in manifest::load(&root).unwrap() {
            let sheet = sheet(&root, &bug);
            for part in ["**Cause.**", "**Hint ladder.**", "1. *When:*", "Ask: \""] {
                assert!(
                    sheet.contains(part),
                    "{}'s sheet has no {part:?}:\n{sheet}",
                    bug.id
                );
            }
        }
    }
}

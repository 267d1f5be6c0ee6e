//! `exercise selftest`: grades the unmodified export, the reference fix and every candidate
//! fix in the calibration corpus (`variants/<bug>/corpus/<case>/`, each case kept with the
//! bug it is chiefly about), and checks each scorecard says what the case expects.
//!
//! A corpus case is a folder with `fix.diff`, a unified diff against the exported crate as
//! a candidate writes one (`git diff` in their copy), and `expected.toml`:
//!
//! ```toml
//! description = "what the candidate did, in a sentence"
//! export = ["lost-update", "double-charge"]   # the bugs left in (default: the brief's)
//! [[bugs]]
//! bug = "double-charge"
//! verdict = "fixed_with_gaps"          # fixed | fixed_with_gaps | wrong_fix | not_fixed
//! gaps = ["every response was lost"]   # words each expected gap contains (all must show)
//! wrong_fix = "timeouts"               # words the wrong fix contains
//! external = false                     # the scorecard notes a change to the balance service
//! [[public_tests_changed]]             # each public test the scorecard must list as changed
//! test = "orders_placed_in_a_burst_are_charged_once"
//! change = "ignored"                   # deleted | ignored | should_panic | assertions_removed
//!                                      # | assertions_changed | body_changed | snapshot_...
//! [[own_tests]]                       # each test the candidate added or changed, labelled
//! test = "a_charged_order_is_reported_ok_under_overload"
//! label = "catches double-charge"      # | catches nothing | flaky | white-box
//!                                      # | asserts the candidate's design
//! ```
//!
//! A case lists every public test it changes and every test it adds: one the scorecard
//! lists and the case does not is a mismatch too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::Project;
use crate::catalog::Verdict;
use crate::export;
use crate::grade::public_tests::Change;
use crate::grade::{self, Scorecard};
use crate::manifest::{self, Bug};
use crate::sandbox::Sandbox;

/// Grades the unmodified export, the reference fix and every candidate fix in the
/// calibration corpus (variants/*/corpus), and checks each scorecard says what it should.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Only these cases (names of corpus folders, or "unmodified", "reference" and
    /// "reference-every-bug").
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where the cases' code is built and run, as `grade --sandbox`.
    #[arg(long, value_enum)]
    sandbox: Option<Sandbox>,
    /// Run the hostile corpus (exercise/hostile) instead: crates that attack the machine
    /// grading them, each to a verdict or "not gradable" with nothing outside changed.
    #[arg(long)]
    hostile: bool,
}

impl Args {
    pub fn run(self, project: &Project) -> Result<ExitCode> {
        let bugs = project.bugs()?;
        let sandbox = Sandbox::choose(self.sandbox)?;
        let runtime = crate::runtime()?;
        let (report, held) = if self.hostile {
            runtime.block_on(crate::hostile::run(
                &project.root,
                &bugs,
                &self.only,
                sandbox,
            ))?
        } else {
            runtime.block_on(run(&project.root, &bugs, self.seeds, &self.only, sandbox))?
        };
        print!("\n{report}");
        Ok(if held {
            println!(
                "\n{}",
                if self.hostile {
                    "Every hostile case came to its outcome, and nothing outside the sandbox changed."
                } else {
                    "Every scorecard says what it should."
                }
            );
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

/// What a case's scorecard must say.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub description: String,
    /// The bugs the case's export leaves in; the brief's when empty.
    #[serde(default)]
    pub export: Vec<String>,
    #[serde(default)]
    pub external: bool,
    pub bugs: Vec<ExpectedBug>,
    #[serde(default)]
    pub public_tests_changed: Vec<ExpectedChange>,
    #[serde(default)]
    pub own_tests: Vec<ExpectedLabel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedLabel {
    pub test: String,
    /// The label's text: `catches double-charge`, `catches nothing`, `flaky`, ...
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedChange {
    pub test: String,
    pub change: Change,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedBug {
    pub bug: String,
    pub verdict: Verdict,
    #[serde(default)]
    pub gaps: Vec<String>,
    #[serde(default)]
    pub wrong_fix: Option<String>,
}

/// One crate to grade.
pub struct Case {
    pub name: String,
    /// Lay the reference fix of every bug over the export.
    reference: bool,
    /// A candidate's diff to apply to the export.
    diff: Option<PathBuf>,
    pub expected: Expected,
}

fn built_in(brief: &[&Bug], every: &[&Bug]) -> Vec<Case> {
    let mut cases = built_in_for(brief);
    // The reference fix of every bug, the catalog's with the brief's: each graded fixed by
    // every check it has, so a held-back check the reference fails is found here first.
    let mut every_bug = built_in_for(every).swap_remove(1);
    every_bug.name = "reference-every-bug".into();
    every_bug.expected.description = "the reference fix of every bug of the catalog".into();
    every_bug.expected.export = every.iter().map(|bug| bug.id.clone()).collect();
    cases.push(every_bug);
    cases
}

fn built_in_for(bugs: &[&Bug]) -> Vec<Case> {
    let all = |verdict| Expected {
        description: String::new(),
        export: Vec::new(),
        external: false,
        public_tests_changed: Vec::new(),
        own_tests: Vec::new(),
        bugs: bugs
            .iter()
            .map(|bug| ExpectedBug {
                bug: bug.id.clone(),
                verdict,
                gaps: Vec::new(),
                wrong_fix: None,
            })
            .collect(),
    };
    vec![
        Case {
            name: "unmodified".into(),
            reference: false,
            diff: None,
            expected: Expected {
                description: "the export as the candidate gets it".into(),
                ..all(Verdict::NotFixed)
            },
        },
        Case {
            name: "reference".into(),
            reference: true,
            diff: None,
            expected: Expected {
                description: "the reference fix of every bug".into(),
                ..all(Verdict::Fixed)
            },
        },
    ]
}

/// Every case of the calibration corpus: `variants/<bug>/corpus/<case>/`, in name order.
pub fn corpus(root: &Path, bugs: &[Bug]) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for bug in bugs {
        let dir = bug.dir(root).join("corpus");
        if !dir.exists() {
            continue;
        }
        for entry in std::fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
            let path = entry?.path();
            if !path.is_dir() {
                continue;
            }
            let expected = path.join("expected.toml");
            let text = std::fs::read_to_string(&expected)
                .with_context(|| format!("read {}", expected.display()))?;
            cases.push(Case {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                reference: false,
                diff: Some(path.join("fix.diff")),
                expected: toml::from_str(&text)
                    .with_context(|| format!("parse {}", expected.display()))?,
            });
        }
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

/// Applies a candidate's diff to their copy of the export, as `git apply` does. The copy
/// sits inside this repository's `target/`, so git is kept from finding the repository
/// (inside a work tree, `git apply` takes paths from its top and skips the rest silently).
fn apply(diff: &Path, dir: &Path) -> Result<()> {
    let output = Command::new("git")
        .current_dir(dir)
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap_or(dir))
        .args(["apply", "--verbose", "--whitespace=nowarn"])
        .arg(diff)
        .output()
        .context("run git apply")?;
    let said = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() || !said.contains("Applied patch") {
        bail!(
            "{} does not apply to the export: {}",
            diff.display(),
            said.trim()
        );
    }
    Ok(())
}

/// Where a scorecard differs from what a case expects; empty when it holds.
pub fn mismatches(expected: &Expected, card: &Scorecard) -> Vec<String> {
    let mut found = Vec::new();
    for want in &expected.bugs {
        let Some(got) = card.bugs.iter().find(|b| b.bug == want.bug) else {
            found.push(format!("{}: not graded", want.bug));
            continue;
        };
        if got.verdict != want.verdict {
            found.push(format!(
                "{}: expected {}, got {} ({})",
                want.bug,
                want.verdict.label(),
                got.verdict.label(),
                got.summary
            ));
            continue;
        }
        for gap in &want.gaps {
            if !got.gaps.iter().any(|g| g.contains(gap.as_str())) {
                found.push(format!(
                    "{}: expected a gap with {gap:?}, got {:?}",
                    want.bug, got.gaps
                ));
            }
        }
        if want.verdict == Verdict::FixedWithGaps && want.gaps.len() != got.gaps.len() {
            found.push(format!(
                "{}: expected {} gap(s), got {:?}",
                want.bug,
                want.gaps.len(),
                got.gaps
            ));
        }
        if let Some(words) = &want.wrong_fix
            && !got
                .wrong_fix
                .as_deref()
                .unwrap_or("")
                .contains(words.as_str())
        {
            found.push(format!(
                "{}: expected a wrong fix with {words:?}, got {:?}",
                want.bug, got.wrong_fix
            ));
        }
    }
    for want in &expected.public_tests_changed {
        if !card
            .public_tests_changed
            .iter()
            .any(|c| c.test == want.test && c.change == want.change)
        {
            found.push(format!(
                "expected public test {} listed as {}, got {:?}",
                want.test,
                want.change.label(),
                card.public_tests_changed
            ));
        }
    }
    for got in &card.public_tests_changed {
        if !expected
            .public_tests_changed
            .iter()
            .any(|w| w.test == got.test)
        {
            found.push(format!(
                "listed as a changed public test, which the case does not change: {} {} ({})",
                got.file,
                got.test,
                got.change.label()
            ));
        }
    }
    for want in &expected.own_tests {
        let got = card.own_tests.iter().find(|t| t.test == want.test);
        if got.map(|t| t.label.text()) != Some(want.label.clone()) {
            found.push(format!(
                "expected their test {} labelled {:?}, got {}",
                want.test,
                want.label,
                got.map_or("no such test".to_owned(), |t| format!(
                    "{:?} ({})",
                    t.label.text(),
                    t.detail
                ))
            ));
        }
    }
    for got in &card.own_tests {
        if !expected.own_tests.iter().any(|w| w.test == got.test) {
            found.push(format!(
                "labelled a test of theirs the case does not expect: {} {} ({})",
                got.file,
                got.test,
                got.label.text()
            ));
        }
    }
    let noted = !card.external_changes.is_empty();
    if expected.external != noted {
        found.push(format!(
            "expected {} change to the external service, got {:?}",
            if expected.external { "a" } else { "no" },
            card.external_changes
        ));
    }
    found
}

/// Runs every case (or those named in `only`) and returns the report and whether all held.
pub async fn run(
    root: &Path,
    bugs: &[Bug],
    seeds: u64,
    only: &[String],
    sandbox: Sandbox,
) -> Result<(String, bool)> {
    let brief: Vec<&Bug> = bugs.iter().filter(|bug| bug.brief.by_default).collect();
    let every: Vec<&Bug> = bugs.iter().collect();
    let mut cases = built_in(&brief, &every);
    cases.extend(corpus(root, bugs)?);
    let mut report = String::new();
    let mut all_held = true;
    for case in cases {
        if !only.is_empty() && !only.contains(&case.name) {
            continue;
        }
        eprintln!("\n==> selftest: {}", case.name);
        let started = std::time::Instant::now();
        let dir = root.join("target/selftest").join(&case.name);
        let _ = std::fs::remove_dir_all(&dir);
        let chosen = manifest::choose(bugs, &case.expected.export)?;
        export::export(root, bugs, &chosen, &dir, export::Options::default())?;
        if case.reference {
            for bug in &chosen {
                for file in &bug.files {
                    if !dir.join(&file.module).exists() {
                        continue; // a file of the replicas stage, not in this export
                    }
                    let from = bug.variant(root, "fixed", file);
                    std::fs::copy(&from, dir.join(&file.module))
                        .with_context(|| format!("copy {}", from.display()))?;
                }
            }
        }
        if let Some(diff) = &case.diff {
            apply(diff, &dir)?;
        }
        // Twice on the one build: the same commit must get the same verdicts every time.
        let options = grade::Options {
            seeds,
            clippy: false,
            rounds: 2,
            own_tests: true,
            work: None,
            given: None,
            progress: None,
            sandbox,
            limits: Default::default(),
        };
        let card = grade::grade(root, bugs, &chosen, &dir, &options).await?;
        let mut found = mismatches(&case.expected, &card);
        found.extend(
            card.unsteady
                .iter()
                .map(|unsteady| format!("a verdict changed between rounds: {unsteady}")),
        );
        all_held &= found.is_empty();
        let verdicts: Vec<String> = card
            .bugs
            .iter()
            .map(|b| format!("{} {}", b.bug, b.verdict.label()))
            .collect();
        let _ = writeln!(
            report,
            "{:<28} {:<60} {} ({:.0?})",
            case.name,
            verdicts.join(", "),
            if found.is_empty() { "ok" } else { "MISMATCH" },
            started.elapsed()
        );
        if !case.expected.description.is_empty() {
            let _ = writeln!(report, "    {}", case.expected.description);
        }
        for mismatch in &found {
            let _ = writeln!(report, "    MISMATCH: {mismatch}");
        }
        if !found.is_empty() {
            let _ = writeln!(report, "{}", grade::render(&card));
        }
    }
    Ok((report, all_held))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A corpus diff is written against the export of its day; a change to the service's
    /// files can leave one that no longer applies, which `selftest` finds only after half an
    /// hour of grading. This finds it in a second.
    #[test]
    fn every_corpus_diff_applies_to_its_export() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let bugs = manifest::load(&root).expect("load variants/*/bug.toml");
        let cases = corpus(&root, &bugs).expect("read the corpus");
        assert!(!cases.is_empty(), "no corpus cases under variants/*/corpus");
        let mut failures = Vec::new();
        for case in &cases {
            let scratch = tempfile::tempdir().expect("a scratch directory");
            let dir = scratch.path().join("crate");
            let chosen = manifest::choose(&bugs, &case.expected.export).expect("its bugs");
            export::export(&root, &bugs, &chosen, &dir, export::Options::default())
                .expect("export");
            let diff = case.diff.as_deref().expect("a corpus case has a diff");
            if let Err(e) = apply(diff, &dir) {
                failures.push(format!("{}: {e:#}", case.name));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} corpus diffs do not apply to their export (rewrite each against a fresh \
             `cargo exercise export --bugs ...`):\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}

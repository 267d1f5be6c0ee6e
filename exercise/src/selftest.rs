//! `exercise selftest`: grades the unmodified export, the reference fix and each wrong fix
//! in `tests/fixtures/wrong-fixes/`, and checks each scorecard says what it should.

use std::fmt::Write as _;
use std::path::Path;

use crate::export;
use crate::grade::{self, Verdict};
use crate::manifest::Bug;

/// A crate to grade and what its scorecard must say: (bug, verdict, words the wrong fix
/// must contain).
struct Case {
    name: &'static str,
    /// Lay the reference fix of every bug over the export first.
    reference: bool,
    /// A folder of `tests/fixtures/wrong-fixes/` to lay over it next.
    fixture: Option<&'static str>,
    expected: &'static [(&'static str, Verdict, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "unmodified export",
        reference: false,
        fixture: None,
        expected: &[
            ("double-charge", Verdict::NotFixed, ""),
            ("lost-update", Verdict::NotFixed, ""),
        ],
    },
    Case {
        name: "reference fix",
        reference: true,
        fixture: None,
        expected: &[
            ("double-charge", Verdict::Fixed, ""),
            ("lost-update", Verdict::Fixed, ""),
        ],
    },
    Case {
        name: "lock-across-order",
        reference: true,
        fixture: Some("lock-across-order"),
        expected: &[
            ("double-charge", Verdict::Fixed, ""),
            ("lost-update", Verdict::WrongFix, "one at a time"),
        ],
    },
    Case {
        name: "torn-stats",
        reference: true,
        fixture: Some("torn-stats"),
        expected: &[
            ("double-charge", Verdict::Fixed, ""),
            ("lost-update", Verdict::WrongFix, "torn stats"),
        ],
    },
    Case {
        name: "no-retries",
        reference: true,
        fixture: Some("no-retries"),
        expected: &[
            ("double-charge", Verdict::WrongFix, "no retries"),
            ("lost-update", Verdict::Fixed, ""),
        ],
    },
    Case {
        name: "racy-dedup",
        reference: true,
        fixture: Some("racy-dedup"),
        expected: &[
            ("double-charge", Verdict::WrongFix, "racy dedup"),
            ("lost-update", Verdict::Fixed, ""),
        ],
    },
];

/// Runs every case (or those named in `only`) and returns the report and whether all held.
pub async fn run(
    root: &Path,
    bugs: &[Bug],
    seeds: u64,
    only: &[String],
) -> Result<(String, bool), String> {
    let mut report = String::new();
    let mut all_held = true;
    for case in CASES {
        if !only.is_empty() && !only.iter().any(|name| name == case.name) {
            continue;
        }
        eprintln!("\n==> selftest: {}", case.name);
        let dir = root
            .join("target/selftest")
            .join(case.name.replace(' ', "-"));
        let _ = std::fs::remove_dir_all(&dir);
        let chosen: Vec<_> = bugs.iter().collect();
        export::export(root, bugs, &chosen, &dir, false)?;
        if case.reference {
            for bug in bugs {
                for file in &bug.files {
                    let from = bug.dir(root).join("fixed").join(&file.variant);
                    std::fs::copy(&from, dir.join(&file.module))
                        .map_err(|e| format!("{}: {e}", from.display()))?;
                }
            }
        }
        if let Some(fixture) = case.fixture {
            let fixture = root.join("tests/fixtures/wrong-fixes").join(fixture);
            crate::tools::copy_tree(&fixture, &dir, &|_| false)?;
        }
        let card = grade::grade(root, bugs, &dir, seeds).await?;
        for (bug, verdict, words) in case.expected {
            let graded = card.bugs.iter().find(|b| b.bug == *bug);
            let held = graded.is_some_and(|g| {
                g.verdict == *verdict && g.wrong_fix.as_deref().unwrap_or("").contains(words)
            });
            all_held &= held;
            let got = graded
                .map(|g| format!("{:?} {}", g.verdict, g.wrong_fix.as_deref().unwrap_or("")))
                .unwrap_or_else(|| "not graded".into());
            let _ = writeln!(
                report,
                "{:<20} {:<15} expected {:<10} got {:<60} {}",
                case.name,
                bug,
                format!("{verdict:?}"),
                got.trim(),
                if held { "ok" } else { "MISMATCH" }
            );
        }
        if !case.expected.iter().all(|(bug, verdict, _)| {
            card.bugs
                .iter()
                .any(|b| b.bug == *bug && b.verdict == *verdict)
        }) {
            let _ = writeln!(report, "{}", grade::render(&card));
        }
    }
    Ok((report, all_held))
}

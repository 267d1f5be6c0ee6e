//! The scorecard as a person reads it: one line per bug to read aloud, then the evidence.

use std::fmt::Write as _;

use super::judge::Scorecard;

/// The scorecard as text: one line per bug to read aloud, then the evidence.
pub fn render(card: &Scorecard) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Scorecard for {}", card.crate_dir);
    if !card.sandbox.is_empty() {
        let _ = writeln!(out, "sandbox: {}", card.sandbox);
    }
    let _ = writeln!(out);
    for bug in &card.bugs {
        let _ = writeln!(out, "{}: {}: {}", bug.bug, bug.verdict.label(), bug.summary);
    }
    for bug in &card.bugs {
        for note in &bug.notes {
            let _ = writeln!(out, "note ({}): {note}", bug.bug);
        }
    }
    for unsteady in &card.unsteady {
        let _ = writeln!(out, "UNSTEADY: {unsteady}");
    }
    for change in &card.external_changes {
        let _ = writeln!(out, "note: {change}");
    }
    if card.public_tests_changed.is_empty() {
        let _ = writeln!(out, "public tests: as handed over");
    } else {
        let _ = writeln!(
            out,
            "public tests changed ({}; graded with the originals):",
            card.public_tests_changed.len()
        );
        for change in &card.public_tests_changed {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                change.file,
                change.test,
                change.change.label()
            );
            for line in &change.lines {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    if card.own_tests.is_empty() {
        let _ = writeln!(out, "tests of their own: none added or changed");
    } else {
        let _ = writeln!(out, "tests of their own ({}):", card.own_tests.len());
        for test in &card.own_tests {
            let _ = writeln!(
                out,
                "  {} {}{}: {}",
                test.file,
                test.test,
                if test.changed { " (changed)" } else { "" },
                test.label.text()
            );
            let _ = writeln!(out, "      {}", test.detail);
        }
    }
    if let Some(clean) = card.clippy_clean {
        let _ = writeln!(
            out,
            "clippy --all-targets -D warnings: {}",
            if clean { "clean" } else { "FAILS" }
        );
    }
    for bug in &card.bugs {
        let _ = writeln!(out, "\n{} ({})", bug.bug, bug.verdict.label());
        for e in &bug.evidence {
            let mark = e.mark();
            let _ = writeln!(
                out,
                "  {mark:<4} {} ({}, {})",
                e.check,
                e.role.label(),
                e.kind.label()
            );
            if !e.passed || e.inconclusive || e.unsteady {
                for line in e.detail.lines().take(if e.white_box { 12 } else { 6 }) {
                    let _ = writeln!(out, "       {line}");
                }
                if !e.passed && !e.failure_means.is_empty() {
                    let _ = writeln!(out, "       means: {}", e.failure_means);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Kind, Role};
    use crate::grade::judge::tests::{GAP, SERIAL, check};
    use crate::grade::judge::{Evidence, judge};
    use crate::grade::own_tests::{Label, OwnTest};
    use crate::grade::public_tests::{Change, TestChange};
    use crate::sandbox::Sandbox;

    #[test]
    fn the_scorecard_leads_with_a_line_per_bug() {
        let card = Scorecard {
            crate_dir: "/tmp/candidate".into(),
            external_changes: vec![
                "src/balance/ledger.rs: the balance service (an external service) was changed; graded against the reference's, discuss".into(),
            ],
            clippy_clean: Some(true),
            clippy_detail: String::new(),
            unsteady: Vec::new(),
            sandbox: Sandbox::Bwrap.describe(Some(crate::sandbox::CAPS)),
            public_tests_changed: vec![TestChange {
                file: "tests/api/reported.rs".into(),
                test: "stats_match_the_orders_charged_when_ten_clients_order_at_once".into(),
                change: Change::AssertionsChanged,
                lines: vec![
                    "- assert!(count == charged && total == revenue, \"lost\");".into(),
                    "+ assert!(count * 10 >= charged * 8, \"lost\");".into(),
                ],
                helper: false,
            }],
            own_tests: vec![OwnTest {
                file: "tests/api/overload.rs".into(),
                test: "a_charged_order_is_reported_ok_under_overload".into(),
                label: Label::Catches(vec!["double-charge".into()]),
                detail: "it fails on the export as handed over and passes on the reference fix"
                    .into(),
                changed: false,
            }],
            bugs: vec![
                judge(
                    "double-charge",
                    vec![
                        check(
                            "orders_on_a_flaky_network_are_charged_once",
                            Role::Symptom,
                            true,
                        ),
                        check("an_order_whose_every_response_was_lost_is_reported_ok", GAP, false),
                        Evidence::inconclusive(
                            "loom::an_order_sent_twice_at_once_is_charged_once",
                            Kind::LoomModel,
                            Role::Symptom,
                            "did not build against the candidate's code".into(),
                        ),
                    ],
                ),
                judge(
                    "lost-update",
                    vec![
                        check("stats_match_the_orders_charged", Role::Symptom, true),
                        check("orders_are_processed_concurrently", SERIAL, false),
                    ],
                ),
            ],
        };
        insta::assert_snapshot!(render(&card));
        insta::assert_json_snapshot!(card);
        // A sandboxed grade's worker sends it as JSON: it must come back whole.
        let sent = serde_json::to_string(&card).unwrap();
        let back: Scorecard = serde_json::from_str(&sent).unwrap();
        assert_eq!(back, card, "the scorecard read back from {sent}");
    }
}

//! The session's write-up, as Markdown and as a printable HTML page, from what was recorded:
//! the decision and its reasons, the score sheet, the verdicts and their timeline, the hints
//! with their times, the notes, the diff's size and the last scorecard. And the list of past
//! sessions, side by side (`session list`, and `index.html` beside the sessions).
//!
//! Both forms are rendered from one list of [`Block`]s, so they never say different things.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::state::State;
use super::store::{Setup, Store, write_atomically};
use crate::Project;
use crate::manifest::{self, Bug};

/// A piece of the report.
#[derive(Debug, Clone)]
pub enum Block {
    Heading(u8, String),
    Paragraph(String),
    List(Vec<String>),
    Table(Vec<String>, Vec<Vec<String>>),
    Preformatted(String),
}

/// Where the report was written.
pub struct Written {
    pub markdown: PathBuf,
    pub html: PathBuf,
}

/// The day of `ms` (since the Unix epoch), in UTC: `2026-12-01`.
pub fn utc_day(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    order_service::daily::Day::of(time).to_string()
}

/// The time of day of `ms`, in UTC: `18:04 UTC`.
pub fn utc_time(ms: u64) -> String {
    let minutes = (ms / 60_000) % (24 * 60);
    format!("{:02}:{:02} UTC", minutes / 60, minutes % 60)
}

/// Writes `report.md` and `report.html` in the session's folder, and the list of sessions
/// beside it.
pub fn write(project: &Project, store: &Store) -> Result<Written> {
    let state = State::load(store)?;
    let all = project.bugs()?;
    let bugs = manifest::choose(&all, &state.setup.bugs)?;
    let blocks = blocks(store, &state, &bugs);
    let written = Written {
        markdown: store.dir.join("report.md"),
        html: store.dir.join("report.html"),
    };
    write_atomically(&written.markdown, markdown(&blocks).as_bytes())?;
    let title = format!("Session: {}", state.setup.candidate);
    write_atomically(&written.html, html(&title, &blocks).as_bytes())?;
    if let Some(sessions) = store.dir.parent() {
        let rows = rows(project, sessions)?;
        write_atomically(
            &sessions.join("index.html"),
            html("Sessions", &[table_of(rows)]).as_bytes(),
        )?;
    }
    Ok(written)
}

/// What the report says, in order.
fn blocks(store: &Store, state: &State, bugs: &[&Bug]) -> Vec<Block> {
    let setup = &state.setup;
    let decision = state.decision(bugs);
    let mut out = vec![
        Block::Heading(1, format!("Session: {}", setup.candidate)),
        Block::Paragraph(format!(
            "{} at {}; bugs {}{}{}; handed over as {}; {}.",
            utc_day(setup.created_ms),
            utc_time(setup.created_ms),
            setup.bugs.join(", "),
            if setup.with_loom {
                ", with the loom models"
            } else {
                ""
            },
            if setup.replicas {
                ", stage two prepared"
            } else {
                ""
            },
            short(&setup.handed_over),
            harnesses(setup, &state.harnesses())
        )),
    ];
    if let Some(started) = state.started_ms {
        out.push(Block::Paragraph(format!(
            "The clock started at {}; times below are from then (a minus sign: before it).",
            utc_time(started)
        )));
    }
    let (outcome, ended) = match &state.ended {
        Some((at, outcome)) => (outcome.as_str(), format!("ended at {}", state.clock(*at))),
        None => (decision.outcome.label(), "not ended yet".to_owned()),
    };
    out.push(Block::Heading(2, format!("Decision: {outcome} ({ended})")));
    let regraded: Vec<&super::state::GradedCommit> = state
        .graded
        .iter()
        .filter(|g| g.grades > 1 || state.graded_after_end(g))
        .collect();
    if !regraded.is_empty() {
        let by: std::collections::BTreeSet<&str> =
            regraded.iter().map(|g| g.harness.as_str()).collect();
        let otherwise = if outcome == decision.outcome.label() {
            String::new()
        } else {
            format!(
                ", though with these grades the score sheet gives {}",
                decision.outcome.label()
            )
        };
        out.push(Block::Paragraph(format!(
            "{} graded again or for the first time with `session regrade` (the harness at \
             {}): the verdicts, the last scorecard and the score sheet's rows taken from \
             verdicts (fixing) are from each commit's latest grade. The decision is as it was \
             made{otherwise}.",
            match regraded.len() {
                1 => "One of the commits below was".to_owned(),
                n => format!("{n} of the commits below were"),
            },
            by.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    out.push(Block::List(decision.reasons.clone()));
    out.push(Block::Heading(2, "Score sheet".into()));
    out.push(Block::Table(
        vec!["row".into(), "counts as".into(), "why".into()],
        decision
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.row.to_string(),
                    r.level.map_or("to score".into(), |l| l.label().to_owned()),
                    r.why.clone(),
                ]
            })
            .collect(),
    ));

    out.push(Block::Heading(2, "Verdicts".into()));
    let mut head = vec![
        "committed".to_owned(),
        "graded".to_owned(),
        "commit".to_owned(),
        "subject".to_owned(),
    ];
    head.extend(setup.bugs.iter().cloned());
    let timeline: Vec<Vec<String>> = state
        .graded
        .iter()
        .map(|g| {
            let mut row = vec![
                g.committed_ms.map_or("?".to_owned(), |ms| state.clock(ms)),
                graded_when(state, g),
                short(&g.commit),
                g.subject.clone(),
            ];
            for bug in &setup.bugs {
                row.push(g.said(bug));
            }
            row
        })
        .collect();
    if timeline.is_empty() {
        out.push(Block::Paragraph("No commit was graded.".into()));
    } else {
        out.push(Block::Table(head, timeline));
    }

    out.push(Block::Heading(2, "Hints".into()));
    let mut hints = Vec::new();
    for bug in bugs {
        for given in state.hints.get(&bug.id).into_iter().flatten() {
            let said = bug
                .hints
                .get(given.rung - 1)
                .map_or(String::new(), |h| h.say.clone());
            hints.push(vec![
                state.clock(given.at_ms),
                bug.id.clone(),
                given.rung.to_string(),
                said,
            ]);
        }
    }
    hints.sort();
    if hints.is_empty() {
        out.push(Block::Paragraph("None given.".into()));
    } else {
        out.push(Block::Table(
            vec!["at".into(), "bug".into(), "rung".into(), "said".into()],
            hints,
        ));
    }
    if !state.unreached.is_empty() {
        out.push(Block::Paragraph(format!(
            "Not reached: {}.",
            state
                .unreached
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }

    out.push(Block::Heading(2, "Notes".into()));
    out.push(if state.notes.trim().is_empty() {
        Block::Paragraph("None.".into())
    } else {
        Block::Preformatted(state.notes.trim_end().to_owned())
    });

    let last = state.graded.iter().rev().find(|g| g.failed.is_none());
    if let Some(last) = last {
        out.push(Block::Heading(2, "The candidate's change".into()));
        let stat = crate::tools::git(
            &setup.repo,
            &["diff", "--shortstat", &setup.handed_over, &last.commit],
        )
        .unwrap_or_else(|error| format!("(the diff could not be read: {error:#})"));
        out.push(Block::Paragraph(format!(
            "From the hand-over to {} ({}): {}.",
            short(&last.commit),
            last.subject,
            if stat.is_empty() {
                "no change"
            } else {
                stat.trim()
            }
        )));
        if let Some(card) = &last.scorecard
            && let Ok(text) = std::fs::read_to_string(store.dir.join(card))
        {
            out.push(Block::Heading(
                2,
                format!("Scorecard of {}", short(&last.commit)),
            ));
            out.push(Block::Preformatted(text.trim_end().to_owned()));
        }
    }
    out
}

/// The session card: the same bug data as the page, as a sheet to print (`session card`).
pub fn card(bugs: &[&Bug]) -> Vec<Block> {
    let mut in_order = bugs.to_vec();
    in_order.sort_by_key(|bug| bug.brief.position);
    let names: Vec<&str> = in_order.iter().map(|b| b.id.as_str()).collect();
    let mut out = vec![
        Block::Heading(1, format!("Session card: {}", names.join(", "))),
        Block::Table(
            vec!["minutes".into(), "what".into()],
            super::server::checkpoints(&in_order)
                .into_iter()
                .map(|(from, to, what)| vec![format!("{from}-{to}"), what])
                .collect(),
        ),
    ];
    let mut sheet: Vec<Vec<String>> = Vec::new();
    for bug in &in_order {
        for row in ["reproducing", "reasoning", "fixing"] {
            sheet.push(vec![
                format!("{} {row}", bug.id),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
    for row in ["verifying", "production", "stage two (if offered)"] {
        sheet.push(vec![
            row.to_owned(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    out.push(Block::Heading(2, "Score sheet".into()));
    out.push(Block::Table(
        ["row", "weak", "solid", "strong"]
            .map(String::from)
            .to_vec(),
        sheet,
    ));
    out.push(Block::List(
        [
            "Fixing starts from the verdict: NOT FIXED weak; WRONG FIX weak (solid if they spotted the trade-off); FIXED WITH GAPS solid (strong if they named the gaps); FIXED strong (solid if the fix did not stay small).",
            "A hint caps the row it helped with: the first rung at solid, the second and third at weak. A bug counts as its lowest row.",
            "Hire: every core bug reached, every row of each bug reached solid or better, verifying solid or better. A warm-up bug not reached does not count.",
            "Strong hire: a hire strong on two of three rows of every core bug, and on verifying, production or stage two.",
        ]
        .map(String::from)
        .to_vec(),
    ));
    for bug in in_order {
        let cause = bug.cause.trim().replace('\n', " ");
        let first = cause
            .split_once(". ")
            .map_or(cause.as_str(), |(first, _)| first);
        out.push(Block::Heading(
            2,
            format!(
                "{} ({}, {}, about {} minutes)",
                bug.title,
                bug.id,
                bug.tier.label(),
                bug.minutes
            ),
        ));
        out.push(Block::Paragraph(format!(
            "Fails: {}.",
            bug.triggering
                .tests
                .iter()
                .map(|t| t.rsplit("::").next().unwrap_or(t))
                .collect::<Vec<_>>()
                .join(", ")
        )));
        out.push(Block::Paragraph(format!(
            "Cause: {}.",
            first.trim_end_matches('.')
        )));
        out.push(Block::Table(
            vec!["rung".into(), "when".into(), "say".into()],
            bug.hints
                .iter()
                .enumerate()
                .map(|(n, h)| {
                    vec![
                        format!("{} (caps {})", n + 1, h.lowers.label()),
                        h.when.clone(),
                        h.say.clone(),
                    ]
                })
                .collect(),
        ));
        out.push(Block::List(
            bug.wrong_fixes
                .iter()
                .map(|w| {
                    format!(
                        "Wrong fix ({}): {} Ask: {}",
                        w.verdict.label(),
                        w.fix,
                        w.ask
                    )
                })
                .chain(bug.gaps.iter().map(|g| format!("Gap: {}", g.ask)))
                .chain(bug.follow_ups.iter().map(|f| format!("Follow-up: {f}")))
                .collect(),
        ));
    }
    out
}

/// Which harness prepared the session and which made its commits' latest grades:
/// "prepared and graded by the harness at 37a8f4d", or "prepared by the harness at 61745bd,
/// graded by the harness at 37a8f4d" once `session regrade` has graded them again.
fn harnesses(setup: &Setup, graded_by: &[String]) -> String {
    match graded_by {
        [] => format!("prepared by the harness at {}", setup.harness),
        [only] if *only == setup.harness => {
            format!("prepared and graded by the harness at {only}")
        }
        by => format!(
            "prepared by the harness at {}, graded by the harness{} at {}",
            setup.harness,
            if by.len() == 1 { "" } else { "es" },
            by.join(", ")
        ),
    }
}

/// When a commit was graded, and by which harness when it was graded again or first graded
/// after the session ended: `4:12`, `4:12; again 2026-12-07 by 37a8f4d`, `after the session,
/// 2026-12-07 by 37a8f4d`.
pub(crate) fn graded_when(state: &State, graded: &super::state::GradedCommit) -> String {
    let by = format!("{} by {}", utc_day(graded.at_ms), graded.harness);
    match (state.graded_after_end(graded), graded.grades) {
        (true, _) => format!("after the session, {by}"),
        (false, 1) => state.clock(graded.first_at_ms),
        (false, _) => format!("{}; again {by}", state.clock(graded.first_at_ms)),
    }
}

/// A commit as people read it: its first ten digits.
pub(crate) fn short(commit: &str) -> String {
    commit.chars().take(10).collect()
}

/// The blocks as Markdown.
pub fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "{} {text}\n", "#".repeat(usize::from(*level)));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {item}");
                }
                out.push('\n');
            }
            Block::Table(head, rows) => {
                let _ = writeln!(
                    out,
                    "| {} |",
                    head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
                );
                let _ = writeln!(out, "|{}", " --- |".repeat(head.len()));
                for row in rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                out.push('\n');
            }
            Block::Preformatted(text) => {
                let _ = writeln!(out, "```text\n{text}\n```\n");
            }
        }
    }
    out
}

/// Text made safe to put in HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The blocks as a printable HTML page.
pub fn html(title: &str, blocks: &[Block]) -> String {
    let mut body = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(body, "<h{level}>{}</h{level}>", escape(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(body, "<p>{}</p>", escape(text));
            }
            Block::List(items) => {
                body.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(body, "<li>{}</li>", escape(item));
                }
                body.push_str("</ul>\n");
            }
            Block::Table(head, rows) => {
                body.push_str("<table>\n<tr>");
                for h in head {
                    let _ = write!(body, "<th>{}</th>", escape(h));
                }
                body.push_str("</tr>\n");
                for row in rows {
                    body.push_str("<tr>");
                    for c in row {
                        let _ = write!(body, "<td>{}</td>", escape(c));
                    }
                    body.push_str("</tr>\n");
                }
                body.push_str("</table>\n");
            }
            Block::Preformatted(text) => {
                let _ = writeln!(body, "<pre>{}</pre>", escape(text));
            }
        }
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{}</style></head>\n<body>\n{body}</body></html>\n",
        escape(title),
        REPORT_STYLE
    )
}

const REPORT_STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;\
padding:0 1rem;color:#222}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #bbb;\
padding:.2rem .5rem;text-align:left;vertical-align:top}pre{background:#f5f5f5;padding:.6rem;\
white-space:pre-wrap;font-size:12px}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.6rem}\
@media print{body{margin:0;max-width:none;font-size:11px}pre,table{break-inside:avoid}}";

/// Every session kept under `sessions`, by folder name, each as its log leaves it.
pub fn past(sessions: &Path) -> Vec<(String, Result<State>)> {
    let Ok(entries) = std::fs::read_dir(sessions) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    dirs.sort();
    dirs.into_iter()
        .filter(|dir| dir.join("session.json").exists())
        .map(|dir| {
            let id = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (id, State::load(&Store { dir }))
        })
        .collect()
}

/// One line per past session: id, candidate, day, bugs, last verdicts, decision.
fn rows(project: &Project, sessions: &Path) -> Result<Vec<Vec<String>>> {
    let all = project.bugs()?;
    let mut rows = Vec::new();
    for (id, state) in past(sessions) {
        let state = match state {
            Ok(state) => state,
            Err(error) => {
                rows.push(vec![id, format!("cannot be read: {error:#}")]);
                continue;
            }
        };
        let bugs = manifest::choose(&all, &state.setup.bugs).unwrap_or_default();
        let verdicts: Vec<String> = state
            .setup
            .bugs
            .iter()
            .map(|bug| {
                format!(
                    "{bug} {}",
                    state.verdict(bug).map_or("not graded", |v| v.label())
                )
            })
            .collect();
        let decision = match &state.ended {
            Some((_, outcome)) => outcome.clone(),
            None => format!("({}, not ended)", state.decision(&bugs).outcome.label()),
        };
        rows.push(vec![
            state.setup.id.clone(),
            state.setup.candidate.clone(),
            utc_day(state.setup.created_ms),
            verdicts.join("; "),
            state.harnesses().join(", "),
            state
                .hints
                .values()
                .map(Vec::len)
                .sum::<usize>()
                .to_string(),
            decision,
        ]);
    }
    Ok(rows)
}

fn table_of(rows: Vec<Vec<String>>) -> Block {
    Block::Table(
        [
            "session",
            "candidate",
            "day",
            "verdicts",
            "graded by",
            "hints",
            "decision",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    )
}

/// `session list`: past sessions side by side, as Markdown.
pub fn list(project: &Project, sessions: &Path) -> Result<String> {
    let rows = rows(project, sessions)?;
    if rows.is_empty() {
        return Ok(format!("No sessions in {}.\n", sessions.display()));
    }
    Ok(markdown(&[table_of(rows)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_the_calendars() {
        assert_eq!(utc_day(0), "1970-01-01");
        // 2026-12-01 00:00 UTC, and the last millisecond of 2024-02-29.
        assert_eq!(utc_day(1_796_083_200_000), "2026-12-01");
        assert_eq!(utc_day(1_709_251_199_999), "2024-02-29");
        assert_eq!(
            utc_time(1_796_083_200_000 + 18 * 3_600_000 + 4 * 60_000),
            "18:04 UTC"
        );
    }

    #[test]
    fn both_forms_say_the_same_and_html_is_escaped() {
        let blocks = [
            Block::Heading(2, "Decision: hire".into()),
            Block::Table(vec!["row".into()], vec![vec!["a <b> | c".into()]]),
        ];
        let md = markdown(&blocks);
        assert!(
            md.contains("## Decision: hire") && md.contains("a <b> \\| c"),
            "{md}"
        );
        let page = html("t", &blocks);
        assert!(page.contains("<td>a &lt;b&gt; | c</td>"), "{page}");
    }
}

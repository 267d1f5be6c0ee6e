//! What a benchmark measured, as typed rows, and the tables and ratios it prints.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::Options;
use super::services::{LATENCY_MS, Profile};
use super::wrk::{Round, mean};

/// What a row of rounds measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The balance stub on its own: the most any build in front of it can reach.
    BalanceAlone,
    /// `GET /health` on a build: the server's own ceiling.
    Health { build: String },
    /// `POST /orders` on a build, the memory store, one process.
    Build { build: String },
    /// The fixed build, the memory store, one process: stage two's baseline.
    MemoryOneProcess,
    /// The fixed build, the Postgres store, this many replicas behind nginx.
    Replicas { count: usize },
}

/// One row: what was measured, against which stub profile, and its rounds.
#[derive(Debug, Clone)]
pub struct Row {
    pub subject: Subject,
    /// The stub's profile; none for `GET /health`, which never reaches it.
    pub profile: Option<Profile>,
    pub rounds: Vec<Round>,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let profile = self.profile.map(Profile::label).unwrap_or_default();
        match &self.subject {
            Subject::BalanceAlone => write!(f, "balance service alone, {profile}"),
            Subject::Health { build } => write!(f, "GET /health ({build})"),
            Subject::Build { build } => write!(f, "{build}, {profile}"),
            Subject::MemoryOneProcess => write!(f, "fixed, memory store, 1 process, {profile}"),
            Subject::Replicas { count } => {
                write!(f, "fixed, postgres store, {count} behind nginx, {profile}")
            }
        }
    }
}

/// A build's resident memory over its no-latency rounds.
#[derive(Debug, Clone)]
pub struct Memory {
    pub build: String,
    pub after_start_kib: u64,
    pub after_rounds_kib: u64,
    /// Orders its `/stats` counted over the rounds.
    pub served: u64,
}

/// What the service rounds measured.
#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub memory: Vec<Memory>,
    /// connections / mean stub latency: the most orders/s any build can serve.
    pub limit: f64,
}

impl Report {
    fn rounds(&self, subject: &Subject, profile: Option<Profile>) -> Option<&[Round]> {
        self.rows
            .iter()
            .find(|row| row.subject == *subject && row.profile == profile)
            .map(|row| row.rounds.as_slice())
    }

    fn build(&self, build: &str, profile: Profile) -> Option<&[Round]> {
        self.rounds(
            &Subject::Build {
                build: build.into(),
            },
            Some(profile),
        )
    }
}

/// A step the harness or a build took, timed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timed {
    GradeCold,
    GradeWarm,
    /// The same, with `--sandbox none`: what the sandbox adds to a warm grade.
    GradeWarmUnsandboxed,
    /// Warm, after a commit that changes one source file: until the black-box verdicts are
    /// printed (what the session page shows first), and until the scorecard.
    GradeOneFileVerdicts,
    GradeOneFile,
    /// Warm, with one test of the candidate's own to label on each build.
    GradeOwnTest,
    /// The same test, after a commit that changes one source file of theirs: its runs on
    /// the export and the reference builds are kept from the grade before.
    GradeOwnTestCodeChanged,
    Verify {
        builds: usize,
    },
    /// The export of a tree: `cargo build && cargo test --no-run`, cold.
    ExportBuild {
        rev: String,
    },
    /// A fresh clone of a tree: `cargo build --release`, cold.
    ReleaseBuild {
        rev: String,
    },
}

impl fmt::Display for Timed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timed::GradeCold => f.write_str("exercise grade, unmodified export, cold"),
            Timed::GradeWarm => f.write_str("exercise grade, the same again, warm"),
            Timed::GradeWarmUnsandboxed => {
                f.write_str("exercise grade, the same again, warm, without the sandbox")
            }
            Timed::GradeOneFileVerdicts => {
                f.write_str("exercise grade, one file changed, warm: black-box verdicts")
            }
            Timed::GradeOneFile => {
                f.write_str("exercise grade, one file changed, warm: the scorecard")
            }
            Timed::GradeOwnTest => {
                f.write_str("exercise grade, warm, with a test of their own to label")
            }
            Timed::GradeOwnTestCodeChanged => {
                f.write_str("exercise grade, that test labelled before, one file changed")
            }
            Timed::Verify { builds } => {
                write!(f, "exercise verify (1 run of each of {builds} builds)")
            }
            Timed::ExportBuild { rev } => {
                write!(f, "{rev}: export, cargo build && cargo test --no-run, cold")
            }
            Timed::ReleaseBuild { rev } => {
                write!(f, "{rev}: fresh clone, cargo build --release, cold")
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Timing {
    pub what: Timed,
    pub took: Duration,
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// The table, the ratios against their goals, the memory figures, and the timings.
pub fn render(report: &Report, options: &Options, timings: &[Timing]) -> String {
    let mut out = String::new();
    if !report.rows.is_empty() {
        render_service(&mut out, report, options);
    }
    render_timings(&mut out, timings);
    out
}

/// The service rounds, the ratios and the memory.
fn render_service(out: &mut String, report: &Report, options: &Options) {
    let _ = writeln!(
        out,
        "wrk: {} connections, {} threads, {} s rounds; the balance service has {} slots and no faults",
        options.connections,
        options.threads,
        options.duration.as_secs(),
        options.connections
    );
    let _ = writeln!(
        out,
        "\n{:<58} {:>10} {:>10} {:>10} {:>8}",
        "round", "req/s", "p50", "p99", "errors"
    );
    for row in &report.rows {
        for (index, round) in row.rounds.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:<58} {:>10.0} {:>10} {:>10} {:>8}",
                format!("{row} #{}", index + 1),
                round.requests_per_sec,
                millis(round.p50),
                millis(round.p99),
                round.errors
            );
        }
    }
    let _ = writeln!(
        out,
        "\nlatency-bound limit: {} connections / {} ms mean stub latency = {:.0} orders/s",
        options.connections,
        (LATENCY_MS.0 + LATENCY_MS.1) / 2,
        report.limit
    );
    render_ratios(out, report);
    if !report.memory.is_empty() {
        let _ = writeln!(
            out,
            "\nresident memory of the order service (no-latency rounds)"
        );
        for memory in &report.memory {
            let _ = writeln!(
                out,
                "{:<8} {:>8.1} MiB after start, {:>8.1} MiB after the warm-up and {} rounds ({} orders in /stats)",
                memory.build,
                memory.after_start_kib as f64 / 1024.0,
                memory.after_rounds_kib as f64 / 1024.0,
                options.rounds,
                memory.served
            );
        }
    }
}

/// Each ratio against its goal: the worst round's, and the mean's.
fn render_ratios(out: &mut String, report: &Report) {
    use Profile::{Latency, NoLatency};
    let _ = writeln!(
        out,
        "\n{:<52} {:>11} {:>6}   goal",
        "ratio", "worst round", "mean"
    );
    let mut ratio = |name: &str, top: Option<&[Round]>, bottom: Option<f64>, goal: &str| {
        let (Some(top), Some(bottom)) = (top, bottom) else {
            return;
        };
        let worst = top
            .iter()
            .map(|r| r.requests_per_sec / bottom)
            .fold(f64::INFINITY, f64::min);
        let _ = writeln!(
            out,
            "{name:<52} {worst:>11.2} {:>6.2}   {goal}",
            mean(top) / bottom
        );
    };
    let fixed_latency = report.build("fixed", Latency);
    let alone = report.rounds(&Subject::BalanceAlone, Some(Latency));
    let health = report
        .rows
        .iter()
        .find(|row| matches!(row.subject, Subject::Health { .. }))
        .map(|row| row.rounds.as_slice());
    let limit = Some(report.limit);
    ratio(
        "fixed / limit, with latency",
        fixed_latency,
        limit,
        ">= 0.95 every round",
    );
    ratio(
        "balance service alone / limit",
        alone,
        limit,
        "(the stub's own overhead)",
    );
    ratio(
        "fixed / balance service alone",
        fixed_latency,
        alone.map(mean),
        "(what is reachable)",
    );
    ratio(
        "fixed / buggy, with latency",
        fixed_latency,
        report.build("buggy", Latency).map(mean),
        ">= 0.95",
    );
    ratio(
        "fixed / buggy, no latency",
        report.build("fixed", NoLatency),
        report.build("buggy", NoLatency).map(mean),
        ">= 0.95",
    );
    ratio(
        "fixed / GET /health, no latency",
        report.build("fixed", NoLatency),
        health.map(mean),
        ">= 0.30",
    );
    for profile in Profile::ALL {
        let memory = report.rounds(&Subject::MemoryOneProcess, Some(profile));
        for row in &report.rows {
            if let Subject::Replicas { count } = row.subject
                && row.profile == Some(profile)
            {
                ratio(
                    &format!(
                        "postgres {count} behind nginx / memory 1, {}",
                        profile.label()
                    ),
                    Some(&row.rounds),
                    memory.map(mean),
                    "(measured, no goal)",
                );
            }
        }
    }
    if let Some(rounds) = fixed_latency {
        let worst = rounds.iter().map(|r| r.p99).max().unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<52} {:>11}            <= 55 ms",
            "fixed p99, with latency",
            millis(worst)
        );
    }
}

/// How long the harness and the builds took, and HEAD's cold builds against the baseline's.
fn render_timings(out: &mut String, timings: &[Timing]) {
    if timings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nharness");
    for timing in timings {
        let _ = writeln!(
            out,
            "{:<64} {:>7.1} s",
            timing.what.to_string(),
            timing.took.as_secs_f64()
        );
    }
    for head in timings {
        let (step, baseline) = match &head.what {
            Timed::ExportBuild { rev } if rev == "HEAD" => (
                "export, cargo build && cargo test --no-run, cold",
                timings
                    .iter()
                    .find(|t| matches!(&t.what, Timed::ExportBuild { rev } if rev != "HEAD")),
            ),
            Timed::ReleaseBuild { rev } if rev == "HEAD" => (
                "fresh clone, cargo build --release, cold",
                timings
                    .iter()
                    .find(|t| matches!(&t.what, Timed::ReleaseBuild { rev } if rev != "HEAD")),
            ),
            _ => continue,
        };
        if let Some(before) = baseline {
            let rev = match &before.what {
                Timed::ExportBuild { rev } | Timed::ReleaseBuild { rev } => rev.as_str(),
                _ => "",
            };
            let _ = writeln!(
                out,
                "HEAD / {rev}, {step}: {:.2} (goal <= 0.70)",
                head.took.as_secs_f64() / before.took.as_secs_f64()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rounds(requests_per_sec: f64) -> Vec<Round> {
        vec![Round {
            requests_per_sec,
            p50: Duration::from_millis(30),
            p99: Duration::from_millis(50),
            errors: 0,
        }]
    }

    /// Ratios are taken between the rows they name, whatever order the rows came in.
    #[test]
    fn ratios_are_found_by_what_was_measured() {
        let row = |subject, profile, rps| Row {
            subject,
            profile,
            rounds: rounds(rps),
        };
        let build = |name: &str| Subject::Build { build: name.into() };
        let report = Report {
            rows: vec![
                row(build("fixed"), Some(Profile::NoLatency), 3000.0),
                row(build("buggy"), Some(Profile::NoLatency), 4000.0),
                row(
                    Subject::Health {
                        build: "fixed".into(),
                    },
                    None,
                    20000.0,
                ),
                row(
                    Subject::Replicas { count: 3 },
                    Some(Profile::Latency),
                    900.0,
                ),
                row(Subject::MemoryOneProcess, Some(Profile::Latency), 1800.0),
            ],
            memory: Vec::new(),
            limit: 8533.0,
        };
        let options = Options {
            duration: Duration::from_secs(1),
            connections: 256,
            threads: 2,
            rounds: 1,
        };
        let text = render(&report, &options, &[]);
        for line in [
            "fixed / buggy, no latency",
            "fixed / GET /health, no latency",
            "postgres 3 behind nginx / memory 1, latency 10-50 ms",
        ] {
            assert!(text.contains(line), "no {line:?} in:\n{text}");
        }
        assert!(
            text.contains("0.75   >= 0.95"),
            "fixed/buggy is 0.75:\n{text}"
        );
        assert!(
            text.contains("0.50   (measured"),
            "postgres/memory is 0.50:\n{text}"
        );
    }

    #[test]
    fn cold_builds_are_compared_with_the_baseline() {
        let timing = |what, secs| Timing {
            what,
            took: Duration::from_secs(secs),
        };
        let text = render(
            &Report::default(),
            &Options {
                duration: Duration::from_secs(1),
                connections: 1,
                threads: 1,
                rounds: 1,
            },
            &[
                timing(
                    Timed::ExportBuild {
                        rev: "e2f4745".into(),
                    },
                    100,
                ),
                timing(Timed::ExportBuild { rev: "HEAD".into() }, 75),
            ],
        );
        assert!(
            text.contains("HEAD / e2f4745, export, cargo build && cargo test --no-run, cold: 0.75"),
            "{text}"
        );
    }
}

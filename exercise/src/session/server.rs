//! `session open ID`: the session's page, served on 127.0.0.1, and the grader watching the
//! candidate's repository behind it.
//!
//! The page (`page.html`, built into the binary: nothing is fetched from the network) asks
//! `GET /api/state` every second and sends what the interviewer does to `POST /api/event`.
//! An event is checked, written to the session's log and synced before the answer, which
//! carries the new state: what the page shows is on disk.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, State as Shared};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::live::{self, Live, Source};
use super::score::{Level, RowKey};
use super::state::State;
use super::store::{Event, Store, now_ms};
use crate::Project;
use crate::manifest::{self, Bug};

/// The page, with its style and script.
const PAGE: &str = include_str!("page.html");

/// Serves the session's page and grades each new commit of the candidate's.
#[derive(Debug, clap::Args)]
pub struct OpenArgs {
    /// The session's id (its folder's name under sessions/).
    id: String,
    /// Where to serve the page (a port of 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: SocketAddr,
    /// The candidate's repository, when it is not the session's own: a path, or a git URL
    /// fetched every few seconds.
    #[arg(long)]
    repo: Option<String>,
    /// Do not watch for commits (the page only).
    #[arg(long)]
    no_watch: bool,
}

/// What every request shares.
struct App {
    project: Project,
    store: Store,
    bugs: Vec<Bug>,
    live: Arc<Mutex<Live>>,
    /// One event written at a time.
    writing: Mutex<()>,
}

impl OpenArgs {
    pub fn run(self, project: &Project, sessions: &std::path::Path) -> Result<ExitCode> {
        let store = super::find(sessions, &self.id)?;
        let state = State::load(&store)?;
        let all = project.bugs()?;
        // In the brief's order, as the hour takes them.
        let mut bugs: Vec<Bug> = manifest::choose(&all, &state.setup.bugs)?
            .into_iter()
            .cloned()
            .collect();
        bugs.sort_by_key(|bug| bug.brief.position);
        let app = Arc::new(App {
            project: Project {
                root: project.root.clone(),
            },
            store: store.clone(),
            bugs,
            live: Arc::new(Mutex::new(Live::default())),
            writing: Mutex::new(()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = (!self.no_watch).then(|| {
            let (app, stop) = (app.clone(), stop.clone());
            let source = Source::of(&app.store, &state.setup, self.repo.as_deref());
            std::thread::spawn(move || {
                live::watch(&app.project, &app.store, &source, &app.live, &stop);
            })
        });
        let served = crate::runtime()?.block_on(serve(app, self.addr));
        stop.store(true, Ordering::Relaxed);
        if let Some(watcher) = watcher {
            eprintln!("==> waiting for the grade under way to finish");
            let _ = watcher.join();
        }
        served?;
        Ok(ExitCode::SUCCESS)
    }
}

/// The page's routes.
fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/state", get(state))
        .route("/api/event", post(event))
        .route("/files/{*path}", get(file))
        .with_state(app)
}

async fn serve(app: Arc<App>, addr: SocketAddr) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("listen on {addr} (another session open? try --addr 127.0.0.1:0)")
    })?;
    let url = format!("http://{}/", listener.local_addr()?);
    println!("session page: {url}");
    eprintln!("(Ctrl-C stops the page; the session stays as it is, to be opened again)");
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serve the session page")
}

/// An error as the page shows it: `{"detail": "..."}`.
fn refused(status: StatusCode, error: anyhow::Error) -> Response {
    (status, Json(json!({"detail": format!("{error:#}")}))).into_response()
}

async fn state(Shared(app): Shared<Arc<App>>) -> Response {
    match view(&app) {
        Ok(view) => Json(view).into_response(),
        Err(error) => refused(StatusCode::INTERNAL_SERVER_ERROR, error),
    }
}

/// What the interviewer did.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Start,
    Hint { bug: String },
    Notes { text: String },
    Score { row: RowKey, level: Option<Level> },
    Reached { bug: String, reached: bool },
    End,
}

async fn event(Shared(app): Shared<Arc<App>>, body: axum::body::Bytes) -> Response {
    let request: Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return refused(
                StatusCode::BAD_REQUEST,
                anyhow::anyhow!("not an event this page sends: {error}"),
            );
        }
    };
    let written = (|| -> Result<(), (StatusCode, anyhow::Error)> {
        let _one = app
            .writing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = State::load(&app.store).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
        let bugs: Vec<&Bug> = app.bugs.iter().collect();
        let event = match request {
            Request::Start => Event::Started,
            Request::Hint { bug } => {
                let rung = state.hints.get(&bug).map_or(0, Vec::len) + 1;
                Event::Hint { bug, rung }
            }
            Request::Notes { text } => Event::Notes { text },
            Request::Score { row, level } => Event::Score { row, level },
            Request::Reached { bug, reached } => Event::Reached { bug, reached },
            Request::End => Event::Ended {
                outcome: state.decision(&bugs).outcome.label().to_owned(),
                left_ms: None,
            },
        };
        state
            .check(&event, &bugs)
            .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e))?;
        let ended = matches!(event, Event::Ended { .. });
        app.store
            .append(event)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
        if ended {
            super::report::write(&app.project, &app.store)
                .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
        }
        Ok(())
    })();
    match written {
        Ok(()) => state(Shared(app)).await,
        Err((status, error)) => refused(status, error),
    }
}

/// A file of the session's: its report, or a graded commit's scorecard.
async fn file(Shared(app): Shared<Arc<App>>, UrlPath(path): UrlPath<String>) -> Response {
    let allowed = match path.split_once('/') {
        None => matches!(path.as_str(), "report.md" | "report.html"),
        Some(("graded", name)) => {
            name.ends_with(".txt")
                && name
                    .trim_end_matches(".txt")
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == '-')
        }
        Some(_) => false,
    };
    let full: PathBuf = app.store.dir.join(&path);
    match (allowed, std::fs::read(&full)) {
        (true, Ok(bytes)) => {
            let kind = if path.ends_with(".html") {
                "text/html; charset=utf-8"
            } else {
                "text/plain; charset=utf-8"
            };
            ([(header::CONTENT_TYPE, kind)], bytes).into_response()
        }
        _ => refused(
            StatusCode::NOT_FOUND,
            anyhow::anyhow!("no file {path} in this session"),
        ),
    }
}

/// A bug as its card shows it.
#[derive(Debug, Serialize)]
struct Card<'a> {
    id: &'a str,
    title: &'a str,
    tier: &'static str,
    minutes: u32,
    symptom: &'a str,
    sees: &'a str,
    cause: &'a str,
    interleaving: &'a str,
    fix: &'a str,
    alternatives: &'a [String],
    follow_ups: &'a [String],
    hints: Vec<HintRung<'a>>,
    wrong_fixes: Vec<WrongFixCard<'a>>,
    gaps: Vec<GapCard<'a>>,
}

/// A rung of a card's hint ladder.
#[derive(Debug, Serialize)]
struct HintRung<'a> {
    when: &'a str,
    lowers: &'static str,
    say: &'a str,
}

/// A wrong fix on a card, and what to ask.
#[derive(Debug, Serialize)]
struct WrongFixCard<'a> {
    fix: &'a str,
    verdict: &'static str,
    ask: &'a str,
}

/// A gap on a card: its checks, and what to ask.
#[derive(Debug, Serialize)]
struct GapCard<'a> {
    ask: &'a str,
    checks: &'a [String],
}

fn card(bug: &Bug) -> Card<'_> {
    Card {
        id: &bug.id,
        title: &bug.title,
        tier: bug.tier.label(),
        minutes: bug.minutes,
        symptom: bug.symptom.trim(),
        sees: bug.sees.trim(),
        cause: bug.cause.trim(),
        interleaving: bug.interleaving.trim_matches('\n'),
        fix: bug.fix.trim(),
        alternatives: &bug.alternatives,
        follow_ups: &bug.follow_ups,
        hints: bug
            .hints
            .iter()
            .map(|h| HintRung {
                when: &h.when,
                lowers: h.lowers.label(),
                say: &h.say,
            })
            .collect(),
        wrong_fixes: bug
            .wrong_fixes
            .iter()
            .map(|w| WrongFixCard {
                fix: &w.fix,
                verdict: w.verdict.label(),
                ask: &w.ask,
            })
            .collect(),
        gaps: bug
            .gaps
            .iter()
            .map(|g| GapCard {
                ask: &g.ask,
                checks: &g.checks,
            })
            .collect(),
    }
}

/// The hour's checkpoints for these bugs: introductions, orientation, each bug for its
/// minutes in the brief's order, the production questions.
pub fn checkpoints(bugs: &[&Bug]) -> Vec<(u32, u32, String)> {
    let mut in_order = bugs.to_vec();
    in_order.sort_by_key(|bug| bug.brief.position);
    let mut points = vec![
        (
            0,
            5,
            "introductions; the candidate reads the README".to_owned(),
        ),
        (
            5,
            15,
            "orientation: running the service and the tests".to_owned(),
        ),
    ];
    let mut at = 15;
    for bug in in_order {
        points.push((
            at,
            at + bug.minutes,
            format!("{}: cause, fix, verify", bug.brief.title),
        ));
        at += bug.minutes;
    }
    points.push((
        at,
        at.max(50) + 10,
        "production questions; the candidate's questions".into(),
    ));
    points
}

/// Everything the page shows: the one shape `page.html` reads (its fields' names are the
/// page's contract; `the_page_view_keeps_its_shape` pins them).
#[derive(Debug, Serialize)]
struct PageView<'a> {
    setup: &'a super::store::Setup,
    started: bool,
    clock: Option<String>,
    elapsed_ms: Option<u64>,
    /// (from minute, to minute, what happens then).
    checkpoints: Vec<(u32, u32, String)>,
    bugs: Vec<Card<'a>>,
    /// The rungs given so far, by bug.
    hints: BTreeMap<&'a str, Vec<HintGiven>>,
    notes: &'a str,
    scores: Vec<ScoreGiven<'a>>,
    unreached: &'a BTreeSet<String>,
    timeline: Vec<GradedView<'a>>,
    live: Live,
    decision: super::score::Decision,
    ended: Option<EndedView<'a>>,
}

/// A hint given: its rung, and when on the session's clock.
#[derive(Debug, Serialize)]
struct HintGiven {
    rung: usize,
    at: String,
}

/// A row of the score sheet the interviewer set.
#[derive(Debug, Serialize)]
struct ScoreGiven<'a> {
    row: &'a RowKey,
    level: Level,
}

/// A graded commit on the timeline.
#[derive(Debug, Serialize)]
struct GradedView<'a> {
    at: String,
    committed: Option<String>,
    commit: &'a str,
    subject: &'a str,
    verdicts: Vec<VerdictView<'a>>,
    scorecard: &'a Option<String>,
    failed: &'a Option<String>,
}

/// A bug's verdict, as the scorecard writes it (`FIXED WITH GAPS`).
#[derive(Debug, Serialize)]
struct VerdictView<'a> {
    bug: &'a str,
    verdict: &'static str,
}

/// When the candidate left, and the decision.
#[derive(Debug, Serialize)]
struct EndedView<'a> {
    at: String,
    outcome: &'a str,
}

impl<'a> PageView<'a> {
    fn of(state: &'a State, bugs: &[&'a Bug], live: Live, now: u64) -> PageView<'a> {
        PageView {
            setup: &state.setup,
            started: state.started_ms.is_some(),
            clock: state.started_ms.map(|_| state.clock(now)),
            elapsed_ms: state.started_ms.map(|s| now.saturating_sub(s)),
            checkpoints: checkpoints(bugs),
            bugs: bugs.iter().map(|b| card(b)).collect(),
            hints: state
                .hints
                .iter()
                .map(|(bug, given)| {
                    let given = given
                        .iter()
                        .map(|h| HintGiven {
                            rung: h.rung,
                            at: state.clock(h.at_ms),
                        })
                        .collect();
                    (bug.as_str(), given)
                })
                .collect(),
            notes: &state.notes,
            scores: state
                .scores
                .iter()
                .map(|(row, level)| ScoreGiven { row, level: *level })
                .collect(),
            unreached: &state.unreached,
            timeline: state
                .graded
                .iter()
                .map(|g| GradedView {
                    at: super::report::graded_when(state, g),
                    committed: g.committed_ms.map(|ms| state.clock(ms)),
                    commit: &g.commit,
                    subject: &g.subject,
                    verdicts: g
                        .verdicts
                        .iter()
                        .map(|(bug, verdict)| VerdictView {
                            bug,
                            verdict: verdict.label(),
                        })
                        .collect(),
                    scorecard: &g.scorecard,
                    failed: &g.failed,
                })
                .collect(),
            live,
            decision: state.decision(bugs),
            ended: state.ended.as_ref().map(|(at, outcome)| EndedView {
                at: state.clock(*at),
                outcome,
            }),
        }
    }
}

/// Everything the page shows, now.
fn view(app: &App) -> Result<Value> {
    let state = State::load(&app.store)?;
    let bugs: Vec<&Bug> = app.bugs.iter().collect();
    let live = app
        .live
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    Ok(serde_json::to_value(PageView::of(
        &state,
        &bugs,
        live,
        now_ms(),
    ))?)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::Verdict;
    use crate::session::state::{GivenHint, GradedCommit};

    /// A value's shape: each string, number and bool by its kind, each array by its first
    /// element, each object by its keys. What the page reads, without what changes with the
    /// bugs' texts or the clock.
    fn shape(value: &Value) -> Value {
        match value {
            Value::Null => json!("null"),
            Value::Bool(_) => json!("bool"),
            Value::Number(_) => json!("number"),
            Value::String(_) => json!("string"),
            Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(key, value)| (key.clone(), shape(value)))
                    .collect(),
            ),
        }
    }

    /// The page reads `GET /api/state` by these names: a field renamed or moved in
    /// `PageView` (or anything it holds) changes this snapshot, and `page.html` must follow.
    /// Every list and optional field is filled, so that each shows its shape.
    #[test]
    fn the_page_view_keeps_its_shape() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let all = manifest::load(&root).unwrap();
        let bugs: Vec<&Bug> = all.iter().filter(|b| b.id == "lost-update").collect();
        let started = 1_796_083_200_000;
        let state = State {
            setup: crate::session::store::tests::setup(Path::new("/sessions/s")),
            started_ms: Some(started),
            hints: [(
                "lost-update".to_owned(),
                vec![GivenHint {
                    at_ms: started + 600_000,
                    rung: 1,
                }],
            )]
            .into(),
            notes: "reads the test first".into(),
            scores: [(RowKey::Verifying, Level::Solid)].into(),
            unreached: ["double-charge".to_owned()].into(),
            graded: vec![GradedCommit {
                first_at_ms: started + 900_000,
                at_ms: started + 900_000,
                grades: 1,
                harness: "def".into(),
                committed_ms: Some(started + 890_000),
                after_hand_over: Some(1),
                commit: "0123abc".into(),
                subject: "Count each sale once".into(),
                verdicts: vec![("lost-update".into(), Verdict::Fixed)],
                scorecard: Some("grades/0123abc.txt".into()),
                failed: Some("never, here".into()),
            }],
            ended: Some((started + 3_000_000, "hire".into())),
            closed_ms: Some(started + 3_000_000),
        };
        let live = Live {
            commit: Some("4567def".into()),
            subject: "Retry with a key".into(),
            started_ms: started + 1_000_000,
            step: "black-box checks".into(),
            checks: vec![("lost-update".into(), "stats_match".into(), "ok".into())],
            verdicts: vec![("lost-update".into(), "FIXED")],
            trouble: Some("none".into()),
        };
        let view = PageView::of(&state, &bugs, live, started + 1_200_000);
        insta::assert_json_snapshot!(shape(&serde_json::to_value(&view).unwrap()));
    }
}

//! The session page in a real browser: Debian's Chromium, driven by chromedriver over
//! WebDriver. A session is set up on a fresh export; the interviewer starts the clock, gives a
//! hint and types notes; a corpus fix is committed into the candidate's repository and its
//! verdict appears on the page; the session is ended and the report read; the page's server
//! is killed and the page opened again, showing everything it showed before.
//!
//! Run with `cargo test -p exercise --features browser-test --test session_page` (CI does,
//! after `scripts/browser-setup`). Screenshots of the page and the report are written to
//! `target/session-page/`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

/// The exercise's repository.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The harness, on this repository, keeping its sessions in `sessions`.
fn exercise(sessions: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_exercise"));
    command
        .arg("--root")
        .arg(root())
        .arg("session")
        .arg("--sessions")
        .arg(sessions);
    command
}

/// A child killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` and reads its stdout until a line contains `marker`; returns the child
/// and what followed the marker on that line.
fn start_until(mut command: Command, marker: &str, what: &str) -> (Running, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = child.stdout.take().expect("a piped stdout");
    let running = Running(child);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_default();
        if let Some((_, rest)) = line.split_once(marker) {
            return (running, rest.trim().trim_end_matches('.').to_owned());
        }
    }
    panic!("{what} ended without printing {marker:?}");
}

/// Opens the session's page server on a free port; returns it and the page's URL.
fn open(sessions: &Path, id: &str) -> (Running, String) {
    let mut command = exercise(sessions);
    command.args(["open", id, "--addr", "127.0.0.1:0"]);
    start_until(command, "session page:", "session open")
}

/// Waits, at most `limit`, until `check` gives `Some`, looking every quarter second.
async fn until<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            started.elapsed() < limit,
            "waited {limit:?} for {what}, in vain"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The text of the element at `css`, or `None` when there is none.
async fn text(client: &Client, css: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

async fn screenshot(client: &Client, name: &str) {
    let dir = root().join("target/session-page");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(name), png).unwrap();
}

/// A headless Chromium, through chromedriver on a port of its choosing.
async fn browser() -> (Running, Client) {
    let mut command = Command::new("chromedriver");
    command.arg("--port=0");
    let (driver, port) = start_until(command, "started successfully on port", "chromedriver");
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            // Without the background-networking flags Chromium keeps trying hosts this
            // machine cannot reach.
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--window-size=1400,2000"],
        }
    });
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with Chromium");
    (driver, client)
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} in {}", dir.display());
}

/// Commits in `dir` as the candidate, with `flags` (`-qam`) and `message`.
fn commit(dir: &Path, flags: &str, message: &str) {
    git(
        dir,
        &[
            "-c",
            "user.name=Page Test",
            "-c",
            "user.email=t@localhost",
            "commit",
            flags,
            message,
        ],
    );
}

/// How many commits the page's verdict table lists.
async fn graded_rows(client: &Client) -> usize {
    client
        .find_all(Locator::Css("#timeline tr.graded"))
        .await
        .map_or(0, |rows| rows.len())
}

/// A whole session, in the browser, and the page after a kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_runs_from_the_page_and_survives_a_kill() {
    assert!(
        Path::new("/usr/bin/chromium").exists()
            && Command::new("chromedriver")
                .arg("--version")
                .output()
                .is_ok(),
        "this test needs Debian's chromium and chromium-driver: scripts/browser-setup installs them"
    );
    assert!(
        Command::new("bwrap").arg("--version").output().is_ok(),
        "this test grades in the sandbox, bubblewrap: scripts/sandbox-setup installs it"
    );
    let scratch = tempfile::tempdir().unwrap();
    let sessions = scratch.path().join("sessions");
    let made = exercise(&sessions)
        .args([
            "new",
            "--candidate",
            "Page Test",
            "--no-warm",
            "--seeds",
            "1",
        ])
        .output()
        .expect("session new runs");
    assert!(
        made.status.success(),
        "session new failed: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let said = String::from_utf8_lossy(&made.stdout).into_owned();
    let id = said
        .split_whitespace()
        .skip_while(|word| *word != "Session")
        .nth(1)
        .unwrap_or_else(|| panic!("session new did not name the session:\n{said}"))
        .to_owned();
    let candidate = sessions.join(&id).join("candidate");

    let (server, url) = open(&sessions, &id);
    let (_driver, client) = browser().await;
    client.goto(&url).await.unwrap();
    until(Duration::from_secs(10), "the page to load", || async {
        text(&client, "#title")
            .await
            .filter(|t| t.contains("Page Test"))
    })
    .await;

    client
        .find(Locator::Css("#start"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(Duration::from_secs(10), "the clock to start", || async {
        text(&client, "#clock").await.filter(|t| t.contains(':'))
    })
    .await;
    // The cards are drawn again when a grade comes in; a button found just before that is
    // gone, so the click is tried again on the new one.
    until(
        Duration::from_secs(10),
        "the hint button to click",
        || async {
            let button = client
                .find(Locator::Css("button[data-hint='lost-update']"))
                .await
                .ok()?;
            button.click().await.ok()
        },
    )
    .await;
    until(
        Duration::from_secs(10),
        "the hint to show as given",
        || async {
            text(&client, "#bug-lost-update .hint.given")
                .await
                .filter(|t| t.contains("given at"))
        },
    )
    .await;
    let notes = client.find(Locator::Css("#notes")).await.unwrap();
    notes
        .send_keys("Ran the tests before reading code.")
        .await
        .unwrap();
    until(Duration::from_secs(10), "the notes to be saved", || async {
        text(&client, "#saved").await.filter(|t| t == "notes saved")
    })
    .await;

    // The hand-over is graded first; then the candidate commits a fix.
    until(
        Duration::from_secs(900),
        "the hand-over's verdicts",
        || async { (graded_rows(&client).await >= 1).then_some(()) },
    )
    .await;
    let fix = root().join("variants/double-charge/corpus/typical/fix.diff");
    git(
        &candidate,
        &["apply", "--whitespace=nowarn", &fix.display().to_string()],
    );
    commit(&candidate, "-qam", "Fix both");
    // A second commit at once: whichever the page sees first, both are graded, and the
    // timeline lists them in the order they were made.
    std::fs::write(candidate.join("NOTES.md"), "Both reports fixed.\n").unwrap();
    git(&candidate, &["add", "NOTES.md"]);
    commit(&candidate, "-qm", "Say what was fixed");
    until(
        Duration::from_secs(900),
        "both commits' verdicts on the page",
        || async { (graded_rows(&client).await >= 3).then_some(()) },
    )
    .await;
    let mut rows = Vec::new();
    for row in client
        .find_all(Locator::Css("#timeline tr.graded"))
        .await
        .unwrap()
    {
        rows.push(row.text().await.unwrap_or_default());
    }
    assert!(
        rows.len() == 3
            && rows[0].contains("Say what was fixed")
            && rows[1].contains("Fix both")
            && rows[..2]
                .iter()
                .all(|row| row.contains("FIXED WITH GAPS") && !row.contains("NOT FIXED")),
        "newest first, both with the typical fix's verdicts (both fixed with gaps): {rows:#?}"
    );
    let card = text(&client, "#bug-lost-update h2")
        .await
        .unwrap_or_default();
    assert!(
        card.contains("FIXED WITH GAPS"),
        "the card shows the newest verdict: {card}"
    );
    screenshot(&client, "page.png").await;

    for (row, level) in [
        (
            r#"{"bug":{"bug":"lost-update","row":"reproducing"}}"#,
            "strong",
        ),
        (
            r#"{"bug":{"bug":"lost-update","row":"reasoning"}}"#,
            "solid",
        ),
        (
            r#"{"bug":{"bug":"double-charge","row":"reproducing"}}"#,
            "solid",
        ),
        (
            r#"{"bug":{"bug":"double-charge","row":"reasoning"}}"#,
            "solid",
        ),
        (r#""verifying""#, "solid"),
        (r#""production""#, "solid"),
    ] {
        let css = format!("select[data-row='{row}']");
        client
            .find(Locator::Css(&css))
            .await
            .unwrap_or_else(|e| panic!("no score select for {row}: {e}"))
            .select_by_value(level)
            .await
            .unwrap_or_else(|e| panic!("could not score {row} {level}: {e}"));
        // Counted once the session's state says so: the page marks each select with the
        // score the server holds.
        until(Duration::from_secs(10), "the score to count", || async {
            let select = client.find(Locator::Css(&css)).await.ok()?;
            (select.attr("data-score").await.ok()??.as_str() == level).then_some(())
        })
        .await;
    }
    let outcome = until(Duration::from_secs(10), "a decision", || async {
        text(&client, "#outcome")
            .await
            .filter(|t| !t.contains("incomplete"))
    })
    .await;
    assert_eq!(
        outcome, "Decision: hire",
        "solid everywhere, a first hint, both fixed with gaps"
    );

    client
        .find(Locator::Css("#end"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.accept_alert().await.unwrap();
    until(Duration::from_secs(20), "the report's link", || async {
        client.find(Locator::Css("#report-link")).await.ok()
    })
    .await;
    let report = std::fs::read_to_string(sessions.join(&id).join("report.md")).unwrap();
    for expected in [
        "# Session: Page Test",
        "## Decision: hire",
        "| lost-update | 1 |",
        "Ran the tests before reading code.",
        "Fix both",
        "FIXED WITH GAPS",
        "files changed",
    ] {
        assert!(
            report.contains(expected),
            "the report lacks {expected:?}:\n{report}"
        );
    }
    client
        .goto(&format!("{url}files/report.html"))
        .await
        .unwrap();
    screenshot(&client, "report.png").await;

    // The ended session's minutes: one export, both bugs fixed (with gaps) by one commit.
    let measured = exercise(&sessions)
        .arg("calibration")
        .output()
        .expect("session calibration runs");
    let measured = String::from_utf8_lossy(&measured.stdout);
    for expected in [
        "# Minutes measured in 1 ended session",
        "| double-charge, lost-update | 1 | 1 |",
        "| lost-update | core, about 15 | 1 | 1 |",
    ] {
        assert!(
            measured.contains(expected),
            "session calibration lacks {expected:?}:\n{measured}"
        );
    }

    // Graded again after the end, by another process while the page still runs: the row
    // stays one, says it was graded again, and the report written again says so too.
    let fix = String::from_utf8(
        Command::new("git")
            .current_dir(&candidate)
            .args(["rev-parse", "HEAD~1"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let regraded = exercise(&sessions)
        .args(["regrade", &id, fix.trim()])
        .output()
        .expect("session regrade runs");
    let said = String::from_utf8_lossy(&regraded.stderr);
    assert!(
        regraded.status.success() && said.contains("lost-update FIXED WITH GAPS (as before)"),
        "session regrade of the fix should grade it as before:\n{said}"
    );
    let ended = exercise(&sessions)
        .args(["end", &id])
        .output()
        .expect("session end runs");
    assert!(ended.status.success());
    let report = std::fs::read_to_string(sessions.join(&id).join("report.md")).unwrap();
    assert!(
        report.contains("## Decision: hire") && report.contains("; again "),
        "the report written again keeps the decision and shows the grade again:\n{report}"
    );

    let listed = exercise(&sessions)
        .arg("list")
        .output()
        .expect("session list runs");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("| graded by |") && listed.contains(&format!("| {id} | Page Test |")),
        "session list should show the session and which harness graded it:\n{listed}"
    );

    // A kill, not a stop: what the page showed must all be on disk.
    drop(server);
    let (_server, url) = open(&sessions, &id);
    client.goto(&url).await.unwrap();
    let shown = until(Duration::from_secs(10), "the reopened page", || async {
        let hint = text(&client, "#bug-lost-update .hint.given").await?;
        let notes = client
            .find(Locator::Css("#notes"))
            .await
            .ok()?
            .prop("value")
            .await
            .ok()??;
        let ended = text(&client, "#report").await?;
        (!notes.is_empty() && !ended.is_empty()).then_some((hint, notes, ended))
    })
    .await;
    assert!(shown.0.contains("given at"), "the hint: {}", shown.0);
    assert_eq!(shown.1, "Ran the tests before reading code.");
    assert!(
        shown.2.contains("Ended at") && shown.2.contains("hire"),
        "{}",
        shown.2
    );
    assert_eq!(
        graded_rows(&client).await,
        3,
        "the three graded commits are listed again, each once"
    );
    client.close().await.unwrap();
}

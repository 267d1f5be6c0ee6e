//! What more than one bug's checks use.

use std::time::Duration;

use scenarios::services::{Setup, TestApp, poll};
use serde_json::{Value, json};

/// A check that cannot judge what it is for: its workload did not get as far as the
/// symptom (orders refused for another reason, say). Raised with [`inconclusive`]; the
/// scorecard counts it for nothing, and says why.
#[derive(Debug, Clone)]
pub struct Inconclusive(pub String);

/// Ends the check as inconclusive, saying why.
pub fn inconclusive(why: String) -> ! {
    std::panic::panic_any(Inconclusive(why))
}

/// Seeded 0-2 ms latency and 64 processing slots: quick, so many requests overlap.
pub fn quick_balance_setup() -> Setup {
    Setup {
        faults: "none,seed=11,latency=0..2"
            .parse()
            .expect("the quick profile parses"),
        concurrency: 64,
        ..Setup::default()
    }
}

/// Sends `orders` as one `POST /orders/batch`, which must succeed: its JSON answer.
pub async fn post_batch(app: &TestApp, orders: Vec<Value>) -> Value {
    let (status, answers) = app
        .post("/orders/batch", &json!({ "orders": orders }))
        .await;
    assert!(
        status.is_success(),
        "POST /orders/batch answered {status}: {answers}"
    );
    answers
}

/// Stops the service as a deploy does (SIGTERM): whether it has exited within `limit`.
/// Inconclusive when it cannot be signalled.
pub async fn stop_within(app: &TestApp, limit: Duration) -> bool {
    if app.pid == 0 || app.pid == std::process::id() {
        inconclusive("the order service is not a process of its own to stop".into());
    }
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &app.pid.to_string()])
        .status();
    if !signalled.is_ok_and(|s| s.success()) {
        inconclusive(format!(
            "could not send SIGTERM to the order service ({})",
            app.pid
        ));
    }
    poll(limit, Duration::from_millis(10), || async {
        (!alive(app.pid)).then_some(())
    })
    .await
    .is_some()
}

/// Whether process `pid` is still running (not gone, and not a zombie waiting to be reaped).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_owned();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

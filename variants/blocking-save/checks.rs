//! How `exercise grade` judges a fix of blocking-save: `/health` during a slow save on one
//! worker thread (the public scenario, run on the candidate's binary with
//! `TOKIO_WORKER_THREADS=1`), and whether a sale still reaches the stats file, at once or
//! eventually. Compiled into the harness (`exercise/src/catalog/mod.rs`); never exported.

use std::sync::Arc;
use std::time::Duration;

use scenarios::disk::SlowDisk;
use scenarios::reported::{self, HealthDuringSlowSave, SLOW_DISK};
use scenarios::services::{Setup, TestApp, poll};

use crate::catalog::support::inconclusive;
use crate::catalog::{Checks, Role};

pub const NOT_SAVED: &str =
    "the day's totals are no longer saved: a restart starts the day from zero";
pub const SAVED_LATER: &str =
    "a sale is answered before the stats file holds it: a crash at that moment loses it";

pub fn checks() -> Checks {
    use Role::*;
    Checks {
        scenarios: vec![
            scenario!(
                Symptom,
                public,
                reported::one_cpu_setup,
                health_answers_while_the_disk_is_slow
            ),
            scenario!(
                Guard(NOT_SAVED),
                held_back,
                Setup::default,
                a_sale_reaches_the_stats_file
            ),
            scenario!(
                Robustness(SAVED_LATER),
                held_back,
                Setup::default,
                a_sale_is_in_the_stats_file_when_it_is_answered
            ),
        ],
        white_box: Vec::new(),
    }
}

/// The public scenario, with "no save began" (a fix that names its files otherwise, say)
/// inconclusive rather than a failure.
pub async fn health_answers_while_the_disk_is_slow(app: Arc<TestApp>) {
    match reported::health_during_a_slow_save(&app).await {
        HealthDuringSlowSave::Answered(_) => {}
        HealthDuringSlowSave::AnsweredAfterTheDisk(took) => panic!(
            "GET /health answered after {took:.1?}, only once the slow disk came back (after \
             {SLOW_DISK:?}), with one worker thread (TOKIO_WORKER_THREADS=1)"
        ),
        HealthDuringSlowSave::NoSave => inconclusive(format!(
            "no save of the stats file began within {SLOW_DISK:?} of an order (held up: the \
             first save's temporary file, {}.0.tmp), so a slow disk could not be staged",
            app.stats_file
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )),
    }
}

/// The order count the stats file holds now, if it holds saved totals.
fn saved_orders(app: &TestApp) -> Option<u64> {
    let path = app.stats_file.as_deref()?;
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    saved["order_count"].as_u64()
}

/// Two sales: within 5 s the stats file holds both.
pub async fn a_sale_reaches_the_stats_file(app: Arc<TestApp>) {
    app.order(1, 1, 10.0).await;
    app.order(2, 2, 10.0).await;
    let both = poll(
        Duration::from_secs(5),
        Duration::from_millis(20),
        || async { saved_orders(&app).filter(|&n| n >= 2) },
    )
    .await;
    assert!(
        both.is_some(),
        "two orders were answered ok, and 5 s later the stats file holds {} order(s)",
        saved_orders(&app).map_or("no saved totals: no".to_owned(), |n| n.to_string())
    );
}

/// A sale's order is not answered while the save of its totals hangs on a slow disk: the
/// answer waits until the totals are on disk (held up 2 s here, then let through).
pub async fn a_sale_is_in_the_stats_file_when_it_is_answered(app: Arc<TestApp>) {
    let stats_file = app.stats_file.clone().expect("the stats file is known");
    let disk = SlowDisk::hold(&stats_file, app.pid, 0);
    let (answered, done) = std::sync::mpsc::channel();
    let order = {
        let app = app.clone();
        tokio::spawn(async move {
            let response = app.order(1, 1, 10.0).await;
            let _ = answered.send(());
            response
        })
    };
    let (disk, saving) = disk.until_saving(SLOW_DISK).await;
    if !saving {
        disk.discard();
        order.abort();
        inconclusive(format!(
            "no save of the stats file began within {SLOW_DISK:?} of an order"
        ));
    }
    let released = disk.release_when(done, Duration::from_secs(2));
    let held = tokio::task::spawn_blocking(move || released.join().unwrap_or(true))
        .await
        .unwrap_or(true);
    let response = order.await.expect("the order is answered");
    assert!(
        held,
        "order 1 was answered {:?} while the save of its totals was still waiting on the \
         disk",
        response.status
    );
}

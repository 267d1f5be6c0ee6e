//! How `exercise grade` judges a fix of blocking-save.
//!
//! The disk can hang at any file-system call of a save, not only where the public test holds
//! it (opening the temporary file): a write, an fsync, the rename, the folder's fsync. The
//! held-back checks put the stats file on a slow disk the check controls
//! (`crate::catalog::disk`: a shim preloaded into the candidate's service) and hold each call
//! in turn, on one worker thread as on a one-CPU replica: `GET /health` must answer while
//! any of them hangs. Then what a fix can break while moving the work off the runtime:
//!
//! - the file no longer saved at all (guard);
//! - saves that no longer wait for each other, so an older save lands after a newer one and
//!   the file goes back to older totals (guard);
//! - a thread left stuck in the disk for every sale while it hangs, without bound (guard);
//! - the file written in place, or renamed before its write is done, so a reader (or a
//!   restart after a crash) finds it empty or torn (guard);
//! - sales saved on a timer after their answers, and a graceful stop (a deploy) that does not
//!   save them, so the file misses the last interval's sales after every deploy (guard);
//! - a graceful stop that cuts off the save under way (a gap: a deploy while the disk is slow
//!   loses the sales answered just before it);
//! - a sale answered before the file holds it while the disk answers, only slowly (a gap: a
//!   crash then loses it);
//! - orders that wait for a disk that hangs, while `/health` answers (a gap: the replica
//!   stays in rotation and its customers wait);
//! - a save not flushed to disk before it replaces the file (a gap: a power cut can empty it).
//!
//! The two guards about saves overlapping judge the file's fix only where the sales that
//! overlapped were answered while their saves waited: a save that returns before its file is
//! written is the file's doing; sales that each wait for their own save and still overlap
//! are the stats code's (lost-update's, where that bug is graded too), and say nothing here.
//!
//! Compiled into the harness (`exercise/src/catalog/mod.rs`); never exported.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use order_service::orders::OrderStatus;
use scenarios::reported::{self, HealthDuringSlowSave, SETTLE, SLOW_DISK};
use scenarios::services::{Setup, TestApp, poll};
use serde_json::json;

use crate::catalog::disk::{Call, Disk, Logged, saved_orders};
use crate::catalog::support::{inconclusive, stop_within};
use crate::catalog::{Checks, Role, Scenario};

pub const NOT_SAVED: &str =
    "the day's totals are no longer saved: a restart starts the day from zero";
pub const SAVED_LATER: &str =
    "a sale is answered before the stats file holds it: a crash at that moment loses it";
pub const OLDER_TOTALS: &str = "saves no longer wait for each other: while the disk is slow an older save lands after a newer one, and the stats file goes back to older totals";
pub const PILES_UP: &str =
    "while the disk hangs, every sale leaves one more thread stuck in a save, without bound";
pub const TORN: &str = "the stats file can be found empty or half written while a save is under way: a crash then leaves no totals to start from";
pub const LOST_AT_SHUTDOWN: &str = "sales are saved on a timer, after they are answered, and a stop (a deploy's SIGTERM) does not save them: every deploy loses the sales of the interval before it";
pub const CUT_AT_STOP: &str = "a stop (a deploy's SIGTERM) does not wait for a save under way: a deploy while the disk is slow loses the sales answered just before it";
pub const STALLS_ORDERS: &str = "while the disk hangs, orders wait for it: the replica answers its health checks, and stays in rotation, but not its customers";
pub const NOT_FLUSHED: &str = "a save is not flushed to disk before it replaces the stats file (the file before its rename, the folder after): a power cut can leave the file empty or old";

pub fn checks() -> Checks {
    use Role::*;
    let on_a_slow_disk = |scenario: Scenario| Scenario {
        disk: true,
        ..scenario
    };
    Checks {
        scenarios: vec![
            scenario!(
                Symptom,
                public,
                reported::one_cpu_setup,
                health_answers_while_the_disk_is_slow
            ),
            on_a_slow_disk(scenario!(
                Symptom,
                held_back,
                reported::one_cpu_setup,
                health_answers_whichever_call_of_a_save_hangs
            )),
            scenario!(
                Guard(NOT_SAVED),
                held_back,
                Setup::default,
                a_sale_reaches_the_stats_file
            ),
            on_a_slow_disk(scenario!(
                Guard(OLDER_TOTALS),
                held_back,
                Setup::default,
                the_stats_file_never_goes_back_to_older_totals
            )),
            on_a_slow_disk(scenario!(
                Guard(PILES_UP),
                held_back,
                Setup::default,
                a_hung_disk_does_not_pile_up_stuck_threads
            )),
            on_a_slow_disk(scenario!(
                Guard(TORN),
                held_back,
                Setup::default,
                the_stats_file_is_whole_while_a_save_is_under_way
            )),
            Scenario {
                alone: true,
                ..on_a_slow_disk(scenario!(
                    Guard(LOST_AT_SHUTDOWN),
                    held_back,
                    Setup::default,
                    sales_are_in_the_stats_file_after_a_graceful_stop
                ))
            },
            Scenario {
                alone: true,
                ..on_a_slow_disk(scenario!(
                    Robustness(CUT_AT_STOP),
                    held_back,
                    Setup::default,
                    a_stop_waits_for_the_save_under_way
                ))
            },
            Scenario {
                alone: true,
                ..on_a_slow_disk(scenario!(
                    Robustness(SAVED_LATER),
                    held_back,
                    Setup::default,
                    a_sale_is_in_the_stats_file_when_it_is_answered
                ))
            },
            on_a_slow_disk(scenario!(
                Robustness(STALLS_ORDERS),
                held_back,
                Setup::default,
                orders_are_answered_while_the_disk_hangs
            )),
            on_a_slow_disk(scenario!(
                Robustness(NOT_FLUSHED),
                held_back,
                Setup::default,
                a_save_is_flushed_before_it_replaces_the_file
            )),
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

/// The run's slow disk; inconclusive when the service was not started on one.
fn disk_of(app: &TestApp) -> Disk {
    Disk::of(app).unwrap_or_else(|| {
        inconclusive("the order service was not started on a slow disk (grade starts it so)".into())
    })
}

/// What the stats file holds: its order count, or why it holds none.
fn saved(app: &TestApp) -> Result<u64, String> {
    let path = app.stats_file.as_deref().expect("the stats file is known");
    saved_orders(path)
}

/// Waits until the stats file holds at least `count` orders and no call on it is under way;
/// what it holds then (or at the end of [`SETTLE`]).
async fn settled(app: &TestApp, disk: &Disk, count: u64) -> Result<u64, String> {
    poll(SETTLE, Duration::from_millis(10), || async {
        let holds = saved(app).ok()?;
        (holds >= count && quiet(&disk.log())).then_some(holds)
    })
    .await
    .map_or_else(|| saved(app), Ok)
}

/// Whether every call started in `log` is done.
fn quiet(log: &[Logged]) -> bool {
    let started = log.iter().filter(|l| !l.done).count();
    started == log.len() - started
}

/// Places order `id` ($10.00, customer `id % 5 + 1`) in a task: its answer, and a flag set
/// once it is answered ok.
fn place(
    app: &Arc<TestApp>,
    id: u64,
) -> (
    tokio::task::JoinHandle<Option<OrderStatus>>,
    Arc<AtomicBool>,
) {
    let answered = Arc::new(AtomicBool::new(false));
    let task = {
        let (app, answered) = (app.clone(), answered.clone());
        tokio::spawn(async move {
            let body = json!({ "id": id, "customer_id": id % 5 + 1, "amount": 10.0 });
            let (_, answer) = app.post("/orders", &body).await;
            let status: Option<OrderStatus> = serde_json::from_value(answer["status"].clone()).ok();
            answered.store(status == Some(OrderStatus::Ok), Ordering::SeqCst);
            status
        })
    };
    (task, answered)
}

/// Order 1, on a disk that does not hang, until its save is done: the calls that save made,
/// in order. Inconclusive when the order is refused or no save reaches the file.
async fn first_save(app: &Arc<TestApp>, disk: &Disk) -> Vec<Logged> {
    let before = disk.log().len();
    let first = app.order(1, 2, 10.0).await;
    if first.status != OrderStatus::Ok {
        inconclusive(format!(
            "order 1 ($10.00, customer 2) was refused: {first:?}"
        ));
    }
    if let Err(holds) = settled(app, disk, 1).await {
        inconclusive(format!(
            "{SETTLE:?} after order 1 was answered, the stats file holds {holds}: no save to \
             slow down (a sale that is never saved is another check's business)"
        ));
    }
    let calls: Vec<Logged> = disk.log().split_off(before);
    if calls.is_empty() {
        inconclusive(format!(
            "order 1's save made no file-system call in the stats file's folder ({})",
            disk.dir.display()
        ));
    }
    calls
}

/// The first kind of call a save makes: where a slow disk holds a save up from its start.
fn first_call(calls: &[Logged]) -> Call {
    calls.first().map_or(Call::Open, |line| line.call)
}

/// With one worker thread (a one-CPU replica), the disk hangs at each kind of call the save
/// of a sale makes, in turn, and `GET /health` is asked meanwhile: it answers every time.
pub async fn health_answers_whichever_call_of_a_save_hangs(app: Arc<TestApp>) {
    let disk = disk_of(&app);
    let kinds = Disk::kinds(&first_save(&app, &disk).await);
    let mut waited: Vec<(Call, Duration)> = Vec::new();
    let mut answered: Vec<Call> = Vec::new();
    let mut next = 1;
    for call in Call::ALL.into_iter().filter(|call| kinds.contains(call)) {
        next += 1;
        disk.hold(call, 1).expect("plan the slow disk");
        let (order, _) = place(&app, next);
        if !disk.until_held(1, SLOW_DISK).await {
            // This sale's save did not come to that call (a save covered by another's).
            disk.release();
            let _ = tokio::time::timeout(SETTLE, order).await;
            continue;
        }
        let asked = Instant::now();
        let health = tokio::time::timeout(
            SLOW_DISK,
            app.http.get(format!("{}/health", app.url)).send(),
        )
        .await;
        disk.release();
        match health {
            Ok(Ok(response)) if response.status().is_success() => answered.push(call),
            Ok(answer) => panic!(
                "GET /health failed while the disk hung in {}: {answer:?}",
                call.describe()
            ),
            Err(_) => waited.push((call, asked.elapsed())),
        }
        let _ = tokio::time::timeout(SETTLE, order).await;
        let _ = settled(&app, &disk, next).await;
    }
    if waited.is_empty() && answered.is_empty() {
        inconclusive("no sale's save reached a call of its own to hold".into());
    }
    let waited_for: Vec<String> = waited
        .iter()
        .map(|(call, took)| format!("{} (no answer in {took:.1?})", call.describe()))
        .collect();
    let names = |calls: &[Call]| {
        calls
            .iter()
            .map(|call| call.describe())
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert!(
        waited.is_empty(),
        "with one worker thread (TOKIO_WORKER_THREADS=1, a one-CPU replica), GET /health got \
         no answer while a sale's save hung in: {}; it answered while the save hung in: {}. \
         Each hang was held until GET /health answered or {SLOW_DISK:?} passed",
        waited_for.join(", "),
        if answered.is_empty() {
            "none".to_owned()
        } else {
            names(&answered)
        }
    );
}

/// Two sales: within 5 s the stats file holds both.
pub async fn a_sale_reaches_the_stats_file(app: Arc<TestApp>) {
    app.order(1, 1, 10.0).await;
    app.order(2, 2, 10.0).await;
    let both = poll(SETTLE, Duration::from_millis(20), || async {
        saved(&app).ok().filter(|&n| n >= 2)
    })
    .await;
    assert!(
        both.is_some(),
        "two orders were answered ok, and {SETTLE:?} later the stats file holds {}",
        match saved(&app) {
            Ok(n) => format!("{n} order(s)"),
            Err(why) => format!("no saved totals ({why})"),
        }
    );
}

/// Order 2's save is held where it starts; order 3 is placed meanwhile. However the service
/// orders its saves, once the disk is back the file must hold the newest totals (3 orders).
pub async fn the_stats_file_never_goes_back_to_older_totals(app: Arc<TestApp>) {
    let disk = disk_of(&app);
    let call = first_call(&first_save(&app, &disk).await);
    disk.hold(call, 1).expect("plan the slow disk");
    let (second, second_ok) = place(&app, 2);
    if !disk.until_held(1, SETTLE).await {
        disk.release();
        inconclusive(format!(
            "order 2's save never came to {} within {SETTLE:?}",
            call.describe()
        ));
    }
    let (third, _) = place(&app, 3);
    // A service whose saves overtake each other lands order 3's now; one that keeps them in
    // order holds it back until order 2's is done, and this waits out the limit.
    let overtaken = poll(
        Duration::from_secs(3),
        Duration::from_millis(10),
        || async { saved(&app).ok().filter(|&n| n >= 3) },
    )
    .await
    .is_some();
    let answered_while_held = second_ok.load(Ordering::SeqCst);
    disk.release();
    let _ = tokio::time::timeout(SETTLE, second).await;
    let _ = tokio::time::timeout(SETTLE, third).await;
    let holds = if overtaken {
        // The newest totals landed first: the held save, let through, must not land over
        // them. It does within moments of the release, or not at all.
        poll(Duration::from_secs(2), Duration::from_millis(5), || async {
            saved(&app).ok().filter(|&n| n < 3)
        })
        .await
        .map_or_else(|| saved(&app), Ok)
    } else {
        settled(&app, &disk, 3).await
    };
    if matches!(holds, Ok(n) if n >= 3) {
        return;
    }
    let holds = match holds {
        Ok(n) => format!("{n} order(s)"),
        Err(why) => format!("no saved totals ({why})"),
    };
    if !answered_while_held {
        inconclusive(format!(
            "the stats file holds {holds} once the disk is back, after 3 sales{}; but order 2 \
             was not answered while its save waited on the disk, so the saves overlapped in \
             the sales' own code (the stats code), not in the file's",
            if overtaken {
                " (order 3's save landed first)"
            } else {
                ""
            }
        ));
    }
    panic!(
        "order 2's save was held up on the disk ({}) and order 2 was answered ok meanwhile; \
         order 3's save {}; once the disk came back the stats file holds {holds}, where 3 \
         sales were made: the older save landed last",
        call.describe(),
        if overtaken {
            "landed while order 2's waited"
        } else {
            "was made meanwhile"
        }
    );
}

/// How many threads process `pid` has now.
fn threads(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.count())
}

/// Every save hangs where it starts while ten customers order at once, each giving up after
/// a second: the service's threads do not grow by one for each sale answered meanwhile.
pub async fn a_hung_disk_does_not_pile_up_stuck_threads(app: Arc<TestApp>) {
    const SALES: u64 = 10;
    let disk = disk_of(&app);
    let call = first_call(&first_save(&app, &disk).await);
    let Some(before) = threads(app.pid) else {
        inconclusive(format!(
            "the order service's threads cannot be read (/proc/{})",
            app.pid
        ));
    };
    disk.hold(call, 0).expect("plan the slow disk");
    let sales: Vec<_> = (2..2 + SALES)
        .map(|id| {
            let (sale, ok) = place(&app, id);
            (
                sale.abort_handle(),
                tokio::time::timeout(Duration::from_secs(1), sale),
                ok,
            )
        })
        .collect();
    let mut answered_ok = 0usize;
    for (abort, sale, ok) in sales {
        let _ = sale.await;
        abort.abort();
        answered_ok += usize::from(ok.load(Ordering::SeqCst));
    }
    // The threads the answered sales left, once each has come to the disk.
    let grown = || threads(app.pid).unwrap_or(before).saturating_sub(before);
    poll(
        Duration::from_secs(2),
        Duration::from_millis(10),
        || async { (grown() >= answered_ok).then_some(()) },
    )
    .await;
    let (grew, held) = (grown(), disk.held().len());
    disk.release();
    let _ = settled(&app, &disk, 1).await;
    if grew <= 3 {
        return;
    }
    if answered_ok == 0 {
        inconclusive(format!(
            "the service grew by {grew} threads while the disk hung ({held} of them in the \
             disk), for {SALES} sales none of which was answered: each sale waited for its own \
             save, so how many run at once is the stats code's"
        ));
    }
    panic!(
        "while every save hung at {} (the disk held), {SALES} customers ordered at once, each \
         waiting a second: {answered_ok} were answered ok, and the service grew from {before} \
         to {} threads ({held} of them waiting on the disk, the rest waiting their turn): one \
         more for each sale, for as long as the disk hangs",
        call.describe(),
        before + grew
    );
}

/// A save's write is held; meanwhile the stats file still holds whole totals (the last
/// save's), as a restart at that moment would read it.
pub async fn the_stats_file_is_whole_while_a_save_is_under_way(app: Arc<TestApp>) {
    let disk = disk_of(&app);
    let kinds = Disk::kinds(&first_save(&app, &disk).await);
    if !kinds.contains(&Call::Write) {
        inconclusive("order 1's save wrote nothing in the stats file's folder".into());
    }
    disk.hold(Call::Write, 1).expect("plan the slow disk");
    let (second, _) = place(&app, 2);
    if !disk.until_held(1, SETTLE).await {
        disk.release();
        inconclusive(format!("order 2's save wrote nothing within {SETTLE:?}"));
    }
    // A save that renames its file while the write is still under way does so at once; one
    // that waits for its write makes no rename until the disk is let through.
    let held_at = disk.log().len();
    poll(
        Duration::from_millis(500),
        Duration::from_millis(5),
        || async {
            let renamed = disk.log()[held_at..]
                .iter()
                .any(|l| l.call == Call::Rename && l.done);
            renamed.then_some(())
        },
    )
    .await;
    let seen = saved(&app);
    disk.release();
    let _ = tokio::time::timeout(SETTLE, second).await;
    let _ = settled(&app, &disk, 2).await;
    assert!(
        matches!(seen, Ok(n) if n >= 1),
        "while order 2's save waited on the disk to write, the stats file was {}, where it \
         held order 1's totals before: a crash at that moment leaves no totals, and the service \
         refuses to start on the file",
        match seen {
            Ok(n) => format!("a save of {n} orders"),
            Err(why) => why,
        }
    );
}

/// How long a save is held up to see whether its sale waits for it: a disk that is slow, not
/// hung. A service may stop waiting for a disk that hangs, and answer before the save (which
/// lands later); for one this slow it waits. (A sale answered without waiting at all is
/// answered in a few milliseconds.)
const SLOW_SAVE: Duration = Duration::from_millis(200);

/// A sale's save is held up a moment: the sale is not answered before its save is done.
/// (Judged by time, so run with nothing else running.)
pub async fn a_sale_is_in_the_stats_file_when_it_is_answered(app: Arc<TestApp>) {
    let disk = disk_of(&app);
    let call = first_call(&first_save(&app, &disk).await);
    assert!(
        !answered_before_saved(&app, &disk, call, 2).await,
        "order 2 was answered ok while its save was still held up on the disk ({}), within \
         {SLOW_SAVE:?}: the answer does not wait for the save",
        call.describe()
    );
}

/// Every save hangs where it starts, for as long as the check lasts: three orders placed
/// one after another are each answered within 5 s all the same (charged, and counted in
/// memory; the file catches up once the disk is back).
pub async fn orders_are_answered_while_the_disk_hangs(app: Arc<TestApp>) {
    let disk = disk_of(&app);
    let call = first_call(&first_save(&app, &disk).await);
    disk.hold(call, 0).expect("plan the slow disk");
    let mut unanswered = Vec::new();
    for id in 2..=4 {
        let (order, _) = place(&app, id);
        if tokio::time::timeout(SETTLE, order).await.is_err() {
            unanswered.push(id);
            break;
        }
    }
    let held = disk.held().len();
    disk.release();
    let _ = settled(&app, &disk, 1).await;
    if held == 0 && unanswered.is_empty() {
        inconclusive("no save came to the disk while it hung".into());
    }
    assert!(
        unanswered.is_empty(),
        "while every save hung at {} (the disk held), order {} got no answer within \
         {SETTLE:?}; GET /health answers meanwhile, so the load balancer keeps sending this \
         replica orders",
        call.describe(),
        unanswered[0]
    );
}

/// Whether a sale is answered while its save is held up [`SLOW_SAVE`] (a disk that is slow,
/// not hung): order `id`'s save is held where it starts, and let through after that long.
async fn answered_before_saved(app: &Arc<TestApp>, disk: &Disk, call: Call, id: u64) -> bool {
    disk.hold(call, 1).expect("plan the slow disk");
    let (order, answered_ok) = place(app, id);
    if !disk.until_held(1, SETTLE).await {
        disk.release();
        inconclusive(format!(
            "order {id}'s save never came to {}",
            call.describe()
        ));
    }
    let answered = poll(SLOW_SAVE, Duration::from_millis(5), || async {
        answered_ok.load(Ordering::SeqCst).then_some(())
    })
    .await
    .is_some();
    disk.release();
    let _ = tokio::time::timeout(SETTLE, order).await;
    answered
}

/// A service whose sales are saved on a timer, after their answers, must save them before it
/// stops: every deploy otherwise loses the sales of the interval before it. Once the first
/// two sales are saved (the second answered before its save landed), a third is placed on a
/// disk that answers at once: a save that does not begin within [`PROMPT`] of its answer
/// waits for a timer. Then the disk hangs, a fourth sale is answered, and the service is
/// stopped as a deploy stops it (SIGTERM); it may wait for the disk to come back (a second
/// later). It fails only when both hold: the saves wait for a timer, and the stop loses the
/// sale. A writer that saves at once and is cut off at a stop loses only the save under way
/// (a gap, [`a_stop_waits_for_the_save_under_way`]). (Judged partly by time, so run with
/// nothing else running.)
pub async fn sales_are_in_the_stats_file_after_a_graceful_stop(app: Arc<TestApp>) {
    let Some((disk, call)) = answered_before_their_saves(&app).await else {
        return;
    };
    let began = save_began_within(&app, &disk, 3, PROMPT).await;
    let _ = settled(&app, &disk, 3).await;
    let stop = stopped_while_a_save_hangs(&app, &disk, call, 4).await;
    let Some(lost) = stop.lost(4) else {
        return;
    };
    assert!(
        began.is_some(),
        "sales are saved on a timer after they are answered, and a stop does not save them: \
         order 3 was answered on a disk that answers at once and no save began within \
         {PROMPT:?}; order 4 was answered while its save waited on the disk ({}), the service \
         was stopped with SIGTERM as a deploy stops it, and {lost}",
        call.describe(),
    );
}

/// A service that answers a sale before its save lands must not be cut off in that save
/// when it stops: once the first two sales are saved (the second answered before its save
/// landed), the disk hangs, a third sale is answered, and the service is stopped as a deploy
/// stops it (SIGTERM). It may wait for the disk to come back (it does a second later); once
/// it has exited, the stats file holds all three. A service whose sales wait for their saves
/// has nothing to lose at a stop. (Judged partly by time, so run with nothing else running.)
pub async fn a_stop_waits_for_the_save_under_way(app: Arc<TestApp>) {
    let Some((disk, call)) = answered_before_their_saves(&app).await else {
        return;
    };
    let stop = stopped_while_a_save_hangs(&app, &disk, call, 3).await;
    if let Some(lost) = stop.lost(3) {
        panic!(
            "a sale is answered before its save lands (order 2 was answered while its save was \
             held up {SLOW_SAVE:?}), and a stop does not wait for the save under way: order 3 \
             was answered while its save waited on the disk ({}), the service was stopped with \
             SIGTERM as a deploy stops it, and {lost}",
            call.describe(),
        );
    }
}

/// How soon after its answer a sale's save must begin, on a disk that answers at once, not
/// to count as waiting for a timer: a writer woken by the sale begins within a millisecond
/// or two; one that saves once a second waits most of a second.
const PROMPT: Duration = Duration::from_millis(250);

/// The slow disk and the first kind of call a save makes, once order 1 is saved and order 2
/// was answered before its save landed (and is saved since); `None` when sales wait for
/// their saves, so a stop has nothing to lose.
async fn answered_before_their_saves(app: &Arc<TestApp>) -> Option<(Disk, Call)> {
    let disk = disk_of(app);
    let call = first_call(&first_save(app, &disk).await);
    if !answered_before_saved(app, &disk, call, 2).await {
        return None;
    }
    let _ = settled(app, &disk, 2).await;
    Some((disk, call))
}

/// Places order `id` on a disk that answers at once, right after a save has landed: how long
/// after its answer a save began, if one began within `limit` (at once when it began before
/// the answer).
async fn save_began_within(
    app: &Arc<TestApp>,
    disk: &Disk,
    id: u64,
    limit: Duration,
) -> Option<Duration> {
    let before = disk.log().len();
    let answer = app.order(id, id % 5 + 1, 10.0).await;
    let answered = Instant::now();
    if answer.status != OrderStatus::Ok {
        inconclusive(format!(
            "order {id} ($10.00, customer {}) was refused: {answer:?}",
            id % 5 + 1
        ));
    }
    poll(limit, Duration::from_millis(2), || async {
        (disk.log().len() > before).then(|| answered.elapsed())
    })
    .await
}

/// How a stop during a hung save went.
struct Stopped {
    exited_at_once: bool,
    /// What the stats file holds once the service has exited: its order count, or why none.
    holds: Result<u64, String>,
}

impl Stopped {
    /// What was lost, said for a person, when the file holds fewer than `count` orders.
    fn lost(&self, count: u64) -> Option<String> {
        if matches!(self.holds, Ok(n) if n >= count) {
            return None;
        }
        Some(format!(
            "{}; its stats file holds {}",
            if self.exited_at_once {
                "it exited at once"
            } else {
                "it exited once the disk came back"
            },
            match &self.holds {
                Ok(n) => format!("{n} order(s)"),
                Err(why) => format!("no saved totals ({why})"),
            }
        ))
    }
}

/// The disk hangs at `call`, order `id` is answered, and the service is stopped with SIGTERM;
/// the disk comes back a second later. Inconclusive when the order is not answered while the
/// disk hangs, or the service does not exit.
async fn stopped_while_a_save_hangs(
    app: &Arc<TestApp>,
    disk: &Disk,
    call: Call,
    id: u64,
) -> Stopped {
    disk.hold(call, 0).expect("plan the slow disk");
    let (order, answered_ok) = place(app, id);
    let answered = tokio::time::timeout(Duration::from_secs(3), order)
        .await
        .is_ok()
        && answered_ok.load(Ordering::SeqCst);
    if !answered {
        disk.release();
        inconclusive(format!(
            "order 2 was answered before its save landed, but order {id} was not answered \
             while the disk hung: the stop cannot be judged"
        ));
    }
    let exited_at_once = stop_within(app, Duration::from_secs(1)).await;
    disk.release();
    if !exited_at_once && !stop_within(app, SETTLE).await {
        inconclusive(format!(
            "the order service was still running {SETTLE:?} after SIGTERM and the disk \
             coming back (shutting down is not this check's business)"
        ));
    }
    Stopped {
        exited_at_once,
        holds: saved(app),
    }
}

/// One save's calls: the file that becomes the stats file is flushed after its last write
/// and before it replaces the old one, and the folder is flushed after the rename.
pub async fn a_save_is_flushed_before_it_replaces_the_file(app: Arc<TestApp>) {
    let disk = disk_of(&app);
    let calls = first_save(&app, &disk).await;
    let stats_file = app.stats_file.clone().expect("the stats file is known");
    let stats_file = stats_file.display().to_string();
    let started: Vec<&Logged> = calls.iter().filter(|l| !l.done).collect();
    // Each descriptor the save opened, and the file it names: `PATH fd=N` on a done open.
    let opened: Vec<(String, String)> = calls
        .iter()
        .filter(|l| l.done && l.call == Call::Open)
        .filter_map(|l| {
            let (path, fd) = l.what.rsplit_once(' ')?;
            Some((fd.to_owned(), path.to_owned()))
        })
        .collect();
    let path_of = |fd: &str| {
        opened
            .iter()
            .rev()
            .find(|(opened_fd, _)| opened_fd == fd)
            .map(|(_, path)| path.as_str())
    };
    let rename = started
        .iter()
        .position(|l| l.call == Call::Rename && l.what.ends_with(&format!("-> {stats_file}")));
    let (written, replaced_at) = match rename {
        Some(at) => {
            let from = started[at].what.split(" -> ").next().unwrap_or_default();
            (from.to_owned(), at)
        }
        None => (stats_file.clone(), started.len()),
    };
    let last_write = started[..replaced_at]
        .iter()
        .rposition(|l| l.call == Call::Write && path_of(&l.what) == Some(written.as_str()));
    let flushed = started[..replaced_at].iter().enumerate().any(|(at, l)| {
        l.call == Call::Fsync
            && path_of(&l.what) == Some(written.as_str())
            && last_write.is_none_or(|w| at > w)
    });
    let folder_flushed =
        rename.is_none_or(|at| started[at..].iter().any(|l| l.call == Call::Dirsync));
    let missing: Vec<&str> = [
        (!flushed).then_some(
            "no fsync of the file after its last write and before it replaced the stats file",
        ),
        (!folder_flushed).then_some("no fsync of the folder after the rename"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let shown: Vec<String> = started
        .iter()
        .map(|l| format!("{} {}", l.call.name(), l.what))
        .collect();
    assert!(
        missing.is_empty(),
        "the save of order 1 made these calls: {}; {}",
        shown.join("; "),
        missing.join("; ")
    );
}

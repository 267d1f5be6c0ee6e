//! How `exercise grade` judges a fix of cancelled-request.
//!
//! A customer can give up at any moment of a placement, and each moment has its own
//! await the placement may stop at. The checks hang up:
//!
//! - once the charge has landed and its answer is on its way (the public scenario);
//! - while the deduction is still at the balance service, received and not yet applied: a
//!   fix that settles an abandoned order once, by asking whether it was charged, hears "in
//!   flight" and forgets an order that is then charged;
//! - on a batch, once its first order is charged (a batch is placed through the same intake,
//!   not the single-order handler).
//!
//! Whatever the moment, the order ends up settled within seconds: charged once, done and
//! counted, or not charged and not left processing. Guards: a customer who waits still
//! hears the outcome, and orders still run side by side (a queue with one worker places
//! one order at a time; judged under lost-update when that bug is graded too).
//!
//! Compiled into the harness (`exercise/src/catalog/mod.rs`); never exported.

use std::sync::Arc;

use order_service::money::Cents;
use serde_json::json;

use scenarios::reported::{self, SETTLE};
use scenarios::services::{Setup, TestApp, poll};

use crate::catalog::support::{inconclusive, stop_within};
use crate::catalog::{Checks, Role, Scenario};

pub const NO_OUTCOME: &str =
    "a customer who waits no longer hears their order's outcome (charged, refused, or why)";

pub const CUT_AT_STOP: &str = "an order whose customer gave up is cut off when the service stops (a deploy's SIGTERM): charged, and missing from the saved totals after the restart";
pub const TOLD_IT_FAILED: &str = "a customer who waits through a slow charge is told it failed (or could not be confirmed), though it went through";

pub fn checks() -> Checks {
    use Role::*;
    Checks {
        scenarios: vec![
            scenario!(
                Symptom,
                public,
                reported::gave_up_setup,
                reported::an_order_whose_customer_gave_up_is_counted
            ),
            scenario!(
                Symptom,
                held_back,
                gave_up_on_a_batch_setup,
                a_batch_whose_customer_gave_up_is_counted
            ),
            scenario!(
                Symptom,
                held_back,
                in_flight_setup,
                an_order_whose_customer_gave_up_while_it_was_charged_is_counted
            ),
            scenario!(
                Guard(NO_OUTCOME),
                held_back,
                Setup::default,
                a_customer_who_waits_hears_the_outcome
            ),
            scenario!(
                Guard(TOLD_IT_FAILED),
                held_back,
                slow_charge_setup,
                a_customer_who_waits_through_a_slow_charge_hears_it_went_through
            ),
            scenario!(
                Robustness(CUT_AT_STOP),
                held_back,
                in_flight_setup,
                an_order_whose_customer_gave_up_is_finished_before_a_stop
            ),
            Scenario {
                alone: true,
                unless_graded: &["lost-update"],
                ..scenario!(
                    Guard(super::lost_update::SERIALIZED),
                    held_back,
                    super::lost_update::slow_balance_setup,
                    super::lost_update::orders_are_processed_concurrently
                )
            },
        ],
        white_box: Vec::new(),
    }
}

fn gave_up_on_a_batch_setup() -> Setup {
    Setup::script("drop_response;ok;ok")
}

/// A batch of two orders whose client hangs up once the first is charged: that order ends up
/// done and counted. (The second was never started, so nothing is owed for it.)
pub async fn a_batch_whose_customer_gave_up_is_counted(app: Arc<TestApp>) {
    let body = json!({ "orders": [
        { "id": 1, "customer_id": 1, "amount": 10.0 },
        { "id": 2, "customer_id": 2, "amount": 20.0 },
    ]});
    let replay = format!(
        "send the batch and hang up once order 1 is charged; balance service faults `{}`",
        app.plan
    );
    reported::hang_up_once_charged(&app, "/orders/batch", body, 1, &replay).await;
    let (_, view) = reported::order_once_settled(&app, 1).await;
    let stats = app.stats().await;
    assert!(
        view["state"] == "done" && stats.0 >= 1 && stats.1 >= Cents::dollars(10),
        "a batch's client hung up once its first order (order 1, $10.00 for customer 1) was \
         charged; 5 s later GET /orders/1 answers {view} and /stats counts {} order(s) (${}). \
         Balance service faults `{}`",
        stats.0,
        stats.1,
        app.plan
    );
}

/// Orders whose customers wait: each answer is the outcome, with the new balance or the
/// reason for a refusal.
pub async fn a_customer_who_waits_hears_the_outcome(app: Arc<TestApp>) {
    let charged = app.order(1, 1, 10.0).await;
    assert!(
        charged.status == order_service::orders::OrderStatus::Ok
            && charged.new_balance == Some(Cents::dollars(490)),
        "order 1 ($10.00 of customer 1's $500.00) should be answered ok with a new balance of \
         $490.00; it was answered {charged:?}"
    );
    let refused = app.order(2, 5, 500.0).await;
    assert!(
        refused.status == order_service::orders::OrderStatus::Error
            && refused
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with("Insufficient balance")),
        "order 2 ($500.00 of customer 5's $100.00) should be refused for lack of money; it was \
         answered {refused:?}"
    );
}

/// The balance service takes a second over the first deduction (it is applied then,
/// whoever is still waiting); an attempt waits up to 5 s for it.
fn in_flight_setup() -> Setup {
    Setup {
        attempt_timeout: std::time::Duration::from_secs(5),
        ..Setup::script("delay(1000)")
    }
}

/// The deductions the balance service has received, applied or not.
async fn deductions_received(app: &TestApp) -> u64 {
    let (_, faults) = app.get(&format!("{}/faults", app.balance_url)).await;
    faults["counters"]["requests"].as_u64().unwrap_or(0)
}

/// Sends order 7 ($10.00, customer 1) and hangs up once the balance service has received its
/// deduction: whether it did, within [`SETTLE`].
async fn hang_up_once_received(app: &Arc<TestApp>) -> bool {
    let waiting = {
        let app = app.clone();
        let body = json!({ "id": 7, "customer_id": 1, "amount": 10.0 });
        tokio::spawn(async move {
            let _ = app
                .http
                .post(format!("{}/orders", app.url))
                .json(&body)
                .send()
                .await;
        })
    };
    let received = poll(SETTLE, std::time::Duration::from_millis(5), || async {
        (deductions_received(app).await > 0).then_some(())
    })
    .await;
    waiting.abort();
    let _ = waiting.await;
    received.is_some()
}

/// The customer sends order 7 and gives up while the balance service is still working on its
/// deduction (received, applied a second later): within seconds of the charge, the order
/// is done and counted.
pub async fn an_order_whose_customer_gave_up_while_it_was_charged_is_counted(app: Arc<TestApp>) {
    let replay = format!(
        "send order 7 ($10.00, customer 1) and hang up once the balance service has received \
         its deduction, before it applies it; balance service faults `{}`",
        app.plan
    );
    assert!(
        hang_up_once_received(&app).await,
        "order 7's deduction did not reach the balance service within {SETTLE:?}, so the \
         customer never had to give up. Replay: {replay}"
    );
    let charged = poll(SETTLE, std::time::Duration::from_millis(10), || async {
        (app.charges_for(7).await > 0).then_some(())
    })
    .await;
    let (status, view) = reported::order_once_settled(&app, 7).await;
    let stats = app.stats().await;
    let charges = app.charges_for(7).await;
    let settled = match charges {
        0 => charged.is_none() && view["state"] != "processing" && stats.0 == 0,
        1 => {
            view["state"] == "done"
                && view["response"]["status"] == "ok"
                && stats == (1, Cents::dollars(10))
        }
        _ => false,
    };
    assert!(
        settled,
        "customer 1 gave up on order 7 ($10.00) while its deduction was at the balance \
         service; the deduction was applied anyway ({charges} in the ledger), and {SETTLE:?} \
         later GET /orders/7 answers {status} {view} and /stats counts {} order(s) (${}), \
         where a charged order should be done (status ok) and counted. Replay: {replay}",
        stats.0, stats.1,
    );
}

/// The balance service takes four seconds over the first deduction (a slow spell); an
/// attempt may wait six.
fn slow_charge_setup() -> Setup {
    Setup {
        attempt_timeout: std::time::Duration::from_secs(6),
        ..Setup::script("delay(4000)")
    }
}

/// A customer who waits through a slow charge (four seconds at the balance service) is told
/// it went through: a fix that gives up on the order before the customer does answers a
/// charged order as failed.
pub async fn a_customer_who_waits_through_a_slow_charge_hears_it_went_through(app: Arc<TestApp>) {
    let (status, answer) = app
        .post(
            "/orders",
            &json!({ "id": 3, "customer_id": 1, "amount": 10.0 }),
        )
        .await;
    let charges = app.charges_for(3).await;
    assert!(
        status.is_success() && answer["status"] == "ok",
        "order 3 ($10.00, customer 1) waited for a deduction the balance service took 4 s over \
         (balance service faults `{}`): it was answered {status} {answer}, and the ledger holds \
         {charges} charge(s) for it",
        app.plan
    );
}

/// The customer gives up on order 7 while its deduction is at the balance service (applied
/// a second later), and the service is stopped at once, as a deploy stops it (SIGTERM).
/// Once it has exited, its saved totals count the order the balance service charged.
pub async fn an_order_whose_customer_gave_up_is_finished_before_a_stop(app: Arc<TestApp>) {
    if !hang_up_once_received(&app).await {
        inconclusive(format!(
            "order 7's deduction did not reach the balance service within {SETTLE:?}"
        ));
    }
    let limit = std::time::Duration::from_secs(30);
    if !stop_within(&app, limit).await {
        inconclusive(format!(
            "the order service was still running {limit:?} after SIGTERM (shutting down is not \
             this check's business)"
        ));
    }
    let charged = poll(SETTLE, std::time::Duration::from_millis(10), || async {
        (app.charges_for(7).await > 0).then_some(())
    })
    .await
    .is_some();
    let stats_file = app.stats_file.clone().expect("the stats file is known");
    let saved = crate::catalog::disk::saved_orders(&stats_file);
    assert!(
        !charged || saved == Ok(1),
        "customer 1 gave up on order 7 ($10.00) while its deduction was at the balance service, \
         and the service was stopped (SIGTERM) at once; the balance service charged it, and \
         once the service had exited its stats file holds {} (balance service faults `{}`)",
        match saved {
            Ok(n) => format!("{n} order(s)"),
            Err(why) => format!("no saved totals ({why})"),
        },
        app.plan
    );
}

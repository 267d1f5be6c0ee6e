//! How `exercise grade` judges a fix of cancelled-request: the public scenario, the same
//! customer giving up on a batch (placed through the same intake, not the single-order
//! handler), and a guard that a customer who waits still hears their order's outcome.
//! Compiled into the harness (`exercise/src/catalog/mod.rs`); never exported.

use std::sync::Arc;

use order_service::money::Cents;
use serde_json::json;

use scenarios::reported;
use scenarios::services::{Setup, TestApp};

use crate::catalog::{Checks, Role};

pub const NO_OUTCOME: &str =
    "a customer who waits no longer hears their order's outcome (charged, refused, or why)";

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
                Guard(NO_OUTCOME),
                held_back,
                Setup::default,
                a_customer_who_waits_hears_the_outcome
            ),
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

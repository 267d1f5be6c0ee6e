//! The two reported production problems, each reproduced on every run: `/stats` lower than
//! the orders processed, and customers charged twice for one order. Each test names the
//! fault plan that triggers it; the scenarios themselves are in `scenarios.rs`.

use std::sync::Arc;

use crate::helpers::{Setup, spawn_with};
use crate::scenarios;

/// 100 orders of $10 from 10 concurrent clients: `/stats` counts exactly the orders charged,
/// and the customer's balance dropped by exactly the revenue. Fault plan: none, seeded
/// 5-25 ms latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_orders_keep_exact_stats() {
    let app = spawn_with(scenarios::concurrent_orders_setup()).await;
    scenarios::concurrent_orders_keep_exact_stats(Arc::new(app)).await;
}

/// A deduction is applied but its response is lost, and the order service retries. Fault
/// plan: `drop_response`, then ok.
#[tokio::test]
async fn an_order_is_charged_once_when_its_response_is_lost() {
    let app = spawn_with(scenarios::lost_response_setup()).await;
    scenarios::an_order_is_charged_once_when_its_response_is_lost(Arc::new(app)).await;
}

/// Every response is lost, so the attempts run out after the first was applied. Fault plan:
/// `drop_response` three times.
#[tokio::test]
async fn an_order_whose_responses_are_all_lost_is_charged_once_and_reported_ok() {
    let app = spawn_with(scenarios::all_responses_lost_setup()).await;
    scenarios::an_order_whose_responses_are_all_lost_is_charged_once_and_reported_ok(Arc::new(app))
        .await;
}

/// A client resends an order it already placed. Fault plan: none.
#[tokio::test]
async fn a_resent_order_is_charged_once() {
    let app = spawn_with(Setup::default()).await;
    scenarios::a_resent_order_is_charged_once(Arc::new(app)).await;
}

/// The same order arrives twice at once. Fault plan: `delay(300)` on the first deduction, so
/// the two overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_sent_twice_at_once_is_charged_once() {
    let app = spawn_with(scenarios::sent_twice_setup()).await;
    scenarios::an_order_sent_twice_at_once_is_charged_once(Arc::new(app)).await;
}

/// The same order id with a different amount. Fault plan: none.
#[tokio::test]
async fn an_order_id_reused_for_a_different_order_is_refused() {
    let app = spawn_with(Setup::default()).await;
    scenarios::an_order_id_reused_for_a_different_order_is_refused(Arc::new(app)).await;
}

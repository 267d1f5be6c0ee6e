//! What QA and customers reported, reproduced on every run: `/stats` lower than the orders
//! charged, and customers charged twice for one order. Each test says how to replay it
//! against a running service: the workload, and the balance service's faults (`--faults`).
//! The scenarios themselves are in the `scenarios` crate (`scenarios/src/reported.rs`).

use std::sync::Arc;

use scenarios::reported;
use scenarios::services::{Setup, spawn_with};

/// 100 orders of $10 from 10 clients at once: `/stats` shows $1000.00 and 100 orders.
#[tokio::test(flavor = "multi_thread")]
async fn stats_match_the_orders_charged_when_ten_clients_order_at_once() {
    let app = spawn_with(reported::ten_clients_setup()).await;
    reported::stats_match_the_orders_charged(Arc::new(app)).await;
}

/// 20 orders placed one after another while the network to the balance service is flaky:
/// each is charged once.
#[tokio::test]
async fn orders_placed_while_the_network_is_flaky_are_charged_once() {
    let app = spawn_with(reported::flaky_network_setup()).await;
    reported::orders_on_a_flaky_network_are_charged_once(Arc::new(app)).await;
}

/// 100 orders sent at the same moment, a busy minute with no network faults: each is
/// charged once.
#[tokio::test(flavor = "multi_thread")]
async fn orders_placed_in_a_burst_are_charged_once() {
    let app = spawn_with(reported::burst_setup()).await;
    reported::orders_in_a_burst_are_charged_once(Arc::new(app)).await;
}

/// A customer presses "pay" twice: the order is charged once.
#[tokio::test]
async fn an_order_sent_twice_is_charged_once() {
    let app = spawn_with(Setup::default()).await;
    reported::an_order_sent_twice_is_charged_once(Arc::new(app)).await;
}

/// The same order sent from two tabs at the same moment: it is charged once.
#[tokio::test(flavor = "multi_thread")]
async fn an_order_sent_twice_at_once_is_charged_once() {
    let app = spawn_with(reported::sent_twice_at_once_setup()).await;
    reported::an_order_sent_twice_at_once_is_charged_once(Arc::new(app)).await;
}

/// A customer who gave up waiting for a slow answer was still charged: the order ends up
/// answered and counted in /stats.
#[tokio::test]
async fn an_order_whose_customer_gave_up_waiting_is_counted() {
    let app = spawn_with(reported::gave_up_setup()).await;
    reported::an_order_whose_customer_gave_up_is_counted(Arc::new(app)).await;
}

/// During a storage incident, a replica with one CPU keeps answering its health checks.
/// (One worker thread: what the runtime starts with on a one-CPU container.)
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn health_checks_pass_while_the_disk_is_slow() {
    let app = spawn_with(reported::one_cpu_setup()).await;
    reported::health_answers_while_the_disk_is_slow(Arc::new(app)).await;
}

/// A busy minute at the balance service (lookups answered after two seconds): a customer's
/// balance page waits while another customer orders, and both are answered.
#[tokio::test(flavor = "multi_thread")]
async fn orders_are_answered_while_the_balance_service_is_slow() {
    let app = spawn_with(reported::slow_lookups_setup()).await;
    reported::orders_are_answered_while_the_balance_service_is_slow(Arc::new(app)).await;
}

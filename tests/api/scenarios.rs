//! The black-box scenarios behind the concurrency and retry tests. Each is a setup (the
//! balance service's fault plan and the order service's retry settings) and a check that
//! talks to the services over HTTP only, so it runs the same against services in this test
//! process and against a built `order-service` binary.

use std::sync::Arc;

use order_service::money::Cents;
use order_service::orders::{OrderResponse, OrderStatus};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Setup, TestApp, seed_balance};

/// Checks the invariant the double-charge scenarios end with: the customer's balance dropped
/// by exactly the orders reported ok, and each of those was charged once.
pub async fn assert_charged_once(app: &TestApp, customer_id: u64, ok_orders: &[(u64, Cents)]) {
    for (id, _) in ok_orders {
        let charges = app.charges_for(*id).await;
        assert_eq!(
            charges, 1,
            "order {id} was charged {charges} times, expected once (fault plan {})",
            app.plan
        );
    }
    let expected = seed_balance(customer_id) - ok_orders.iter().map(|(_, amount)| *amount).sum();
    let balance = app.balance(customer_id).await;
    assert_eq!(
        balance, expected,
        "customer {customer_id}: balance {balance}, expected {expected} after the orders reported ok (fault plan {})",
        app.plan
    );
}

/// Seeded 5-25 ms latency and no faults.
pub fn concurrent_orders_setup() -> Setup {
    Setup {
        faults: "none,seed=7,latency=5..25".parse().unwrap(),
        ..Setup::default()
    }
}

/// 100 orders of $10 for customer 2 from 10 concurrent clients: `/stats` counts exactly the
/// orders charged, and the balance dropped by exactly the revenue.
pub async fn concurrent_orders_keep_exact_stats(app: Arc<TestApp>) {
    let clients: Vec<_> = (0..10u64)
        .map(|client| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut responses = Vec::new();
                for n in 0..10 {
                    responses.push(app.order(client * 10 + n + 1, 2, 10.0).await);
                }
                responses
            })
        })
        .collect();
    let mut responses: Vec<OrderResponse> = Vec::new();
    for client in clients {
        responses.extend(client.await.expect("a client task panicked"));
    }

    let charged = responses
        .iter()
        .filter(|r| r.status == OrderStatus::Ok)
        .count() as u64;
    let revenue = Cents::dollars(10) * charged as i64;
    assert_eq!(
        charged, 100,
        "customer 2 has $1000: all 100 orders should be charged; answers: {responses:?}"
    );
    let (count, total) = app.stats().await;
    assert!(
        count == charged && total == revenue,
        "lost update: {charged} orders were charged ({revenue}), but /stats counts {count} orders and {total} \
         (10 clients x 10 orders, balance service plan {})",
        app.plan
    );
    let dropped = seed_balance(2) - app.balance(2).await;
    assert_eq!(
        dropped, total,
        "customer 2's balance dropped by {dropped}, /stats says {total}"
    );
}

/// The first deduction's response is lost.
pub fn lost_response_setup() -> Setup {
    Setup::script("drop_response")
}

/// The balance service applies the deduction but its response is lost; the order service
/// times out and retries. The order is reported ok and charged once.
pub async fn an_order_is_charged_once_when_its_response_is_lost(app: Arc<TestApp>) {
    let response = app.order(1, 1, 50.0).await;
    assert_eq!(response.status, OrderStatus::Ok, "{response:?}");
    assert_charged_once(&app, 1, &[(1, Cents::dollars(50))]).await;
    assert_eq!(
        response.new_balance,
        Some(Cents::dollars(450)),
        "{response:?}"
    );
    assert_eq!(app.stats().await, (1, Cents::dollars(50)));
}

/// The first three deductions' responses are lost.
pub fn all_responses_lost_setup() -> Setup {
    Setup::script("drop_response;drop_response;drop_response")
}

/// Every response is lost, so the attempts run out with the outcome unknown; the first
/// attempt was applied, so the order must be reported ok and charged once.
pub async fn an_order_whose_responses_are_all_lost_is_charged_once_and_reported_ok(
    app: Arc<TestApp>,
) {
    let response = app.order(1, 4, 100.0).await;
    assert_eq!(
        response.status,
        OrderStatus::Ok,
        "the deduction was applied, so the order must not be reported failed (fault plan {}): {response:?}",
        app.plan
    );
    assert_charged_once(&app, 4, &[(1, Cents::dollars(100))]).await;
    assert_eq!(app.stats().await, (1, Cents::dollars(100)));
}

/// A client resends an order it already placed: the second answer repeats the first and
/// nobody is charged again.
pub async fn a_resent_order_is_charged_once(app: Arc<TestApp>) {
    let first = app.order(7, 1, 50.0).await;
    let second = app.order(7, 1, 50.0).await;
    assert_eq!(first.status, OrderStatus::Ok, "{first:?}");
    assert_charged_once(&app, 1, &[(7, Cents::dollars(50))]).await;
    assert_eq!(
        second, first,
        "a resent order should get the first answer again"
    );
    assert_eq!(app.stats().await, (1, Cents::dollars(50)));
}

/// The first deduction takes 300 ms more, so two copies of an order overlap.
pub fn sent_twice_setup() -> Setup {
    Setup {
        attempt_timeout: std::time::Duration::from_secs(5),
        ..Setup::script("delay(300)")
    }
}

/// The same order arrives twice at once: one is charged, the other gets the first's answer
/// or 409 while it is in flight.
pub async fn an_order_sent_twice_at_once_is_charged_once(app: Arc<TestApp>) {
    let body = json!({"id": 9, "customer_id": 2, "amount": 40.0});
    let send = |app: Arc<TestApp>, body: serde_json::Value| {
        tokio::spawn(async move { app.post("/orders", &body).await })
    };
    let (a, b) = tokio::join!(
        send(app.clone(), body.clone()),
        send(app.clone(), body.clone())
    );
    let answers = [a.unwrap(), b.unwrap()];
    let oks = answers
        .iter()
        .filter(|(status, body)| *status == StatusCode::OK && body["status"] == "ok")
        .count();
    let refused = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CONFLICT)
        .count();
    assert!(
        oks >= 1 && oks + refused == 2,
        "expected one charge and a replay or a 409, got {answers:?}"
    );
    assert_charged_once(&app, 2, &[(9, Cents::dollars(40))]).await;
    assert_eq!(app.stats().await, (1, Cents::dollars(40)));
}

/// The same order id with a different amount is refused with 422 and charges nothing more.
pub async fn an_order_id_reused_for_a_different_order_is_refused(app: Arc<TestApp>) {
    app.order(3, 1, 20.0).await;
    let (status, body) = app
        .post(
            "/orders",
            &json!({"id": 3, "customer_id": 1, "amount": 25.0}),
        )
        .await;
    assert_charged_once(&app, 1, &[(3, Cents::dollars(20))]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body,
        json!({"detail": "order 3 was already placed with a different customer or amount"})
    );
}

/// The first deduction fails before it is applied.
pub fn fails_before_applying_setup() -> Setup {
    Setup::script("fail_before_apply")
}

/// The first deduction attempt fails before anything is applied; the retry succeeds and the
/// customer is charged once.
pub async fn an_order_whose_first_attempt_fails_before_applying_is_retried_and_charged_once(
    app: Arc<TestApp>,
) {
    let response = app.order(1, 2, 30.0).await;
    assert_eq!(
        response.status,
        OrderStatus::Ok,
        "a failure before applying must be retried (fault plan {}): {response:?}",
        app.plan
    );
    assert_eq!(app.charges_for(1).await, 1, "fault plan {}", app.plan);
    assert_eq!(app.balance(2).await, seed_balance(2) - Cents::dollars(30));
    assert_eq!(app.stats().await, (1, Cents::dollars(30)));
}

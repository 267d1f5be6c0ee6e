//! The two reported production problems, each reproduced on every run: lost statistics
//! updates under concurrent orders, and customers charged twice when a deduction is retried
//! or an order is resent. Each double-charge test names the fault plan that triggers it.

use order_service::money::Cents;
use order_service::orders::{OrderResponse, OrderStatus};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Setup, TestApp, seed_balance, spawn_with};

/// Checks the invariant every test here ends with: the customer's balance dropped by exactly
/// the orders reported ok, and each of those was charged once.
async fn assert_charged_once(app: &TestApp, customer_id: u64, ok_orders: &[(u64, Cents)]) {
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

/// 100 orders of $10 from 10 concurrent clients: `/stats` counts exactly the orders charged,
/// and the customer's balance dropped by exactly the revenue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_orders_keep_exact_stats() {
    let setup = Setup {
        faults: "none,seed=7,latency=5..25".parse().unwrap(),
        ..Setup::default()
    };
    let app = std::sync::Arc::new(spawn_with(setup).await);
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

/// The balance service applies the deduction but its response is lost; the order service
/// times out and retries. Fault plan: `drop_response`, then ok.
#[tokio::test]
async fn an_order_is_charged_once_when_its_response_is_lost() {
    let app = spawn_with(Setup::script("drop_response")).await;
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

/// Every response is lost, so the attempts run out with the outcome unknown; the first
/// attempt was applied, so the order must be reported ok and charged once. Fault plan:
/// `drop_response` three times.
#[tokio::test]
async fn an_order_whose_responses_are_all_lost_is_charged_once_and_reported_ok() {
    let app = spawn_with(Setup::script("drop_response;drop_response;drop_response")).await;
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
/// nobody is charged again. Fault plan: none.
#[tokio::test]
async fn a_resent_order_is_charged_once() {
    let app = spawn_with(Setup::default()).await;
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

/// The same order arrives twice at once: one is charged, the other gets the first's answer
/// or 409 while it is in flight. Fault plan: `delay(300)` on the first deduction, so the
/// two overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_sent_twice_at_once_is_charged_once() {
    let app = std::sync::Arc::new(
        spawn_with(Setup {
            attempt_timeout: std::time::Duration::from_secs(5),
            ..Setup::script("delay(300)")
        })
        .await,
    );
    let body = json!({"id": 9, "customer_id": 2, "amount": 40.0});
    let send = |app: std::sync::Arc<TestApp>, body: serde_json::Value| {
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

/// The same order id with a different amount is refused and charges nothing more.
#[tokio::test]
async fn an_order_id_reused_for_a_different_order_is_refused() {
    let app = spawn_with(Setup::default()).await;
    app.order(3, 1, 20.0).await;
    let (status, body) = app
        .post(
            "/orders",
            &json!({"id": 3, "customer_id": 1, "amount": 25.0}),
        )
        .await;
    assert_charged_once(&app, 1, &[(3, Cents::dollars(20))]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    insta::assert_json_snapshot!(body, @r#"
    {
      "detail": "order 3 was already placed with a different customer or amount"
    }
    "#);
}

//! The original exercise's basic API tests, and the rest of the endpoints.

use order_service::money::Cents;
use order_service::orders::OrderStatus;
use reqwest::StatusCode;
use serde_json::json;

use scenarios::services::{seed_balance, spawn_app};

/// A valid order is charged and the new balance comes back.
#[tokio::test]
async fn a_valid_order_is_charged_and_returns_the_new_balance() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/orders",
            &json!({"id": 1, "customer_id": 1, "amount": 50.0, "priority": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(body);
    assert_eq!(app.balance(1).await, Cents::dollars(450));
    assert_eq!(app.stats().await, (1, Cents::dollars(50)));
}

/// Zero, negative, sub-cent and oversized amounts are "Invalid order amount" and change
/// nothing.
#[tokio::test]
async fn an_invalid_amount_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    for amount in [
        json!(0),
        json!(0.0),
        json!(-10),
        json!(10.005),
        json!(1_000_000.01),
    ] {
        let (status, body) = app
            .post(
                "/orders",
                &json!({"id": 1, "customer_id": 1, "amount": amount}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "amount {amount}: {body}");
        assert_eq!(body["status"], "error", "amount {amount}: {body}");
        assert_eq!(
            body["message"], "Invalid order amount",
            "amount {amount}: {body}"
        );
    }
    let (_, body) = app
        .post("/orders", &json!({"id": 1, "customer_id": 1, "amount": 0}))
        .await;
    insta::assert_json_snapshot!(body);
    assert_eq!(app.balance(1).await, seed_balance(1));
    assert_eq!(app.stats().await, (0, Cents::ZERO));
    assert!(app.ledger(None).await.is_empty());
}

/// An order larger than the balance is refused with the balance in the message.
#[tokio::test]
async fn an_order_above_the_balance_is_refused_as_insufficient() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/orders",
            &json!({"id": 1, "customer_id": 3, "amount": 300}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(body);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Insufficient balance")),
        "{body}"
    );
    assert_eq!(app.balance(3).await, seed_balance(3));
    assert_eq!(app.stats().await, (0, Cents::ZERO));
}

/// An order for a customer the balance service does not know names the customer.
#[tokio::test]
async fn an_order_for_an_unknown_customer_names_the_customer() {
    let app = spawn_app().await;
    let response = app.order(1, 42, 10.0).await;
    assert_eq!(response.status, OrderStatus::Error);
    assert_eq!(response.message.as_deref(), Some("Unknown customer 42"));
    assert_eq!(app.stats().await, (0, Cents::ZERO));
}

/// `GET /balance/{id}` shows the seed balance, and 404 with a JSON error for an unknown id.
#[tokio::test]
async fn balances_are_seeded_and_unknown_customers_are_404() {
    let app = spawn_app().await;
    let (status, body) = app.get(&format!("{}/balance/1", app.url)).await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(body, @r#"
    {
      "balance": 500.0,
      "customer_id": 1
    }
    "#);
    for customer in 1..=5 {
        let (_, body) = app.get(&format!("{}/balance/{customer}", app.url)).await;
        let balance: Cents = serde_json::from_value(body["balance"].clone()).unwrap();
        assert_eq!(balance, seed_balance(customer), "customer {customer}");
    }
    let (status, body) = app.get(&format!("{}/balance/99", app.url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    insta::assert_json_snapshot!(body, @r#"
    {
      "detail": "Customer 99 not found"
    }
    "#);
}

/// `/stats` has the original's shape and counts each charged order.
#[tokio::test]
async fn stats_report_revenue_and_count_of_charged_orders() {
    let app = spawn_app().await;
    let (_, body) = app.get(&format!("{}/stats", app.url)).await;
    insta::assert_json_snapshot!(body, @r#"
    {
      "order_count": 0,
      "total_revenue": 0.0
    }
    "#);
    app.order(1, 1, 10.25).await;
    app.order(2, 2, 20.0).await;
    app.order(3, 5, 500.0).await;
    assert_eq!(app.stats().await, (2, Cents::new(3025)));
}

/// A batch is answered priority orders first, then in the order given.
#[tokio::test]
async fn a_batch_is_processed_priority_orders_first() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/orders/batch",
            &json!({"orders": [
                {"id": 1, "customer_id": 1, "amount": 10, "priority": false},
                {"id": 2, "customer_id": 2, "amount": 20, "priority": true},
                {"id": 3, "customer_id": 4, "amount": 30},
                {"id": 4, "customer_id": 4, "amount": 40, "priority": true},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(body);
    let ids: Vec<_> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [2, 4, 1, 3], "priority first, then input order");
    assert_eq!(app.stats().await, (4, Cents::dollars(100)));
}

/// When money is short, the priority order is the one that gets it.
#[tokio::test]
async fn short_money_goes_to_the_priority_order() {
    let app = spawn_app().await;
    // Customer 5 has 100.00: enough for one of the two orders.
    let (_, body) = app
        .post(
            "/orders/batch",
            &json!({"orders": [
                {"id": 1, "customer_id": 5, "amount": 80, "priority": false},
                {"id": 2, "customer_id": 5, "amount": 70, "priority": true},
            ]}),
        )
        .await;
    insta::assert_json_snapshot!(body);
    assert_eq!(body[0]["id"], 2);
    assert_eq!(
        body[0]["status"], "ok",
        "the priority order is charged: {body}"
    );
    assert_eq!(body[1]["status"], "error", "the other is refused: {body}");
    assert_eq!(app.balance(5).await, Cents::dollars(30));
}

/// An empty batch is answered with an empty list.
#[tokio::test]
async fn an_empty_batch_is_an_empty_list() {
    let app = spawn_app().await;
    let (status, body) = app.post("/orders/batch", &json!({"orders": []})).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
}

/// `GET /orders/{id}` shows a placed order's outcome, and 404 for an unknown id.
#[tokio::test]
async fn a_placed_order_can_be_looked_up_by_id() {
    let app = spawn_app().await;
    app.order(7, 1, 5.0).await;
    let (status, body) = app.get(&format!("{}/orders/7", app.url)).await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(body);
    let (status, _) = app.get(&format!("{}/orders/8", app.url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `/reset` restores balances, clears stats, orders and the ledger.
#[tokio::test]
async fn reset_restores_the_seed_state() {
    let app = spawn_app().await;
    app.order(1, 1, 50.0).await;
    app.order(2, 2, 75.5).await;
    let (status, body) = app.post("/reset", &json!({})).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"status": "reset complete"}))
    );
    assert_eq!(app.stats().await, (0, Cents::ZERO));
    assert_eq!(app.balance(1).await, seed_balance(1));
    assert_eq!(app.balance(2).await, seed_balance(2));
    assert!(app.ledger(None).await.is_empty());
    let (status, _) = app.get(&format!("{}/orders/1", app.url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `/health` answers ok.
#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let (status, body) = app.get(&format!("{}/health", app.url)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
}

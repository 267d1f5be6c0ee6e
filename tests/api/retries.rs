//! Guards that hold in every build: retries still happen, and a failure that surely did not
//! charge anyone is reported as unavailable, not as a charge.

use order_service::money::Cents;
use order_service::orders::OrderStatus;

use crate::helpers::{Setup, seed_balance, spawn_with};
use crate::scenarios;

/// The first deduction attempt fails before anything is applied; the retry succeeds and the
/// customer is charged once. Fault plan: `fail_before_apply`, then ok.
#[tokio::test]
async fn an_order_whose_first_attempt_fails_before_applying_is_retried_and_charged_once() {
    let app = spawn_with(scenarios::fails_before_applying_setup()).await;
    scenarios::an_order_whose_first_attempt_fails_before_applying_is_retried_and_charged_once(
        std::sync::Arc::new(app),
    )
    .await;
}

/// Every attempt fails before applying: the order is reported unavailable, with the number
/// of attempts, and nobody is charged. Fault plan: `fail_before_apply` three times.
#[tokio::test]
async fn an_order_that_never_reaches_the_books_is_reported_unavailable() {
    let app = spawn_with(Setup::script(
        "fail_before_apply;fail_before_apply;fail_before_apply",
    ))
    .await;
    let response = app.order(1, 1, 10.0).await;
    assert_eq!(response.status, OrderStatus::Error, "{response:?}");
    let message = response.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("Balance service unavailable after 3 attempts"),
        "expected the unavailable message with 3 attempts, got {message:?}"
    );
    assert_eq!(app.charges_for(1).await, 0);
    assert_eq!(app.balance(1).await, seed_balance(1));
    assert_eq!(app.stats().await, (0, Cents::ZERO));
}

/// An unreachable balance service is reported as unavailable after the configured attempts.
#[tokio::test]
async fn an_unreachable_balance_service_is_reported_unavailable() {
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let setup = Setup::default();
    let app = order_service::app::Application::with_balance(
        ([127, 0, 0, 1], 0).into(),
        order_service::balance::client::HttpBalance::new(
            &format!("http://127.0.0.1:{port}"),
            setup.attempt_timeout,
        ),
        setup.retry,
    )
    .await
    .unwrap();
    let url = format!("http://{}/orders", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    let body: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(url)
        .json(&serde_json::json!({"id": 1, "customer_id": 1, "amount": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "error", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Balance service unavailable after 3 attempts"),
        "{message}"
    );
}

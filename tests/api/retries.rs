//! When the balance service fails, orders still go through where they can, and are reported
//! unavailable where they cannot.

use std::sync::Arc;

use order_service::money::Cents;
use order_service::orders::OrderStatus;

use scenarios::reported;
use scenarios::services::{Setup, seed_balance, spawn_with};

/// The balance service fails the first deduction (503, nothing applied): the order still goes
/// through.
#[tokio::test]
async fn an_order_goes_through_when_the_balance_service_fails_once() {
    let app = spawn_with(reported::fails_once_setup()).await;
    reported::an_order_goes_through_when_the_balance_service_fails_once(Arc::new(app)).await;
}

/// Every attempt fails before anything is applied: the order is reported unavailable, with
/// the number of attempts, and nobody is charged.
#[tokio::test]
async fn an_order_the_balance_service_keeps_failing_is_reported_unavailable() {
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
    let app = scenarios::services::spawn_in_front_of(
        &format!("http://127.0.0.1:{port}"),
        Setup::default(),
    )
    .await;
    let response = app.order(1, 1, 5.0).await;
    assert_eq!(response.status, OrderStatus::Error, "{response:?}");
    let message = response.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("Balance service unavailable after 3 attempts"),
        "{message}"
    );
}

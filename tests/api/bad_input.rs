//! A body that is not a valid order gets a 4xx with `{"detail": ...}` and changes nothing.

use order_service::money::Cents;
use reqwest::StatusCode;
use serde_json::{Value, json};

use scenarios::services::{TestApp, seed_balance, spawn_app};

async fn send_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: String,
) -> (u16, Value) {
    let mut request = app.http.post(format!("{}{path}", app.url)).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.expect("the order service answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON error body"))
}

/// Every malformed request is refused with its own 4xx and a JSON detail, and none of them
/// charges anyone or counts anything.
#[tokio::test]
async fn malformed_requests_get_a_json_4xx_and_change_nothing() {
    let app = spawn_app().await;
    let json = Some("application/json");
    let big_batch = json!({"orders": (1..=1001)
        .map(|id| json!({"id": id, "customer_id": 2, "amount": 1}))
        .collect::<Vec<_>>()})
    .to_string();
    let huge_body = format!(
        r#"{{"id": 1, "customer_id": 1, "amount": 1, "note": "{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let cases: Vec<(&str, &str, Option<&str>, String)> = vec![
        ("broken JSON", "/orders", json, r#"{"id": 1,"#.into()),
        (
            "missing amount",
            "/orders",
            json,
            r#"{"id": 1, "customer_id": 1}"#.into(),
        ),
        (
            "amount as a string",
            "/orders",
            json,
            r#"{"id": 1, "customer_id": 1, "amount": "10"}"#.into(),
        ),
        (
            "negative id",
            "/orders",
            json,
            r#"{"id": -1, "customer_id": 1, "amount": 10}"#.into(),
        ),
        (
            "priority not a bool",
            "/orders",
            json,
            r#"{"id": 1, "customer_id": 1, "amount": 10, "priority": "yes"}"#.into(),
        ),
        (
            "no content type",
            "/orders",
            None,
            r#"{"id": 1, "customer_id": 1, "amount": 10}"#.into(),
        ),
        (
            "text content type",
            "/orders",
            Some("text/plain"),
            r#"{"id": 1, "customer_id": 1, "amount": 10}"#.into(),
        ),
        ("body over 256 KiB", "/orders", json, huge_body),
        ("batch of 1001 orders", "/orders/batch", json, big_batch),
        (
            "batch without orders",
            "/orders/batch",
            json,
            r#"{"items": []}"#.into(),
        ),
        (
            "batch with one bad order",
            "/orders/batch",
            json,
            r#"{"orders": [{"id": 1, "customer_id": 1, "amount": 10}, {"id": 2}]}"#.into(),
        ),
    ];
    let mut seen = Vec::new();
    for (name, path, content_type, body) in cases {
        let (status, answer) = send_raw(&app, path, content_type, body).await;
        assert!(
            (400..500).contains(&status),
            "{name}: expected a 4xx, got {status} {answer}"
        );
        let detail = answer["detail"].as_str().unwrap_or_default();
        assert!(
            !detail.is_empty(),
            "{name}: expected a JSON detail, got {answer}"
        );
        seen.push(json!({"case": name, "status": status, "detail": detail}));
    }
    insta::assert_json_snapshot!(seen);

    assert_eq!(
        app.stats().await,
        (0, Cents::ZERO),
        "a refused request counted a sale"
    );
    for customer in 1..=5 {
        assert_eq!(
            app.balance(customer).await,
            seed_balance(customer),
            "customer {customer} was charged"
        );
    }
    assert!(
        app.ledger(None).await.is_empty(),
        "a refused request reached the ledger"
    );
}

/// A path parameter that is not a number, and a route that does not exist, are JSON errors.
#[tokio::test]
async fn bad_paths_get_json_errors() {
    let app = spawn_app().await;
    let (status, body) = app.get(&format!("{}/balance/abc", app.url)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    let (status, body) = app.get(&format!("{}/nowhere", app.url)).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "no such endpoint"}))
    );
}

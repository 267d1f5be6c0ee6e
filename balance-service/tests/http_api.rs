//! The balance service over HTTP: idempotency keys, the ledger, fault plans, reset. Each
//! test starts its own service on 127.0.0.1:0.

use std::time::Duration;

use balance_service::faults::FaultPlan;
use balance_service::server::{BalanceConfig, BalanceServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A running balance service and a client for it.
struct TestApp {
    balance_url: String,
    http: reqwest::Client,
}

/// How a test's balance service is set up: its fault plan.
struct Setup {
    faults: FaultPlan,
}

impl Setup {
    fn default() -> Self {
        Setup {
            faults: FaultPlan::none(),
        }
    }

    /// Follows `script` (`"drop_response;ok"`), then runs fault-free.
    fn script(script: &str) -> Self {
        Setup {
            faults: format!("none,script={script}")
                .parse()
                .expect("test scripts are valid"),
        }
    }
}

async fn spawn_with(setup: Setup) -> TestApp {
    let config = BalanceConfig {
        faults: setup.faults,
        concurrency: 8,
        ..BalanceConfig::default()
    };
    let server = BalanceServer::bind(([127, 0, 0, 1], 0).into(), config)
        .await
        .expect("bind the balance service");
    let balance_url = server.url();
    tokio::spawn(server.run(std::future::pending()));
    TestApp {
        balance_url,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

impl TestApp {
    async fn get(&self, url: &str) -> (StatusCode, Value) {
        let response = self.http.get(url).send().await.expect("an answer");
        let status = response.status();
        (status, response.json().await.expect("a JSON answer"))
    }

    /// The applied deductions, for `reference` only when given.
    async fn ledger(&self, reference: Option<&str>) -> Vec<Value> {
        let url = match reference {
            Some(reference) => format!("{}/ledger?reference={reference}", self.balance_url),
            None => format!("{}/ledger", self.balance_url),
        };
        let (_, entries) = self.get(&url).await;
        entries.as_array().expect("the ledger is an array").clone()
    }
}

async fn deduct(
    app: &TestApp,
    customer: u64,
    amount: f64,
    key: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = app
        .http
        .post(format!(
            "{}/accounts/{customer}/deductions",
            app.balance_url
        ))
        .json(&json!({"amount": amount, "reference": "order-1"}));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("the balance service answers");
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        replayed,
        response.json().await.expect("a JSON body"),
    )
}

/// A repeat with the same key and payload replays the stored answer, marked as a replay,
/// without charging again.
#[tokio::test]
async fn a_repeated_key_replays_the_first_answer_without_charging_again() {
    let app = spawn_with(Setup::default()).await;
    let (status, replayed, first) = deduct(&app, 1, 50.0, Some("k-1")).await;
    assert_eq!((status, replayed), (StatusCode::OK, None), "{first}");
    insta::assert_json_snapshot!(first, @r#"
    {
      "customer_id": 1,
      "deduction_id": 1,
      "new_balance": 450.0
    }
    "#);
    let (status, replayed, again) = deduct(&app, 1, 50.0, Some("k-1")).await;
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::OK, Some("true"))
    );
    assert_eq!(again, first);
    assert_eq!(app.ledger(None).await.len(), 1, "a replay was charged");
}

/// Without a key, every request is a new deduction.
#[tokio::test]
async fn requests_without_a_key_are_each_charged() {
    let app = spawn_with(Setup::default()).await;
    deduct(&app, 1, 50.0, None).await;
    let (_, _, second) = deduct(&app, 1, 50.0, None).await;
    assert_eq!(second["new_balance"], 400.0);
    assert_eq!(app.ledger(Some("order-1")).await.len(), 2);
}

/// The same key with a different amount or customer is refused with 422.
#[tokio::test]
async fn a_key_reused_for_a_different_request_is_422() {
    let app = spawn_with(Setup::default()).await;
    deduct(&app, 1, 50.0, Some("k")).await;
    for (customer, amount) in [(1, 60.0), (2, 50.0)] {
        let (status, _, body) = deduct(&app, customer, amount, Some("k")).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "customer {customer}, {amount}: {body}"
        );
    }
    assert_eq!(app.ledger(None).await.len(), 1);
}

/// A repeat while the first request with the key is still being processed gets 409, and
/// `GET /deductions/{key}` says the same; afterwards the lookup gives the stored outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_flight_is_409_until_its_outcome_is_stored() {
    let app = std::sync::Arc::new(spawn_with(Setup::script("delay(400)")).await);
    let lookup = format!("{}/deductions/k-9", app.balance_url);
    let (status, _) = app.get(&lookup).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a key never received is 404");

    let first = tokio::spawn({
        let app = app.clone();
        async move { deduct(&app, 2, 10.0, Some("k-9")).await }
    });
    // Wait until the first request has claimed the key (it then sits in its 400 ms delay).
    let mut claimed = false;
    for _ in 0..200 {
        if app.get(&lookup).await.0 == StatusCode::CONFLICT {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(claimed, "the first request never showed as in flight");
    let (status, _, body) = deduct(&app, 2, 10.0, Some("k-9")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, _, first_body) = first.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{first_body}");
    let response = app.http.get(&lookup).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(response.json::<Value>().await.unwrap(), first_body);
    assert_eq!(app.ledger(None).await.len(), 1);
}

/// Funds check and deduction are one step: 402 with the balance when short, 404 for an
/// unknown customer, and neither reaches the ledger.
#[tokio::test]
async fn refusals_are_402_and_404_and_charge_nothing() {
    let app = spawn_with(Setup::default()).await;
    let (status, _, body) = deduct(&app, 5, 100.01, None).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    insta::assert_json_snapshot!(body, @r#"
    {
      "balance": 100.0,
      "code": "insufficient_funds",
      "detail": "insufficient funds: balance 100.00, requested 100.01",
      "requested": 100.01
    }
    "#);
    let (status, _, _) = deduct(&app, 77, 1.0, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(app.ledger(None).await.is_empty());
}

/// A lost response: the deduction is applied and the client hears nothing in time.
#[tokio::test]
async fn a_dropped_response_is_applied_but_never_answered_in_time() {
    let app = spawn_with(Setup::script("drop_response")).await;
    let outcome = app
        .http
        .post(format!("{}/accounts/1/deductions", app.balance_url))
        .json(&json!({"amount": 5, "reference": "order-1"}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(
        outcome.as_ref().is_err_and(|e| e.is_timeout()),
        "expected a timeout, got {outcome:?}"
    );
    assert_eq!(
        app.ledger(Some("order-1")).await.len(),
        1,
        "the deduction should be applied"
    );
}

/// `PUT /faults` replaces the plan, `GET /faults` counts decisions, `/reset` rewinds it, and
/// a bad plan is refused.
#[tokio::test]
async fn fault_plans_are_set_counted_and_rewound() {
    let app = spawn_with(Setup::default()).await;
    let plan = FaultPlan::script(["fail_before_apply".parse().unwrap()]);
    let response = app
        .http
        .put(format!("{}/faults", app.balance_url))
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _, _) = deduct(&app, 1, 1.0, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, _) = deduct(&app, 1, 1.0, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, faults) = app.get(&format!("{}/faults", app.balance_url)).await;
    insta::assert_json_snapshot!(faults);

    app.http
        .post(format!("{}/reset", app.balance_url))
        .send()
        .await
        .unwrap();
    let (_, faults) = app.get(&format!("{}/faults", app.balance_url)).await;
    assert_eq!(faults["next_sequence"], 0, "{faults}");
    let (status, _, _) = deduct(&app, 1, 1.0, None).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "reset should rewind the script"
    );

    let response = app
        .http
        .put(format!("{}/faults", app.balance_url))
        .json(&json!({"fail_before_apply": 1.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Past the script, a request's fault depends on its reference and how many requests with
/// that reference came first, not on when it arrives: each order meets the same faults
/// however the requests of several clients interleave.
#[tokio::test]
async fn each_order_meets_the_same_faults_in_any_interleaving() {
    let plan = "none,seed=3,fail=0.5";
    let orders = ["order-1", "order-2", "order-3"];
    // Three attempts of each order, one interleaving per order of the references.
    let interleavings = [[0, 0, 0, 1, 1, 1, 2, 2, 2], [2, 1, 0, 1, 2, 0, 0, 2, 1]];
    let mut seen = Vec::new();
    for interleaving in interleavings {
        let app = spawn_with(Setup {
            faults: plan.parse().unwrap(),
        })
        .await;
        let mut statuses = vec![Vec::new(); orders.len()];
        for order in interleaving {
            let response = app
                .http
                .post(format!("{}/accounts/1/deductions", app.balance_url))
                .json(&json!({"amount": 1.0, "reference": orders[order]}))
                .send()
                .await
                .expect("the balance service answers");
            statuses[order].push(response.status().as_u16());
        }
        seen.push(statuses);
    }
    assert_eq!(
        seen[0], seen[1],
        "the attempts of {orders:?} were answered differently when sent in the orders \
         {interleavings:?} (plan `{plan}`)"
    );
    assert!(
        seen[0].iter().flatten().any(|s| *s == 503) && seen[0].iter().flatten().any(|s| *s == 200),
        "plan `{plan}` should fail some of the 9 attempts and not all: {:?}",
        seen[0]
    );
}

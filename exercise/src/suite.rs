//! Every black-box scenario the harness runs: the public ones (the `scenarios` crate, which
//! the candidate's tests run too) and the held-back ones below, which the candidate
//! never sees, each with the role it plays in a verdict.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use order_service::money::Cents;
use order_service::orders::{OrderResponse, OrderStatus};
use serde_json::json;

use scenarios::reported;
use scenarios::services::{Setup, TestApp};

pub type Check = fn(Arc<TestApp>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// What one run of a workload showed, for `repro`'s table.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The symptom did not show.
    pub held: bool,
    /// The numbers, for a person: `92 ok ($920.00); /stats 84 orders ($840.00): 8 lost`.
    pub line: String,
    /// The share of updates lost, where that is what the symptom is.
    pub loss: Option<f64>,
}

pub type Observe = fn(Arc<TestApp>) -> Pin<Box<dyn Future<Output = Observation> + Send>>;

/// What a check's failure tells about a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Shows the reported symptom (an order charged twice; `/stats` lower than the orders
    /// charged). It fails while the bug is there; any failure means the bug is not fixed.
    Symptom,
    /// Holds in the buggy code: failing means a fix traded the symptom for another defect,
    /// named by the text.
    Guard(&'static str),
    /// Holds for a production-grade fix; failing is a gap worth discussing, in the text's
    /// words, not the reported bug.
    Robustness(&'static str),
}

impl Role {
    /// `symptom`, `guard` or `robustness`.
    pub fn kind(&self) -> &'static str {
        match self {
            Role::Symptom => "symptom",
            Role::Guard(_) => "guard",
            Role::Robustness(_) => "robustness",
        }
    }

    /// The wrong fix or the gap a failure means; empty for a symptom.
    pub fn meaning(&self) -> &'static str {
        match self {
            Role::Symptom => "",
            Role::Guard(text) | Role::Robustness(text) => text,
        }
    }
}

pub struct Scenario {
    pub name: &'static str,
    pub bug: &'static str,
    pub role: Role,
    pub public: bool,
    pub setup: fn() -> Setup,
    pub check: Check,
    pub timeout: Duration,
    /// Its fault plan is seeded: `grade` runs it once per seed, not once.
    pub seeded: bool,
    /// The scenario `repro` measures for its bug unless told otherwise.
    pub repro: bool,
    /// What `repro` prints of each run, when more than pass or fail.
    pub observe: Option<Observe>,
}

macro_rules! scenario {
    ($bug:literal, $role:expr, $public:literal, $setup:expr, $check:path) => {
        Scenario {
            name: stringify!($check).rsplit("::").next().unwrap_or(""),
            bug: $bug,
            role: $role,
            public: $public,
            setup: $setup,
            check: |app| Box::pin($check(app)),
            timeout: Duration::from_secs(60),
            seeded: false,
            repro: false,
            observe: None,
        }
    };
}

/// The wrong fix the concurrency guard names. A lock across the whole order is reported
/// under lost-update, whichever bug it was meant to fix: it is the stats it serializes.
pub const SERIALIZED: &str =
    "orders run one at a time: a lock is held across the balance service call";
pub const NO_RETRIES: &str = "retries removed: an order whose first attempt failed before anything was applied is reported failed";
pub const NO_TIMEOUT_RETRIES: &str = "timeouts are no longer retried: an order whose response was lost once is reported failed although it was charged";
pub const TORN: &str = "/stats can show the revenue of one more order than its count, for a moment";
pub const ALL_LOST: &str =
    "an order whose every response was lost is reported failed although it was charged once";
pub const REUSED_ID: &str = "an order id reused for a different order is not refused with a 4xx";
pub const RESEND_COUNTED: &str = "a resent order is counted twice in /stats, though charged once";
pub const COPIES_COUNTED: &str = "copies of one order arriving together are each counted in /stats";
pub const BATCH_UNCOUNTED: &str = "orders placed in a batch are no longer counted in /stats";
pub const FLAKY_REPORTED_FAILED: &str =
    "on a very flaky network, some orders charged once are reported failed";

/// All scenarios, public first.
pub fn all() -> Vec<Scenario> {
    use Role::*;
    vec![
        scenario!(
            "lost-update",
            Symptom,
            true,
            reported::ten_clients_setup,
            reported::stats_match_the_orders_charged
        ),
        Scenario {
            repro: true,
            ..scenario!(
                "double-charge",
                Symptom,
                true,
                reported::flaky_network_setup,
                reported::orders_on_a_flaky_network_are_charged_once
            )
        },
        scenario!(
            "double-charge",
            Symptom,
            true,
            reported::burst_setup,
            reported::orders_in_a_burst_are_charged_once
        ),
        scenario!(
            "double-charge",
            Symptom,
            true,
            Setup::default,
            reported::an_order_sent_twice_is_charged_once
        ),
        scenario!(
            "double-charge",
            Symptom,
            true,
            reported::sent_twice_at_once_setup,
            reported::an_order_sent_twice_at_once_is_charged_once
        ),
        scenario!(
            "double-charge",
            Guard(NO_RETRIES),
            true,
            reported::fails_once_setup,
            reported::an_order_goes_through_when_the_balance_service_fails_once
        ),
        Scenario {
            seeded: true,
            repro: true,
            observe: Some(|app| Box::pin(observe_original_workload(app))),
            ..scenario!(
                "lost-update",
                Symptom,
                false,
                original_workload_setup,
                stats_match_the_orders_answered_ok_under_the_original_workload
            )
        },
        scenario!(
            "lost-update",
            Guard(SERIALIZED),
            false,
            slow_balance_setup,
            orders_are_processed_concurrently
        ),
        scenario!(
            "lost-update",
            Guard(BATCH_UNCOUNTED),
            false,
            Setup::default,
            orders_in_a_batch_are_counted
        ),
        scenario!(
            "lost-update",
            Robustness(TORN),
            false,
            quick_balance_setup,
            stats_are_never_seen_torn
        ),
        Scenario {
            seeded: true,
            ..scenario!(
                "double-charge",
                Symptom,
                false,
                very_flaky_setup,
                no_order_is_charged_twice_on_a_very_flaky_network
            )
        },
        scenario!(
            "double-charge",
            Symptom,
            false,
            quick_balance_setup,
            copies_sent_together_are_charged_once
        ),
        scenario!(
            "double-charge",
            Guard(NO_TIMEOUT_RETRIES),
            false,
            lost_once_setup,
            an_order_whose_response_was_lost_once_is_reported_ok
        ),
        scenario!(
            "double-charge",
            Robustness(ALL_LOST),
            false,
            all_lost_setup,
            an_order_whose_every_response_was_lost_is_reported_ok
        ),
        scenario!(
            "double-charge",
            Robustness(REUSED_ID),
            false,
            Setup::default,
            an_order_id_reused_for_another_order_is_refused
        ),
        scenario!(
            "double-charge",
            Robustness(RESEND_COUNTED),
            false,
            Setup::default,
            a_resent_order_is_counted_once
        ),
        scenario!(
            "double-charge",
            Robustness(COPIES_COUNTED),
            false,
            quick_balance_setup,
            copies_sent_together_are_counted_once
        ),
        Scenario {
            seeded: true,
            ..scenario!(
                "double-charge",
                Robustness(FLAKY_REPORTED_FAILED),
                false,
                very_flaky_setup,
                charged_orders_are_reported_ok_on_a_very_flaky_network
            )
        },
    ]
}

/// The original exercise's workload: the default flaky profile (seeded per run), and a
/// client that gives each attempt 500 ms.
pub fn original_workload_setup() -> Setup {
    Setup {
        faults: "default".parse().unwrap(),
        concurrency: 4,
        attempt_timeout: Duration::from_millis(500),
        ..Setup::default()
    }
}

/// What the original workload showed: the answers, and `/stats` after them.
pub struct OriginalWorkload {
    pub ok: u64,
    pub stats_count: u64,
    pub stats_revenue: Cents,
}

/// 100 orders of $10 for customer 2 from 10 clients, 10 orders each.
pub async fn original_workload(app: &Arc<TestApp>) -> OriginalWorkload {
    let clients: Vec<_> = (0..10u64)
        .map(|client| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut ok = 0;
                for n in 0..10 {
                    let id = client * 10 + n + 1;
                    let (_, answer) = app
                        .post(
                            "/orders",
                            &json!({"id": id, "customer_id": 2, "amount": 10.0}),
                        )
                        .await;
                    ok += u64::from(answer["status"] == "ok");
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for client in clients {
        ok += client.await.expect("a client task panicked");
    }
    let (stats_count, stats_revenue) = app.stats().await;
    OriginalWorkload {
        ok,
        stats_count,
        stats_revenue,
    }
}

/// The original workload, and what `/stats` lost of it.
pub async fn observe_original_workload(app: Arc<TestApp>) -> Observation {
    let seen = original_workload(&app).await;
    let lost = seen.ok.saturating_sub(seen.stats_count);
    let expected = Cents::dollars(10) * seen.ok as i64;
    Observation {
        held: seen.stats_count == seen.ok && seen.stats_revenue == expected,
        line: format!(
            "{} ok (${expected}); /stats {} orders (${}): {lost} lost",
            seen.ok, seen.stats_count, seen.stats_revenue
        ),
        loss: Some(lost as f64 / seen.ok.max(1) as f64),
    }
}

/// The original workload: `/stats` counts exactly the orders answered ok.
pub async fn stats_match_the_orders_answered_ok_under_the_original_workload(app: Arc<TestApp>) {
    let seen = original_workload(&app).await;
    let expected = Cents::dollars(10) * seen.ok as i64;
    assert!(
        seen.stats_count == seen.ok && seen.stats_revenue == expected,
        "/stats shows {} orders and ${}, but {} orders of $10 were answered ok (${expected}); \
         100 orders of $10 from 10 clients, balance service faults `{}`",
        seen.stats_count,
        seen.stats_revenue,
        seen.ok,
        app.plan
    );
}

/// 20 ms for every deduction and room for all of them at once.
fn slow_balance_setup() -> Setup {
    Setup {
        faults: "none,latency=20".parse().unwrap(),
        concurrency: 200,
        ..Setup::default()
    }
}

/// 100 concurrent orders at 20 ms balance latency finish far faster than one after another
/// would (2 s): the order service does not serialize orders around the balance call.
pub async fn orders_are_processed_concurrently(app: Arc<TestApp>) {
    let serial = Duration::from_millis(100 * 20);
    let started = Instant::now();
    let orders: Vec<_> = (1..=100u64)
        .map(|id| {
            let app = app.clone();
            tokio::spawn(async move { app.order(id, 2, 1.0).await })
        })
        .collect();
    let mut charged = 0;
    for order in orders {
        if order.await.expect("an order task panicked").status == OrderStatus::Ok {
            charged += 1;
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(charged, 100, "all 100 orders of $1 should be charged");
    assert!(
        elapsed < serial / 3,
        "100 concurrent orders at 20 ms balance latency took {elapsed:.2?}; one at a time takes \
         {serial:.2?}, and concurrent processing well under {:.2?}: orders are being serialized",
        serial / 3
    );
}

/// A batch of 5 orders of $10: all charged, all counted.
pub async fn orders_in_a_batch_are_counted(app: Arc<TestApp>) {
    let orders: Vec<_> = (1..=5u64)
        .map(|id| json!({"id": id, "customer_id": 2, "amount": 10.0}))
        .collect();
    let (status, answers) = app
        .post("/orders/batch", &json!({ "orders": orders }))
        .await;
    assert!(
        status.is_success(),
        "POST /orders/batch answered {status}: {answers}"
    );
    let (count, revenue) = app.stats().await;
    assert_eq!(
        (count, revenue),
        (5, Cents::dollars(50)),
        "a batch of 5 orders of $10 was answered {answers}; /stats shows {count} orders, ${revenue}"
    );
}

/// Seeded 0-2 ms latency: quick, so many requests overlap.
fn quick_balance_setup() -> Setup {
    Setup {
        faults: "none,seed=11,latency=0..2".parse().unwrap(),
        concurrency: 64,
        ..Setup::default()
    }
}

/// While 300 orders of $10 are placed by 30 clients, 4 readers poll `/stats`: every
/// snapshot has revenue equal to $10 times the count. (Whether the count is complete is
/// the symptom checks' business.)
pub async fn stats_are_never_seen_torn(app: Arc<TestApp>) {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (app, done) = (app.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let (count, revenue) = app.stats().await;
                    assert_eq!(
                        revenue,
                        Cents::dollars(10) * count as i64,
                        "/stats showed {count} orders with revenue ${revenue}, all orders being $10"
                    );
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..30u64)
        .map(|client| {
            let app = app.clone();
            tokio::spawn(async move {
                for n in 0..10 {
                    app.order(client * 10 + n + 1, 4, 10.0).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a client task panicked");
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        if let Err(error) = reader.await {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

/// Heavy faults: 20% failures before applying, 20% lost responses, 0-10 ms latency.
fn very_flaky_setup() -> Setup {
    Setup {
        faults: "none,fail=0.2,drop=0.2,latency=0..10".parse().unwrap(),
        concurrency: 16,
        attempt_timeout: Duration::from_millis(150),
        ..Setup::default()
    }
}

/// 40 orders of $3 over customers 1-5 from 8 clients, and the ledger after them.
async fn very_flaky_workload(
    app: &Arc<TestApp>,
) -> (Vec<OrderResponse>, BTreeMap<u64, Vec<serde_json::Value>>) {
    let clients: Vec<_> = (0..8u64)
        .map(|client| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for n in 0..5 {
                    let id = client * 5 + n + 1;
                    answers.push(app.order(id, id % 5 + 1, 3.0).await);
                }
                answers
            })
        })
        .collect();
    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.expect("a client task panicked"));
    }
    let mut charges: BTreeMap<u64, Vec<serde_json::Value>> = BTreeMap::new();
    for entry in app.ledger(None).await {
        if let Some(id) = entry["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("order-"))
            .and_then(|id| id.parse().ok())
        {
            charges.entry(id).or_default().push(entry);
        }
    }
    (answers, charges)
}

/// On a very flaky network, no order is charged twice.
pub async fn no_order_is_charged_twice_on_a_very_flaky_network(app: Arc<TestApp>) {
    let (_, charges) = very_flaky_workload(&app).await;
    let twice: Vec<_> = charges
        .iter()
        .filter(|(_, entries)| entries.len() > 1)
        .map(|(id, entries)| format!("order {id} x{}", entries.len()))
        .collect();
    assert!(
        twice.is_empty(),
        "charged more than once: {} (40 orders of $3 from 8 clients, balance service faults `{}`)",
        twice.join(", "),
        app.plan
    );
}

/// On a very flaky network, every order the balance service charged is reported ok.
pub async fn charged_orders_are_reported_ok_on_a_very_flaky_network(app: Arc<TestApp>) {
    let (answers, charges) = very_flaky_workload(&app).await;
    let failed_but_charged: Vec<_> = answers
        .iter()
        .filter(|a| a.status != OrderStatus::Ok && charges.contains_key(&a.id))
        .map(|a| format!("order {} ({})", a.id, a.message.as_deref().unwrap_or("")))
        .collect();
    assert!(
        failed_but_charged.is_empty(),
        "charged, but reported failed: {} (balance service faults `{}`)",
        failed_but_charged.join("; "),
        app.plan
    );
}

/// Sends each of 30 orders of $5 for customer 2 four times at once.
async fn send_copies_together(app: &Arc<TestApp>) {
    let mut sends = Vec::new();
    for id in 1..=30u64 {
        for _ in 0..4 {
            let app = app.clone();
            let body = json!({"id": id, "customer_id": 2, "amount": 5.0});
            sends.push(tokio::spawn(
                async move { app.post("/orders", &body).await },
            ));
        }
    }
    for send in sends {
        send.await.expect("a client task panicked");
    }
}

/// 30 orders, each sent 4 times at once: each is charged once.
pub async fn copies_sent_together_are_charged_once(app: Arc<TestApp>) {
    send_copies_together(&app).await;
    for id in 1..=30u64 {
        let charges = app.charges_for(id).await;
        assert!(
            charges <= 1,
            "order {id}, sent 4 times at once, was charged {charges} times"
        );
    }
}

/// 30 orders, each sent 4 times at once: `/stats` counts no more orders than were charged.
pub async fn copies_sent_together_are_counted_once(app: Arc<TestApp>) {
    send_copies_together(&app).await;
    let mut charged = 0;
    for id in 1..=30u64 {
        charged += app.charges_for(id).await.min(1) as u64;
    }
    let (count, _) = app.stats().await;
    assert!(
        count <= charged,
        "30 orders sent 4 times each at once, {charged} of them charged: /stats counts {count}"
    );
}

/// The first deduction's response is lost; attempts give up after 200 ms.
fn lost_once_setup() -> Setup {
    Setup::script("drop_response")
}

/// The balance service applies the first deduction but its response is lost: the order is
/// still reported ok.
pub async fn an_order_whose_response_was_lost_once_is_reported_ok(app: Arc<TestApp>) {
    let response = app.order(1, 1, 50.0).await;
    assert_eq!(
        response.status,
        OrderStatus::Ok,
        "the first response was lost, the next attempt could go through (faults `{}`): {response:?}",
        app.plan
    );
}

/// The first three deductions' responses are lost.
fn all_lost_setup() -> Setup {
    Setup::script("drop_response;drop_response;drop_response")
}

/// Every attempt's response is lost: the first was applied, so the order is reported ok.
pub async fn an_order_whose_every_response_was_lost_is_reported_ok(app: Arc<TestApp>) {
    let response = app.order(1, 4, 100.0).await;
    let charges = app.charges_for(1).await;
    assert!(
        response.status == OrderStatus::Ok || charges == 0,
        "order 1 was charged {charges} time(s) but reported {:?}: {:?} (faults `{}`)",
        response.status,
        response.message,
        app.plan
    );
}

/// Order 3 ($20 for customer 1), then another order with id 3 for $25: the second is refused
/// with a 4xx, and nothing more is charged.
pub async fn an_order_id_reused_for_another_order_is_refused(app: Arc<TestApp>) {
    app.order(3, 1, 20.0).await;
    let (status, body) = app
        .post(
            "/orders",
            &json!({"id": 3, "customer_id": 1, "amount": 25.0}),
        )
        .await;
    let charges = app.charges_for(3).await;
    assert!(
        status.is_client_error() && charges == 1,
        "order id 3, reused for $25 after a $20 order, was answered {status} {body} and charged \
         {charges} time(s) in all"
    );
}

/// Order 7, answered, then sent again: `/stats` counts it once.
pub async fn a_resent_order_is_counted_once(app: Arc<TestApp>) {
    let body = json!({"id": 7, "customer_id": 1, "amount": 50.0});
    app.post("/orders", &body).await;
    app.post("/orders", &body).await;
    let charges = app.charges_for(7).await;
    let (count, revenue) = app.stats().await;
    assert!(
        count as usize <= charges,
        "order 7, sent twice, was charged {charges} time(s) and /stats counts {count} orders, ${revenue}"
    );
}

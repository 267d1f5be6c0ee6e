//! How `exercise grade` judges a fix of double-charge: the public scenarios, the held-back
//! ones, and the loom models, each with the role its failure plays in the verdict.
//! Compiled into the harness (`exercise/src/catalog/mod.rs`); never exported.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use order_service::orders::{OrderResponse, OrderStatus};
use serde_json::json;

use scenarios::reported;
use scenarios::services::{Setup, TestApp};

use crate::catalog::support::quick_balance_setup;
use crate::catalog::{Checks, Role, Scenario, WhiteBox};

pub const NO_RETRIES: &str = "retries removed: an order whose first attempt failed before anything was applied is reported failed";
pub const NO_TIMEOUT_RETRIES: &str = "timeouts are no longer retried: an order whose response was lost once is reported failed although it was charged";
pub const ALL_LOST: &str =
    "an order whose every response was lost is reported failed although it was charged once";
pub const REUSED_ID: &str =
    "an order id reused for a different order is neither refused nor charged as a new order";
pub const LATER_ORDERS_REFUSED: &str =
    "a customer's later orders are refused: distinct orders of one customer are taken for one";
pub const NEVER_ANSWERED: &str = "an order can go unanswered for ever: while the balance service keeps failing, it is retried without end";
pub const RESEND_COUNTED: &str = "a resent order is counted twice in /stats, though charged once";
pub const COPIES_COUNTED: &str = "copies of one order arriving together are each counted in /stats";
pub const FLAKY_REPORTED_FAILED: &str =
    "on a very flaky network, some orders charged once are reported failed";

pub fn checks() -> Checks {
    use Role::*;
    Checks {
        scenarios: vec![
            Scenario {
                repro: true,
                ..scenario!(
                    Symptom,
                    public,
                    reported::flaky_network_setup,
                    reported::orders_on_a_flaky_network_are_charged_once
                )
            },
            // Its orders time out by queueing at the balance service: other load would make
            // more of them time out, and the run take as long as the retry deadline.
            Scenario {
                alone: true,
                ..scenario!(
                    Symptom,
                    public,
                    reported::burst_setup,
                    reported::orders_in_a_burst_are_charged_once
                )
            },
            scenario!(
                Symptom,
                public,
                Setup::default,
                reported::an_order_sent_twice_is_charged_once
            ),
            scenario!(
                Symptom,
                public,
                reported::sent_twice_at_once_setup,
                reported::an_order_sent_twice_at_once_is_charged_once
            ),
            scenario!(
                Guard(NO_RETRIES),
                public,
                reported::fails_once_setup,
                reported::an_order_goes_through_when_the_balance_service_fails_once
            ),
            Scenario {
                seeded: true,
                ..scenario!(
                    Symptom,
                    held_back,
                    very_flaky_setup,
                    no_order_is_charged_twice_on_a_very_flaky_network
                )
            },
            scenario!(
                Symptom,
                held_back,
                quick_balance_setup,
                copies_sent_together_are_charged_once
            ),
            scenario!(
                Guard(LATER_ORDERS_REFUSED),
                held_back,
                Setup::default,
                every_order_of_one_customer_is_charged
            ),
            scenario!(
                Guard(NEVER_ANSWERED),
                held_back,
                always_failing_setup,
                every_order_is_answered_while_the_balance_service_keeps_failing
            ),
            scenario!(
                Guard(NO_TIMEOUT_RETRIES),
                held_back,
                lost_once_setup,
                an_order_whose_response_was_lost_once_is_reported_ok
            ),
            scenario!(
                Robustness(ALL_LOST),
                held_back,
                all_lost_setup,
                an_order_whose_every_response_was_lost_is_reported_ok
            ),
            scenario!(
                Robustness(REUSED_ID),
                held_back,
                Setup::default,
                an_order_id_reused_for_another_order_is_refused
            ),
            scenario!(
                Robustness(RESEND_COUNTED),
                held_back,
                Setup::default,
                a_resent_order_is_counted_once
            ),
            scenario!(
                Robustness(COPIES_COUNTED),
                held_back,
                quick_balance_setup,
                copies_sent_together_are_counted_once
            ),
            Scenario {
                seeded: true,
                ..scenario!(
                    Robustness(FLAKY_REPORTED_FAILED),
                    held_back,
                    very_flaky_setup,
                    charged_orders_are_reported_ok_on_a_very_flaky_network
                )
            },
        ],
        white_box: vec![
            WhiteBox::loom("an_order_is_charged_once_on_a_flaky_network", Symptom),
            WhiteBox::loom("an_order_sent_twice_at_once_is_charged_once", Symptom)
                .skipping(ABOVE_PLACE),
            WhiteBox::loom(
                "an_order_sent_twice_at_once_is_counted_once",
                Robustness(COPIES_COUNTED),
            )
            .skipping(ABOVE_PLACE),
        ],
    }
}

/// What stands between a customer and `orders::place::place`, where the models of copies
/// sent together start: a fix that makes copies meet in `Orders::process` or the handler
/// (one placement per id, the others waiting for its answer) is not run by them.
const ABOVE_PLACE: &[&str] = &["src/api.rs", "src/orders/intake.rs"];

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
/// in one of the API's own refusal shapes (a 4xx, or 200 with `status: "error"` and a
/// message, as for insufficient funds), and nothing more is charged. The reference's 422 is
/// one way, not the only one.
pub async fn an_order_id_reused_for_another_order_is_refused(app: Arc<TestApp>) {
    app.order(3, 1, 20.0).await;
    let (status, body) = app
        .post(
            "/orders",
            &json!({"id": 3, "customer_id": 1, "amount": 25.0}),
        )
        .await;
    let charges = app.charges_for(3).await;
    let refused = status.is_client_error()
        || (status.is_success()
            && body["status"] == "error"
            && body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(
        refused && charges == 1,
        "order id 3, reused for $25 after a $20 order, was answered {status} {body} and charged \
         {charges} time(s) in all"
    );
}

/// Customer 1 places five different orders of $10, one after another: each is answered ok
/// and charged once.
pub async fn every_order_of_one_customer_is_charged(app: Arc<TestApp>) {
    let mut answers = Vec::new();
    for id in 21..=25u64 {
        answers.push(app.order(id, 1, 10.0).await);
    }
    let mut wrong = Vec::new();
    for answer in &answers {
        let charges = app.charges_for(answer.id).await;
        if answer.status != OrderStatus::Ok || charges != 1 {
            wrong.push(format!(
                "order {} answered {:?} ({}), charged {charges} time(s)",
                answer.id,
                answer.status,
                answer.message.as_deref().unwrap_or("no message")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "customer 1 ($500) placed orders 21-25 of $10 one after another; {} of 5 went wrong, \
         first: {}",
        wrong.len(),
        wrong.first().map_or("", String::as_str)
    );
}

/// Every deduction fails before anything is applied (503), and the order service is given a
/// retry deadline of 2 s.
fn always_failing_setup() -> Setup {
    let mut setup = Setup {
        faults: "none,fail=1"
            .parse()
            .expect("a plan that always fails parses"),
        ..Setup::default()
    };
    setup.retry.deadline = Duration::from_secs(2);
    setup
}

/// How long an order may take to be answered while the balance service keeps failing: far
/// past the retry deadline the grader sets (2 s), so that a fix with a deadline of its own
/// (the reference's default is 10 s) passes too.
const ANSWER_BOUND: Duration = Duration::from_secs(15);

/// While the balance service fails every deduction, three orders sent at once are each
/// answered (as unavailable) within 15 s: none is retried for ever.
pub async fn every_order_is_answered_while_the_balance_service_keeps_failing(app: Arc<TestApp>) {
    let sends: Vec<_> = (31..=33u64)
        .map(|id| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!({"id": id, "customer_id": 2, "amount": 10.0});
                (
                    id,
                    tokio::time::timeout(ANSWER_BOUND, app.post("/orders", &body)).await,
                )
            })
        })
        .collect();
    let mut unanswered = Vec::new();
    for send in sends {
        let (id, answer) = send.await.expect("a client task panicked");
        if answer.is_err() {
            unanswered.push(id);
        }
    }
    assert!(
        unanswered.is_empty(),
        "order {} (and {} more of 3) got no answer within {ANSWER_BOUND:?} while the balance \
         service failed every deduction (faults `{}`; the order service was given a retry \
         deadline of {:?})",
        unanswered[0],
        unanswered.len() - 1,
        app.plan,
        always_failing_setup().retry.deadline
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

//! How `exercise grade` judges a fix of batch-priority: its triggering tests as the reference
//! wrote them, a held-back scenario of its symptom, and what a rewritten batch can break:
//! the answer listing the orders as they were placed (a fix that places priority first and
//! answers in the order sent hides it from the public tests only by editing them); every
//! order answered once, with its own outcome, and counted (a batch split and put back
//! together can drop, repeat or mix up orders); a big batch still placed one order at a time
//! (a batch placed all at once overwhelms the balance service, and orders it charged are
//! answered as failed); and a gap, the order the rest of a batch is placed in.
//! Compiled into the harness (`exercise/src/catalog/mod.rs`); never exported.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use order_service::money::Cents;
use order_service::orders::{OrderResponse, OrderStatus};
use serde_json::json;

use scenarios::services::{Setup, TestApp};

use crate::catalog::support::post_batch;
use crate::catalog::{Checks, Role};

pub const OUT_OF_ORDER: &str =
    "orders of the same priority are no longer placed in the order they were sent";
pub const MIXED_UP: &str = "a batch's answers no longer match its orders one for one (an order dropped, answered twice, or given another's outcome)";
pub const LISTED_OUT_OF_PLACE: &str = "a batch's answer no longer lists its orders in the order they were placed: priority orders placed first are listed after the normal orders sent before them";
pub const FLOODS: &str = "a batch sends its orders to the balance service all at once: a big batch overwhelms it, and orders it charged are answered as failed";

pub fn checks() -> Checks {
    use Role::*;
    Checks {
        scenarios: vec![
            scenario!(
                Symptom,
                held_back,
                Setup::default,
                a_priority_order_sent_last_is_placed_first
            ),
            scenario!(
                Guard(MIXED_UP),
                held_back,
                Setup::default,
                every_order_of_a_batch_is_answered_once_with_its_outcome
            ),
            scenario!(
                Guard(FLOODS),
                held_back,
                many_customers_setup,
                a_big_batch_is_answered_ok_by_a_busy_balance_service
            ),
            // After the other guards: an answer that mixes orders up, or a batch placed all at
            // once, also lists its orders out of place; the first failed guard names the
            // defect.
            scenario!(
                Guard(LISTED_OUT_OF_PLACE),
                held_back,
                Setup::default,
                a_batch_is_answered_in_the_order_it_was_placed
            ),
            scenario!(
                Robustness(OUT_OF_ORDER),
                held_back,
                Setup::default,
                orders_of_one_priority_are_placed_in_the_order_sent
            ),
        ],
        white_box: Vec::new(),
    }
}

/// Sends `orders` (id, customer, dollars, priority) as one batch; the answers, in order.
async fn batch(app: &TestApp, orders: &[(u64, u64, f64, bool)]) -> Vec<OrderResponse> {
    let orders: Vec<_> = orders
        .iter()
        .map(|(id, customer, amount, priority)| {
            json!({"id": id, "customer_id": customer, "amount": amount, "priority": priority})
        })
        .collect();
    serde_json::from_value(post_batch(app, orders).await).expect("a list of OrderResponse")
}

/// The order ids in the order the balance service charged them.
async fn charged_in_order(app: &TestApp) -> Vec<u64> {
    let mut entries = app.ledger(None).await;
    entries.sort_by_key(|entry| entry["deduction_id"].as_u64());
    entries
        .iter()
        .filter_map(|entry| {
            entry["reference"]
                .as_str()?
                .strip_prefix("order-")?
                .parse()
                .ok()
        })
        .collect()
}

/// Nine normal orders of $20 and, last, one priority order of $20, for customer 5 ($100): the
/// priority order is charged, and charged first. (Where the answer lists it is
/// [`a_batch_is_answered_in_the_order_it_was_placed`]'s business.)
pub async fn a_priority_order_sent_last_is_placed_first(app: Arc<TestApp>) {
    let mut orders: Vec<_> = (1..=9).map(|id| (id, 5, 20.0, false)).collect();
    orders.push((10, 5, 20.0, true));
    let answers = batch(&app, &orders).await;
    let priority = answers.iter().find(|a| a.id == 10);
    let charged = charged_in_order(&app).await;
    assert!(
        priority.is_some_and(|a| a.status == OrderStatus::Ok) && charged.first() == Some(&10),
        "a batch of nine normal orders of $20 and one priority order of $20 (id 10, sent last) \
         for customer 5, who has $100: the priority order was answered {:?}; charged in this \
         order: {charged:?}",
        priority.map(|a| (a.status, a.message.clone())),
    );
}

/// A batch of four that all go through, two of them priority (orders 2 and 4): the answer
/// lists the orders in the order the balance service charged them, as the buggy code and the
/// reference both do (priority first, then as sent).
pub async fn a_batch_is_answered_in_the_order_it_was_placed(app: Arc<TestApp>) {
    let answers = batch(
        &app,
        &[
            (1, 1, 10.0, false),
            (2, 2, 10.0, true),
            (3, 1, 10.0, false),
            (4, 3, 10.0, true),
        ],
    )
    .await;
    let listed: Vec<u64> = answers
        .iter()
        .filter(|a| a.status == OrderStatus::Ok)
        .map(|a| a.id)
        .collect();
    let charged = charged_in_order(&app).await;
    assert_eq!(
        listed, charged,
        "a batch of four orders that all go through (2 and 4 priority): the answer lists the \
         orders answered ok as {listed:?} (left), and the balance service charged them in the \
         order {charged:?} (right)"
    );
}

/// A batch of six: orders that go through, one refused for lack of money, one with an invalid
/// amount, one for an unknown customer, priority and not. Each order is answered exactly
/// once, with its own priority; an order answered ok is charged once and counted, and one
/// answered with an error is not charged.
pub async fn every_order_of_a_batch_is_answered_once_with_its_outcome(app: Arc<TestApp>) {
    let sent: [(u64, u64, i64, bool); 6] = [
        (1, 5, 80, false),
        (2, 5, 70, true),
        (3, 1, -5, true),
        (4, 99, 10, false),
        (5, 2, 20, false),
        (6, 3, 30, true),
    ];
    let as_sent: Vec<(u64, u64, f64, bool)> = sent
        .iter()
        .map(|&(id, customer, dollars, priority)| (id, customer, dollars as f64, priority))
        .collect();
    let answers = batch(&app, &as_sent).await;
    let ledger = app.ledger(None).await;
    let charges = |id: u64| {
        ledger
            .iter()
            .filter(|e| e["reference"] == format!("order-{id}"))
            .count()
    };
    let mut problems = Vec::new();
    let mut answered: BTreeMap<u64, Vec<&OrderResponse>> = BTreeMap::new();
    for answer in &answers {
        answered.entry(answer.id).or_default().push(answer);
    }
    let mut ok_revenue = Cents::ZERO;
    let mut ok_count = 0;
    for (id, _, amount, priority) in sent {
        match answered.get(&id).map(Vec::as_slice) {
            None | Some([]) => problems.push(format!("order {id} got no answer")),
            Some([answer]) => {
                if answer.priority != priority {
                    problems.push(format!(
                        "order {id} was sent with priority {priority} and answered with {}",
                        answer.priority
                    ));
                }
                match (answer.status, charges(id)) {
                    (OrderStatus::Ok, 1) => {
                        ok_count += 1;
                        ok_revenue += Cents::dollars(amount);
                    }
                    (OrderStatus::Ok, n) => {
                        problems.push(format!("order {id} was answered ok and charged {n} times"))
                    }
                    (OrderStatus::Error, 0) => {}
                    (OrderStatus::Error, n) => problems.push(format!(
                        "order {id} was answered with an error ({}) and charged {n} time(s)",
                        answer.message.as_deref().unwrap_or("no message")
                    )),
                }
            }
            Some(many) => problems.push(format!("order {id} was answered {} times", many.len())),
        }
    }
    let stranger: Vec<u64> = answered
        .keys()
        .copied()
        .filter(|id| !sent.iter().any(|(sent_id, ..)| sent_id == id))
        .collect();
    if !stranger.is_empty() {
        problems.push(format!("answers for orders never sent: {stranger:?}"));
    }
    let stats = app.stats().await;
    if stats != (ok_count, ok_revenue) {
        problems.push(format!(
            "/stats counts {} order(s) (${}), where {ok_count} were answered ok (${ok_revenue})",
            stats.0, stats.1
        ));
    }
    let summary: Vec<String> = answers
        .iter()
        .map(|a| format!("{} {:?}", a.id, a.status))
        .collect();
    assert!(
        problems.is_empty(),
        "a batch of 6 orders (ids 1 to 6: customer 5 $80 and $70 priority, an invalid amount, an \
         unknown customer, customer 2 $20, customer 3 $30 priority) was answered [{}]: {}",
        summary.join(", "),
        problems.join("; ")
    );
}

/// Customers the big-batch check charges: 200 of them, $100.00 each.
const CUSTOMERS: u64 = 200;

/// A balance service with 200 customers, taking 20-40 ms a deduction, 2 at a time; the order
/// service gives an attempt 200 ms, three attempts within a second.
fn many_customers_setup() -> Setup {
    Setup {
        faults: "none,seed=3,latency=20..40"
            .parse()
            .expect("a latency plan parses"),
        concurrency: 2,
        attempt_timeout: Duration::from_millis(200),
        retry: order_service::orders::RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(50),
            backoff_cap: Duration::from_secs(1),
            deadline: Duration::from_secs(1),
        },
        accounts: (1..=CUSTOMERS)
            .map(|id| (id, Cents::dollars(100)))
            .collect(),
        ..Setup::default()
    }
}

/// One batch of 200 orders of $1, one for each of 200 customers, to a balance service that
/// is busy but well: each order answered ok. (One after another, they take about 6 s; all at
/// once, they queue for 3 s at the balance service, past every attempt's limit.)
pub async fn a_big_batch_is_answered_ok_by_a_busy_balance_service(app: Arc<TestApp>) {
    let orders: Vec<_> = (1..=CUSTOMERS)
        .map(|id| (id, id, 1.0, id % 10 == 0))
        .collect();
    let answers = batch(&app, &orders).await;
    let failed: Vec<&OrderResponse> = answers
        .iter()
        .filter(|a| a.status != OrderStatus::Ok)
        .collect();
    let charged = app.ledger(None).await.len();
    assert!(
        failed.is_empty() && answers.len() == CUSTOMERS as usize,
        "a batch of {CUSTOMERS} orders of $1, one for each of {CUSTOMERS} customers who can pay, \
         to a balance service taking 20-40 ms a deduction, 2 at a time (an attempt waits 200 ms): \
         {} of {} answers were errors (first: order {}: {}), and the balance service charged \
         {charged} orders",
        failed.len(),
        answers.len(),
        failed.first().map_or(0, |a| a.id),
        failed
            .first()
            .and_then(|a| a.message.as_deref())
            .unwrap_or("no message")
    );
}

/// 40 orders of $1 for customer 2, every third one priority: the priority orders are
/// charged first, and each kind in the order it was sent.
pub async fn orders_of_one_priority_are_placed_in_the_order_sent(app: Arc<TestApp>) {
    let orders: Vec<_> = (1..=40).map(|id| (id, 2, 1.0, id % 3 == 0)).collect();
    batch(&app, &orders).await;
    let charged = charged_in_order(&app).await;
    let priority: Vec<u64> = charged.iter().copied().filter(|id| id % 3 == 0).collect();
    let normal: Vec<u64> = charged.iter().copied().filter(|id| id % 3 != 0).collect();
    let mut expected = priority.clone();
    expected.sort_unstable();
    let mut expected_normal = normal.clone();
    expected_normal.sort_unstable();
    assert!(
        priority == expected && normal == expected_normal && charged.len() == 40,
        "a batch of 40 orders of $1, ids 1 to 40, every third one priority: the balance \
         service charged them in this order: {charged:?} (priority orders first, each kind \
         in the order sent, was expected)"
    );
}

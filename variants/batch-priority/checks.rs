//! How `exercise grade` judges a fix of batch-priority: its triggering tests as the reference
//! wrote them (it has no public scenarios), a held-back scenario of its symptom, and one of
//! the order the rest of a batch is placed in. Compiled into the harness
//! (`exercise/src/catalog/mod.rs`); never exported.

use std::sync::Arc;

use order_service::orders::{OrderResponse, OrderStatus};
use serde_json::json;

use scenarios::services::{Setup, TestApp};

use crate::catalog::support::post_batch;
use crate::catalog::{Checks, Role};

pub const OUT_OF_ORDER: &str =
    "orders of the same priority are no longer placed in the order they were sent";

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
/// priority order is charged, and listed first.
pub async fn a_priority_order_sent_last_is_placed_first(app: Arc<TestApp>) {
    let mut orders: Vec<_> = (1..=9).map(|id| (id, 5, 20.0, false)).collect();
    orders.push((10, 5, 20.0, true));
    let answers = batch(&app, &orders).await;
    let priority = answers.iter().find(|a| a.id == 10);
    assert!(
        priority.is_some_and(|a| a.status == OrderStatus::Ok) && answers[0].id == 10,
        "a batch of nine normal orders of $20 and one priority order of $20 (id 10, sent last) \
         for customer 5, who has $100: the priority order was answered {:?} and the answer \
         lists order {} first; charged in this order: {:?}",
        priority.map(|a| (a.status, a.message.clone())),
        answers.first().map_or(0, |a| a.id),
        charged_in_order(&app).await
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

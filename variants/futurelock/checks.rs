//! How `exercise grade` judges a fix of futurelock: the public scenario (an order while a
//! balance page waits on a slow lookup), balance pages of a customer seen and one never seen
//! during the slow minute (a fix that only unblocks the orders misses them), a guard that a
//! page still shows the balance, and whether a known balance is shown without waiting for
//! the lookup. Compiled into the harness (`exercise/src/catalog/mod.rs`); never exported.

use std::sync::Arc;

use order_service::money::Cents;
use order_service::orders::OrderStatus;
use scenarios::reported::{self, BalancePage, BalancePageAnswer, SETTLE, SLOW_LOOKUP};
use scenarios::services::{TestApp, seed_balance};

use crate::catalog::{Checks, Role};

pub const NO_BALANCE: &str =
    "a balance page no longer shows the balance while the balance service is slow";
pub const WAITS_FOR_THE_LOOKUP: &str = "a balance page waits for the slow lookup even when the balance is known (the patience is gone)";

pub fn checks() -> Checks {
    use Role::*;
    Checks {
        scenarios: vec![
            scenario!(
                Symptom,
                public,
                reported::slow_lookups_setup,
                reported::orders_are_answered_while_the_balance_service_is_slow
            ),
            scenario!(
                Symptom,
                held_back,
                reported::slow_lookups_setup,
                balance_pages_are_answered_during_a_slow_minute
            ),
            scenario!(
                Guard(NO_BALANCE),
                held_back,
                reported::slow_lookups_setup,
                a_balance_page_shows_the_balance_during_a_slow_minute
            ),
            scenario!(
                Robustness(WAITS_FOR_THE_LOOKUP),
                held_back,
                reported::slow_lookups_setup,
                a_known_balance_is_shown_before_the_slow_lookup_answers
            ),
        ],
        white_box: Vec::new(),
    }
}

fn plan(app: &TestApp) -> String {
    format!(
        "lookups answered after {SLOW_LOOKUP:?}, patience 100 ms; balance service faults `{}`",
        app.plan
    )
}

/// Customer 1 has ordered; then their balance page and customer 3's (never seen) are open at
/// once during the slow minute: both are answered.
pub async fn balance_pages_are_answered_during_a_slow_minute(app: Arc<TestApp>) {
    let first = app.order(1, 1, 10.0).await;
    assert_eq!(first.status, OrderStatus::Ok, "order 1: {first:?}");
    let seen = BalancePage::open(&app, 1).await;
    let never_seen = BalancePage::open(&app, 3).await;
    for (page, what) in [
        (seen, "customer 1's balance page"),
        (never_seen, "customer 3's balance page (never seen before)"),
    ] {
        let customer = page.customer_id;
        assert!(
            page.answer().await.is_some(),
            "{what} (GET /balance/{customer}) got no answer within {SETTLE:?}; {}",
            plan(&app)
        );
    }
}

/// During the slow minute, a balance page shows the balance: the one customer 1's order left
/// (answered from what was seen, or by the balance service), and customer 4's seed balance
/// (never seen: the balance service's answer, however slow).
pub async fn a_balance_page_shows_the_balance_during_a_slow_minute(app: Arc<TestApp>) {
    let first = app.order(1, 1, 10.0).await;
    assert_eq!(first.status, OrderStatus::Ok, "order 1: {first:?}");
    for (customer, expected, why) in [
        (1, seed_balance(1) - Cents::dollars(10), "after order 1"),
        (
            4,
            seed_balance(4),
            "never seen; the balance service's answer",
        ),
    ] {
        let shown = BalancePage::open(&app, customer).await.answer().await;
        let shown_ok = |answer: &BalancePageAnswer| {
            answer.status == reqwest::StatusCode::OK
                && answer.body["balance"] == serde_json::to_value(expected).expect("cents")
        };
        assert!(
            shown.as_ref().is_some_and(shown_ok),
            "customer {customer}'s balance page should show {expected} ({why}); it answered {}; {}",
            shown.map_or_else(
                || format!("nothing within {SETTLE:?}"),
                |a| format!("{} {}", a.status, a.body)
            ),
            plan(&app)
        );
    }
}

/// A customer whose balance the service has seen (their order's answer) gets it on their
/// balance page before the slow lookup comes back: that is what the patience is for.
pub async fn a_known_balance_is_shown_before_the_slow_lookup_answers(app: Arc<TestApp>) {
    let first = app.order(1, 1, 10.0).await;
    assert_eq!(first.status, OrderStatus::Ok, "order 1: {first:?}");
    let Some(shown) = BalancePage::open(&app, 1).await.answer().await else {
        panic!(
            "customer 1's balance page got no answer within {SETTLE:?}; {}",
            plan(&app)
        );
    };
    assert!(
        shown.lookups_pending,
        "customer 1's balance page ({} {}) was answered only after the balance service \
         answered its lookup ({SLOW_LOOKUP:?}), though their balance was known from order 1; {}",
        shown.status,
        shown.body,
        plan(&app)
    );
}

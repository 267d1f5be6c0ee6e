//! How `exercise grade` judges a fix of futurelock.
//!
//! The symptom, at every moment of a slow minute: an order while one balance page waits on a
//! slow lookup (the public scenario); balance pages of a customer seen and of one never seen
//! (a fix that only unblocks the orders misses them); and an order and every page during a
//! busy minute, eight pages waiting at once, four of customers never seen (a fix that keeps
//! the lock across a lookup, if only for customers it has not seen, no longer hangs for good,
//! and still makes every order and page wait for every lookup in turn).
//!
//! Guards: a page still shows the balance; an order does not wait for a lookup; a slow lookup
//! does not put back a balance older than the one an order left (a fix that simply stops
//! holding the lock across the lookup lets it). Gaps: a known balance waits for the lookup
//! (the patience is gone); a lookup's answer thrown away because another customer ordered
//! meanwhile (one counter of notes for every customer), so a page waits on every view.
//!
//! Compiled into the harness (`exercise/src/catalog/mod.rs`); never exported.

use std::sync::Arc;

use order_service::money::Cents;
use order_service::orders::OrderStatus;
use scenarios::reported::{self, BalancePage, BalancePageAnswer, SETTLE, SLOW_LOOKUP, lookups};
use scenarios::services::{Setup, TestApp, poll, seed_balance};

use crate::catalog::support::inconclusive;
use crate::catalog::{Checks, Role};

pub const NO_BALANCE: &str =
    "a balance page no longer shows the balance while the balance service is slow";
pub const ORDERS_WAIT: &str =
    "an order waits for a slow balance lookup to come back before it is answered";
pub const STALE: &str = "a slow balance lookup puts back a balance older than the one an order left: the customer's page shows money they no longer have";
pub const WAITS_FOR_THE_LOOKUP: &str = "a balance page waits for the slow lookup even when the balance is known (the patience is gone)";
pub const ANSWER_THROWN_AWAY: &str = "a slow lookup's answer is thrown away when any customer orders meanwhile: in a busy minute a customer's balance page waits for the slow lookup on every view";

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
                Symptom,
                held_back,
                busy_minute_setup,
                orders_are_answered_during_a_busy_minute
            ),
            scenario!(
                Guard(ORDERS_WAIT),
                held_back,
                reported::slow_lookups_setup,
                an_order_does_not_wait_for_a_slow_lookup
            ),
            scenario!(
                Guard(STALE),
                held_back,
                no_patience_setup,
                a_slow_lookup_does_not_put_back_an_older_balance
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
            scenario!(
                Robustness(ANSWER_THROWN_AWAY),
                held_back,
                reported::slow_lookups_setup,
                a_looked_up_balance_is_kept_when_another_customer_orders
            ),
        ],
        white_box: Vec::new(),
    }
}

/// Lookups answered after two seconds, and a balance page answered from the balance last
/// seen without waiting at all: a page of a customer never seen decides, before its lookup
/// leaves, that it must wait for it.
fn no_patience_setup() -> Setup {
    Setup {
        balance_patience: std::time::Duration::ZERO,
        ..reported::slow_lookups_setup()
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

/// Customer 4, never seen, opens their balance page during the slow minute and waits for the
/// balance service's answer; customer 2 orders meanwhile. Then customer 4 opens the page
/// again: the balance the first lookup found is known now, and shown before the next slow
/// lookup answers. (Inconclusive where a balance known from an order already waits for the
/// lookup: that is [`a_known_balance_is_shown_before_the_slow_lookup_answers`]'s gap.)
pub async fn a_looked_up_balance_is_kept_when_another_customer_orders(app: Arc<TestApp>) {
    let first = app.order(1, 1, 10.0).await;
    assert_eq!(first.status, OrderStatus::Ok, "order 1: {first:?}");
    let known = BalancePage::open(&app, 1).await.answer().await;
    if !known.is_some_and(|shown| shown.lookups_pending) {
        inconclusive(
            "customer 1's balance page, known from order 1, was not answered before its slow \
             lookup: the patience is gone (another check's gap)"
                .into(),
        );
    }
    let page = BalancePage::open(&app, 4).await;
    let second = app.order(2, 2, 10.0).await;
    if second.status != OrderStatus::Ok {
        inconclusive(format!(
            "order 2 (customer 2) was refused while customer 4's lookup was out: {second:?}"
        ));
    }
    match page.answer().await {
        Some(shown) if shown.status == reqwest::StatusCode::OK => {}
        other => inconclusive(format!(
            "customer 4's first balance page was not answered with a balance ({other:?}): \
             another check's symptom"
        )),
    }
    // Counted by lookups answered, not pending: page 1's lookup, given up on at the
    // patience, may never be answered at all.
    let (_, answered_before) = lookups(&app).await;
    let Some(again) = BalancePage::open(&app, 4).await.answer().await else {
        panic!(
            "customer 4's balance page, opened again once its first lookup had answered, got \
             no answer within {SETTLE:?}; {}",
            plan(&app)
        );
    };
    let (_, answered_after) = lookups(&app).await;
    assert!(
        answered_after == answered_before,
        "customer 4's balance page, opened again once its first lookup had answered ({} {}), \
         waited for a second slow lookup ({SLOW_LOOKUP:?}): the first lookup's answer was not \
         kept, because customer 2 ordered while it was out; {}",
        again.status,
        again.body,
        plan(&app)
    );
}

/// Customers of the busy-minute check: the five seed customers and four more, $500.00 each.
const BUSY_CUSTOMERS: u64 = 9;

/// Lookups answered after two seconds, patience 100 ms, and nine customers.
fn busy_minute_setup() -> Setup {
    Setup {
        accounts: (1..=BUSY_CUSTOMERS)
            .map(|id| (id, Cents::dollars(500)))
            .collect(),
        ..reported::slow_lookups_setup()
    }
}

/// During a busy minute: customers 1 to 4 have ordered, then eight balance pages are open at
/// once, of those four and of four customers never seen (6 to 9), each lookup answered after
/// two seconds; and customer 5 orders. The order and every page are answered within 5 s. (One
/// after another, the eight lookups take 16 s.)
pub async fn orders_are_answered_during_a_busy_minute(app: Arc<TestApp>) {
    for customer in 1..=4 {
        let placed = app.order(customer, customer, 10.0).await;
        assert_eq!(
            placed.status,
            OrderStatus::Ok,
            "order {customer}: {placed:?}"
        );
    }
    let (before, _) = lookups(&app).await;
    let opened = tokio::time::Instant::now();
    let pages: Vec<_> = [1u64, 6, 2, 7, 3, 8, 4, 9]
        .into_iter()
        .map(|customer| {
            let app = app.clone();
            tokio::spawn(async move {
                let url = format!("{}/balance/{customer}", app.url);
                let answered = tokio::time::timeout(SETTLE, app.get(&url)).await.is_ok();
                (customer, answered)
            })
        })
        .collect();
    // Every page's request is in by the time the first lookup reaches the balance service;
    // the lookups a service makes one at a time reach it over the next 16 s.
    poll(SETTLE, std::time::Duration::from_millis(5), || async {
        (lookups(&app).await.0 > before).then_some(())
    })
    .await;
    poll(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_millis(10),
        || async { (lookups(&app).await.0 >= before + 8).then_some(()) },
    )
    .await;
    let (received, answered) = lookups(&app).await;
    let order = reported::order_within_settle(&app, 5, 5, 10.0).await;
    let mut unanswered = Vec::new();
    for page in pages {
        if let Ok((customer, false)) = page.await {
            unanswered.push(customer);
        }
    }
    assert!(
        order.is_some() && unanswered.is_empty(),
        "during a busy minute (eight balance pages open at once, of customers 1 to 4, who had \
         ordered, and of customers 6 to 9, never seen; the balance service had received {} of \
         their lookups and answered {} when customer 5 ordered; each takes {SLOW_LOOKUP:?}): \
         order 5 ($10.00, customer 5) {}; {}; {}",
        received - before,
        answered,
        if order.is_some() {
            "was answered"
        } else {
            "got no answer within 5 s"
        },
        if unanswered.is_empty() {
            "every page was answered".to_owned()
        } else {
            format!(
                "the pages of customers {unanswered:?} got no answer within {SETTLE:?} of \
                 opening ({:.1?} ago)",
                opened.elapsed()
            )
        },
        plan(&app)
    );
}

/// Customer 1 has ordered; while their balance page's lookup is at the balance service,
/// they order again: that order is answered before the lookup comes back.
pub async fn an_order_does_not_wait_for_a_slow_lookup(app: Arc<TestApp>) {
    let first = app.order(1, 1, 10.0).await;
    assert_eq!(first.status, OrderStatus::Ok, "order 1: {first:?}");
    let page = BalancePage::open(&app, 1).await;
    let Some(second) = reported::order_within_settle(&app, 2, 1, 10.0).await else {
        panic!(
            "order 2 ($10.00, customer 1) got no answer within {SETTLE:?} while customer 1's \
             balance page waited on its lookup; {}",
            plan(&app)
        );
    };
    let (received, answered) = lookups(&app).await;
    let _ = page.answer().await;
    assert!(
        answered < received,
        "order 2 ($10.00, customer 1) was answered ({:?}) only once the balance service had \
         answered the lookup of customer 1's balance page ({SLOW_LOOKUP:?}); {}",
        second.status,
        plan(&app)
    );
}

/// The order service answers a page from the balance last seen at once (no patience).
/// Customer 2 (never seen) opens their balance page, which has nothing seen to answer with
/// and waits for its lookup (the balance service read $1000.00); meanwhile they order
/// $10.00. Once the page has its answer, the balance page opened next shows $990.00, not the
/// older balance the slow lookup brought back.
pub async fn a_slow_lookup_does_not_put_back_an_older_balance(app: Arc<TestApp>) {
    // With no patience, the page has found no balance seen before its lookup even leaves: it
    // waits for the lookup, which comes back two seconds after it reaches the balance service.
    let page = BalancePage::open(&app, 2).await;
    let Some(order) = reported::order_within_settle(&app, 1, 2, 10.0).await else {
        panic!(
            "order 1 ($10.00, customer 2) got no answer within {SETTLE:?} while customer 2's \
             balance page waited on its lookup (answered after {SLOW_LOOKUP:?}); balance \
             service faults `{}`",
            app.plan
        );
    };
    if order.status != OrderStatus::Ok {
        crate::catalog::support::inconclusive(format!(
            "order 1 ($10.00, customer 2) was refused: {order:?}"
        ));
    }
    let after = seed_balance(2) - Cents::dollars(10);
    let first = page.answer().await;
    // The first page's lookup is answered; the next page's lookup is slow again, so what it
    // shows within the patience is the balance last seen.
    let (_, answered_before) = lookups(&app).await;
    let next = BalancePage::open(&app, 2).await.answer().await;
    let shown = next
        .as_ref()
        .filter(|a| a.status == reqwest::StatusCode::OK)
        .map(|a| a.body["balance"].clone());
    let Some(shown) = shown else {
        crate::catalog::support::inconclusive(format!(
            "customer 2's next balance page showed no balance ({}): what a page shows during \
             a slow minute is another check's business",
            next.map_or_else(
                || format!("nothing within {SETTLE:?}"),
                |a| format!("{} {}", a.status, a.body)
            )
        ));
    };
    assert!(
        shown == serde_json::to_value(after).expect("cents"),
        "customer 2's first balance page was answered {}; order 1 then left them {after}; the \
         next balance page showed {} ({} lookups answered before it opened); lookups answered \
         after {SLOW_LOOKUP:?}, no patience; balance service faults `{}`",
        first.map_or_else(
            || format!("nothing within {SETTLE:?}"),
            |a| format!("{} {}", a.status, a.body)
        ),
        next.map_or_else(
            || format!("nothing within {SETTLE:?}"),
            |a| format!("{} {}", a.status, a.body)
        ),
        answered_before,
        app.plan
    );
}

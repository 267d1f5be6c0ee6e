//! Every black-box scenario the harness runs: the public ones (`tests/api/scenarios.rs`,
//! which the candidate's tests run too) and the held-back ones below, which the candidate
//! never sees. They catch the wrong fixes that pass the public tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use order_service::money::Cents;
use order_service::orders::{OrderResponse, OrderStatus};

use crate::helpers::{Setup, TestApp, seed_balance};
use crate::scenarios;

pub type Check = fn(Arc<TestApp>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a scenario tells about a bug when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Fails while the bug is there.
    Triggering,
    /// Passes in the buggy code: failing means a fix broke something the buggy code did
    /// right. The text names the wrong fix.
    Guard(&'static str),
    /// Fails while the bug is there, and also with a fix that only looks right. The text
    /// names that wrong fix.
    Detector(&'static str),
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
        }
    };
}

/// All scenarios, public first.
pub fn all() -> Vec<Scenario> {
    use Role::*;
    vec![
        scenario!(
            "lost-update",
            Triggering,
            true,
            scenarios::concurrent_orders_setup,
            scenarios::concurrent_orders_keep_exact_stats
        ),
        scenario!(
            "double-charge",
            Triggering,
            true,
            scenarios::lost_response_setup,
            scenarios::an_order_is_charged_once_when_its_response_is_lost
        ),
        scenario!(
            "double-charge",
            Triggering,
            true,
            scenarios::all_responses_lost_setup,
            scenarios::an_order_whose_responses_are_all_lost_is_charged_once_and_reported_ok
        ),
        scenario!(
            "double-charge",
            Triggering,
            true,
            Setup::default,
            scenarios::a_resent_order_is_charged_once
        ),
        scenario!(
            "double-charge",
            Triggering,
            true,
            scenarios::sent_twice_setup,
            scenarios::an_order_sent_twice_at_once_is_charged_once
        ),
        scenario!(
            "double-charge",
            Triggering,
            true,
            Setup::default,
            scenarios::an_order_id_reused_for_a_different_order_is_refused
        ),
        scenario!(
            "double-charge",
            Guard("no retries: an order whose first attempt failed before applying was not retried"),
            true,
            scenarios::fails_before_applying_setup,
            scenarios::an_order_whose_first_attempt_fails_before_applying_is_retried_and_charged_once
        ),
        scenario!(
            "lost-update",
            Guard("orders run one at a time: a lock held across the whole order"),
            false,
            slow_balance_setup,
            orders_are_processed_concurrently
        ),
        scenario!(
            "lost-update",
            Guard("torn stats: revenue and count read separately"),
            false,
            concurrent_orders_fast_setup,
            stats_are_never_seen_torn
        ),
        Scenario {
            seeded: true,
            ..scenario!(
                "double-charge",
                Detector("money not conserved under a flaky network"),
                false,
                flaky_setup,
                money_is_conserved_under_a_flaky_network
            )
        },
        scenario!(
            "double-charge",
            Detector("racy dedup: copies of one order arriving together are each counted or charged"),
            false,
            concurrent_orders_fast_setup,
            duplicate_bursts_are_charged_and_counted_once
        ),
    ]
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

/// Seeded 0-2 ms latency: quick, so many updates overlap.
fn concurrent_orders_fast_setup() -> Setup {
    Setup {
        faults: "none,seed=11,latency=0..2".parse().unwrap(),
        concurrency: 64,
        ..Setup::default()
    }
}

/// While 300 orders of $10 are placed by 30 clients, 4 readers poll `/stats`: every
/// snapshot must have revenue equal to $10 times the count. (Whether the count is complete
/// is the triggering scenario's business.)
pub async fn stats_are_never_seen_torn(app: Arc<TestApp>) {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (app, done) = (app.clone(), done.clone());
            tokio::spawn(async move {
                let mut seen = 0u64;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let (count, revenue) = app.stats().await;
                    seen += 1;
                    assert_eq!(
                        revenue,
                        Cents::dollars(10) * count as i64,
                        "torn stats: /stats showed {count} orders with revenue {revenue}"
                    );
                }
                seen
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
fn flaky_setup() -> Setup {
    Setup {
        faults: "none,fail=0.2,drop=0.2,latency=0..10".parse().unwrap(),
        concurrency: 16,
        attempt_timeout: Duration::from_millis(150),
        ..Setup::default()
    }
}

/// 40 orders over customers 1-5 from 8 clients on a flaky network: no order is charged twice,
/// each customer's balance drops by exactly the orders reported ok, and `/stats` counts
/// exactly those. `repro` and `grade` run it over many seeds.
pub async fn money_is_conserved_under_a_flaky_network(app: Arc<TestApp>) {
    let clients: Vec<_> = (0..8u64)
        .map(|client| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for n in 0..5 {
                    let id = client * 5 + n + 1;
                    let customer = id % 5 + 1;
                    answers.push((customer, app.order(id, customer, 3.0).await));
                }
                answers
            })
        })
        .collect();
    let mut answers: Vec<(u64, OrderResponse)> = Vec::new();
    for client in clients {
        answers.extend(client.await.expect("a client task panicked"));
    }
    let ledger = app.ledger(None).await;
    for (_, response) in &answers {
        let reference = format!("order-{}", response.id);
        let charges = ledger
            .iter()
            .filter(|e| e["reference"] == reference.as_str())
            .count();
        assert!(
            charges <= 1,
            "order {} was charged {charges} times (fault plan {})",
            response.id,
            app.plan
        );
    }
    let mut ok_total = Cents::ZERO;
    let mut ok_count = 0;
    for customer in 1..=5 {
        let ok: Cents = answers
            .iter()
            .filter(|(c, r)| *c == customer && r.status == OrderStatus::Ok)
            .map(|_| Cents::dollars(3))
            .sum();
        ok_total += ok;
        ok_count += answers
            .iter()
            .filter(|(c, r)| *c == customer && r.status == OrderStatus::Ok)
            .count() as u64;
        let dropped = seed_balance(customer) - app.balance(customer).await;
        assert_eq!(
            dropped, ok,
            "customer {customer}: balance dropped by {dropped}, but the orders reported ok add up to {ok} (fault plan {})",
            app.plan
        );
    }
    assert_eq!(
        app.stats().await,
        (ok_count, ok_total),
        "/stats should count exactly the {ok_count} orders reported ok (fault plan {})",
        app.plan
    );
}

/// 30 order ids, each sent 4 times at once: each id is charged once and counted once.
pub async fn duplicate_bursts_are_charged_and_counted_once(app: Arc<TestApp>) {
    let mut sends = Vec::new();
    for id in 1..=30u64 {
        for _ in 0..4 {
            let app = app.clone();
            let body = serde_json::json!({"id": id, "customer_id": 2, "amount": 5.0});
            sends.push(tokio::spawn(
                async move { app.post("/orders", &body).await },
            ));
        }
    }
    for send in sends {
        send.await.expect("a client task panicked");
    }
    for id in 1..=30u64 {
        let charges = app.charges_for(id).await;
        assert_eq!(
            charges, 1,
            "order {id}, sent 4 times at once, was charged {charges} times"
        );
    }
    assert_eq!(
        app.stats().await,
        (30, Cents::dollars(150)),
        "30 orders of $5, each sent 4 times at once: /stats should count each once"
    );
}

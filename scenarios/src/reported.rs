//! What QA, customers and on-call reported, as scenarios. Each is a setup (the balance service's
//! fault plan and the order service's retry settings) and a check that talks to the services
//! over HTTP only, so it runs the same against services started in a test process and
//! against a built `order-service` binary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use order_service::money::Cents;
use order_service::orders::{OrderResponse, OrderStatus};
use serde_json::json;

use crate::services::{Setup, TestApp, poll, seed_balance};

/// One order a scenario placed.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub id: u64,
    pub customer_id: u64,
    pub amount: Cents,
}

/// Fails if the balance service charged any of `orders` more than once, naming each such
/// order, what its customer paid, and how to replay the run.
pub async fn assert_charged_at_most_once(app: &TestApp, orders: &[Placed], workload: &str) {
    let mut charges: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for entry in app.ledger(None).await {
        let reference = entry["reference"].as_str().unwrap_or_default().to_owned();
        charges.entry(reference).or_default().push(entry);
    }
    let twice: Vec<String> = orders
        .iter()
        .filter_map(|order| {
            let entries = charges.get(&format!("order-{}", order.id))?;
            (entries.len() > 1).then(|| {
                let ids: Vec<String> = entries
                    .iter()
                    .map(|e| format!("#{}", e["deduction_id"]))
                    .collect();
                format!(
                    "order {} (${} for customer {}) was charged {} times, ${} in all (deductions {})",
                    order.id,
                    order.amount,
                    order.customer_id,
                    entries.len(),
                    order.amount * entries.len() as i64,
                    ids.join(", ")
                )
            })
        })
        .collect();
    const SHOWN: usize = 10;
    let more = match twice.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!("\n  and {n} more"),
    };
    assert!(
        twice.is_empty(),
        "{} of {} orders were charged more than once:\n  {}{more}\nReplay: {workload}; balance service faults `{}`",
        twice.len(),
        orders.len(),
        twice[..twice.len().min(SHOWN)].join("\n  "),
        app.plan
    );
}

/// Seeded 5-25 ms latency and no faults.
pub fn ten_clients_setup() -> Setup {
    Setup {
        faults: "none,seed=7,latency=5..25".parse().unwrap(),
        ..Setup::default()
    }
}

/// What a workload's answers were, for a person: `97 ok, 3 error (first: order 12: Balance
/// service unavailable after 3 attempts)`.
pub fn summarise(responses: &[OrderResponse]) -> String {
    let ok = responses
        .iter()
        .filter(|r| r.status == OrderStatus::Ok)
        .count();
    let refused: Vec<&OrderResponse> = responses
        .iter()
        .filter(|r| r.status != OrderStatus::Ok)
        .collect();
    match refused.first() {
        None => format!("{ok} ok"),
        Some(first) => format!(
            "{ok} ok, {} error (first: order {}: {})",
            refused.len(),
            first.id,
            first.message.as_deref().unwrap_or("no message")
        ),
    }
}

/// 100 orders of $10 from 10 clients at once, 10 each, one after another; client `c`'s
/// orders are for `customer(c)`. Every answer, in no particular order.
pub async fn ten_clients_order_at_once(
    app: &Arc<TestApp>,
    customer: fn(u64) -> u64,
) -> Vec<OrderResponse> {
    let clients: Vec<_> = (0..10u64)
        .map(|client| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut responses = Vec::new();
                for n in 0..10 {
                    let id = client * 10 + n + 1;
                    responses.push(app.order(id, customer(client), 10.0).await);
                }
                responses
            })
        })
        .collect();
    let mut responses = Vec::new();
    for client in clients {
        responses.extend(client.await.expect("a client task panicked"));
    }
    responses
}

/// How many of `responses` were answered ok.
pub fn charged(responses: &[OrderResponse]) -> u64 {
    responses
        .iter()
        .filter(|r| r.status == OrderStatus::Ok)
        .count() as u64
}

/// `/stats` shows exactly the orders of $10 answered ok in `responses`.
pub async fn assert_stats_match(app: &TestApp, responses: &[OrderResponse], workload: &str) {
    let charged = charged(responses);
    let revenue = Cents::dollars(10) * charged as i64;
    let (count, total) = app.stats().await;
    assert!(
        count == charged && total == revenue,
        "/stats shows {count} orders and ${total}, but {charged} orders were charged ${revenue} \
         ({}).\nReplay: {workload}; balance service faults `{}`",
        summarise(responses),
        app.plan
    );
}

/// 100 orders of $10 for customer 2 from 10 clients at once: every order is charged, and
/// `/stats` shows all 100 orders and $1000.00.
pub async fn stats_match_the_orders_charged(app: Arc<TestApp>) {
    let responses = ten_clients_order_at_once(&app, |_| 2).await;
    let charged = charged(&responses);
    assert_eq!(
        charged,
        100,
        "customer 2 has ${}: all 100 orders of $10 should be charged; answers: {}",
        seed_balance(2),
        summarise(&responses)
    );
    assert_stats_match(
        &app,
        &responses,
        "100 orders of $10 for customer 2 from 10 clients at once",
    )
    .await;
}

/// The default flaky profile, seed 1, with a client that gives each attempt 200 ms. Seed 1
/// loses the response to an attempt of orders 7 and 16 that a later attempt follows.
pub fn flaky_network_setup() -> Setup {
    Setup {
        faults: "default,seed=1".parse().unwrap(),
        attempt_timeout: Duration::from_millis(200),
        ..Setup::default()
    }
}

/// 20 orders of $10 for customer 2, one after another, while the network to the balance
/// service is flaky: none is charged twice.
pub async fn orders_on_a_flaky_network_are_charged_once(app: Arc<TestApp>) {
    let mut placed = Vec::new();
    for id in 1..=20 {
        app.post(
            "/orders",
            &json!({"id": id, "customer_id": 2, "amount": 10.0}),
        )
        .await;
        placed.push(Placed {
            id,
            customer_id: 2,
            amount: Cents::dollars(10),
        });
    }
    assert_charged_at_most_once(
        &app,
        &placed,
        "20 orders of $10 for customer 2, placed one after another",
    )
    .await;
}

/// Deductions take 10-50 ms, 4 at a time, with no faults; a client gives each attempt the
/// default 500 ms.
pub fn burst_setup() -> Setup {
    Setup {
        faults: "none,seed=1,latency=10..50".parse().unwrap(),
        concurrency: 4,
        attempt_timeout: Duration::from_millis(500),
        ..Setup::default()
    }
}

/// 100 orders of $1 for customer 4, all sent at once: none is charged twice.
pub async fn orders_in_a_burst_are_charged_once(app: Arc<TestApp>) {
    let sends: Vec<_> = (1..=100u64)
        .map(|id| {
            let app = app.clone();
            tokio::spawn(async move {
                app.post("/orders", &json!({"id": id, "customer_id": 4, "amount": 1}))
                    .await
            })
        })
        .collect();
    for send in sends {
        send.await.expect("a client task panicked");
    }
    let placed: Vec<_> = (1..=100)
        .map(|id| Placed {
            id,
            customer_id: 4,
            amount: Cents::dollars(1),
        })
        .collect();
    assert_charged_at_most_once(
        &app,
        &placed,
        "100 orders of $1 for customer 4, all sent at once",
    )
    .await;
}

/// The customer presses "pay" twice: order 7 arrives, is answered, and arrives again. It is
/// charged once.
pub async fn an_order_sent_twice_is_charged_once(app: Arc<TestApp>) {
    let body = json!({"id": 7, "customer_id": 1, "amount": 50.0});
    let (_, first) = app.post("/orders", &body).await;
    assert_eq!(
        first["status"], "ok",
        "the first order 7 should go through: {first}"
    );
    app.post("/orders", &body).await;
    assert_charged_at_most_once(
        &app,
        &[Placed {
            id: 7,
            customer_id: 1,
            amount: Cents::dollars(50),
        }],
        "order 7 ($50 for customer 1) sent, answered, and sent again",
    )
    .await;
}

/// The first deduction takes 300 ms more, so two copies of an order overlap.
pub fn sent_twice_at_once_setup() -> Setup {
    Setup {
        attempt_timeout: Duration::from_secs(5),
        ..Setup::script("delay(300)")
    }
}

/// The customer's app sends order 9 from two tabs at the same moment: it is charged once.
pub async fn an_order_sent_twice_at_once_is_charged_once(app: Arc<TestApp>) {
    let body = json!({"id": 9, "customer_id": 2, "amount": 40.0});
    let send = |app: Arc<TestApp>, body: serde_json::Value| {
        tokio::spawn(async move { app.post("/orders", &body).await })
    };
    let (a, b) = tokio::join!(
        send(app.clone(), body.clone()),
        send(app.clone(), body.clone())
    );
    let answers = [a.unwrap(), b.unwrap()];
    assert_charged_at_most_once(
        &app,
        &[Placed {
            id: 9,
            customer_id: 2,
            amount: Cents::dollars(40),
        }],
        "order 9 ($40 for customer 2) sent twice at the same moment",
    )
    .await;
    assert_eq!(
        app.charges_for(9).await,
        1,
        "order 9 should be charged once; the answers were {answers:?}"
    );
}

/// The balance service refuses the first deduction with a 503 and applies nothing.
pub fn fails_once_setup() -> Setup {
    Setup::script("fail_before_apply")
}

/// The balance service fails the first deduction (503, nothing applied): the order still
/// goes through, charged once and counted once.
pub async fn an_order_goes_through_when_the_balance_service_fails_once(app: Arc<TestApp>) {
    let response = app.order(1, 2, 30.0).await;
    assert_eq!(
        response.status,
        OrderStatus::Ok,
        "the balance service failed once, then answered normally; the order should go through \
         (balance service faults `{}`): {response:?}",
        app.plan
    );
    assert_eq!(
        app.charges_for(1).await,
        1,
        "balance service faults `{}`",
        app.plan
    );
    assert_eq!(app.balance(2).await, seed_balance(2) - Cents::dollars(30));
    assert_eq!(app.stats().await, (1, Cents::dollars(30)));
}

/// The balance service applies the first deduction and withholds its answer (the customer's
/// wait), then answers normally; an attempt is given up after 200 ms.
pub fn gave_up_setup() -> Setup {
    Setup::script("drop_response;ok")
}

/// How long a scenario waits for the service to settle something it is owed.
pub const SETTLE: Duration = Duration::from_secs(5);

/// Posts `body` to `path` as a customer who waits until the balance service has charged
/// order `charged`, then gives up and hangs up (the connection closes). `replay` is how the
/// failure message says to replay the run.
pub async fn hang_up_once_charged(
    app: &Arc<TestApp>,
    path: &str,
    body: serde_json::Value,
    charged: u64,
    replay: &str,
) {
    let waiting = {
        let app = app.clone();
        let url = format!("{}{path}", app.url);
        tokio::spawn(async move {
            let _ = app.http.post(url).json(&body).send().await;
        })
    };
    let was_charged = poll(SETTLE, Duration::from_millis(10), || async {
        (app.charges_for(charged).await > 0).then_some(())
    })
    .await;
    assert!(
        was_charged.is_some(),
        "order {charged} was not charged within {SETTLE:?}, so the customer never had to give \
         up. Replay: {replay}"
    );
    waiting.abort();
    let _ = waiting.await;
}

/// `GET /orders/{id}` once it says "done", or as it is after [`SETTLE`].
pub async fn order_once_settled(
    app: &TestApp,
    id: u64,
) -> (reqwest::StatusCode, serde_json::Value) {
    let url = format!("{}/orders/{id}", app.url);
    let done = poll(SETTLE, Duration::from_millis(20), || async {
        let (status, view) = app.get(&url).await;
        (view["state"] == "done").then_some((status, view))
    })
    .await;
    match done {
        Some(done) => done,
        None => app.get(&url).await,
    }
}

/// A customer orders while the balance service is slow to answer, is charged, and gives up
/// waiting before the answer comes (a closed tab, a proxy's timeout): the order still ends
/// up answered, and counted in `/stats`.
pub async fn an_order_whose_customer_gave_up_is_counted(app: Arc<TestApp>) {
    let replay = format!(
        "send order 7 ($10.00, customer 1) and hang up once the balance service's ledger shows \
         order-7; balance service faults `{}`",
        app.plan
    );
    let body = json!({ "id": 7, "customer_id": 1, "amount": 10.0 });
    hang_up_once_charged(&app, "/orders", body, 7, &replay).await;
    let view = order_once_settled(&app, 7).await;
    let stats = app.stats().await;
    let charges = app.charges_for(7).await;
    assert!(
        view.1["state"] == "done"
            && view.1["response"]["status"] == "ok"
            && stats == (1, Cents::dollars(10)),
        "customer 1 was charged for order 7 ($10.00; {charges} deduction(s) in the ledger) and \
         gave up waiting; {SETTLE:?} later GET /orders/7 answers {} {} and /stats counts {} \
         order(s) (${}), where the order should be done (status ok) and counted. Replay: {replay}",
        view.0,
        view.1,
        stats.0,
        stats.1,
    );
}

/// The order service runs with one worker thread, as on the one-CPU replicas in production.
pub fn one_cpu_setup() -> Setup {
    Setup {
        worker_threads: Some(1),
        ..Setup::default()
    }
}

/// What `GET /health` did while a sale was saving the stats file to a slow disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthDuringSlowSave {
    /// Answered while the save was still waiting on the disk.
    Answered(Duration),
    /// Answered only once the disk was let through, after this long.
    AnsweredAfterTheDisk(Duration),
    /// No save of the stats file began: there was nothing to judge.
    NoSave,
}

/// How long the disk stays slow when `/health` does not answer.
pub const SLOW_DISK: Duration = Duration::from_secs(5);

/// Places one order while the disk under the stats file hangs, waits until the service is
/// saving the sale to it, and asks `GET /health` meanwhile; then lets the disk through.
pub async fn health_during_a_slow_save(app: &TestApp) -> HealthDuringSlowSave {
    let stats_file = app
        .stats_file
        .clone()
        .expect("the order service's stats file is known");
    let disk = crate::disk::SlowDisk::hold(&stats_file, app.pid, 0);
    let order = {
        let (http, url) = (app.http.clone(), format!("{}/orders", app.url));
        tokio::spawn(async move {
            let body = json!({ "id": 1, "customer_id": 1, "amount": 10.0 });
            let _ = http.post(url).json(&body).send().await;
        })
    };
    let (disk, saving) = disk.until_saving(SLOW_DISK).await;
    if !saving {
        disk.discard();
        order.abort();
        return HealthDuringSlowSave::NoSave;
    }
    let (answered, done) = std::sync::mpsc::channel();
    let released = disk.release_when(done, SLOW_DISK);
    let asked = std::time::Instant::now();
    let health = app.http.get(format!("{}/health", app.url)).send().await;
    let took = asked.elapsed();
    let _ = answered.send(());
    let timed_out = tokio::task::spawn_blocking(move || released.join().unwrap_or(true))
        .await
        .unwrap_or(true);
    let _ = order.await;
    assert!(
        health.as_ref().is_ok_and(|h| h.status().is_success()),
        "GET /health failed while the disk was slow: {health:?}"
    );
    if timed_out {
        HealthDuringSlowSave::AnsweredAfterTheDisk(took)
    } else {
        HealthDuringSlowSave::Answered(took)
    }
}

/// During a storage incident (the disk under the stats file hanging on a write), the
/// service on a one-CPU replica still answers `GET /health`, so the load balancer keeps it.
pub async fn health_answers_while_the_disk_is_slow(app: Arc<TestApp>) {
    let replay = format!(
        "run the order service with one worker thread (TOKIO_WORKER_THREADS=1, as on a one-CPU \
         replica), place an order while the disk under its --stats-file hangs, and ask GET \
         /health meanwhile; balance service faults `{}`",
        app.plan
    );
    match health_during_a_slow_save(&app).await {
        HealthDuringSlowSave::Answered(_) => {}
        HealthDuringSlowSave::AnsweredAfterTheDisk(took) => panic!(
            "GET /health did not answer while a sale was being saved to a slow disk: it \
             answered after {took:.1?}, only once the disk came back after {SLOW_DISK:?}. \
             Replay: {replay}"
        ),
        HealthDuringSlowSave::NoSave => panic!(
            "the order was placed, but no save of the stats file began within {SLOW_DISK:?}, \
             so the slow disk was never felt. Replay: {replay}"
        ),
    }
}

/// The balance service answers every account lookup after [`SLOW_LOOKUP`] (its busy minute);
/// the order service answers a balance page from the balance last seen after 100 ms.
pub fn slow_lookups_setup() -> Setup {
    Setup {
        faults: format!("none,lookup={}", SLOW_LOOKUP.as_millis())
            .parse()
            .expect("a valid plan"),
        balance_patience: Duration::from_millis(100),
        ..Setup::default()
    }
}

/// How long the balance service takes to answer a lookup in [`slow_lookups_setup`].
pub const SLOW_LOOKUP: Duration = Duration::from_secs(2);

/// A balance page a customer has open: `GET /balance/{id}`, waiting for its answer.
pub struct BalancePage {
    pub customer_id: u64,
    answer: tokio::task::JoinHandle<BalancePageAnswer>,
}

/// What a balance page was answered, and whether the balance service had answered every
/// lookup it had received by then.
#[derive(Debug, Clone)]
pub struct BalancePageAnswer {
    pub status: reqwest::StatusCode,
    pub body: serde_json::Value,
    pub lookups_pending: bool,
}

/// The balance service's account lookups: (received, answered).
pub async fn lookups(app: &TestApp) -> (u64, u64) {
    let (_, faults) = app.get(&format!("{}/faults", app.balance_url)).await;
    let count = |key: &str| faults["counters"][key].as_u64().unwrap_or(0);
    (count("lookups"), count("lookups_answered"))
}

impl BalancePage {
    /// Opens customer `customer_id`'s balance page, and returns once its lookup has reached
    /// the balance service (as the balance service counts lookups: `Ok` from there on), or
    /// once the page has its answer, whichever comes first.
    pub async fn open(app: &Arc<TestApp>, customer_id: u64) -> BalancePage {
        let (received, _) = lookups(app).await;
        let answer = {
            let app = app.clone();
            tokio::spawn(async move {
                let (status, body) = app.get(&format!("{}/balance/{customer_id}", app.url)).await;
                let (received, answered) = lookups(&app).await;
                BalancePageAnswer {
                    status,
                    body,
                    lookups_pending: answered < received,
                }
            })
        };
        poll(SETTLE, Duration::from_millis(10), || async {
            (lookups(app).await.0 != received || answer.is_finished()).then_some(())
        })
        .await;
        BalancePage {
            customer_id,
            answer,
        }
    }

    /// Its answer, or `None` if none came within [`SETTLE`] (the page is then closed).
    pub async fn answer(self) -> Option<BalancePageAnswer> {
        let mut answer = self.answer;
        match tokio::time::timeout(SETTLE, &mut answer).await {
            Ok(done) => Some(done.expect("the balance page's task does not panic")),
            Err(_) => {
                answer.abort();
                None
            }
        }
    }
}

/// Places order `id` and gives its answer, or `None` if none came within [`SETTLE`].
pub async fn order_within_settle(
    app: &TestApp,
    id: u64,
    customer_id: u64,
    amount: f64,
) -> Option<OrderResponse> {
    tokio::time::timeout(SETTLE, app.order(id, customer_id, amount))
        .await
        .ok()
}

/// During a slow minute of the balance service (lookups answered after two seconds), a
/// customer has their balance page open while another customer orders: the order is
/// answered, and so is the page (what it shows is checked elsewhere).
pub async fn orders_are_answered_while_the_balance_service_is_slow(app: Arc<TestApp>) {
    let replay = format!(
        "order $10.00 for customer 1, open GET /balance/1, and while it waits order $10.00 for \
         customer 2; the order service's --balance-patience-ms 100, balance service faults `{}`",
        app.plan
    );
    let first = app.order(1, 1, 10.0).await;
    assert_eq!(
        first.status,
        OrderStatus::Ok,
        "order 1 ($10.00 of customer 1's $500.00) was refused: {first:?}. Replay: {replay}"
    );
    let page = BalancePage::open(&app, 1).await;
    let Some(second) = order_within_settle(&app, 2, 2, 10.0).await else {
        let health = app.get(&format!("{}/health", app.url)).await.0;
        panic!(
            "order 2 ($10.00, customer 2) got no answer within {SETTLE:?} while customer 1's \
             balance page was waiting on the balance service (its lookups answer after \
             {SLOW_LOOKUP:?}); GET /health answers {health}: the service is up and stopped \
             answering orders. Replay: {replay}"
        );
    };
    assert_eq!(
        second.status,
        OrderStatus::Ok,
        "order 2 ($10.00 of customer 2's $1000.00) was refused: {second:?}. Replay: {replay}"
    );
    assert!(
        page.answer().await.is_some(),
        "customer 1's balance page (GET /balance/1) got no answer within {SETTLE:?}; the \
         balance service answers a lookup after {SLOW_LOOKUP:?}. Replay: {replay}"
    );
}

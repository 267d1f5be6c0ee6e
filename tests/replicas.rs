//! The order service as three replicas sharing one Postgres database, as production runs it:
//! three `order-service --store postgres` processes, one balance service, orders spread over
//! the replicas and some sent again to another one.
//!
//! These tests need a Postgres: set DATABASE_URL to a database whose role may create
//! databases (`export DATABASE_URL=$(scripts/postgres-start)` starts one). Each test makes a
//! database of its own, so they run side by side.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use balance_service::faults::FaultPlan;
use scenarios::replicas::{Replicas, orders_across_replicas};
use scenarios::services::{Setup, start_balance};
use serde_json::{Value, json};
use sqlx::Connection;

/// Three replicas and what they need; dropping it stops them.
struct Cluster {
    replicas: Arc<Replicas>,
    children: Vec<Child>,
    /// Each replica's stats file and log, removed when the test is done.
    _files: tempfile::TempDir,
    plan: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The database URL from the environment, or a failure that says how to get one.
fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: the replica tests need a Postgres whose role may create \
             databases. Start one with `export DATABASE_URL=$(scripts/postgres-start)`."
        )
    })
}

/// A fresh database for one test, on the server DATABASE_URL names: its URL.
async fn fresh_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = database_url();
    let name = format!(
        "orders_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the Postgres at DATABASE_URL: {e}"));
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await
        .expect("drop an old test database");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database (the role needs CREATEDB)");
    let (server, _) = base.rsplit_once('/').expect("a URL ending in /DATABASE");
    format!("{server}/{name}")
}

/// Three replicas over one fresh database, in front of a balance service with `faults`.
async fn start(faults: FaultPlan) -> Cluster {
    start_on(faults, fresh_database().await).await
}

/// Three replicas over the database at `database`, in front of a balance service with
/// `faults`.
async fn start_on(faults: FaultPlan, database: String) -> Cluster {
    let plan = faults.to_string();
    let setup = Setup {
        faults,
        concurrency: 16,
        ..Setup::default()
    };
    let balance_url = start_balance(&setup)
        .await
        .expect("bind the balance service")
        .detach();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut children = Vec::new();
    let mut urls = Vec::new();
    let files = tempfile::tempdir().expect("a folder for the replicas' files");
    for n in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let stats_file = files.path().join(format!("replica-{n}-stats.json"));
        let log = files.path().join(format!("replica-{n}.log"));
        let log_file = std::fs::File::create(&log).expect("a replica's log file");
        let child = Command::new(env!("CARGO_BIN_EXE_order-service"))
            .env("ORDERS_STORE", "postgres")
            .env("DATABASE_URL", &database)
            .env("BALANCE_URL", &balance_url)
            .env("ORDERS_ADDR", format!("127.0.0.1:{port}"))
            .env("ORDERS_STATS_FILE", &stats_file)
            .env("ORDERS_ATTEMPT_TIMEOUT_MS", "200")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("a replica's log file"))
            .stderr(log_file)
            .spawn()
            .expect("start order-service");
        children.push(child);
        urls.push(format!("http://127.0.0.1:{port}"));
    }
    let cluster = Cluster {
        replicas: Arc::new(Replicas {
            urls,
            front: None,
            balance_url,
            http,
        }),
        children,
        _files: files,
        plan,
    };
    let started = Instant::now();
    for url in &cluster.replicas.urls {
        loop {
            let up = cluster
                .replicas
                .http
                .get(format!("{url}/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "replica {url} did not answer /health within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    cluster
}

async fn post(cluster: &Cluster, replica: usize, body: &Value) -> (u16, Value) {
    let response = cluster
        .replicas
        .http
        .post(format!("{}/orders", cluster.replicas.urls[replica]))
        .json(body)
        .send()
        .await
        .expect("the replica answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn charges_for(cluster: &Cluster, id: u64) -> usize {
    let url = format!(
        "{}/ledger?reference=order-{id}",
        cluster.replicas.balance_url
    );
    get(cluster, &url).await.as_array().map_or(0, Vec::len)
}

/// The JSON at `url`.
async fn get(cluster: &Cluster, url: &str) -> Value {
    cluster
        .replicas
        .http
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// 300 orders from 10 clients over three replicas on the flaky network, one in ten also sent
/// to another replica: no order is charged twice, and every replica's `/stats` agrees with
/// the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_charge_each_order_once_and_agree_on_the_stats() {
    let cluster = start("default,seed=4".parse().unwrap()).await;
    let run = orders_across_replicas(&cluster.replicas, 300, 10).await;
    assert!(
        run.charged_twice.is_empty() && run.stats_exact(),
        "{}\nReplay: 300 orders from 10 clients over 3 replicas; balance service faults `{}`",
        run.summary(),
        cluster.plan
    );
}

/// An order answered by one replica and sent again to another gets the same answer, and is
/// charged and counted once.
#[tokio::test]
async fn an_order_sent_again_to_another_replica_gets_its_first_answer() {
    let cluster = start(FaultPlan::none()).await;
    let body = json!({"id": 7, "customer_id": 1, "amount": 50.0});
    let (_, first) = post(&cluster, 0, &body).await;
    let (status, again) = post(&cluster, 1, &body).await;
    assert_eq!(first["status"], "ok", "{first}");
    assert_eq!(
        (status, &again),
        (200, &first),
        "replica 2 should answer order 7 as replica 1 did"
    );
    assert_eq!(charges_for(&cluster, 7).await, 1);
    let stats = get(&cluster, &format!("{}/stats", cluster.replicas.urls[2])).await;
    assert_eq!(stats, json!({"order_count": 1, "total_revenue": 50.0}));
}

/// The same order sent to two replicas at the same moment is charged once; the replica that
/// did not charge it answers 409 while the other is still at it, or the same answer.
#[tokio::test]
async fn an_order_sent_to_two_replicas_at_once_is_charged_once() {
    let cluster = start("none,script=delay(300)".parse().unwrap()).await;
    let body = json!({"id": 9, "customer_id": 2, "amount": 40.0});
    let (a, b) = tokio::join!(post(&cluster, 0, &body), post(&cluster, 1, &body));
    assert_eq!(
        charges_for(&cluster, 9).await,
        1,
        "order 9, sent to two replicas at once, was answered {a:?} and {b:?}"
    );
    let ok = [&a, &b]
        .iter()
        .filter(|(status, body)| *status == 200 && body["status"] == "ok")
        .count();
    assert!(
        ok >= 1,
        "neither replica said order 9 went through: {a:?} {b:?}"
    );
}

/// A replica that cannot reach its database at start-up says so, and exits with a failure.
#[tokio::test]
async fn a_replica_without_its_database_says_so_and_exits() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = Command::new(env!("CARGO_BIN_EXE_order-service"))
        .env("ORDERS_STORE", "postgres")
        .env(
            "DATABASE_URL",
            format!("postgres://orders:orders@127.0.0.1:{port}/orders"),
        )
        .env("ORDERS_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "off")
        .output()
        .expect("run order-service");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "it started without a database: {said}"
    );
    assert!(
        said.contains("cannot reach Postgres at postgres://orders:***@127.0.0.1"),
        "expected a message naming the database, without its password; it said: {said}"
    );
}

/// A TCP relay between the replicas and Postgres that a test can cut: while cut, every
/// connection through it is dropped and new ones are closed at once, as when the database's
/// host goes away; restored, it relays again.
struct Relay {
    /// The database's URL, through the relay.
    url: String,
    cut: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Relay {
    /// A relay in front of the database at `database` (a URL).
    async fn start(database: &str) -> Relay {
        let mut url = reqwest::Url::parse(database).expect("DATABASE_URL is a URL");
        let upstream = format!(
            "{}:{}",
            url.host_str().expect("DATABASE_URL names a host"),
            url.port().unwrap_or(5432)
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relay");
        let addr = listener.local_addr().unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(addr.port())).unwrap();
        let cut = Arc::new(tokio::sync::watch::Sender::new(false));
        let watch = cut.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *watch.borrow() {
                    continue; // dropped: the database is away
                }
                let mut cut = watch.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Relay {
            url: url.into(),
            cut,
        }
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    fn restore(&self) {
        self.cut.send_replace(false);
    }
}

/// The database goes away in the middle of a run and comes back. Orders answered during the
/// outage fail cleanly (503, or "ok" only when recorded), and once their senders resend what
/// did not go through, every order is charged once and every replica's `/stats` counts
/// exactly the orders charged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_caught_in_a_database_outage_are_charged_once_and_counted_once() {
    const ORDERS: u64 = 300;
    const CLIENTS: u64 = 10;
    let database = fresh_database().await;
    let relay = Arc::new(Relay::start(&database).await);
    let cluster =
        Arc::new(start_on("none,latency=10..50".parse().unwrap(), relay.url.clone()).await);

    // The relay is cut once a third of the orders are answered, and restored once every
    // client has seen an order fail, so that orders in every stage (claimed, charged,
    // being recorded) are caught by it.
    let answered = Arc::new(AtomicU64::new(0));
    let failed_in_outage = Arc::new(AtomicU64::new(0));
    let outcomes: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (cluster, relay) = (cluster.clone(), relay.clone());
            let (answered, failed_in_outage) = (answered.clone(), failed_in_outage.clone());
            tokio::spawn(async move {
                let mut unanswered = Vec::new();
                let mut failed_here = false;
                for id in (client + 1..=ORDERS).step_by(CLIENTS as usize) {
                    let replica = (id % 3) as usize;
                    let body = json!({"id": id, "customer_id": id % 4 + 1, "amount": 0.5});
                    let (status, answer) = post(&cluster, replica, &body).await;
                    if answered.fetch_add(1, Ordering::SeqCst) + 1 == ORDERS / 3 {
                        relay.cut();
                    }
                    if status != 200 {
                        unanswered.push((id, body, status, answer));
                        if !failed_here {
                            failed_here = true;
                            if failed_in_outage.fetch_add(1, Ordering::SeqCst) + 1 == CLIENTS {
                                relay.restore();
                            }
                        }
                    }
                }
                unanswered
            })
        })
        .collect();
    let mut unanswered = Vec::new();
    for client in outcomes {
        unanswered.extend(client.await.expect("a client task panicked"));
    }
    relay.restore();
    assert!(
        !unanswered.is_empty(),
        "no order failed while the database was away: the outage did not happen"
    );
    let charged_unrecorded = unanswered
        .iter()
        .filter(|(_, _, _, answer)| {
            answer["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("was charged"))
        })
        .count();
    assert!(
        charged_unrecorded > 0,
        "the outage caught no order between its charge and its record ({} orders failed, all \
         before being charged): this run did not test what it is for",
        unanswered.len()
    );

    // Each sender resends what failed, to another replica. An order still claimed by the
    // replica that lost the database answers 409 until its claim lapses; the lapse is
    // brought forward, as if the minute had passed.
    let mut admin = sqlx::PgConnection::connect(&database)
        .await
        .expect("reach the test database");
    sqlx::query(
        "UPDATE orders SET claimed_at = claimed_at - interval '1 hour' WHERE state = 'processing'",
    )
    .execute(&mut admin)
    .await
    .expect("bring the claims' lapse forward");
    // A sender resends a 503 a few times, as a client would while a replica's connections to
    // the database come back.
    for (id, body, first_status, first_answer) in &unanswered {
        let mut tries = 0;
        let (status, answer) = loop {
            tries += 1;
            let (status, answer) = post(&cluster, ((id + tries) % 3) as usize, body).await;
            if status != 503 || tries == 5 {
                break (status, answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(
            status, 200,
            "order {id}, first answered {first_status} {first_answer}, was resent {tries} \
             times after the database came back and last answered {status} {answer}"
        );
    }

    let mut wrong = Vec::new();
    let mut charged = 0;
    for id in 1..=ORDERS {
        match charges_for(&cluster, id).await {
            0 => {}
            1 => charged += 1,
            n => wrong.push(format!("order {id} charged {n} times")),
        }
    }
    for url in &cluster.replicas.urls {
        let stats = get(&cluster, &format!("{url}/stats")).await;
        if stats["order_count"] != json!(charged) {
            wrong.push(format!(
                "{url}/stats counts {} orders, the ledger {charged}",
                stats["order_count"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{}\n{} orders failed during the outage and were resent ({charged_unrecorded} of them \
         charged before the database went away); {ORDERS} orders from {CLIENTS} clients over 3 \
         replicas, the database cut after {} answers; balance service faults `{}`",
        wrong.join("\n"),
        unanswered.len(),
        ORDERS / 3,
        cluster.plan
    );
}

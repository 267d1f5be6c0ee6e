//! The order service as three replicas sharing one Postgres database, as production runs it:
//! three `order-service --store postgres` processes, one balance service, orders spread over
//! the replicas and some sent again to another one.
//!
//! These tests need a Postgres: set DATABASE_URL to a database whose role may create
//! databases (`export DATABASE_URL=$(scripts/postgres-start)` starts one). Each test makes a
//! database of its own, so they run side by side.

mod cluster;

use std::process::Command;

use balance_service::faults::FaultPlan;
use scenarios::replicas::orders_across_replicas;
use serde_json::json;

use cluster::{charges_for, get, post, start};

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

//! Three replicas of the order service over one Postgres database, each its own
//! `order-service --store postgres` process, in front of one balance service: what the
//! replica tests start, talk to and stop. Each test binary that includes it uses a part.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use balance_service::faults::FaultPlan;
use scenarios::replicas::Replicas;
use scenarios::services::{Setup, start_balance};
use serde_json::Value;
use sqlx::Connection;

/// Three replicas and what they need; dropping it stops them.
pub struct Cluster {
    pub replicas: Arc<Replicas>,
    pub children: std::sync::Mutex<Vec<Child>>,
    /// Each replica's stats file and log, removed when the test is done.
    pub files: tempfile::TempDir,
    pub plan: String,
    /// The database the replicas are given, and each replica's port.
    pub database: String,
    pub ports: Vec<u16>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.get_mut().unwrap().iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The database URL from the environment, or a failure that says how to get one.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: the replica tests need a Postgres whose role may create \
             databases. Start one with `export DATABASE_URL=$(scripts/postgres-start)`."
        )
    })
}

/// A fresh database for one test, on the server DATABASE_URL names: its URL.
pub async fn fresh_database() -> String {
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
pub async fn start(faults: FaultPlan) -> Cluster {
    start_on(faults, fresh_database().await).await
}

/// Three replicas over the database at `database`, in front of a balance service with
/// `faults`.
pub async fn start_on(faults: FaultPlan, database: String) -> Cluster {
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
    let files = tempfile::tempdir().expect("a folder for the replicas' files");
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let urls = ports
        .iter()
        .map(|port| format!("http://127.0.0.1:{port}"))
        .collect();
    let mut cluster = Cluster {
        replicas: Arc::new(Replicas {
            urls,
            front: None,
            balance_url,
            http,
        }),
        children: std::sync::Mutex::new(Vec::new()),
        files,
        plan,
        database,
        ports,
    };
    for n in 0..3 {
        let child = cluster.spawn_replica(n);
        cluster.children.get_mut().unwrap().push(child);
    }
    cluster.wait_until_up().await;
    cluster
}

impl Cluster {
    /// Starts replica `n` (again), on its port, with its stats file, appending to its log.
    pub fn spawn_replica(&self, n: usize) -> Child {
        let files = self.files.path();
        let stats_file = files.join(format!("replica-{n}-stats.json"));
        let log = files.join(format!("replica-{n}.log"));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("a replica's log file");
        Command::new(env!("CARGO_BIN_EXE_order-service"))
            .env("ORDERS_STORE", "postgres")
            .env("DATABASE_URL", &self.database)
            .env("BALANCE_URL", &self.replicas.balance_url)
            .env("ORDERS_ADDR", format!("127.0.0.1:{}", self.ports[n]))
            .env("ORDERS_STATS_FILE", &stats_file)
            .env("ORDERS_ATTEMPT_TIMEOUT_MS", "200")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("a replica's log file"))
            .stderr(log_file)
            .spawn()
            .expect("start order-service")
    }

    /// Stops replica `n` at once, as when its host fails: whatever it held in memory is lost.
    pub fn kill(&self, n: usize) {
        let mut children = self.children.lock().unwrap();
        let _ = children[n].kill();
        let _ = children[n].wait();
    }

    /// Starts replica `n` again, and waits until it answers.
    pub async fn restart(&self, n: usize) {
        let child = self.spawn_replica(n);
        self.children.lock().unwrap()[n] = child;
        self.wait_until_up().await;
    }

    /// Stops every replica and starts them all again at once, and waits until they answer.
    pub async fn restart_all(&self) {
        for n in 0..3 {
            self.kill(n);
        }
        for n in 0..3 {
            let child = self.spawn_replica(n);
            self.children.lock().unwrap()[n] = child;
        }
        self.wait_until_up().await;
    }

    /// Waits until every replica answers `/health`.
    pub async fn wait_until_up(&self) {
        let started = Instant::now();
        for url in &self.replicas.urls {
            loop {
                let up = self
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
    }
}

/// Posts `body` to replica `replica`'s `/orders`: the status and the JSON answer.
pub async fn post(cluster: &Cluster, replica: usize, body: &Value) -> (u16, Value) {
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

/// How many deductions the ledger shows for order `id`.
pub async fn charges_for(cluster: &Cluster, id: u64) -> usize {
    let url = format!(
        "{}/ledger?reference=order-{id}",
        cluster.replicas.balance_url
    );
    get(cluster, &url).await.as_array().map_or(0, Vec::len)
}

/// The JSON at `url`.
pub async fn get(cluster: &Cluster, url: &str) -> Value {
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

//! Starting a balance service and an order service in this process, and talking to them
//! over HTTP.

use std::time::Duration;

use balance_service::faults::FaultPlan;
use balance_service::ledger::SEED_BALANCES;
use balance_service::server::{BalanceConfig, BalanceServer};
use order_service::app::Application;
use order_service::balance::accounts::Accounts;
use order_service::balance::client::HttpBalance;
use order_service::balance::transport::Reqwest;
use order_service::daily::TotalsFile;
use order_service::money::Cents;
use order_service::orders::{OrderResponse, Orders, RetryPolicy};
use order_service::stats::Stats;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// How a test's services are set up.
#[derive(Debug, Clone)]
pub struct Setup {
    pub faults: FaultPlan,
    pub concurrency: usize,
    pub attempt_timeout: Duration,
    pub retry: RetryPolicy,
    /// The order service's runtime worker threads, as a one-CPU container gets them. A
    /// binary is started with `TOKIO_WORKER_THREADS`; in a test process the test's own
    /// runtime decides.
    pub worker_threads: Option<usize>,
    /// How long `GET /balance/{id}` waits for the balance service before it answers with the
    /// balance last seen.
    pub balance_patience: Duration,
    /// The balance service's customers and their opening balances: the seed customers when
    /// empty.
    pub accounts: Vec<(u64, Cents)>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            faults: FaultPlan::none(),
            concurrency: 8,
            attempt_timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                attempts: 3,
                backoff: Duration::from_millis(10),
                backoff_cap: Duration::from_millis(100),
                deadline: Duration::from_secs(10),
            },
            worker_threads: None,
            balance_patience: Accounts::DEFAULT_PATIENCE,
            accounts: Vec::new(),
        }
    }
}

impl Setup {
    /// Follows `script` (`"drop_response;ok"`), with attempts that time out after 200 ms so
    /// a withheld response is given up on quickly.
    pub fn script(script: &str) -> Self {
        Setup {
            faults: format!("none,script={script}")
                .parse()
                .expect("test scripts are valid"),
            attempt_timeout: Duration::from_millis(200),
            ..Setup::default()
        }
    }
}

/// A running order service and the balance service behind it.
pub struct TestApp {
    pub url: String,
    pub balance_url: String,
    pub http: reqwest::Client,
    /// The fault plan in the compact form `--faults` takes, as the failure messages print it.
    pub plan: String,
    /// The folder of the order service's stats file, removed when the test is done.
    pub stats_dir: Option<tempfile::TempDir>,
    /// The order service's stats file, where the scenario may look at it.
    pub stats_file: Option<std::path::PathBuf>,
    /// The process the order service runs in: this one, or a child.
    pub pid: u32,
}

/// An order service in front of a fault-free balance service.
pub async fn spawn_app() -> TestApp {
    spawn_with(Setup::default()).await
}

pub async fn spawn_with(setup: Setup) -> TestApp {
    let balance = start_balance(&setup)
        .await
        .expect("bind the balance service");
    spawn_in_front_of(&balance.detach(), setup).await
}

/// A balance service running in this process; dropping it stops it.
pub struct RunningBalance {
    pub url: String,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningBalance {
    /// Leaves it serving until the runtime ends (a test's), and gives its URL.
    pub fn detach(mut self) -> String {
        self.task.take();
        self.url.clone()
    }
}

impl Drop for RunningBalance {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Starts a balance service in this process, on an ephemeral loopback port, with `setup`'s
/// fault plan and processing slots.
pub async fn start_balance(setup: &Setup) -> std::io::Result<RunningBalance> {
    let balance = BalanceServer::bind(
        ([127, 0, 0, 1], 0).into(),
        BalanceConfig {
            faults: setup.faults.clone(),
            concurrency: setup.concurrency,
            accounts: if setup.accounts.is_empty() {
                SEED_BALANCES.to_vec()
            } else {
                setup.accounts.clone()
            },
            ..BalanceConfig::default()
        },
    )
    .await?;
    let url = balance.url();
    Ok(RunningBalance {
        url,
        task: Some(tokio::spawn(balance.run(std::future::pending()))),
    })
}

/// An order service in front of the balance service at `balance_url`, with `setup`'s retry
/// settings.
pub async fn spawn_in_front_of(balance_url: &str, setup: Setup) -> TestApp {
    let stats_dir = tempfile::tempdir().expect("a folder for the stats file");
    let stats_file = stats_dir.path().join("stats.json");
    let mut orders = Orders::new(
        HttpBalance::new(Reqwest::new(balance_url, setup.attempt_timeout)),
        Stats::open(TotalsFile::new(&stats_file)).expect("a fresh stats file"),
        setup.retry,
    );
    orders.accounts = Accounts::new(setup.balance_patience);
    let app = Application::with_orders(([127, 0, 0, 1], 0).into(), orders)
        .await
        .expect("bind the order service");
    let url = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    TestApp {
        url,
        balance_url: balance_url.to_owned(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        plan: setup.faults.to_string(),
        stats_dir: Some(stats_dir),
        stats_file: Some(stats_file),
        pid: std::process::id(),
    }
}

impl TestApp {
    /// Sends `body` as JSON to the order service and returns the status and JSON answer.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .expect("the order service answers");
        let status = response.status();
        (status, response.json().await.expect("a JSON answer"))
    }

    pub async fn get(&self, url: &str) -> (StatusCode, Value) {
        let response = self.http.get(url).send().await.expect("an answer");
        let status = response.status();
        (status, response.json().await.expect("a JSON answer"))
    }

    /// Places an order that must get an HTTP 200 `OrderResponse`.
    pub async fn order(&self, id: u64, customer_id: u64, amount: f64) -> OrderResponse {
        let body = json!({ "id": id, "customer_id": customer_id, "amount": amount });
        let (status, answer) = self.post("/orders", &body).await;
        assert_eq!(status, StatusCode::OK, "order {id}: {answer}");
        serde_json::from_value(answer).expect("an OrderResponse")
    }

    /// `GET /stats` as (order_count, total_revenue).
    pub async fn stats(&self) -> (u64, Cents) {
        let (_, stats) = self.get(&format!("{}/stats", self.url)).await;
        (
            stats["order_count"].as_u64().expect("order_count"),
            serde_json::from_value(stats["total_revenue"].clone()).expect("total_revenue"),
        )
    }

    /// A customer's balance, read from the balance service itself.
    pub async fn balance(&self, customer_id: u64) -> Cents {
        let (status, account) = self
            .get(&format!("{}/accounts/{customer_id}", self.balance_url))
            .await;
        assert_eq!(status, StatusCode::OK, "{account}");
        serde_json::from_value(account["balance"].clone()).unwrap()
    }

    /// How many times the balance service charged for `order-{id}`.
    pub async fn charges_for(&self, order_id: u64) -> usize {
        self.ledger(Some(&format!("order-{order_id}"))).await.len()
    }

    pub async fn ledger(&self, reference: Option<&str>) -> Vec<Value> {
        let url = match reference {
            Some(reference) => format!("{}/ledger?reference={reference}", self.balance_url),
            None => format!("{}/ledger", self.balance_url),
        };
        let (_, entries) = self.get(&url).await;
        entries.as_array().expect("the ledger is an array").clone()
    }
}

/// The seed balance of a customer (1 to 5), as `POST /reset` restores it.
pub fn seed_balance(customer_id: u64) -> Cents {
    SEED_BALANCES
        .iter()
        .find(|(id, _)| *id == customer_id)
        .map(|(_, balance)| *balance)
        .unwrap_or_else(|| panic!("customer {customer_id} is not a seed customer"))
}

/// Asks `check` every `every` until it gives something, for at most `limit`: what it gave, or
/// `None` once `limit` has passed. For waiting on a service that owes an answer or a state,
/// without guessing how long it takes.
pub async fn poll<T, F>(limit: Duration, every: Duration, mut check: impl FnMut() -> F) -> Option<T>
where
    F: std::future::Future<Output = Option<T>>,
{
    let by = tokio::time::Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if tokio::time::Instant::now() >= by {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

//! The order service run as several replicas behind one address, as production runs it:
//! orders spread over the replicas, some sent again to another replica, and what the
//! replicas and the balance service's ledger say afterwards.

use std::collections::BTreeMap;
use std::sync::Arc;

use order_service::money::Cents;
use serde_json::{Value, json};

/// Replicas of the order service and the balance service they share.
#[derive(Debug, Clone)]
pub struct Replicas {
    pub urls: Vec<String>,
    /// A load balancer in front of them, if any: orders go to it first, and a resend goes
    /// straight to a replica other than the one its `X-Served-By` header named.
    pub front: Option<String>,
    pub balance_url: String,
    pub http: reqwest::Client,
}

impl Replicas {
    /// Where order `id` goes first, and where it is sent again (for a copy sent at the
    /// same moment, before anyone knows who served the first).
    fn first_and_second(&self, id: u64) -> (String, String) {
        let n = self.urls.len();
        match &self.front {
            Some(front) => (front.clone(), front.clone()),
            None => (
                self.urls[id as usize % n].clone(),
                self.urls[(id as usize + 1) % n].clone(),
            ),
        }
    }

    /// A replica other than the one at `served_by` (`127.0.0.1:PORT`), for a resend.
    fn other_than(&self, served_by: Option<&str>, fallback: &str) -> String {
        let Some(served_by) = served_by else {
            return fallback.to_owned();
        };
        let n = self.urls.len();
        match self.urls.iter().position(|url| url.ends_with(served_by)) {
            Some(index) => self.urls[(index + 1) % n].clone(),
            None => fallback.to_owned(),
        }
    }
}

/// What a run of [`orders_across_replicas`] showed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaRun {
    pub orders: u64,
    /// Orders also sent to a second replica: at the same moment, or after their answer.
    pub resent: u64,
    /// Orders the balance service charged more than once: (id, times).
    pub charged_twice: Vec<(u64, usize)>,
    /// Distinct orders the ledger shows charged, and what they came to.
    pub charged: u64,
    pub charged_revenue: Cents,
    /// Each replica's `/stats`: (orders, revenue).
    pub stats: Vec<(u64, Cents)>,
}

impl ReplicaRun {
    /// `/stats` agrees with the ledger on every replica.
    pub fn stats_exact(&self) -> bool {
        self.stats
            .iter()
            .all(|seen| *seen == (self.charged, self.charged_revenue))
    }

    /// One line for a person: what was sent, what was charged twice, what `/stats` says.
    pub fn summary(&self) -> String {
        let stats: Vec<String> = self
            .stats
            .iter()
            .map(|(count, revenue)| format!("{count} orders ${revenue}"))
            .collect();
        format!(
            "{} orders ({} also sent to another replica); charged twice: {}; ledger {} orders ${}; /stats per replica: {}",
            self.orders,
            self.resent,
            self.charged_twice.len(),
            self.charged,
            self.charged_revenue,
            stats.join(", ")
        )
    }
}

/// Sends `count` orders of $0.50 over customers 1-4 from `clients` clients, order n to
/// replica n mod the replica count, or to the load balancer when there is one. Every tenth
/// order is sent to another replica too: every twentieth at the same moment (a client that
/// gave up waiting and tried another replica; behind a load balancer, both copies go through
/// it and its round robin spreads them), the others once the first answer is in (a client
/// that sent it again), to a replica other than the one that answered.
pub async fn orders_across_replicas(
    replicas: &Arc<Replicas>,
    count: u64,
    clients: u64,
) -> ReplicaRun {
    let workers: Vec<_> = (0..clients)
        .map(|client| {
            let replicas = replicas.clone();
            tokio::spawn(async move {
                let mut id = client + 1;
                while id <= count {
                    let body = json!({"id": id, "customer_id": id % 4 + 1, "amount": 0.5});
                    let (first, second) = replicas.first_and_second(id);
                    match id % 20 {
                        0 => {
                            let (a, b) = tokio::join!(
                                post(&replicas.http, &first, &body),
                                post(&replicas.http, &second, &body)
                            );
                            let _ = (a, b);
                        }
                        10 => {
                            let served_by = post(&replicas.http, &first, &body).await;
                            let again = replicas.other_than(served_by.as_deref(), &second);
                            post(&replicas.http, &again, &body).await;
                        }
                        _ => {
                            post(&replicas.http, &first, &body).await;
                        }
                    }
                    id += clients;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a client task panicked");
    }

    let ledger = get(&replicas.http, &format!("{}/ledger", replicas.balance_url)).await;
    let mut by_order: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for entry in ledger.as_array().into_iter().flatten() {
        if let Some(id) = entry["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("order-"))
            .and_then(|id| id.parse().ok())
        {
            by_order.entry(id).or_default().push(entry);
        }
    }
    let charged_twice = by_order
        .iter()
        .filter(|(_, entries)| entries.len() > 1)
        .map(|(id, entries)| (*id, entries.len()))
        .collect();
    let charged_revenue = by_order
        .values()
        .filter_map(|entries| serde_json::from_value::<Cents>(entries[0]["amount"].clone()).ok())
        .sum();
    let mut stats = Vec::new();
    for url in &replicas.urls {
        let seen = get(&replicas.http, &format!("{url}/stats")).await;
        stats.push((
            seen["order_count"].as_u64().unwrap_or_default(),
            serde_json::from_value(seen["total_revenue"].clone()).unwrap_or_default(),
        ));
    }
    ReplicaRun {
        orders: count,
        resent: count / 10,
        charged_twice,
        charged: by_order.len() as u64,
        charged_revenue,
        stats,
    }
}

/// Sends an order; says which replica answered, when a load balancer named it.
async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Option<String> {
    let response = http
        .post(format!("{url}/orders"))
        .json(body)
        .send()
        .await
        .ok()?;
    let served_by = response
        .headers()
        .get("x-served-by")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let _ = response.bytes().await;
    served_by
}

async fn get(http: &reqwest::Client, url: &str) -> Value {
    match http.get(url).send().await {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    }
}

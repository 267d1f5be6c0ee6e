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
    pub balance_url: String,
    pub http: reqwest::Client,
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
/// replica n mod the replica count. Every tenth order is sent to the next replica too:
/// every twentieth at the same moment (a client that gave up waiting and tried another
/// replica), the others once the first answer is in (a client that sent it again).
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
                    let first = replicas.urls[id as usize % replicas.urls.len()].clone();
                    let second = replicas.urls[(id as usize + 1) % replicas.urls.len()].clone();
                    match id % 20 {
                        0 => {
                            let (a, b) = tokio::join!(
                                post(&replicas.http, &first, &body),
                                post(&replicas.http, &second, &body)
                            );
                            let _ = (a, b);
                        }
                        10 => {
                            post(&replicas.http, &first, &body).await;
                            post(&replicas.http, &second, &body).await;
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

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Option<Value> {
    let response = http
        .post(format!("{url}/orders"))
        .json(body)
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

async fn get(http: &reqwest::Client, url: &str) -> Value {
    match http.get(url).send().await {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    }
}

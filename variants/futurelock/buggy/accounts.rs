//! Customers' balances as this service last saw them, for `GET /balance/{id}`.
//!
//! The checkout page asks for the customer's balance on every view, and in a busy minute the
//! balance service can take seconds to answer a lookup. A customer whose balance this
//! service has seen (the answer to their last order, or an earlier lookup) is not kept
//! waiting past the patience (`--balance-patience-ms`): they get the balance last seen.

use std::collections::HashMap;
use std::time::Duration;

use crate::balance::client::{BalanceError, HttpBalance};
use crate::balance::transport::Transport;
use crate::money::Cents;
use crate::patience::within;

/// The balances last seen, by customer.
#[derive(Debug)]
pub struct Accounts {
    seen: tokio::sync::Mutex<HashMap<u64, Cents>>,
    patience: Duration,
}

impl Accounts {
    /// How long a lookup may take before the balance last seen is answered instead.
    pub const DEFAULT_PATIENCE: Duration = Duration::from_millis(300);

    pub fn new(patience: Duration) -> Self {
        Accounts {
            seen: tokio::sync::Mutex::new(HashMap::new()),
            patience,
        }
    }

    /// The customer's balance (`None`: no such customer): the balance service's answer, or
    /// the balance last seen if that answer takes longer than the patience.
    pub async fn balance<T: Transport>(
        &self,
        balance: &HttpBalance<T>,
        customer_id: u64,
    ) -> Result<Option<Cents>, BalanceError> {
        let last_seen = async {
            let seen = self.last_seen(customer_id).await?;
            tracing::info!(customer_id, %seen, "the balance service is slow: answering with the balance last seen");
            Some(Ok(Some(seen)))
        };
        // A customer never seen gets the balance service's answer, however slow.
        within(self.patience, self.look_up(balance, customer_id), last_seen).await
    }

    /// Notes the balance an order left the customer with.
    pub async fn saw(&self, customer_id: u64, balance: Cents) {
        self.seen.lock().await.insert(customer_id, balance);
    }

    /// Forgets every balance seen (the balance service was reset).
    pub async fn clear(&self) {
        self.seen.lock().await.clear();
    }

    /// Asks the balance service, and keeps its answer.
    async fn look_up<T: Transport>(
        &self,
        balance: &HttpBalance<T>,
        customer_id: u64,
    ) -> Result<Option<Cents>, BalanceError> {
        // One step with the keeping of the answer: a lookup that was slow must not put back
        // a balance that an order has changed since it asked.
        let mut seen = self.seen.lock().await;
        let answer = balance.account(customer_id).await?;
        match answer {
            Some(current) => seen.insert(customer_id, current),
            None => seen.remove(&customer_id),
        };
        Ok(answer)
    }

    async fn last_seen(&self, customer_id: u64) -> Option<Cents> {
        self.seen.lock().await.get(&customer_id).copied()
    }
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts::new(Accounts::DEFAULT_PATIENCE)
    }
}

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
use crate::sync::{Mutex, lock};

/// The balances last seen, by customer.
#[derive(Debug)]
pub struct Accounts {
    /// A std `Mutex`, never held across an `.await`. A lock held by a future is released
    /// only when that future is polled to its end or dropped, and `within` keeps the lookup
    /// unpolled while the fallback runs: a lock held across the lookup would be held for
    /// good, the fallback would wait for it, and so would every order noting its balance.
    seen: Mutex<Seen>,
    patience: Duration,
}

#[derive(Debug, Default)]
struct Seen {
    /// The balance last seen, and the note it came with.
    balances: HashMap<u64, (Cents, u64)>,
    /// Counts the balances noted from orders.
    notes: u64,
}

impl Accounts {
    /// How long a lookup may take before the balance last seen is answered instead.
    pub const DEFAULT_PATIENCE: Duration = Duration::from_millis(300);

    pub fn new(patience: Duration) -> Self {
        Accounts {
            seen: Mutex::new(Seen::default()),
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
            let seen = self.last_seen(customer_id)?;
            tracing::info!(customer_id, %seen, "the balance service is slow: answering with the balance last seen");
            Some(Ok(Some(seen)))
        };
        // A customer never seen gets the balance service's answer, however slow.
        within(self.patience, self.look_up(balance, customer_id), last_seen).await
    }

    /// Notes the balance an order left the customer with.
    pub async fn saw(&self, customer_id: u64, balance: Cents) {
        let mut seen = lock(&self.seen);
        seen.notes += 1;
        let note = seen.notes;
        seen.balances.insert(customer_id, (balance, note));
    }

    /// Forgets every balance seen (the balance service was reset).
    pub async fn clear(&self) {
        lock(&self.seen).balances.clear();
    }

    /// Asks the balance service, and keeps its answer unless an order noted a balance for
    /// the customer while it was on its way: that one is newer.
    async fn look_up<T: Transport>(
        &self,
        balance: &HttpBalance<T>,
        customer_id: u64,
    ) -> Result<Option<Cents>, BalanceError> {
        let asked = lock(&self.seen).notes;
        let answer = balance.account(customer_id).await?;
        let mut seen = lock(&self.seen);
        let noted_since =
            matches!(seen.balances.get(&customer_id), Some(&(_, note)) if note > asked);
        if !noted_since {
            match answer {
                Some(current) => seen.balances.insert(customer_id, (current, asked)),
                None => seen.balances.remove(&customer_id),
            };
        }
        Ok(answer)
    }

    fn last_seen(&self, customer_id: u64) -> Option<Cents> {
        lock(&self.seen)
            .balances
            .get(&customer_id)
            .map(|&(balance, _)| balance)
    }
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts::new(Accounts::DEFAULT_PATIENCE)
    }
}

//! The order book: what the order service knows about each order id it has seen.

use std::collections::HashMap;

use serde::Serialize;

use super::{Order, OrderResponse};
use crate::money::Cents;
use crate::sync::{Mutex, lock};

/// What identifies an order's charge: who pays and how much. (`priority` only orders a
/// batch, so it is not part of it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub customer_id: u64,
    pub amount: Cents,
}

impl Fingerprint {
    pub fn of(order: &Order) -> Self {
        Fingerprint {
            customer_id: order.customer_id,
            amount: order.amount,
        }
    }
}

/// One order id's state.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Processing {
        fingerprint: Fingerprint,
    },
    Done {
        fingerprint: Fingerprint,
        response: OrderResponse,
    },
}

/// `GET /orders/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderView {
    pub id: u64,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<OrderResponse>,
}

/// Order ids and their state. A std `Mutex`: every use is one short critical section.
#[derive(Debug, Default)]
pub struct OrderBook {
    entries: Mutex<HashMap<u64, Entry>>,
}

impl OrderBook {
    pub fn get(&self, id: u64) -> Option<Entry> {
        lock(&self.entries).get(&id).cloned()
    }

    /// Runs `change` on the entries, all in one critical section.
    pub fn update<R>(&self, change: impl FnOnce(&mut HashMap<u64, Entry>) -> R) -> R {
        change(&mut lock(&self.entries))
    }

    pub fn clear(&self) {
        lock(&self.entries).clear();
    }

    pub fn view(&self, id: u64) -> Option<OrderView> {
        self.get(id).map(|entry| match entry {
            Entry::Processing { .. } => OrderView {
                id,
                state: "processing",
                response: None,
            },
            Entry::Done { response, .. } => OrderView {
                id,
                state: "done",
                response: Some(response),
            },
        })
    }
}

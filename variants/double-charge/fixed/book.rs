//! The order book: every order the service has received, and how it went.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Serialize;

use crate::money::Cents;
use crate::orders::{Order, OrderResponse};
use crate::sync::{Mutex, lock};

/// Where an order is.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Being charged.
    Processing,
    /// Answered: the response it got.
    Done(OrderResponse),
}

/// `GET /orders/{id}`: the order as received, and where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderView {
    pub id: u64,
    pub customer_id: u64,
    pub amount: Cents,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<OrderResponse>,
}

/// What the book says about an order that arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First time this id is seen: it is now recorded as processing, and it is the caller's
    /// to charge.
    New,
    /// The same order was answered before: this is its answer.
    Answered(OrderResponse),
    /// The same order is being charged right now.
    InFlight,
    /// The id belongs to an order for another customer or amount.
    Different,
}

/// Orders by id. A std `Mutex`: every use is one short critical section.
#[derive(Debug, Default)]
pub struct OrderBook {
    orders: Mutex<HashMap<u64, (Order, State)>>,
}

impl OrderBook {
    /// Checks `order`'s id and, when it is new, records the order as processing, in one
    /// critical section: two copies of an order arriving together must not both find the id
    /// free. (`priority` only orders a batch, so a copy may differ in it.)
    pub fn claim(&self, order: &Order) -> Claim {
        match lock(&self.orders).entry(order.id) {
            Entry::Vacant(slot) => {
                slot.insert((*order, State::Processing));
                Claim::New
            }
            Entry::Occupied(slot) => match slot.get() {
                (seen, _)
                    if (seen.customer_id, seen.amount) != (order.customer_id, order.amount) =>
                {
                    Claim::Different
                }
                (_, State::Processing) => Claim::InFlight,
                (_, State::Done(response)) => Claim::Answered(response.clone()),
            },
        }
    }

    /// Records where `order` is now.
    pub fn record(&self, order: Order, state: State) {
        lock(&self.orders).insert(order.id, (order, state));
    }

    /// Forgets an order, so that sending it again starts afresh.
    pub fn forget(&self, id: u64) {
        lock(&self.orders).remove(&id);
    }

    pub fn view(&self, id: u64) -> Option<OrderView> {
        let orders = lock(&self.orders);
        let (order, state) = orders.get(&id)?;
        Some(view(order, state))
    }

    pub fn clear(&self) {
        lock(&self.orders).clear();
    }
}

fn view(order: &Order, state: &State) -> OrderView {
    let (state, response) = match state {
        State::Processing => ("processing", None),
        State::Done(response) => ("done", Some(response.clone())),
    };
    OrderView {
        id: order.id,
        customer_id: order.customer_id,
        amount: order.amount,
        state,
        response,
    }
}

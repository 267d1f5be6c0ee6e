//! The order book: every order the service has received, and how it went.

use std::collections::HashMap;

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

/// Orders by id. A std `Mutex`: every use is one short critical section.
#[derive(Debug, Default)]
pub struct OrderBook {
    orders: Mutex<HashMap<u64, (Order, State)>>,
}

impl OrderBook {
    /// Records where `order` is now.
    pub fn record(&self, order: Order, state: State) {
        lock(&self.orders).insert(order.id, (order, state));
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

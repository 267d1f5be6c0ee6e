//! The order book: every order the service has received, and how it went.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;

use crate::orders::{Order, OrderResponse, OrderView, State, view};
use crate::store::StoreError;
use crate::sync::{Mutex, lock};

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

/// What order processing needs of the order book, wherever it is kept.
pub trait Book: Send + Sync + 'static {
    /// Checks `order`'s id and, when it is new, records the order as processing, in one
    /// step: two copies of an order arriving together must not both find the id free.
    /// (`priority` only orders a batch, so a copy may differ in it.)
    fn claim(&self, order: &Order) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Records where `order` is now.
    fn record(
        &self,
        order: Order,
        state: State,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets an order, so that sending it again starts afresh.
    fn forget(&self, id: u64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The order with this id, and where it is.
    fn view(&self, id: u64) -> impl Future<Output = Result<Option<OrderView>, StoreError>> + Send;

    /// Forgets every order.
    fn clear(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Orders by id, in memory. A std `Mutex`: every use is one short critical section.
#[derive(Debug, Default)]
pub struct OrderBook {
    orders: Mutex<HashMap<u64, (Order, State)>>,
}

impl Book for OrderBook {
    async fn claim(&self, order: &Order) -> Result<Claim, StoreError> {
        Ok(match lock(&self.orders).entry(order.id) {
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
        })
    }

    async fn record(&self, order: Order, state: State) -> Result<(), StoreError> {
        lock(&self.orders).insert(order.id, (order, state));
        Ok(())
    }

    async fn forget(&self, id: u64) -> Result<(), StoreError> {
        lock(&self.orders).remove(&id);
        Ok(())
    }

    async fn view(&self, id: u64) -> Result<Option<OrderView>, StoreError> {
        let orders = lock(&self.orders);
        Ok(orders.get(&id).map(|(order, state)| view(order, state)))
    }

    async fn clear(&self) -> Result<(), StoreError> {
        lock(&self.orders).clear();
        Ok(())
    }
}

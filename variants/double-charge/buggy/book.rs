//! The order book: every order the service has received, and how it went.

use std::collections::HashMap;
use std::future::Future;

use crate::orders::{Order, OrderView, State, view};
use crate::store::StoreError;
use crate::sync::{Mutex, lock};

/// What order processing needs of the order book, wherever it is kept.
pub trait Book: Send + Sync + 'static {
    /// Records where `order` is now.
    fn record(
        &self,
        order: Order,
        state: State,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

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
    async fn record(&self, order: Order, state: State) -> Result<(), StoreError> {
        lock(&self.orders).insert(order.id, (order, state));
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

//! The order book: every order the service has received, and how it went. An order is kept
//! for the retention window after its last change (a day by default), then forgotten.

use std::future::Future;
use std::time::Instant;

use crate::orders::{Order, OrderView, State, view};
use crate::retained::{Retained, Retention};
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
    orders: Mutex<Retained<u64, (Order, State)>>,
}

impl OrderBook {
    /// An empty book that keeps each order as `retention` says.
    pub fn new(retention: Retention) -> Self {
        OrderBook {
            orders: Mutex::new(Retained::new(retention)),
        }
    }
}

impl Book for OrderBook {
    async fn record(&self, order: Order, state: State) -> Result<(), StoreError> {
        lock(&self.orders).insert(order.id, (order, state), Instant::now());
        Ok(())
    }

    async fn view(&self, id: u64) -> Result<Option<OrderView>, StoreError> {
        let orders = lock(&self.orders);
        Ok(orders
            .get(&id, Instant::now())
            .map(|(order, state)| view(order, state)))
    }

    async fn clear(&self) -> Result<(), StoreError> {
        lock(&self.orders).clear();
        Ok(())
    }
}

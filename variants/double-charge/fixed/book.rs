//! The order book: every order the service has received, and how it went. An order is kept
//! for the retention window after its last change (a day by default), then forgotten.

use std::future::Future;
use std::time::Instant;

use crate::orders::{Order, OrderResponse, OrderView, State, view};
use crate::retained::{Retained, Retention};
use crate::stats::Totals;
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

    /// Records a charged order as answered with `response`, and counts its sale in today's
    /// totals: both or neither, so that a store failing half way can neither leave a charge
    /// uncounted nor, when the order is settled again, count it twice. A store that holds
    /// the totals itself (Postgres) does both in one statement; the memory book counts the
    /// sale in `totals`.
    fn record_sale<S: Totals>(
        &self,
        order: Order,
        response: OrderResponse,
        totals: &S,
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
    async fn claim(&self, order: &Order) -> Result<Claim, StoreError> {
        let now = Instant::now();
        let mut orders = lock(&self.orders);
        Ok(match orders.get(&order.id, now) {
            None => {
                orders.insert(order.id, (*order, State::Processing), now);
                Claim::New
            }
            Some((seen, _))
                if (seen.customer_id, seen.amount) != (order.customer_id, order.amount) =>
            {
                Claim::Different
            }
            Some((_, State::Processing)) => Claim::InFlight,
            Some((_, State::Done(response))) => Claim::Answered(response.clone()),
        })
    }

    async fn record(&self, order: Order, state: State) -> Result<(), StoreError> {
        lock(&self.orders).insert(order.id, (order, state), Instant::now());
        Ok(())
    }

    async fn record_sale<S: Totals>(
        &self,
        order: Order,
        response: OrderResponse,
        totals: &S,
    ) -> Result<(), StoreError> {
        // The sale is counted in memory even when saving the totals fails, so that failure
        // is logged rather than returned: settling the order again would count it twice.
        if let Err(error) = totals.record_sale(order.amount).await {
            tracing::error!(%error, "could not save today's totals");
        }
        self.record(order, State::Done(response)).await
    }

    async fn forget(&self, id: u64) -> Result<(), StoreError> {
        lock(&self.orders).remove(&id);
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::money::Cents;

    fn order(id: u64) -> Order {
        Order {
            id,
            customer_id: 1,
            amount: Cents::dollars(10),
            priority: false,
        }
    }

    #[tokio::test]
    async fn an_order_pushed_out_of_the_book_is_new_again() {
        let book = OrderBook::new(Retention {
            window: Duration::from_secs(3600),
            cap: 1,
        });
        assert_eq!(book.claim(&order(1)).await, Ok(Claim::New));
        assert_eq!(book.claim(&order(1)).await, Ok(Claim::InFlight));
        assert_eq!(book.claim(&order(2)).await, Ok(Claim::New));
        assert_eq!(
            book.view(1).await,
            Ok(None),
            "order 1 was pushed out by order 2"
        );
        assert_eq!(book.claim(&order(1)).await, Ok(Claim::New));
    }
}

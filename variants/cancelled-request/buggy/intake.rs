//! Taking an order in: validating it and handing it to [`place`](crate::orders::place).

use tracing::Instrument;

use crate::balance::transport::Transport;
use crate::money::Cents;
use crate::orders::book::Book;
use crate::orders::{Order, OrderError, OrderRequest, OrderResponse, Orders, place};
use crate::stats::Totals;

impl<T: Transport, B: Book, S: Totals> Orders<T, B, S> {
    /// Validates one order and places it.
    pub async fn process(&self, request: OrderRequest) -> Result<OrderResponse, OrderError> {
        let Some(order) = validate(&request) else {
            return Ok(OrderResponse::error(
                request.id,
                request.priority,
                "Invalid order amount",
            ));
        };
        let span = tracing::info_span!("order", order_id = order.id, customer_id = order.customer_id, amount = %order.amount);
        place::place(self, order).instrument(span).await
    }
}

/// The order, once its amount is a whole number of cents in range; `None` (logged) if not.
fn validate(request: &OrderRequest) -> Option<Order> {
    match Cents::parse_amount(&request.amount) {
        Ok(amount) => Some(Order {
            id: request.id,
            customer_id: request.customer_id,
            amount,
            priority: request.priority,
        }),
        Err(reason) => {
            tracing::info!(order_id = request.id, amount = %request.amount, %reason, "order refused");
            None
        }
    }
}

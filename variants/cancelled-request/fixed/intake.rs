//! Taking an order in: validating it and handing it to [`place`](crate::orders::place).

use std::sync::Arc;

use tracing::Instrument;

use crate::balance::transport::Transport;
use crate::money::Cents;
use crate::orders::book::Book;
use crate::orders::{Order, OrderError, OrderRequest, OrderResponse, Orders, place};
use crate::stats::Totals;

impl<T: Transport, B: Book, S: Totals> Orders<T, B, S> {
    /// Validates one order and places it.
    ///
    /// The placement runs in a task of its own. A request's future is dropped when its
    /// client hangs up (a timeout, a proxy giving up, a closed tab), and with it whatever it
    /// was awaiting; a placement dropped between the deduction and the record would leave the
    /// customer charged, the sale uncounted and the order processing until something settles
    /// it. A task runs to the end whoever is still waiting for it.
    pub async fn process(
        self: &Arc<Self>,
        request: OrderRequest,
    ) -> Result<OrderResponse, OrderError> {
        let Some(order) = validate(&request) else {
            return Ok(OrderResponse::error(
                request.id,
                request.priority,
                "Invalid order amount",
            ));
        };
        let orders = Arc::clone(self);
        let span = tracing::info_span!("order", order_id = order.id, customer_id = order.customer_id, amount = %order.amount);
        tokio::spawn(async move { place::place(&orders, order).await }.instrument(span))
            .await
            .map_err(|e| OrderError::Internal(format!("order {} failed: {e}", order.id)))?
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

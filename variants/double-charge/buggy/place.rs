//! Placing one validated order: charge the customer, count the sale, record the outcome.

use crate::balance::DeductionRequest;
use crate::balance::client::BalanceError;
use crate::balance::transport::Transport;
use crate::money::Cents;
use crate::orders::book::Book;
use crate::orders::{Order, OrderError, OrderResponse, Orders, State};
use crate::stats::Totals;
use crate::sync::sleep;

/// Charges `order` and records the outcome in the order book.
pub async fn place<T: Transport, B: Book, S: Totals>(
    orders: &Orders<T, B, S>,
    order: Order,
) -> Result<OrderResponse, OrderError> {
    orders.book.record(order, State::Processing).await?;
    let response = match charge(orders, &order).await {
        Ok(new_balance) => {
            orders.count_sale(&order).await;
            OrderResponse::charged(&order, new_balance)
        }
        Err((error, attempts)) => OrderResponse::declined(&order, &error, attempts),
    };
    orders
        .book
        .record(order, State::Done(response.clone()))
        .await?;
    Ok(response)
}

/// Deducts the order's amount, retrying failures that may be temporary with exponential
/// backoff. Gives the customer's new balance, or the last error and the attempts made.
async fn charge<T: Transport, B: Book, S: Totals>(
    orders: &Orders<T, B, S>,
    order: &Order,
) -> Result<Cents, (BalanceError, u32)> {
    let policy = orders.retry;
    let request = DeductionRequest {
        amount: order.amount,
        reference: order.reference(),
    };
    let started = std::time::Instant::now();
    let mut pause = policy.backoff;
    let mut attempt = 1;
    loop {
        match orders.balance.deduct(order.customer_id, &request).await {
            Ok(deduction) => {
                tracing::info!(attempt, new_balance = %deduction.new_balance, "deduction applied");
                return Ok(deduction.new_balance);
            }
            Err(error)
                if error.is_transient()
                    && attempt < policy.attempts
                    && started.elapsed() + pause < policy.deadline =>
            {
                tracing::warn!(attempt, %error, ?pause, "deduction attempt failed; retrying");
                sleep(pause).await;
                pause = (pause * 2).min(policy.backoff_cap);
                attempt += 1;
            }
            Err(error) => {
                tracing::warn!(attempt, %error, "deduction failed");
                return Err((error, attempt));
            }
        }
    }
}

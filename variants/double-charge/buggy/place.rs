//! Placing one validated order: charge the customer, count the sale, record the outcome.

use crate::balance::DeductionRequest;
use crate::balance::client::{Balance, BalanceError, Charged};
use crate::error::ApiError;
use crate::sync::sleep;

use super::book::{Entry, Fingerprint};
use super::{Order, OrderResponse, Orders};

/// Charges `order` and records the outcome in the order book.
pub async fn place<B: Balance>(
    orders: &Orders<B>,
    order: Order,
) -> Result<OrderResponse, ApiError> {
    let fingerprint = Fingerprint::of(&order);
    orders
        .book
        .update(|entries| entries.insert(order.id, Entry::Processing { fingerprint }));

    let response = match orders
        .stats
        .record_sale(order.amount, charge(orders, &order))
        .await
    {
        Ok(charged) => OrderResponse::charged(&order, charged.deduction.new_balance),
        Err((error, attempts)) => OrderResponse::declined(&order, &error, attempts),
    };

    orders.book.update(|entries| {
        entries.insert(
            order.id,
            Entry::Done {
                fingerprint,
                response: response.clone(),
            },
        )
    });
    Ok(response)
}

/// Deducts the order's amount, retrying failures that may be temporary with exponential
/// backoff. The error comes with the number of attempts made.
async fn charge<B: Balance>(
    orders: &Orders<B>,
    order: &Order,
) -> Result<Charged, (BalanceError, u32)> {
    let policy = orders.retry;
    let request = DeductionRequest {
        amount: order.amount,
        reference: order.reference(),
    };
    let started = std::time::Instant::now();
    let mut pause = policy.backoff;
    let mut attempt = 1;
    loop {
        match orders
            .balance
            .deduct(order.customer_id, &request, None)
            .await
        {
            Ok(charged) => {
                tracing::info!(attempt, new_balance = %charged.deduction.new_balance, "deduction applied");
                return Ok(charged);
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

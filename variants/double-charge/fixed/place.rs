//! Placing one validated order: charge the customer, count the sale, record the outcome.
//!
//! The order id is the idempotency key, end to end. It is the one thing that stays the same
//! when a client resends an order or this service retries a deduction, so both collapse into
//! a single charge: the order book answers a resent order with its recorded outcome, and the
//! balance service answers a retried deduction with the one it already applied.

use std::time::Duration;

use crate::balance::DeductionRequest;
use crate::balance::client::{BalanceError, Charged, KeyLookup};
use crate::balance::transport::Transport;
use crate::orders::book::{Book, Claim, Owing};
use crate::orders::{Order, OrderError, OrderResponse, Orders, RetryPolicy, State};
use crate::stats::Totals;
use crate::store::StoreError;
use crate::sync::sleep;
use balance_service::random::unit;

/// Charges `order` once, however often it is sent, and records the outcome.
pub async fn place<T: Transport, B: Book, S: Totals>(
    orders: &Orders<T, B, S>,
    order: Order,
) -> Result<OrderResponse, OrderError> {
    // Counted as under way until this placement ends, so that a stop waits for it.
    let _placing = orders.book.owed().placing();
    match orders.book.claim(&order).await? {
        Claim::New => {}
        Claim::Answered(response) => {
            tracing::info!("order seen before: answering it again");
            return Ok(response);
        }
        Claim::InFlight => {
            return Err(OrderError::Refused {
                status: http::StatusCode::CONFLICT,
                detail: format!("order {} is already being processed", order.id),
            });
        }
        Claim::Different => {
            return Err(OrderError::Refused {
                status: http::StatusCode::UNPROCESSABLE_ENTITY,
                detail: format!(
                    "order {} was already placed with a different customer or amount",
                    order.id
                ),
            });
        }
    }

    let declined = match charge(orders, &order).await {
        Ok(charged) => {
            let response = OrderResponse::charged(&order, charged.deduction.new_balance);
            record_sale(orders, order, &response).await?;
            return Ok(response);
        }
        Err(declined) => declined,
    };
    let response = declined
        .response
        .unwrap_or_else(|| OrderResponse::declined(&order, &declined.error, declined.attempts));

    // Remember a refusal. An order that was surely not charged is forgotten: resending it
    // starts afresh. One whose charge could not be confirmed stays processing with its claim
    // released: a resend takes it over at once and settles it under the same key, which the
    // balance service will not charge twice, and if no resend comes the reconciler settles
    // it. If the book cannot be written now, the claim is released once the store is back,
    // and the order is settled the same way then.
    let written = match declined.outcome {
        Outcome::Refused => {
            orders
                .book
                .record(order, State::Done(response.clone()))
                .await
        }
        Outcome::NotCharged => orders.book.forget(order.id).await,
        Outcome::Unknown => orders.book.release(order.id).await,
    };
    if let Err(error) = written {
        tracing::error!(%error, "could not record the order's outcome");
        orders.book.owed().push(Owing::Release(order.id));
    }
    Ok(response)
}

/// Records a charged order's answer and counts its sale, retrying while the store is away
/// for a moment: the write is all or nothing and counts an order once, so a retry is safe.
/// If the store stays away, the customer is told to resend (503) rather than that the order
/// is done, and the sale is kept to be recorded in the background as soon as the store is
/// back ([`crate::orders::upkeep`]), so that a resend then gets its answer. If this process
/// stops first, the order's claim lapses and the reconciler settles it under the same key.
async fn record_sale<T: Transport, B: Book, S: Totals>(
    orders: &Orders<T, B, S>,
    order: Order,
    response: &OrderResponse,
) -> Result<(), OrderError> {
    let mut pauses = Pauses::new(orders.retry);
    loop {
        let error = match orders
            .book
            .record_sale(order, response.clone(), &orders.stats)
            .await
        {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        tracing::warn!(%error, "could not record the charged order");
        if !pauses.wait().await {
            tracing::error!(%error, "charged, but could not record the order or count its sale");
            orders
                .book
                .owed()
                .push(Owing::Sale(order, response.clone()));
            return Err(OrderError::StoreUnavailable(StoreError(format!(
                "{error}; order {} was charged but is not recorded yet: resend it to get its outcome",
                order.id
            ))));
        }
    }
}

/// The pauses between tries of a step that waits for something to come back: doubling from
/// the policy's backoff up to its cap, for as long as the policy's deadline allows.
struct Pauses {
    policy: RetryPolicy,
    started: std::time::Instant,
    next: Duration,
}

impl Pauses {
    fn new(policy: RetryPolicy) -> Self {
        Pauses {
            policy,
            started: std::time::Instant::now(),
            next: policy.backoff,
        }
    }

    /// Waits the next pause; false, without waiting, when it would end past the deadline.
    async fn wait(&mut self) -> bool {
        if self.started.elapsed() + self.next >= self.policy.deadline {
            return false;
        }
        sleep(self.next).await;
        self.next = (self.next * 2).min(self.policy.backoff_cap);
        true
    }
}

/// Why an order was not charged.
struct Declined {
    error: BalanceError,
    attempts: u32,
    outcome: Outcome,
    /// A message other than the usual one for `error`.
    response: Option<OrderResponse>,
}

/// What is known of an order that got no charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The balance service refused it: final.
    Refused,
    /// No attempt reached the balance service's books.
    NotCharged,
    /// Some attempt may have been applied, and it could not be confirmed either way.
    Unknown,
}

/// Deducts the order's amount under its idempotency key, retrying only failures that may be
/// temporary. When the attempts or the deadline run out, the last attempt may still have
/// been applied (a timeout says nothing about that), so the key's outcome is looked up
/// before answering.
async fn charge<T: Transport, B: Book, S: Totals>(
    orders: &Orders<T, B, S>,
    order: &Order,
) -> Result<Charged, Declined> {
    let policy = orders.retry;
    let key = order.reference();
    let request = DeductionRequest {
        amount: order.amount,
        reference: key.clone(),
    };
    let started = std::time::Instant::now();
    let mut attempt = 1;
    let mut maybe_applied = false;
    let last_error = loop {
        match orders
            .balance
            .deduct(order.customer_id, &request, &key)
            .await
        {
            Ok(charged) => {
                tracing::info!(attempt, replayed = charged.replayed, new_balance = %charged.deduction.new_balance, "deduction applied");
                return Ok(charged);
            }
            Err(error) if !error.is_transient() => {
                tracing::info!(attempt, %error, "deduction refused");
                return Err(Declined {
                    error,
                    attempts: attempt,
                    outcome: Outcome::Refused,
                    response: None,
                });
            }
            Err(error) => {
                maybe_applied |= may_have_applied(&error);
                let pause = backoff(&policy, attempt, order.id);
                if attempt >= policy.attempts || started.elapsed() + pause >= policy.deadline {
                    tracing::warn!(attempt, %error, "deduction failed; out of attempts");
                    break error;
                }
                tracing::warn!(attempt, %error, ?pause, "deduction attempt failed; retrying with the same key");
                sleep(pause).await;
                attempt += 1;
            }
        }
    };
    if !maybe_applied {
        return Err(Declined {
            error: last_error,
            attempts: attempt,
            outcome: Outcome::NotCharged,
            response: None,
        });
    }
    settle(orders, order, &key, attempt, last_error).await
}

/// Whether the balance service may have acted on a failed attempt: only a connection that
/// was never made, or a refusal, proves it did not.
fn may_have_applied(error: &BalanceError) -> bool {
    use crate::balance::transport::TransportError;
    match error {
        BalanceError::Transport(TransportError::Connect(_))
        | BalanceError::Insufficient { .. }
        | BalanceError::UnknownCustomer(_)
        | BalanceError::KeyMismatch => false,
        BalanceError::Status { status, .. } => *status >= 500,
        BalanceError::Transport(_) | BalanceError::KeyInFlight => true,
    }
}

/// Capped exponential backoff with full jitter: a pause drawn uniformly from zero to the
/// capped exponential. Full jitter spreads the retries of orders that failed together, so
/// they do not hit a struggling balance service again in lockstep. The draw is a hash of the
/// order id and attempt: different across orders, repeatable for one.
fn backoff(policy: &RetryPolicy, attempt: u32, order_id: u64) -> Duration {
    let exponential = policy
        .backoff
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(policy.backoff_cap);
    exponential.mul_f64(unit(order_id.rotate_left(16) ^ u64::from(attempt)))
}

/// Finds out what became of the deduction made under `key` after the attempts ran out.
async fn settle<T: Transport, B: Book, S: Totals>(
    orders: &Orders<T, B, S>,
    order: &Order,
    key: &str,
    attempts: u32,
    last_error: BalanceError,
) -> Result<Charged, Declined> {
    let mut pauses = Pauses::new(orders.retry);
    loop {
        match orders.balance.lookup(key).await {
            Ok(KeyLookup::Done(Ok(deduction))) => {
                tracing::info!(new_balance = %deduction.new_balance, "a timed-out attempt was applied");
                return Ok(Charged {
                    deduction,
                    replayed: true,
                });
            }
            Ok(KeyLookup::Done(Err(error))) => {
                return Err(Declined {
                    error,
                    attempts,
                    outcome: Outcome::Refused,
                    response: None,
                });
            }
            Ok(KeyLookup::NotReceived) => {
                tracing::warn!(attempts, "no attempt reached the balance service's books");
                return Err(Declined {
                    error: last_error,
                    attempts,
                    outcome: Outcome::NotCharged,
                    response: None,
                });
            }
            Ok(KeyLookup::InFlight) | Err(_) => {
                if pauses.wait().await {
                    continue;
                }
                tracing::error!(attempts, "could not confirm whether the order was charged");
                let message = format!(
                    "Balance service unavailable after {attempts} attempts; the charge could \
                     not be confirmed: resend order {} to learn its outcome",
                    order.id
                );
                return Err(Declined {
                    error: last_error,
                    attempts,
                    outcome: Outcome::Unknown,
                    response: Some(OrderResponse::error(order.id, order.priority, message)),
                });
            }
        }
    }
}

//! Order processing: validate an order, charge the customer through the balance service,
//! count the sale, remember the outcome.
//!
//! - this module: the order types and [`Orders`], which owns the shared state;
//! - [`place`]: charging one validated order and recording its outcome;
//! - [`intake`]: taking an order in: validating it and handing it to [`place`];
//! - [`batch`]: placing a batch of orders;
//! - [`book`]: every order received, and how it went;
//! - [`upkeep`]: what the service does in the background while it serves.

pub mod batch;
pub mod book;
pub mod intake;
pub mod place;
pub mod upkeep;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::balance::accounts::Accounts;
use crate::balance::client::{BalanceError, HttpBalance};
use crate::balance::transport::{Reqwest, Transport};
use crate::money::Cents;
use crate::stats::{Stats, Totals};
use crate::store::StoreError;
use book::{Book, OrderBook};

/// An order as a client sends it. `amount` stays a JSON number until it is validated, so a
/// bad amount is a business outcome ("Invalid order amount"), not a malformed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub id: u64,
    pub customer_id: u64,
    pub amount: serde_json::Number,
    #[serde(default)]
    pub priority: bool,
}

/// `POST /orders/batch`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchRequest {
    pub orders: Vec<OrderRequest>,
}

/// The most orders one batch may hold.
pub const MAX_BATCH: usize = 1000;

/// A validated order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub id: u64,
    pub customer_id: u64,
    pub amount: Cents,
    pub priority: bool,
}

impl Order {
    /// What the balance service's ledger calls this order: `order-7`.
    pub fn reference(&self) -> String {
        format!("order-{}", self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Ok,
    Error,
}

/// The answer for one order, as in the original service: business failures are
/// `status: "error"` with a message, on HTTP 200.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderResponse {
    pub id: u64,
    pub status: OrderStatus,
    pub priority: bool,
    pub message: Option<String>,
    pub new_balance: Option<Cents>,
}

impl OrderResponse {
    pub fn charged(order: &Order, new_balance: Cents) -> Self {
        OrderResponse {
            id: order.id,
            status: OrderStatus::Ok,
            priority: order.priority,
            message: None,
            new_balance: Some(new_balance),
        }
    }

    pub fn error(id: u64, priority: bool, message: impl Into<String>) -> Self {
        OrderResponse {
            id,
            status: OrderStatus::Error,
            priority,
            message: Some(message.into()),
            new_balance: None,
        }
    }

    /// The answer for an order the balance service did not charge, after `attempts` tries.
    pub fn declined(order: &Order, error: &BalanceError, attempts: u32) -> Self {
        let message = match error {
            BalanceError::Insufficient { balance, requested } => format!(
                "Insufficient balance: customer {} has {balance}, order needs {requested}",
                order.customer_id
            ),
            BalanceError::UnknownCustomer(id) => format!("Unknown customer {id}"),
            error => format!("Balance service unavailable after {attempts} attempts: {error}"),
        };
        OrderResponse::error(order.id, order.priority, message)
    }
}

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

/// What `GET /orders/{id}` shows of an order and where it is.
pub fn view(order: &Order, state: &State) -> OrderView {
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

/// How deductions are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deduction attempts per order, the first included.
    pub attempts: u32,
    /// Pause before the first retry; it doubles for each further one.
    pub backoff: Duration,
    /// The longest pause between two attempts.
    pub backoff_cap: Duration,
    /// No retry starts later than this after the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(50),
            backoff_cap: Duration::from_secs(1),
            deadline: Duration::from_secs(5),
        }
    }
}

/// Why a request about orders got no order outcome. `error.rs` maps each to its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// What was asked for does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be taken as it is, with the status that says why.
    #[error("{detail}")]
    Refused {
        status: http::StatusCode,
        detail: String,
    },
    /// The balance service could not be asked (503).
    #[error("Balance service unavailable: {0}")]
    BalanceUnavailable(BalanceError),
    /// The order service's state could not be read or written (503).
    #[error("Order records unavailable: {0}")]
    StoreUnavailable(StoreError),
    /// This service failed (500).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for OrderError {
    fn from(error: StoreError) -> Self {
        OrderError::StoreUnavailable(error)
    }
}

/// Everything order processing shares between requests: the balance service's client, the
/// order book and today's totals (in memory unless told otherwise), the retry policy, and the
/// balances last seen.
pub struct Orders<T = Reqwest, B = OrderBook, S = Stats> {
    pub balance: HttpBalance<T>,
    pub stats: S,
    pub book: B,
    pub retry: RetryPolicy,
    /// Customers' balances as last seen, for `GET /balance/{id}`.
    pub accounts: Accounts,
}

impl<T: Transport> Orders<T> {
    /// Orders kept in memory, with today's totals in `stats`.
    pub fn new(balance: HttpBalance<T>, stats: Stats, retry: RetryPolicy) -> Self {
        Orders::with_store(balance, OrderBook::default(), stats, retry)
    }
}

impl<T: Transport, B: Book, S: Totals> Orders<T, B, S> {
    /// Orders kept in `book`, with today's totals in `stats`.
    pub fn with_store(balance: HttpBalance<T>, book: B, stats: S, retry: RetryPolicy) -> Self {
        Orders {
            balance,
            stats,
            book,
            retry,
            accounts: Accounts::default(),
        }
    }

    /// Counts a charged order in today's totals. A failure to save them is logged, and does
    /// not fail the order: the customer was charged.
    pub async fn count_sale(&self, order: &Order) {
        if let Err(error) = self.stats.record_sale(order.amount).await {
            tracing::error!(%error, "could not count the sale in today's totals");
        }
    }

    /// Notes the balance a charged order left its customer with, for `GET /balance/{id}`.
    pub async fn note_balance(&self, customer_id: u64, response: &OrderResponse) {
        if let (OrderStatus::Ok, Some(balance)) = (response.status, response.new_balance) {
            self.accounts.saw(customer_id, balance).await;
        }
    }

    /// Clears the statistics, the order book and the balances seen, and resets the balance
    /// service.
    pub async fn reset(&self) -> Result<(), OrderError> {
        self.balance
            .reset()
            .await
            .map_err(OrderError::BalanceUnavailable)?;
        self.stats.reset().await?;
        self.book.clear().await?;
        self.accounts.clear().await;
        Ok(())
    }
}

//! The order service's client for the balance service's HTTP API: one request per call, no
//! retries of its own (retrying is the caller's decision).

use reqwest::StatusCode;

use crate::balance::transport::{Request, Reqwest, Response, Transport, TransportError};
use crate::balance::{Account, Deduction, DeductionRequest, ErrorBody, ErrorCode};
use crate::money::Cents;
use balance_service::api::{IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER};

/// Why a balance service call did not give the answer asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalanceError {
    #[error("insufficient funds: balance {balance}, requested {requested}")]
    Insufficient { balance: Cents, requested: Cents },
    #[error("customer {0} not found")]
    UnknownCustomer(u64),
    #[error("a request with the same idempotency key is still in flight")]
    KeyInFlight,
    #[error("the idempotency key was already used for a different request")]
    KeyMismatch,
    #[error("balance service answered {status}: {detail}")]
    Status { status: u16, detail: String },
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl BalanceError {
    /// Whether the same request might go through if made again: no answer at all, a 5xx, or
    /// a key still in flight. Refusals are final.
    pub fn is_transient(&self) -> bool {
        match self {
            BalanceError::Transport(_) | BalanceError::KeyInFlight => true,
            BalanceError::Status { status, .. } => *status >= 500,
            BalanceError::Insufficient { .. }
            | BalanceError::UnknownCustomer(_)
            | BalanceError::KeyMismatch => false,
        }
    }
}

/// An applied deduction, and whether the answer was a replay of an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charged {
    pub deduction: Deduction,
    pub replayed: bool,
}

/// What became of the request made with an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookup {
    /// The balance service never received a request with this key.
    NotReceived,
    /// It is still being processed.
    InFlight,
    /// Its final outcome.
    Done(Result<Deduction, BalanceError>),
}

/// The balance service's API, over a [`Transport`].
#[derive(Debug, Clone)]
pub struct HttpBalance<T = Reqwest> {
    transport: T,
}

impl<T: Transport> HttpBalance<T> {
    pub fn new(transport: T) -> Self {
        HttpBalance { transport }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// `POST /accounts/{customer_id}/deductions` under `idempotency_key`: takes
    /// `request.amount` from the customer's balance, if it covers it, once however often the
    /// same request is made with the same key.
    pub async fn deduct(
        &self,
        customer_id: u64,
        request: &DeductionRequest,
        idempotency_key: &str,
    ) -> Result<Charged, BalanceError> {
        let response = self
            .send(
                http::Request::post(format!("/accounts/{customer_id}/deductions"))
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header(IDEMPOTENCY_KEY_HEADER, idempotency_key),
                serde_json::to_vec(request).unwrap_or_default(),
            )
            .await?;
        let replayed = response.headers().contains_key(REPLAYED_HEADER);
        answer(response).map(|deduction| Charged {
            deduction,
            replayed,
        })
    }

    /// `GET /deductions/{key}`: what the request made with `key` came to.
    pub async fn lookup(&self, key: &str) -> Result<KeyLookup, BalanceError> {
        let response = self
            .send(http::Request::get(format!("/deductions/{key}")), Vec::new())
            .await?;
        // A stored outcome is marked as a replay; a 404 without the mark means "never seen".
        let stored = response.headers().contains_key(REPLAYED_HEADER);
        match response.status() {
            StatusCode::NOT_FOUND if !stored => Ok(KeyLookup::NotReceived),
            StatusCode::CONFLICT => Ok(KeyLookup::InFlight),
            status if status.is_server_error() => Err(refusal(&response)),
            _ => Ok(KeyLookup::Done(answer(response))),
        }
    }

    /// A customer's balance; `Ok(None)` for an unknown customer.
    pub async fn account(&self, customer_id: u64) -> Result<Option<Cents>, BalanceError> {
        let response = self
            .send(
                http::Request::get(format!("/accounts/{customer_id}")),
                Vec::new(),
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        answer::<Account>(response).map(|account| Some(account.balance))
    }

    /// Restores the seed balances and clears the ledger.
    pub async fn reset(&self) -> Result<(), BalanceError> {
        let response = self.send(http::Request::post("/reset"), Vec::new()).await?;
        answer::<serde_json::Value>(response).map(drop)
    }

    async fn send(
        &self,
        request: http::request::Builder,
        body: Vec<u8>,
    ) -> Result<Response, BalanceError> {
        let request: Request = request
            .body(body)
            .expect("requests are built from valid parts");
        Ok(self.transport.send(request).await?)
    }
}

/// Reads a success body, or the error an answer stands for: by its status, and for the
/// refusals that share a status, by the code in its body.
fn answer<A: serde::de::DeserializeOwned>(response: Response) -> Result<A, BalanceError> {
    let status = response.status();
    if status.is_success() {
        return serde_json::from_slice(response.body()).map_err(|e| BalanceError::Status {
            status: status.as_u16(),
            detail: format!("unreadable answer: {e}"),
        });
    }
    Err(refusal(&response))
}

/// The error a non-success answer stands for.
fn refusal(response: &Response) -> BalanceError {
    let status = response.status();
    let body: ErrorBody = serde_json::from_slice(response.body()).unwrap_or_default();
    match (status, body.code) {
        (StatusCode::PAYMENT_REQUIRED, _) => BalanceError::Insufficient {
            balance: body.balance.unwrap_or_default(),
            requested: body.requested.unwrap_or_default(),
        },
        (StatusCode::NOT_FOUND, Some(ErrorCode::UnknownCustomer)) => {
            BalanceError::UnknownCustomer(body.customer_id.unwrap_or_default())
        }
        (StatusCode::CONFLICT, Some(ErrorCode::KeyInFlight)) => BalanceError::KeyInFlight,
        (StatusCode::UNPROCESSABLE_ENTITY, Some(ErrorCode::KeyReused)) => BalanceError::KeyMismatch,
        _ => BalanceError::Status {
            status: status.as_u16(),
            detail: body.detail,
        },
    }
}

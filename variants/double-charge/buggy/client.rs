//! The order service's client for the balance service's HTTP API: one request per call, no
//! retries of its own (retrying is the caller's decision).

use reqwest::StatusCode;

use crate::balance::transport::{Request, Reqwest, Response, Transport, TransportError};
use crate::balance::{Account, Deduction, DeductionRequest, ErrorBody, ErrorCode};
use crate::money::Cents;

/// Why a balance service call did not give the answer asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalanceError {
    #[error("insufficient funds: balance {balance}, requested {requested}")]
    Insufficient { balance: Cents, requested: Cents },
    #[error("customer {0} not found")]
    UnknownCustomer(u64),
    #[error("balance service answered {status}: {detail}")]
    Status { status: u16, detail: String },
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl BalanceError {
    /// Whether the same request might go through if made again: no answer at all, or a 5xx.
    /// Refusals are final.
    pub fn is_transient(&self) -> bool {
        match self {
            BalanceError::Transport(_) => true,
            BalanceError::Status { status, .. } => *status >= 500,
            BalanceError::Insufficient { .. } | BalanceError::UnknownCustomer(_) => false,
        }
    }
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

    /// `POST /accounts/{customer_id}/deductions`: takes `request.amount` from the customer's
    /// balance, if it covers it.
    pub async fn deduct(
        &self,
        customer_id: u64,
        request: &DeductionRequest,
    ) -> Result<Deduction, BalanceError> {
        let response = self
            .send(
                http::Request::post(format!("/accounts/{customer_id}/deductions"))
                    .header(http::header::CONTENT_TYPE, "application/json"),
                serde_json::to_vec(request).unwrap_or_default(),
            )
            .await?;
        answer(response)
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
        _ => BalanceError::Status {
            status: status.as_u16(),
            detail: body.detail,
        },
    }
}

//! How the order service talks to the balance service.
//!
//! [`Balance`] is the small interface order processing is written against; [`HttpBalance`]
//! implements it over HTTP with reqwest, one request per call and no retries of its own
//! (retrying is the caller's decision). The loom models implement it over a [`Ledger`]
//! directly.
//!
//! [`Ledger`]: super::ledger::Ledger

use std::future::Future;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use super::{Account, Deduction, DeductionRequest, IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER};
use crate::money::Cents;

/// Why a balance service call did not give an applied deduction.
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
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("could not connect to the balance service: {0}")]
    Unreachable(String),
    #[error("balance service connection failed: {0}")]
    Transport(String),
}

impl BalanceError {
    /// Whether the same request might go through if made again: timeouts, connection
    /// errors, 5xx answers and a key still in flight. Refusals are final.
    pub fn is_transient(&self) -> bool {
        match self {
            BalanceError::KeyInFlight
            | BalanceError::Timeout(_)
            | BalanceError::Unreachable(_)
            | BalanceError::Transport(_) => true,
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

/// The balance service, as order processing sees it.
pub trait Balance: Send + Sync + 'static {
    /// One deduction request. With `idempotency_key`, repeats of it are not charged again.
    fn deduct(
        &self,
        customer_id: u64,
        request: &DeductionRequest,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = Result<Charged, BalanceError>> + Send;

    /// `GET /deductions/{key}`: what the request made with `key` came to.
    fn lookup(&self, key: &str) -> impl Future<Output = Result<KeyLookup, BalanceError>> + Send;

    /// A customer's balance; `Ok(None)` for an unknown customer.
    fn account(
        &self,
        customer_id: u64,
    ) -> impl Future<Output = Result<Option<Cents>, BalanceError>> + Send;

    /// Restores the seed balances and clears the ledger.
    fn reset(&self) -> impl Future<Output = Result<(), BalanceError>> + Send;
}

/// [`Balance`] over HTTP.
#[derive(Debug, Clone)]
pub struct HttpBalance {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

impl HttpBalance {
    /// A client for the balance service at `base_url`, giving each request `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            // Only ever a loopback or compose-network peer: never route it through a proxy
            // taken from the environment.
            .no_proxy()
            .build()
            .expect("a reqwest client with no custom TLS always builds");
        HttpBalance {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            timeout,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, BalanceError> {
        request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.transport(e))
    }

    fn transport(&self, error: reqwest::Error) -> BalanceError {
        if error.is_timeout() {
            BalanceError::Timeout(self.timeout)
        } else {
            // The source chain says what actually went wrong ("connection refused").
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(inner) = source {
                text = format!("{text}: {inner}");
                source = inner.source();
            }
            if error.is_connect() {
                BalanceError::Unreachable(text)
            } else {
                BalanceError::Transport(text)
            }
        }
    }

    /// Reads a deduction outcome (`POST .../deductions` or `GET /deductions/{key}`).
    async fn outcome(
        &self,
        customer_id: u64,
        response: reqwest::Response,
    ) -> Result<Charged, BalanceError> {
        let replayed = response
            .headers()
            .get(REPLAYED_HEADER)
            .is_some_and(|v| v.as_bytes() == b"true");
        let status = response.status();
        if status.is_success() {
            let deduction = response
                .json::<Deduction>()
                .await
                .map_err(|e| self.transport(e))?;
            return Ok(Charged {
                deduction,
                replayed,
            });
        }
        let body: ErrorBody = response.json().await.unwrap_or_default();
        Err(match status {
            StatusCode::PAYMENT_REQUIRED => BalanceError::Insufficient {
                balance: body.balance.unwrap_or_default(),
                requested: body.requested.unwrap_or_default(),
            },
            StatusCode::NOT_FOUND => {
                BalanceError::UnknownCustomer(body.customer_id.unwrap_or(customer_id))
            }
            StatusCode::CONFLICT => BalanceError::KeyInFlight,
            StatusCode::UNPROCESSABLE_ENTITY if body.detail.contains("idempotency key") => {
                BalanceError::KeyMismatch
            }
            _ => BalanceError::Status {
                status: status.as_u16(),
                detail: body.detail,
            },
        })
    }
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    detail: String,
    balance: Option<Cents>,
    requested: Option<Cents>,
    customer_id: Option<u64>,
}

impl Balance for HttpBalance {
    async fn deduct(
        &self,
        customer_id: u64,
        request: &DeductionRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Charged, BalanceError> {
        let mut builder = self
            .http
            .post(format!("{}/accounts/{customer_id}/deductions", self.base))
            .json(request);
        if let Some(key) = idempotency_key {
            builder = builder.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        let response = self.send(builder).await?;
        self.outcome(customer_id, response).await
    }

    async fn lookup(&self, key: &str) -> Result<KeyLookup, BalanceError> {
        let response = self
            .send(self.http.get(format!("{}/deductions/{key}", self.base)))
            .await?;
        // A stored outcome is marked as a replay; a 404 without the mark means "never seen".
        let stored = response.headers().contains_key(REPLAYED_HEADER);
        match response.status() {
            StatusCode::NOT_FOUND if !stored => Ok(KeyLookup::NotReceived),
            StatusCode::CONFLICT => Ok(KeyLookup::InFlight),
            status if status.is_server_error() => Err(BalanceError::Status {
                status: status.as_u16(),
                detail: response.text().await.unwrap_or_default(),
            }),
            _ => {
                let outcome = self.outcome(0, response).await.map(|c| c.deduction);
                Ok(KeyLookup::Done(outcome))
            }
        }
    }

    async fn account(&self, customer_id: u64) -> Result<Option<Cents>, BalanceError> {
        let response = self
            .send(
                self.http
                    .get(format!("{}/accounts/{customer_id}", self.base)),
            )
            .await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => {
                let account: Account = response.json().await.map_err(|e| self.transport(e))?;
                Ok(Some(account.balance))
            }
            status => Err(BalanceError::Status {
                status: status.as_u16(),
                detail: response.text().await.unwrap_or_default(),
            }),
        }
    }

    async fn reset(&self) -> Result<(), BalanceError> {
        let response = self
            .send(self.http.post(format!("{}/reset", self.base)))
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(BalanceError::Status {
                status: response.status().as_u16(),
                detail: response.text().await.unwrap_or_default(),
            })
        }
    }
}

//! The balance service's API on the wire: what its clients send and get back.

use serde::{Deserialize, Serialize};

use crate::money::Cents;

/// `GET /accounts/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub customer_id: u64,
    pub balance: Cents,
}

/// The body of `POST /accounts/{id}/deductions`. `reference` names what is paid for,
/// for example `order-7`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeductionRequest {
    pub amount: Cents,
    pub reference: String,
}

/// A deduction that was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deduction {
    pub customer_id: u64,
    pub new_balance: Cents,
    pub deduction_id: u64,
}

/// The JSON body of every error answer: `detail` for people, and for the refusals a program
/// acts on, a `code` and the figures that go with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    /// With `insufficient_funds`: the balance, and the amount asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Cents>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<Cents>,
    /// With `unknown_customer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<u64>,
}

impl ErrorBody {
    pub fn new(detail: impl Into<String>, code: Option<ErrorCode>) -> Self {
        ErrorBody {
            detail: detail.into(),
            code,
            ..ErrorBody::default()
        }
    }
}

/// What kind of refusal an error answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 402: the balance is lower than the amount.
    InsufficientFunds,
    /// 404: no such customer.
    UnknownCustomer,
    /// 409: a request with the same idempotency key is still being processed.
    KeyInFlight,
    /// 422: the idempotency key was used for a different request.
    KeyReused,
}

/// The header a replayed response carries, as Stripe names it.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The request header that makes a deduction idempotent.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

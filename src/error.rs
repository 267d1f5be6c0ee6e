//! The JSON error every HTTP endpoint of both services answers with: `{"detail": "..."}`.
//!
//! The error type, and the extractors that answer a request they cannot read with it, are the
//! balance service's; this module adds how order processing's errors map onto it.

use axum::http::StatusCode;

pub use balance_service::error::{ApiError, Json, Path, not_found};

use crate::orders::OrderError;

/// The one place where order processing's errors become HTTP statuses.
impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        let status = match &error {
            OrderError::NotFound(_) => StatusCode::NOT_FOUND,
            OrderError::Refused { status, .. } => *status,
            OrderError::BalanceUnavailable(_) | OrderError::StoreUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            OrderError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

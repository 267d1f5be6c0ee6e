//! The order service's HTTP API. Wire-compatible with the original exercise.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use serde::Serialize;

use crate::error::{ApiError, Json, Path};
use crate::money::Cents;
use crate::orders::book::Book;
use crate::orders::{
    BatchRequest, MAX_BATCH, OrderError, OrderRequest, OrderResponse, OrderView, Orders,
};
use crate::stats::Totals;

/// The largest request body accepted: room for a full batch of [`MAX_BATCH`] orders.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The state every handler shares: a cheap `Clone` handle to the orders, wherever their
/// book and totals are kept.
type Shared<B, S> = Arc<Orders<crate::balance::transport::Reqwest, B, S>>;

/// The order service's routes.
pub fn app<B: Book, S: Totals>(state: Shared<B, S>) -> Router {
    let router = Router::new()
        .route("/health", get(health))
        .route("/orders", post(create_order::<B, S>))
        .route("/orders/batch", post(create_batch::<B, S>))
        .route("/orders/{id}", get(order_by_id::<B, S>))
        .route("/stats", get(stats::<B, S>))
        .route("/balance/{customer_id}", get(balance::<B, S>))
        .route("/reset", post(reset::<B, S>))
        .fallback(crate::error::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    crate::telemetry::trace_http(router)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn create_order<B: Book, S: Totals>(
    State(orders): State<Shared<B, S>>,
    Json(request): Json<OrderRequest>,
) -> Result<axum::Json<OrderResponse>, ApiError> {
    let customer_id = request.customer_id;
    let response = orders.process(request).await?;
    orders.note_balance(customer_id, &response).await;
    Ok(axum::Json(response))
}

async fn create_batch<B: Book, S: Totals>(
    State(orders): State<Shared<B, S>>,
    Json(batch): Json<BatchRequest>,
) -> Result<axum::Json<Vec<OrderResponse>>, ApiError> {
    if batch.orders.len() > MAX_BATCH {
        return Err(OrderError::Refused {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            detail: format!(
                "a batch holds at most {MAX_BATCH} orders; this one has {}",
                batch.orders.len()
            ),
        }
        .into());
    }
    let customers_by_id: HashMap<u64, u64> = batch
        .orders
        .iter()
        .map(|order| (order.id, order.customer_id))
        .collect();
    let responses = crate::orders::batch::place_batch(&orders, batch.orders).await;
    // The answers come back in the batch's order or by priority: match them by order id.
    for response in &responses {
        if let Some(&customer_id) = customers_by_id.get(&response.id) {
            orders.note_balance(customer_id, response).await;
        }
    }
    Ok(axum::Json(responses))
}

async fn order_by_id<B: Book, S: Totals>(
    State(orders): State<Shared<B, S>>,
    Path(id): Path<u64>,
) -> Result<axum::Json<OrderView>, ApiError> {
    let view = orders
        .book
        .view(id)
        .await
        .map_err(OrderError::from)?
        .ok_or_else(|| OrderError::NotFound(format!("order {id} not found")))?;
    Ok(axum::Json(view))
}

/// `GET /stats`: the original's shape.
#[derive(Serialize)]
struct StatsView {
    total_revenue: Cents,
    order_count: u64,
}

async fn stats<B: Book, S: Totals>(
    State(orders): State<Shared<B, S>>,
) -> Result<axum::Json<StatsView>, ApiError> {
    let today = orders.stats.snapshot().await.map_err(OrderError::from)?;
    Ok(axum::Json(StatsView {
        total_revenue: today.total_revenue,
        order_count: today.order_count,
    }))
}

#[derive(Serialize)]
struct BalanceView {
    customer_id: u64,
    balance: Cents,
}

async fn balance<B: Book, S: Totals>(
    State(orders): State<Shared<B, S>>,
    Path(customer_id): Path<u64>,
) -> Result<axum::Json<BalanceView>, ApiError> {
    match orders.accounts.balance(&orders.balance, customer_id).await {
        Ok(Some(balance)) => Ok(axum::Json(BalanceView {
            customer_id,
            balance,
        })),
        Ok(None) => Err(OrderError::NotFound(format!("Customer {customer_id} not found")).into()),
        Err(error) => Err(OrderError::BalanceUnavailable(error).into()),
    }
}

async fn reset<B: Book, S: Totals>(
    State(orders): State<Shared<B, S>>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    orders.reset().await?;
    Ok(axum::Json(
        serde_json::json!({ "status": "reset complete" }),
    ))
}

//! Placing a batch of orders.

use std::sync::Arc;

use crate::balance::transport::Transport;
use crate::orders::book::Book;
use crate::orders::{OrderRequest, OrderResponse, Orders};
use crate::stats::Totals;

/// Places a batch one order at a time, by priority, and answers in that order.
pub async fn place_batch<T: Transport, B: Book, S: Totals>(
    orders: &Arc<Orders<T, B, S>>,
    mut requests: Vec<OrderRequest>,
) -> Vec<OrderResponse> {
    requests.sort_by_key(|request| request.priority);
    let mut responses = Vec::with_capacity(requests.len());
    for request in requests {
        let (id, priority) = (request.id, request.priority);
        responses.push(match orders.process(request).await {
            Ok(response) => response,
            Err(error) => OrderResponse::error(id, priority, error.to_string()),
        });
    }
    responses
}

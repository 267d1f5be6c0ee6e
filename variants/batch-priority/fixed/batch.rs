//! Placing a batch of orders.

use std::cmp::Reverse;
use std::sync::Arc;

use crate::balance::transport::Transport;
use crate::orders::book::Book;
use crate::orders::{OrderRequest, OrderResponse, Orders};
use crate::stats::Totals;

/// Places a batch one order at a time, priority orders first, and answers in that order.
/// When money runs short, the priority orders are the ones charged.
pub async fn place_batch<T: Transport, B: Book, S: Totals>(
    orders: &Arc<Orders<T, B, S>>,
    mut requests: Vec<OrderRequest>,
) -> Vec<OrderResponse> {
    // `false` sorts before `true`: reversed, so priority orders come first. The sort is
    // stable, so within each kind the orders keep the order they were given in.
    requests.sort_by_key(|request| Reverse(request.priority));
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

//! What the order service does in the background while it serves: a line in the log with
//! today's totals so far, at start-up and every minute, for whoever watches the logs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::balance::transport::Transport;
use crate::orders::Orders;
use crate::orders::book::Book;
use crate::stats::Totals;

/// How often today's totals are logged.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Runs until `stop` completes.
pub async fn run<T: Transport, B: Book, S: Totals>(
    orders: Arc<Orders<T, B, S>>,
    stop: impl Future<Output = ()> + Send,
) {
    let mut report = tokio::time::interval(REPORT_EVERY);
    report.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = report.tick() => report_today(&orders).await,
        }
    }
}

/// Logs today's totals.
async fn report_today<T: Transport, B: Book, S: Totals>(orders: &Orders<T, B, S>) {
    match orders.stats.snapshot().await {
        Ok(today) => tracing::info!(
            revenue = %today.total_revenue,
            orders = today.order_count,
            "today so far"
        ),
        Err(error) => tracing::warn!(%error, "could not read today's totals"),
    }
}

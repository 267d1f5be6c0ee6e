//! Today's order statistics: revenue and number of orders charged.

use std::future::Future;

use serde::Serialize;

use crate::money::Cents;
use crate::sync::{Mutex, lock};

/// The totals `GET /stats` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DailyStats {
    pub total_revenue: Cents,
    pub order_count: u64,
}

impl DailyStats {
    fn add_sale(&mut self, amount: Cents) {
        self.total_revenue += amount;
        self.order_count += 1;
    }
}

/// Shared by every request handler. A std `Mutex`: its guard is never held across an
/// `.await`.
#[derive(Debug, Default)]
pub struct Stats {
    today: Mutex<DailyStats>,
}

impl Stats {
    pub fn new() -> Self {
        Stats::default()
    }

    pub fn snapshot(&self) -> DailyStats {
        *lock(&self.today)
    }

    pub fn reset(&self) {
        *lock(&self.today) = DailyStats::default();
    }

    /// Runs `charge` and, when it succeeds, counts the sale of `amount` in today's totals.
    pub async fn record_sale<T, E>(
        &self,
        amount: Cents,
        charge: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let mut today = self.snapshot();
        let charged = charge.await?;
        today.add_sale(amount);
        *lock(&self.today) = today;
        Ok(charged)
    }
}

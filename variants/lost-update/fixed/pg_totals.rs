//! Today's totals in Postgres, shared by every replica: one row per day.

use order_service::daily::{DailyStats, Day};
use order_service::money::Cents;
use order_service::stats::Totals;
use order_service::store::StoreError;
use sqlx::{PgPool, Row};

use crate::postgres::failed;

/// Today's totals, in the `daily_totals` table.
#[derive(Debug, Clone)]
pub struct PgTotals {
    pool: PgPool,
}

impl PgTotals {
    pub fn new(pool: PgPool) -> Self {
        PgTotals { pool }
    }

    async fn read(&self, day: Day) -> Result<DailyStats, StoreError> {
        let row = sqlx::query("SELECT revenue_cents, order_count FROM daily_totals WHERE day = $1")
            .bind(day.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        Ok(match row {
            Some(row) => DailyStats {
                day,
                total_revenue: Cents::new(row.get("revenue_cents")),
                order_count: row.get::<i64, _>("order_count") as u64,
            },
            None => DailyStats::empty(day),
        })
    }
}

impl Totals for PgTotals {
    async fn record_sale(&self, amount: Cents) -> Result<DailyStats, StoreError> {
        // One statement adds the sale to the row, whatever other replicas add at the same
        // moment: the database does the read and the write under the row's lock. (Reading
        // the totals and writing back their sum would erase every sale counted between.)
        let day = Day::today();
        let row = sqlx::query(
            "INSERT INTO daily_totals (day, revenue_cents, order_count) VALUES ($1, $2, 1)
             ON CONFLICT (day) DO UPDATE
             SET revenue_cents = daily_totals.revenue_cents + EXCLUDED.revenue_cents,
                 order_count = daily_totals.order_count + 1
             RETURNING revenue_cents, order_count",
        )
        .bind(day.to_string())
        .bind(amount.get())
        .fetch_one(&self.pool)
        .await
        .map_err(failed)?;
        Ok(DailyStats {
            day,
            total_revenue: Cents::new(row.get("revenue_cents")),
            order_count: row.get::<i64, _>("order_count") as u64,
        })
    }

    async fn snapshot(&self) -> Result<DailyStats, StoreError> {
        self.read(Day::today()).await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM daily_totals")
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(())
    }
}

//! The order book in Postgres, shared by every replica: one row per order.

use order_service::daily::Day;
use order_service::money::Cents;
use order_service::orders::book::{Book, Claim, LEASE, Owed, Taken, Unsettled};
use order_service::orders::{Order, OrderResponse, OrderView, State, view};
use order_service::stats::Totals;
use order_service::store::StoreError;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::postgres::{columns, db_id, failed};

/// [`LEASE`] in seconds, as the queries take it. The database's clock decides when a claim
/// lapses, so the replicas' clocks need not agree.
const LEASE_SECS: f64 = LEASE.as_secs_f64();

/// Orders by id, in the `orders` table. A released claim is dated `-infinity`: lapsed for
/// any lease.
#[derive(Debug)]
pub struct PgBook {
    pool: PgPool,
    owed: Owed,
}

impl PgBook {
    pub fn new(pool: PgPool) -> Self {
        PgBook {
            pool,
            owed: Owed::default(),
        }
    }
}

/// The order and where it is, from a row of `orders`.
fn read(row: &PgRow) -> Result<(Order, State), StoreError> {
    let order = Order {
        id: row.get::<i64, _>("id") as u64,
        customer_id: row.get::<i64, _>("customer_id") as u64,
        amount: Cents::new(row.get("amount_cents")),
        priority: row.get("priority"),
    };
    let state = match row.get::<Option<String>, _>("response") {
        Some(text) => State::Done(serde_json::from_str::<OrderResponse>(&text).map_err(|e| {
            StoreError(format!("order {} has an unreadable answer: {e}", order.id))
        })?),
        None => State::Processing,
    };
    Ok((order, state))
}

/// The state's columns: its name, and the answer as JSON once there is one.
fn state_columns(state: &State) -> Result<(&'static str, Option<String>), StoreError> {
    Ok(match state {
        State::Processing => ("processing", None),
        State::Done(response) => (
            "done",
            Some(serde_json::to_string(response).map_err(|e| StoreError(e.to_string()))?),
        ),
    })
}

impl Book for PgBook {
    /// The claim's `claimed_at`, in microseconds since 1970 (its exact resolution).
    type Stamp = i64;

    async fn claim(&self, order: &Order) -> Result<Claim, StoreError> {
        // The primary key decides, across every replica: exactly one insert of an id wins.
        let (id, customer_id, amount, priority) = columns(order)?;
        loop {
            let inserted = sqlx::query(
                "INSERT INTO orders (id, customer_id, amount_cents, priority, state)
                 VALUES ($1, $2, $3, $4, 'processing')
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(customer_id)
            .bind(amount)
            .bind(priority)
            .execute(&self.pool)
            .await
            .map_err(failed)?;
            if inserted.rows_affected() == 1 {
                return Ok(Claim::New);
            }
            let Some(row) = sqlx::query("SELECT * FROM orders WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(failed)?
            else {
                continue; // forgotten in between: try the insert again
            };
            let (seen, state) = read(&row)?;
            if (seen.customer_id, seen.amount) != (order.customer_id, order.amount) {
                return Ok(Claim::Different);
            }
            return match state {
                State::Done(response) => Ok(Claim::Answered(response)),
                State::Processing => {
                    let taken = sqlx::query(
                        "UPDATE orders SET claimed_at = now()
                         WHERE id = $1 AND state = 'processing'
                           AND claimed_at < now() - make_interval(secs => $2)",
                    )
                    .bind(id)
                    .bind(LEASE_SECS)
                    .execute(&self.pool)
                    .await
                    .map_err(failed)?;
                    Ok(if taken.rows_affected() == 1 {
                        Claim::New
                    } else {
                        Claim::InFlight
                    })
                }
            };
        }
    }

    async fn record(&self, order: Order, state: State) -> Result<(), StoreError> {
        let (id, customer_id, amount, priority) = columns(&order)?;
        let (state, response) = state_columns(&state)?;
        sqlx::query(
            "INSERT INTO orders (id, customer_id, amount_cents, priority, state, response)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE
             SET customer_id = EXCLUDED.customer_id, amount_cents = EXCLUDED.amount_cents,
                 priority = EXCLUDED.priority, state = EXCLUDED.state,
                 response = EXCLUDED.response",
        )
        .bind(id)
        .bind(customer_id)
        .bind(amount)
        .bind(priority)
        .bind(state)
        .bind(response)
        .execute(&self.pool)
        .await
        .map_err(failed)?;
        Ok(())
    }

    async fn record_sale<S: Totals>(
        &self,
        order: Order,
        response: OrderResponse,
        _totals: &S,
    ) -> Result<(), StoreError> {
        // Today's totals are in this database too, so one statement marks the order done and
        // adds its sale: both happen or neither does. Only an order still processing is
        // marked and counted, so settling it again (after a write whose answer was lost, or
        // by a replica that took over its claim) does not count it twice. One statement, not
        // a transaction of two: the day's row is locked from the add until the commit, and
        // the statement commits without a round trip to this replica in between.
        let (_, response) = state_columns(&State::Done(response))?;
        sqlx::query(
            "WITH done AS (
                 UPDATE orders SET state = 'done', response = $2
                 WHERE id = $1 AND state = 'processing'
                 RETURNING amount_cents
             )
             INSERT INTO daily_totals (day, revenue_cents, order_count)
             SELECT $3, amount_cents, 1 FROM done
             ON CONFLICT (day) DO UPDATE
             SET revenue_cents = daily_totals.revenue_cents + EXCLUDED.revenue_cents,
                 order_count = daily_totals.order_count + 1",
        )
        .bind(db_id(order.id)?)
        .bind(response)
        .bind(Day::today().to_string())
        .execute(&self.pool)
        .await
        .map_err(failed)?;
        Ok(())
    }

    async fn forget(&self, id: u64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM orders WHERE id = $1 AND state = 'processing'")
            .bind(db_id(id)?)
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn release(&self, id: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE orders SET claimed_at = '-infinity' WHERE id = $1 AND state = 'processing'",
        )
        .bind(db_id(id)?)
        .execute(&self.pool)
        .await
        .map_err(failed)?;
        Ok(())
    }

    async fn take_lapsed(&self, limit: usize) -> Result<Vec<Taken<Self::Stamp>>, StoreError> {
        // Locked as they are taken, and locked rows skipped, so replicas reconciling at the
        // same moment take different orders; the lapse is checked again on the row as it is
        // locked, so an order a copy took over just before is not taken.
        let rows = sqlx::query(
            "UPDATE orders SET claimed_at = clock_timestamp()
             WHERE id IN (
                 SELECT id FROM orders
                 WHERE state = 'processing'
                   AND claimed_at < now() - make_interval(secs => $1)
                 ORDER BY claimed_at
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED
             )
             RETURNING *, (extract(epoch FROM claimed_at) * 1000000)::bigint AS claim",
        )
        .bind(LEASE_SECS)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(failed)?;
        rows.iter()
            .map(|row| {
                let (order, _) = read(row)?;
                Ok(Taken {
                    order,
                    claim: row.get("claim"),
                })
            })
            .collect()
    }

    async fn forget_taken(&self, taken: &Taken<Self::Stamp>) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM orders
             WHERE id = $1 AND state = 'processing'
               AND claimed_at = timestamptz 'epoch' + $2 * interval '1 microsecond'",
        )
        .bind(db_id(taken.order.id)?)
        .bind(taken.claim)
        .execute(&self.pool)
        .await
        .map_err(failed)?;
        Ok(())
    }

    async fn unsettled(&self) -> Result<Unsettled, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) AS processing,
                    count(*) FILTER (
                        WHERE claimed_at < now() - make_interval(secs => $1)
                    ) AS abandoned
             FROM orders WHERE state = 'processing'",
        )
        .bind(LEASE_SECS)
        .fetch_one(&self.pool)
        .await
        .map_err(failed)?;
        Ok(Unsettled {
            processing: row.get::<i64, _>("processing") as u64,
            abandoned: row.get::<i64, _>("abandoned") as u64,
        })
    }

    fn owed(&self) -> &Owed {
        &self.owed
    }

    async fn view(&self, id: u64) -> Result<Option<OrderView>, StoreError> {
        let row = sqlx::query("SELECT * FROM orders WHERE id = $1")
            .bind(db_id(id)?)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        row.map(|row| read(&row).map(|(order, state)| view(&order, &state)))
            .transpose()
    }

    async fn clear(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM orders")
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(())
    }
}

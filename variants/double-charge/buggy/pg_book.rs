//! The order book in Postgres, shared by every replica: one row per order.

use order_service::money::Cents;
use order_service::orders::book::Book;
use order_service::orders::{Order, OrderResponse, OrderView, State, view};
use order_service::store::StoreError;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::postgres::{columns, db_id, failed};

/// Orders by id, in the `orders` table.
#[derive(Debug, Clone)]
pub struct PgBook {
    pool: PgPool,
}

impl PgBook {
    pub fn new(pool: PgPool) -> Self {
        PgBook { pool }
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

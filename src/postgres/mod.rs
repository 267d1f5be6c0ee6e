//! The Postgres store: the order book and today's totals in a database that every replica
//! shares, so that several order-service processes behind a load balancer answer as one
//! service. The schema is in `migrations/`, applied at start-up.

pub mod book;
pub mod totals;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use order_service::orders::Order;
use order_service::store::StoreError;

/// Where the order service keeps its state.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// `memory`: in this process (today's totals in --stats-file). `postgres`: in the
    /// database at --database-url, shared by every replica.
    #[arg(long, env = "ORDERS_STORE", value_enum, default_value = "memory")]
    pub store: StoreKind,

    /// The Postgres database for `--store postgres`, for example
    /// `postgres://orders:orders@127.0.0.1:5432/orders`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Connections to the database, at most.
    #[arg(long, env = "ORDERS_DB_CONNECTIONS", default_value_t = 16)]
    pub db_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Memory,
    Postgres,
}

/// Why the Postgres store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "--store postgres needs --database-url (or DATABASE_URL); scripts/postgres-start starts a local Postgres and prints one"
    )]
    NoUrl,
    #[error(
        "cannot reach Postgres at {url}: {source}; is it running? (scripts/postgres-start starts one)"
    )]
    Unreachable { url: String, source: sqlx::Error },
    #[error("cannot apply the schema to {url}: {source}")]
    Migration {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
}

/// Connects to the database, and brings its schema up to date.
pub async fn open(args: &StoreArgs) -> Result<PgPool, OpenError> {
    let url = args.database_url.as_deref().ok_or(OpenError::NoUrl)?;
    let shown = without_password(url);
    let pool = PgPoolOptions::new()
        .max_connections(args.db_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|source| OpenError::Unreachable {
            url: shown.clone(),
            source,
        })?;
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .map_err(|source| OpenError::Migration { url: shown, source })?;
    Ok(pool)
}

/// `url` with its password, if any, replaced by `***`, for messages and logs. A URL that
/// does not parse is not shown at all, since where its password is cannot be told.
pub fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(error) => format!("(a database URL that does not parse: {error})"),
    }
}

/// A failed query, as the order service's own error.
pub fn failed(error: sqlx::Error) -> StoreError {
    StoreError(format!("Postgres: {error}"))
}

/// An order id as the database holds it: a BIGINT.
pub fn db_id(id: u64) -> Result<i64, StoreError> {
    i64::try_from(id).map_err(|_| StoreError(format!("order id {id} is too large to store")))
}

/// The order's columns, as bound to a query: id, customer, amount in cents, priority.
pub fn columns(order: &Order) -> Result<(i64, i64, i64, bool), StoreError> {
    Ok((
        db_id(order.id)?,
        db_id(order.customer_id)?,
        order.amount.get(),
        order.priority,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            without_password("postgres://orders:secret@127.0.0.1:5432/orders"),
            "postgres://orders:***@127.0.0.1:5432/orders"
        );
        assert_eq!(
            without_password("postgres://127.0.0.1/orders"),
            "postgres://127.0.0.1/orders"
        );
        assert!(!without_password("postgres://orders:secret@[bad/orders").contains("secret"));
    }
}

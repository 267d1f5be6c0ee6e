use std::process::ExitCode;

use clap::Parser;
use order_service::app::{Application, shutdown_signal};
use order_service::config::Config;

// The order book and today's totals in Postgres, for replicas (`--store postgres`).
#[cfg(feature = "postgres")]
mod postgres;

/// `order-service`: the order processing service.
#[derive(Debug, clap::Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    config: Config,

    #[cfg(feature = "postgres")]
    #[command(flatten)]
    store: postgres::StoreArgs,

    #[cfg(not(feature = "postgres"))]
    #[command(flatten)]
    store: NoStore,
}

/// The store settings a build without the Postgres store cannot honour: read only to refuse
/// them, so a replica deployed from the wrong build stops instead of keeping totals of its
/// own in memory while its neighbours share a database.
#[cfg(not(feature = "postgres"))]
#[derive(Debug, clap::Args)]
struct NoStore {
    #[arg(long, env = "ORDERS_STORE", hide = true)]
    store: Option<String>,

    #[arg(long, env = "DATABASE_URL", hide = true)]
    database_url: Option<String>,
}

#[cfg(not(feature = "postgres"))]
impl NoStore {
    /// Why this build cannot start with these settings, if it cannot. `DATABASE_URL` alone is
    /// only told of: it is a common variable, and the store is chosen by `--store`.
    fn refusal(&self) -> Option<String> {
        match self.store.as_deref() {
            None | Some("memory") => {
                if self.database_url.is_some() {
                    tracing::warn!(
                        "DATABASE_URL is set, but this build keeps orders and totals in memory: it is not used"
                    );
                }
                None
            }
            Some(store) => Some(format!(
                "--store (ORDERS_STORE) is {store:?}, but this build keeps orders and totals in memory only; \
                 the Postgres store needs a build with --features postgres"
            )),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    order_service::telemetry::init("order_service=info,tower_http=info");
    let cli = Cli::parse();
    let app = match start(&cli).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("order-service: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        addr = %app.local_addr(),
        balance_url = app.balance_url(),
        "order service listening"
    );
    match app.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("order-service: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The service, with its state where `--store` says: in memory, or in Postgres.
async fn start(cli: &Cli) -> Result<Application, Box<dyn std::error::Error>> {
    #[cfg(not(feature = "postgres"))]
    if let Some(refusal) = cli.store.refusal() {
        return Err(refusal.into());
    }
    #[cfg(feature = "postgres")]
    if cli.store.store == postgres::StoreKind::Postgres {
        let pool = postgres::open(&cli.store).await?;
        tracing::info!(
            database = %postgres::without_password(cli.store.database_url.as_deref().unwrap_or_default()),
            "order records and today's totals in Postgres"
        );
        let book = postgres::book::PgBook::new(pool.clone());
        let totals = postgres::totals::PgTotals::new(pool);
        return Ok(Application::with_store(&cli.config, book, totals).await?);
    }
    #[cfg(feature = "postgres")]
    if cli.store.database_url.is_some() {
        tracing::warn!(
            "DATABASE_URL is set, but the store is memory: it is not used (--store postgres uses it)"
        );
    }
    Ok(Application::build(&cli.config).await?)
}

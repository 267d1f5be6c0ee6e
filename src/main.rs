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
    Ok(Application::build(&cli.config).await?)
}

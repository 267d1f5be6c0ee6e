use std::process::ExitCode;

use clap::Parser;
use order_service::app::{Application, shutdown_signal};
use order_service::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    order_service::telemetry::init("order_service=info,tower_http=info");
    let config = Config::parse();
    let app = match Application::build(&config).await {
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

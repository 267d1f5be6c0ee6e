use clap::Parser;
use order_service::app::{Application, shutdown_signal};
use order_service::config::Config;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    order_service::telemetry::init("order_service=info,tower_http=info");
    let config = Config::parse();
    let app = Application::build(&config).await?;
    tracing::info!(
        addr = %app.local_addr(),
        balance_url = app.balance_url(),
        "order service listening"
    );
    app.run(shutdown_signal()).await
}

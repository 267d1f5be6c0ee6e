use clap::Parser;
use order_service::app::shutdown_signal;
use order_service::balance::server::BalanceServer;
use order_service::config::BalanceServiceConfig;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    order_service::telemetry::init("balance_service=info,order_service::balance=info");
    let args = BalanceServiceConfig::parse();
    let config = args.balance.config();
    let server = BalanceServer::bind(args.addr, config.clone()).await?;
    tracing::info!(
        addr = %server.local_addr(),
        seed = config.faults.seed,
        faults = %serde_json::to_string(&config.faults).unwrap_or_default(),
        concurrency = config.concurrency,
        "balance service listening"
    );
    server.run(shutdown_signal()).await
}

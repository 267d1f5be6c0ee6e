use balance_service::config::BalanceServiceConfig;
use balance_service::server::BalanceServer;
use clap::Parser;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    balance_service::telemetry::init("balance_service=info");
    let args = BalanceServiceConfig::parse();
    let config = args.balance.config();
    let server = BalanceServer::bind(args.addr, config.clone()).await?;
    tracing::info!(
        addr = %server.local_addr(),
        seed = config.faults.seed,
        faults = %config.faults,
        concurrency = config.concurrency,
        "balance service listening; start it again with --seed {} for the same faults",
        config.faults.seed
    );
    server.run(terminated()).await
}

/// Completes on Ctrl-C or SIGTERM.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler installs");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}

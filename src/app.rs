//! Starting the order service: bind, start or reach the balance service, serve, shut down.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::app;
use crate::balance::accounts::Accounts;
use crate::balance::client::HttpBalance;
use crate::balance::transport::Reqwest;
use crate::config::Config;
use crate::daily::TotalsFile;
use crate::orders::book::{Book, OrderBook};
use crate::orders::{Orders, upkeep};
use crate::stats::{Stats, Totals};
use axum::Router;
use balance_service::server::BalanceServer;
use std::sync::Arc;

/// An order service bound to its address, with its balance service and its store chosen.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// What it does in the background while it serves, given when to stop.
    upkeep: Upkeep,
    balance_url: String,
    embedded: Option<BalanceServer>,
}

/// The service's background work: started by [`Application::run`], which gives it a future
/// that completes when the service is told to stop.
type Upkeep = Box<dyn FnOnce(Stopped) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Completes once the service is told to stop.
type Stopped = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The routes and the background work of an order service around `orders`.
fn serve<B: Book, S: Totals>(orders: Orders<Reqwest, B, S>) -> (Router, Upkeep) {
    let orders = Arc::new(orders);
    let router = app(Arc::clone(&orders));
    let upkeep: Upkeep = Box::new(move |stopped| Box::pin(upkeep::run(orders, stopped)));
    (router, upkeep)
}

impl Application {
    /// Binds the listener (port 0 works), keeps the orders in memory and reads today's
    /// totals from the stats file, and starts an embedded balance service on an ephemeral
    /// loopback port when `config.balance_url` is not set.
    pub async fn build(config: &Config) -> std::io::Result<Self> {
        let file = TotalsFile::new(&config.stats_file);
        file.check_writable()?;
        let stats = Stats::open(file)?;
        Application::with_store(config, OrderBook::new(config.order_retention()), stats).await
    }

    /// [`Application::build`], with the orders kept in `book` and today's totals in `stats`.
    pub async fn with_store<B: Book, S: Totals>(
        config: &Config,
        book: B,
        stats: S,
    ) -> std::io::Result<Self> {
        let (balance_url, embedded) = match &config.balance_url {
            Some(url) => (url.clone(), None),
            None => {
                let balance = config.balance.config();
                let server =
                    BalanceServer::bind(([127, 0, 0, 1], 0).into(), balance.clone()).await?;
                tracing::info!(
                    url = %server.url(),
                    seed = balance.faults.seed,
                    faults = %balance.faults,
                    concurrency = balance.concurrency,
                    "embedded balance service listening"
                );
                (server.url(), Some(server))
            }
        };
        if balance_url.starts_with("https://") && !cfg!(feature = "tls") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the balance service is at {balance_url}, but this build has no TLS; build with --features tls, or reach it over http://"
                ),
            ));
        }
        let balance = HttpBalance::new(Reqwest::new(&balance_url, config.attempt_timeout()));
        let mut orders = Orders::with_store(balance, book, stats, config.retry());
        orders.accounts = Accounts::new(config.balance_patience());
        let (router, upkeep) = serve(orders);
        Ok(Application {
            listener: TcpListener::bind(config.addr).await?,
            router,
            upkeep,
            balance_url,
            embedded,
        })
    }

    /// An order service around `orders`, whose balance service is already running: for
    /// tests.
    pub async fn with_orders<B: Book, S: Totals>(
        addr: SocketAddr,
        orders: Orders<Reqwest, B, S>,
    ) -> std::io::Result<Self> {
        let balance_url = orders.balance.transport().base_url().to_owned();
        let (router, upkeep) = serve(orders);
        Ok(Application {
            listener: TcpListener::bind(addr).await?,
            router,
            upkeep,
            balance_url,
            embedded: None,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn balance_url(&self) -> &str {
        &self.balance_url
    }

    /// Serves until `shutdown` completes, then lets requests in progress finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let wait = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        // The embedded balance service stops last: the background work may still talk to it
        // while it winds down.
        let (stop_balance, balance_stopped) = watch::channel(false);
        let embedded = self.embedded.map(|server| {
            let shutdown = wait(balance_stopped);
            tokio::spawn(server.run(shutdown))
        });
        let upkeep = tokio::spawn((self.upkeep)(Box::pin(wait(stopped.clone()))));
        tokio::spawn(async move {
            shutdown.await;
            stop.send_replace(true);
        });
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(wait(stopped))
            .await;
        let upkept = upkeep.await.map_err(std::io::Error::other);
        stop_balance.send_replace(true);
        upkept?;
        if let Some(embedded) = embedded {
            embedded.await.map_err(std::io::Error::other)??;
        }
        served
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

//! Loom models of the service's concurrency, run on the production code: the statistics
//! ([`Stats`]), order placement ([`place`]) with the balance client ([`HttpBalance`]), and
//! the balance service's books ([`Ledger`]), all built on the `sync` shim, which is loom's
//! under `--cfg orders_loom`.
//!
//! Only the network is replaced: [`LedgerTransport`] answers the balance client's requests by
//! calling the balance service's [`Ledger`] and building its replies, as its HTTP handlers do.
//!
//! ```text
//! RUSTFLAGS="--cfg orders_loom" cargo test --target-dir target/loom --test loom
//! scripts/loom-replay MODEL      # replay a failing interleaving, step by step
//! ```
#![cfg(orders_loom)]

use std::time::Duration;

use loom::future::block_on;
use loom::sync::{Arc, Mutex};
use loom::thread;

use balance_service::ledger::Ledger;
use balance_service::server::{account_reply, answer_deduction, key_status_reply};
use order_service::balance::client::HttpBalance;
use order_service::balance::transport::{Request, Response, Transport, TransportError};
use order_service::money::Cents;
use order_service::orders::place::place;
use order_service::orders::{Order, OrderResponse, OrderStatus, Orders, RetryPolicy};
use order_service::stats::{Stats, Totals};

/// Runs a model with loom's settings from the environment (`LOOM_MAX_PREEMPTIONS`,
/// `LOOM_CHECKPOINT_FILE`, `LOOM_LOG`, `LOOM_LOCATION`, ...), and reports how many
/// interleavings it explored.
fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
    let started = std::time::Instant::now();
    let iterations = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = iterations.clone();
    // What `loom::model` does: with LOOM_LOG set, print loom's log of every step (and this
    // crate's own log lines) for the interleavings it runs.
    let log = tracing_subscriber::fmt()
        .with_max_level(match std::env::var("LOOM_LOG").as_deref() {
            Ok("trace") => tracing::Level::TRACE,
            Ok("debug") => tracing::Level::DEBUG,
            Ok("info") => tracing::Level::INFO,
            Ok(_) => tracing::Level::WARN,
            Err(_) => tracing::Level::ERROR,
        })
        .with_test_writer()
        .with_ansi(false)
        .without_time()
        .finish();
    tracing::subscriber::with_default(log, || {
        loom::model::Builder::new().check(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            f();
        })
    });
    println!(
        "loom model {name}: {} interleavings explored in {:.1?}",
        iterations.load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed()
    );
}

/// The network between the order service and the balance service, in one process: each
/// request is answered from the balance service's [`Ledger`], with the replies its HTTP
/// handlers give. It can lose the response to the first deduction: the balance service then
/// receives and applies it on a thread of its own, racing the client's timeout and retry.
struct LedgerTransport {
    ledger: Arc<Ledger>,
    lose_first_response: Mutex<bool>,
    server: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl LedgerTransport {
    fn new(lose_first_response: bool) -> Self {
        LedgerTransport {
            ledger: Arc::new(Ledger::seeded()),
            lose_first_response: Mutex::new(lose_first_response),
            server: Mutex::new(Vec::new()),
        }
    }

    /// Waits for the balance service's own threads to finish.
    fn join_server(&self) {
        for handle in std::mem::take(&mut *self.server.lock().unwrap()) {
            handle.join().unwrap();
        }
    }
}

impl Transport for LedgerTransport {
    async fn send(&self, request: Request) -> Result<Response, TransportError> {
        let path: Vec<String> = request
            .uri()
            .path()
            .split('/')
            .skip(1)
            .map(str::to_owned)
            .collect();
        let method = request.method().as_str().to_owned();
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        match (method.as_str(), path.as_slice()) {
            ("POST", ["accounts", customer, "deductions"]) => {
                let customer_id: u64 = customer.parse().expect("a numeric customer id");
                let lose = std::mem::take(&mut *self.lose_first_response.lock().unwrap());
                if lose {
                    let ledger = self.ledger.clone();
                    let server = thread::spawn(move || {
                        let _ = answer_deduction(&ledger, customer_id, &request);
                    });
                    self.server.lock().unwrap().push(server);
                    return Err(TransportError::Timeout(Duration::from_millis(500)));
                }
                Ok(answer_deduction(&self.ledger, customer_id, &request))
            }
            ("GET", ["deductions", key]) => Ok(key_status_reply(key, self.ledger.key_status(key))),
            ("GET", ["accounts", customer]) => {
                let customer_id: u64 = customer.parse().expect("a numeric customer id");
                Ok(account_reply(customer_id, self.ledger.balance(customer_id)))
            }
            other => panic!("the models make no {other:?} request"),
        }
    }
}

/// A loom thread with room for order placement's futures (loom's default coroutine stack is
/// too small for them in a debug build).
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    thread::Builder::new()
        .stack_size(4 << 20)
        .spawn(f)
        .expect("a loom thread spawns")
}

fn orders(lose_first_response: bool) -> Orders<LedgerTransport> {
    Orders::new(
        HttpBalance::new(LedgerTransport::new(lose_first_response)),
        Stats::in_memory(),
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(100),
            deadline: Duration::from_secs(60),
        },
    )
}

fn ledger(orders: &Orders<LedgerTransport>) -> &Ledger {
    &orders.balance.transport().ledger
}

fn order(id: u64) -> Order {
    Order {
        id,
        customer_id: 1,
        amount: Cents::dollars(10),
        priority: false,
    }
}

/// Two sales counted at once: `/stats` shows both.
#[test]
fn concurrent_sales_are_all_counted() {
    model("concurrent_sales_are_all_counted", || {
        let stats = Arc::new(Stats::in_memory());
        let sellers: Vec<_> = (0..2)
            .map(|_| {
                let stats = stats.clone();
                thread::spawn(move || {
                    block_on(stats.record_sale(Cents::dollars(10))).unwrap();
                })
            })
            .collect();
        for seller in sellers {
            seller.join().unwrap();
        }
        let end = block_on(stats.snapshot()).unwrap();
        assert!(
            end.order_count == 2 && end.total_revenue == Cents::dollars(20),
            "2 sales of $10 were counted, but the stats show {} orders and ${}",
            end.order_count,
            end.total_revenue
        );
    });
}

/// While two sales are counted, a reader of `/stats` never sees revenue and count out of
/// step.
#[test]
fn stats_are_never_seen_half_updated() {
    model("stats_are_never_seen_half_updated", || {
        let stats = Arc::new(Stats::in_memory());
        let sellers: Vec<_> = (0..2)
            .map(|_| {
                let stats = stats.clone();
                thread::spawn(move || {
                    block_on(stats.record_sale(Cents::dollars(10))).unwrap();
                })
            })
            .collect();
        let seen = block_on(stats.snapshot()).unwrap();
        assert_eq!(
            seen.total_revenue,
            Cents::dollars(10) * seen.order_count as i64,
            "a reader saw {} orders with revenue ${}",
            seen.order_count,
            seen.total_revenue
        );
        for seller in sellers {
            seller.join().unwrap();
        }
    });
}

/// An order placed while the network is flaky (the first response does not arrive in time):
/// it is charged once.
#[test]
fn an_order_is_charged_once_on_a_flaky_network() {
    model("an_order_is_charged_once_on_a_flaky_network", || {
        let orders = Arc::new(orders(true));
        let placing = orders.clone();
        let response =
            spawn(move || block_on(place(&placing, order(7))).map_err(|e| e.to_string()))
                .join()
                .unwrap();
        orders.balance.transport().join_server();

        let charges = ledger(&orders).entries(Some("order-7")).len();
        assert!(
            charges <= 1,
            "order 7 was charged {charges} times; it was answered {response:?}"
        );
    });
}

/// Two copies of one order placed at the same moment, both answered.
fn sent_twice_at_once() -> (
    Arc<Orders<LedgerTransport>>,
    Vec<Result<OrderResponse, String>>,
) {
    let orders = Arc::new(orders(false));
    let copies: Vec<_> = (0..2)
        .map(|_| {
            let orders = orders.clone();
            spawn(move || block_on(place(&orders, order(9))).map_err(|e| e.to_string()))
        })
        .collect();
    let answers = copies.into_iter().map(|c| c.join().unwrap()).collect();
    (orders, answers)
}

/// The same order sent twice at the same moment: it is charged once.
#[test]
fn an_order_sent_twice_at_once_is_charged_once() {
    model("an_order_sent_twice_at_once_is_charged_once", || {
        let (orders, answers) = sent_twice_at_once();
        let charges = ledger(&orders).entries(Some("order-9")).len();
        assert_eq!(
            charges, 1,
            "order 9, sent twice at once, was charged {charges} times; answers {answers:?}"
        );
    });
}

/// The same order sent twice at the same moment: `/stats` counts it once, and one of the
/// two is told it went through.
#[test]
fn an_order_sent_twice_at_once_is_counted_once() {
    model("an_order_sent_twice_at_once_is_counted_once", || {
        let (orders, answers) = sent_twice_at_once();
        let stats = block_on(orders.stats.snapshot()).unwrap();
        assert_eq!(
            stats.order_count, 1,
            "order 9, sent twice at once, is counted {} times; answers {answers:?}",
            stats.order_count
        );
        assert!(
            answers
                .iter()
                .any(|a| a.as_ref().is_ok_and(|r| r.status == OrderStatus::Ok)),
            "order 9 was charged but neither copy was told so: {answers:?}"
        );
    });
}

//! Loom models of the service's concurrency, run on the production code: the statistics
//! ([`Stats::record_sale`]), order placement ([`place`]) and the balance service's books
//! ([`Ledger`]), all built on the `sync` shim, which is loom's under `--cfg orders_loom`.
//!
//! Only HTTP is replaced: [`LedgerBalance`] implements the order service's [`Balance`]
//! interface by calling the balance service's [`Ledger`] directly, as its HTTP handler does.
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

use order_service::balance::DeductionRequest;
use order_service::balance::client::{Balance, BalanceError, Charged, KeyLookup};
use order_service::balance::ledger::{Finished, KeyConflict, KeyStatus, Ledger, Refusal};
use order_service::money::Cents;
use order_service::orders::place::place;
use order_service::orders::{Order, OrderStatus, Orders, RetryPolicy};
use order_service::stats::Stats;

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
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LOOM_LOG"))
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

/// The order service's view of the balance service, over the balance service's own
/// [`Ledger`], with the option to lose the response to the first deduction: the balance
/// service then receives and applies it on a thread of its own, racing the client's
/// timeout and its retry.
struct LedgerBalance {
    ledger: Arc<Ledger>,
    lose_first_response: Mutex<bool>,
    server: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl LedgerBalance {
    fn new(lose_first_response: bool) -> Self {
        LedgerBalance {
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

fn answer(finished: Finished) -> Result<Charged, BalanceError> {
    match finished.outcome {
        Ok(deduction) => Ok(Charged {
            deduction,
            replayed: finished.replayed,
        }),
        Err(Refusal::Insufficient { balance, requested }) => {
            Err(BalanceError::Insufficient { balance, requested })
        }
        Err(Refusal::UnknownCustomer(id)) => Err(BalanceError::UnknownCustomer(id)),
    }
}

fn conflict(conflict: KeyConflict) -> BalanceError {
    match conflict {
        KeyConflict::InFlight => BalanceError::KeyInFlight,
        KeyConflict::Mismatch => BalanceError::KeyMismatch,
    }
}

impl Balance for LedgerBalance {
    async fn deduct(
        &self,
        customer_id: u64,
        request: &DeductionRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Charged, BalanceError> {
        let key = idempotency_key.map(str::to_owned);
        let lose = std::mem::take(&mut *self.lose_first_response.lock().unwrap());
        if lose {
            let ledger = self.ledger.clone();
            let request = request.clone();
            let server = thread::spawn(move || {
                if let Ok(ticket) = ledger.begin(customer_id, request, key) {
                    let _ = ledger.finish(ticket);
                }
            });
            self.server.lock().unwrap().push(server);
            return Err(BalanceError::Timeout(Duration::from_millis(500)));
        }
        let ticket = self
            .ledger
            .begin(customer_id, request.clone(), key)
            .map_err(conflict)?;
        answer(self.ledger.finish(ticket))
    }

    async fn lookup(&self, key: &str) -> Result<KeyLookup, BalanceError> {
        Ok(match self.ledger.key_status(key) {
            None => KeyLookup::NotReceived,
            Some(KeyStatus::InFlight) => KeyLookup::InFlight,
            Some(KeyStatus::Done(outcome)) => KeyLookup::Done(
                answer(Finished {
                    outcome,
                    replayed: true,
                })
                .map(|charged| charged.deduction),
            ),
        })
    }

    async fn account(&self, customer_id: u64) -> Result<Option<Cents>, BalanceError> {
        Ok(self.ledger.balance(customer_id))
    }

    async fn reset(&self) -> Result<(), BalanceError> {
        self.ledger.reset();
        Ok(())
    }
}

fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(100),
        deadline: Duration::from_secs(60),
    }
}

fn order(id: u64) -> Order {
    Order {
        id,
        customer_id: 1,
        amount: Cents::dollars(10),
        priority: false,
    }
}

/// Two orders counted at once: neither update is lost, and an observer never sees revenue
/// and count out of step.
#[test]
fn concurrent_sales_are_all_counted() {
    model("concurrent_sales_are_all_counted", || {
        let stats = Arc::new(Stats::new());
        let sellers: Vec<_> = (0..2)
            .map(|_| {
                let stats = stats.clone();
                thread::spawn(move || {
                    block_on(stats.record_sale(Cents::dollars(10), async { Ok::<_, ()>(()) }))
                        .unwrap();
                })
            })
            .collect();
        let seen = stats.snapshot();
        assert_eq!(
            seen.total_revenue,
            Cents::dollars(10) * seen.order_count as i64,
            "torn stats: an observer saw {} orders with revenue {}",
            seen.order_count,
            seen.total_revenue
        );
        for seller in sellers {
            seller.join().unwrap();
        }
        let end = stats.snapshot();
        assert!(
            end.order_count == 2 && end.total_revenue == Cents::dollars(20),
            "lost update: 2 orders processed, stats count {}, revenue {}",
            end.order_count,
            end.total_revenue
        );
    });
}

/// The balance service applies a deduction but its response is lost; the client's timeout
/// fires and it retries while the balance service is still processing the first request.
/// The order must be charged exactly once, and reported ok.
#[test]
fn a_lost_response_and_its_retry_charge_once() {
    model("a_lost_response_and_its_retry_charge_once", || {
        let orders = Orders::new(LedgerBalance::new(true), retry_policy());
        let response = block_on(place(&orders, order(7))).expect("a placed order");
        orders.balance.join_server();

        let charges = orders.balance.ledger.entries(Some("order-7")).len();
        assert_eq!(
            charges, 1,
            "double charge: order 7 was charged {charges} times after a lost response and a retry"
        );
        assert_eq!(
            response.status,
            OrderStatus::Ok,
            "order 7 was charged but reported {:?}: {:?}",
            response.status,
            response.message
        );
        let stats = orders.stats.snapshot();
        assert_eq!(
            stats.order_count, 1,
            "order 7 charged once but counted {} times",
            stats.order_count
        );
    });
}

/// One order id submitted twice at the same time: it is charged once; the other submission
/// sees the first's answer or an in-flight refusal.
#[test]
fn one_order_submitted_twice_at_once_charges_once() {
    model("one_order_submitted_twice_at_once_charges_once", || {
        let orders = Arc::new(Orders::new(LedgerBalance::new(false), retry_policy()));
        let submissions: Vec<_> = (0..2)
            .map(|_| {
                let orders = orders.clone();
                thread::spawn(move || block_on(place(&orders, order(9))))
            })
            .collect();
        let answers: Vec<_> = submissions.into_iter().map(|s| s.join().unwrap()).collect();

        let charges = orders.balance.ledger.entries(Some("order-9")).len();
        assert_eq!(
            charges, 1,
            "double charge: order 9 submitted twice at once was charged {charges} times; answers {answers:?}"
        );
        let oks = answers
            .iter()
            .filter(|a| a.as_ref().is_ok_and(|r| r.status == OrderStatus::Ok))
            .count();
        assert!(
            oks >= 1,
            "order 9 was charged but no submission was told so: {answers:?}"
        );
        let stats = orders.stats.snapshot();
        assert_eq!(
            stats.order_count, 1,
            "order 9 was charged once but /stats counts {} orders; answers {answers:?}",
            stats.order_count
        );
        for answer in &answers {
            if let Err(refusal) = answer {
                assert_eq!(
                    refusal.status.as_u16(),
                    409,
                    "the second submission should be refused as in flight: {refusal:?}"
                );
            }
        }
    });
}

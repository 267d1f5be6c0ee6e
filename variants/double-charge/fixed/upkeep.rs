//! What the order service does in the background while it serves: a line in the log with
//! today's totals so far, at start-up and every minute, for whoever watches the logs; and the
//! reconciler, which settles the orders left processing.
//!
//! An order is left processing, charged or not, when its placement could not finish: the
//! balance service could not confirm the charge, the store went away after it, or the
//! process stopped. Its sender is told to resend it, and a resend settles it; the reconciler
//! settles the ones that are never resent. Two kinds of work:
//! - what this process could not write while the store was away (a charged order's record
//!   and sale, the release of a claim) is written as soon as the store is back, so that a
//!   resend gets its answer at once;
//! - at start-up and then every [`ROUND_EVERY`], orders whose claims lapsed (their
//!   placement is over, wherever it ran) are taken over and settled by their idempotency
//!   key against the balance service. Taking an order is atomic in the store, so replicas
//!   reconciling together settle each order once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::balance::client::KeyLookup;
use crate::balance::transport::Transport;
use crate::orders::book::{Book, Owing, Taken};
use crate::orders::{OrderResponse, Orders, State};
use crate::stats::Totals;
use crate::store::StoreError;

/// How often today's totals are logged.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// How often the reconciler looks for orders left processing. Their claims lapse a minute
/// after they were made, so an abandoned order is settled within a minute and a quarter.
pub const ROUND_EVERY: Duration = Duration::from_secs(15);

/// The most orders one round takes, so that a long outage's backlog is settled over a few
/// rounds rather than held by one replica.
const ROUND_LIMIT: usize = 500;

/// The pause between tries of the writes owed to the store: short, since the orders'
/// senders may be resending them meanwhile.
const WRITE_AGAIN_AFTER: Duration = Duration::from_millis(250);

/// Runs until `stop` completes.
pub async fn run<T: Transport, B: Book, S: Totals>(
    orders: Arc<Orders<T, B, S>>,
    stop: impl Future<Output = ()> + Send,
) {
    let mut report = tokio::time::interval(REPORT_EVERY);
    report.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut rounds = tokio::time::interval(ROUND_EVERY);
    rounds.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut since_start = Reconciled::default();
    let work = async {
        loop {
            tokio::select! {
                _ = report.tick() => report_today(&orders).await,
                _ = rounds.tick() => match reconcile(&orders).await {
                    Ok(round) => {
                        since_start.add(&round);
                        round.log(&since_start);
                    }
                    Err(error) => tracing::warn!(%error, "could not look for orders left processing"),
                },
                () = orders.book.owed().added() => pay_what_is_owed(&orders).await,
            }
        }
    };
    // Stopping drops whatever is under way, so that a slow balance service or an absent
    // store does not hold the shutdown. That is safe at any await: an order taken by the
    // round stays processing and its claim lapses for the next process to settle, and what
    // was owed is lost with the process as it would be anyway.
    tokio::select! {
        () = stop => {}
        () = work => {}
    }
    finish_placements(&orders).await;
}

/// At a stop, waits for the placements under way for as long as one may take (its attempts
/// and the settling of its charge), so that an order charged as the service stops is
/// recorded and counted by this process. What still runs after that is left to the
/// reconciler, as a stop of the process would.
async fn finish_placements<T: Transport, B: Book, S: Totals>(orders: &Orders<T, B, S>) {
    let owed = orders.book.owed();
    let under_way = owed.placements();
    if under_way == 0 {
        return;
    }
    let limit = orders.retry.deadline.saturating_mul(2);
    tracing::info!(
        under_way,
        ?limit,
        "stopping: waiting for the orders being placed"
    );
    if tokio::time::timeout(limit, owed.placed()).await.is_err() {
        tracing::warn!(
            under_way = owed.placements(),
            "stopping with orders still being placed: the reconciler settles them"
        );
    }
}

/// Logs today's totals, and how many orders are processing.
async fn report_today<T: Transport, B: Book, S: Totals>(orders: &Orders<T, B, S>) {
    match orders.stats.snapshot().await {
        Ok(today) => tracing::info!(
            revenue = %today.total_revenue,
            orders = today.order_count,
            "today so far"
        ),
        Err(error) => tracing::warn!(%error, "could not read today's totals"),
    }
    match orders.book.unsettled().await {
        Ok(unsettled) => tracing::info!(
            processing = unsettled.processing,
            abandoned = unsettled.abandoned,
            "orders processing (abandoned: left by a placement that is over, settled by the reconciler)"
        ),
        Err(error) => tracing::warn!(%error, "could not count the orders processing"),
    }
}

/// Makes the writes [`crate::orders::place`] could not make while the store was away, trying
/// again until every one is made. Recording a sale counts it only while its order is
/// processing, so a sale settled meanwhile by a resend or another replica is not counted
/// twice; a release only lets a copy or the reconciler settle the order sooner.
async fn pay_what_is_owed<T: Transport, B: Book, S: Totals>(orders: &Orders<T, B, S>) {
    let owed = orders.book.owed();
    let mut tries = 0u32;
    loop {
        let writes = owed.take();
        if writes.is_empty() {
            return;
        }
        // The first write that fails says the store is still away: the rest wait with it,
        // rather than each waiting out its own connection timeout.
        let mut writes = writes.into_iter();
        let mut left = 0;
        for owing in writes.by_ref() {
            let written = match &owing {
                Owing::Sale(order, response) => {
                    orders
                        .book
                        .record_sale(*order, response.clone(), &orders.stats)
                        .await
                }
                Owing::Release(id) => orders.book.release(*id).await,
            };
            match written {
                Ok(()) => tracing::info!(
                    order_id = owing.order_id(),
                    "made a write owed to the store, now it is back"
                ),
                Err(_) => {
                    left += 1;
                    owed.put_back(owing);
                    break;
                }
            }
        }
        for owing in writes {
            left += 1;
            owed.put_back(owing);
        }
        if left == 0 {
            continue; // all made: any written since are taken next
        }
        tries += 1;
        if tries.is_power_of_two() {
            tracing::warn!(left, tries, "the store is still away: writes wait for it");
        }
        crate::sync::sleep(WRITE_AGAIN_AFTER).await;
    }
}

/// What one round of the reconciler did, or every round since start-up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Charged: recorded with their charge, and counted once.
    pub charged: Vec<u64>,
    /// Refused by the balance service: recorded with the refusal.
    pub refused: Vec<u64>,
    /// Never received by the balance service: forgotten, so a resend starts afresh.
    pub released: Vec<u64>,
    /// Still in flight at the balance service, or it could not be asked: left for the next
    /// round.
    pub left: Vec<u64>,
}

impl Reconciled {
    fn add(&mut self, round: &Reconciled) {
        self.charged.extend(&round.charged);
        self.refused.extend(&round.refused);
        self.released.extend(&round.released);
        self.left = round.left.clone();
    }

    fn is_empty(&self) -> bool {
        self.charged.is_empty()
            && self.refused.is_empty()
            && self.released.is_empty()
            && self.left.is_empty()
    }

    /// Logs a round that found something, with the order ids, and the counts since start-up.
    fn log(&self, since_start: &Reconciled) {
        if self.is_empty() {
            return;
        }
        tracing::warn!(
            charged = ?self.charged,
            refused = ?self.refused,
            released = ?self.released,
            left = ?self.left,
            charged_since_start = since_start.charged.len(),
            refused_since_start = since_start.refused.len(),
            released_since_start = since_start.released.len(),
            "settled orders left processing"
        );
    }
}

/// One round: takes over the orders whose claims lapsed and settles each by its key.
pub async fn reconcile<T: Transport, B: Book, S: Totals>(
    orders: &Orders<T, B, S>,
) -> Result<Reconciled, StoreError> {
    let mut round = Reconciled::default();
    for taken in orders.book.take_lapsed(ROUND_LIMIT).await? {
        let id = taken.order.id;
        match settle(orders, &taken).await {
            Ok(Settled::Charged) => round.charged.push(id),
            Ok(Settled::Refused) => round.refused.push(id),
            Ok(Settled::NotReceived) => round.released.push(id),
            Ok(Settled::Unknown) => round.left.push(id),
            Err(error) => {
                tracing::warn!(order_id = id, %error, "could not settle an order left processing");
                round.left.push(id);
            }
        }
    }
    Ok(round)
}

/// What became of an order taken over by the reconciler.
enum Settled {
    Charged,
    Refused,
    NotReceived,
    Unknown,
}

/// Asks the balance service what became of the order's deduction, and settles the order
/// with that. An order it cannot settle now is released for the next round.
async fn settle<T: Transport, B: Book, S: Totals>(
    orders: &Orders<T, B, S>,
    taken: &Taken<B::Stamp>,
) -> Result<Settled, StoreError> {
    let order = taken.order;
    match orders.balance.lookup(&order.reference()).await {
        Ok(KeyLookup::Done(Ok(deduction))) => {
            let response = OrderResponse::charged(&order, deduction.new_balance);
            orders
                .book
                .record_sale(order, response, &orders.stats)
                .await?;
            Ok(Settled::Charged)
        }
        Ok(KeyLookup::Done(Err(error))) if !error.is_transient() => {
            let response = OrderResponse::declined(&order, &error, 1);
            orders.book.record(order, State::Done(response)).await?;
            Ok(Settled::Refused)
        }
        Ok(KeyLookup::NotReceived) => {
            orders.book.forget_taken(taken).await?;
            Ok(Settled::NotReceived)
        }
        Ok(KeyLookup::InFlight | KeyLookup::Done(Err(_))) | Err(_) => {
            orders.book.release(order.id).await?;
            Ok(Settled::Unknown)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use balance_service::server::{BalanceConfig, BalanceServer};

    use super::*;
    use crate::balance::DeductionRequest;
    use crate::balance::client::HttpBalance;
    use crate::balance::transport::{Request, Reqwest, Response, TransportError};
    use crate::money::Cents;
    use crate::orders::book::{Claim, OrderBook};
    use crate::orders::{Order, OrderStatus, RetryPolicy};
    use crate::retained::Retention;
    use crate::stats::Stats;

    /// The network to the balance service, which a test can cut: while it is cut, a request
    /// sent gets no answer (a deduction is still applied, as when its response is lost), and
    /// a lookup does not get through at all.
    struct Cuttable {
        inner: Reqwest,
        cut: AtomicBool,
    }

    impl Transport for Cuttable {
        async fn send(&self, request: Request) -> Result<Response, TransportError> {
            if !self.cut.load(Ordering::SeqCst) {
                return self.inner.send(request).await;
            }
            if request.method() == http::Method::POST {
                let _ = self.inner.send(request).await;
            }
            Err(TransportError::Timeout(Duration::from_millis(1)))
        }
    }

    /// An order service in front of a balance service of its own, whose claims hold for
    /// `lease`, with the network between them cut.
    async fn service(lease: Duration) -> Orders<Cuttable, OrderBook, Stats> {
        let server = BalanceServer::bind(([127, 0, 0, 1], 0).into(), BalanceConfig::default())
            .await
            .expect("bind a balance service");
        let transport = Cuttable {
            inner: Reqwest::new(&server.url(), Duration::from_secs(5)),
            cut: AtomicBool::new(true),
        };
        tokio::spawn(server.run(std::future::pending()));
        let retry = RetryPolicy {
            attempts: 2,
            backoff: Duration::from_millis(1),
            backoff_cap: Duration::from_millis(5),
            deadline: Duration::from_millis(50),
        };
        let book = OrderBook::with_lease(Retention::DEFAULT, lease);
        Orders::with_store(HttpBalance::new(transport), book, Stats::in_memory(), retry)
    }

    fn order(id: u64) -> Order {
        Order {
            id,
            customer_id: 1,
            amount: Cents::dollars(10),
            priority: false,
        }
    }

    /// What `/stats` would say: orders counted, and revenue.
    async fn counted(orders: &Orders<Cuttable, OrderBook, Stats>) -> (u64, Cents) {
        let today = orders.stats.snapshot().await.unwrap();
        (today.order_count, today.total_revenue)
    }

    /// An order charged while the balance service could not say so is answered with an
    /// error, and the next round records it as charged and counts it, with no resend.
    #[tokio::test]
    async fn an_order_whose_charge_could_not_be_confirmed_is_counted_by_the_next_round() {
        let orders = service(LEASE_FOR_TESTS).await;
        let answer = crate::orders::place::place(&orders, order(7))
            .await
            .unwrap();
        assert_eq!(answer.status, OrderStatus::Error, "answered {answer:?}");
        assert_eq!(counted(&orders).await, (0, Cents::ZERO));

        let round = reconcile(&orders).await.unwrap();
        assert_eq!(
            round.left,
            vec![7],
            "while the balance service cannot be asked, the order waits: {round:?}"
        );
        orders
            .balance
            .transport()
            .cut
            .store(false, Ordering::SeqCst);
        let round = reconcile(&orders).await.unwrap();
        assert_eq!(round.charged, vec![7], "{round:?}");
        assert_eq!(counted(&orders).await, (1, Cents::dollars(10)));
        let again = reconcile(&orders).await.unwrap();
        assert_eq!(again, Reconciled::default(), "settled once");

        let resent = crate::orders::place::place(&orders, order(7))
            .await
            .unwrap();
        assert_eq!(
            resent.status,
            OrderStatus::Ok,
            "a resend gets the charge: {resent:?}"
        );
        assert_eq!(counted(&orders).await, (1, Cents::dollars(10)));
    }

    /// Orders whose placements stopped half way, once their claims lapse: the one charged
    /// is counted once, the one never charged is forgotten so a resend starts afresh, and
    /// the claim of an order still being placed is left alone.
    #[tokio::test]
    async fn orders_abandoned_half_way_are_settled_once_their_claims_lapse() {
        let orders = service(Duration::ZERO).await;
        orders
            .balance
            .transport()
            .cut
            .store(false, Ordering::SeqCst);
        for id in [1, 2] {
            assert_eq!(orders.book.claim(&order(id)).await, Ok(Claim::New));
        }
        let request = DeductionRequest {
            amount: Cents::dollars(10),
            reference: order(1).reference(),
        };
        orders
            .balance
            .deduct(1, &request, &order(1).reference())
            .await
            .expect("charge order 1");
        assert_eq!(
            orders.book.unsettled().await.unwrap().abandoned,
            2,
            "both orders are processing, with nobody at them"
        );

        let round = reconcile(&orders).await.unwrap();
        assert_eq!(round.charged, vec![1], "{round:?}");
        assert_eq!(round.released, vec![2], "{round:?}");
        assert_eq!(counted(&orders).await, (1, Cents::dollars(10)));
        assert_eq!(orders.book.view(2).await, Ok(None));
        assert_eq!(orders.book.unsettled().await.unwrap().processing, 0);
        assert_eq!(reconcile(&orders).await.unwrap(), Reconciled::default());

        let fresh = service(LEASE_FOR_TESTS).await;
        assert_eq!(fresh.book.claim(&order(3)).await, Ok(Claim::New));
        assert_eq!(
            reconcile(&fresh).await.unwrap(),
            Reconciled::default(),
            "an order within its lease is its placement's"
        );
    }

    /// A lease no test outlives.
    const LEASE_FOR_TESTS: Duration = Duration::from_secs(3600);
}

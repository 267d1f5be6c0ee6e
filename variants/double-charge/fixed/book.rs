//! The order book: every order the service has received, and how it went. An order is kept
//! for the retention window after its last change (a day by default), then forgotten.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::orders::{Order, OrderResponse, OrderView, State, view};
use crate::retained::{Retained, Retention};
use crate::stats::Totals;
use crate::store::StoreError;
use crate::sync::{Mutex, lock};

/// What the book says about an order that arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First time this id is seen: it is now recorded as processing, and it is the caller's
    /// to charge.
    New,
    /// The same order was answered before: this is its answer.
    Answered(OrderResponse),
    /// The same order is being charged right now.
    InFlight,
    /// The id belongs to an order for another customer or amount.
    Different,
}

/// How long a claim holds: an order still processing after that was abandoned (its
/// placement was cut short, its replica stopped, or it lost the store after charging), and a
/// copy of it or the reconciler may take it over and settle it under the same idempotency
/// key. Well beyond any order's retry deadline.
pub const LEASE: Duration = Duration::from_secs(60);

/// An order taken over by the reconciler, and which claim is its own: whatever it does with
/// the order holds only while no one has taken it since.
#[derive(Debug, Clone, PartialEq)]
pub struct Taken<Stamp> {
    pub order: Order,
    pub claim: Stamp,
}

/// What order processing needs of the order book, wherever it is kept.
pub trait Book: Send + Sync + 'static {
    /// When a claim was made, as this book tells claims apart.
    type Stamp: Clone + Send + Sync + std::fmt::Debug + 'static;

    /// Checks `order`'s id and, when it is new, records the order as processing, in one
    /// step: two copies of an order arriving together must not both find the id free.
    /// (`priority` only orders a batch, so a copy may differ in it.) An order still
    /// processing whose claim has lapsed or was released is taken over as new.
    fn claim(&self, order: &Order) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Records where `order` is now.
    fn record(
        &self,
        order: Order,
        state: State,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a charged order as answered with `response`, and counts its sale in today's
    /// totals: both or neither, so that a store failing half way can neither leave a charge
    /// uncounted nor, when the order is settled again, count it twice. Only an order still
    /// processing is marked and counted: one already answered is left as it is. A store that
    /// holds the totals itself (Postgres) does both in one statement; the memory book counts
    /// the sale in `totals`.
    fn record_sale<S: Totals>(
        &self,
        order: Order,
        response: OrderResponse,
        totals: &S,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets an order, so that sending it again starts afresh.
    fn forget(&self, id: u64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives up the claim on an order left processing (its charge could not be confirmed):
    /// a copy of it, or the reconciler, may take it over at once instead of after the lease.
    fn release(&self, id: u64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes over at most `limit` orders left processing whose claims have lapsed or were
    /// released, oldest first. Each is the caller's until it is settled, forgotten with
    /// [`Book::forget_taken`] or released; a copy sent meanwhile is told it is in flight.
    fn take_lapsed(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Taken<Self::Stamp>>, StoreError>> + Send;

    /// Forgets an order taken with [`Book::take_lapsed`], unless someone took it since.
    fn forget_taken(
        &self,
        taken: &Taken<Self::Stamp>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// How many orders are processing now, and how many of those were left by a placement
    /// that is over (their claims lapsed or were released).
    fn unsettled(&self) -> impl Future<Output = Result<Unsettled, StoreError>> + Send;

    /// The writes this process owes the store, kept to make once it is back.
    fn owed(&self) -> &Owed;

    /// The order with this id, and where it is.
    fn view(&self, id: u64) -> impl Future<Output = Result<Option<OrderView>, StoreError>> + Send;

    /// Forgets every order.
    fn clear(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Orders processing, from [`Book::unsettled`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unsettled {
    pub processing: u64,
    pub abandoned: u64,
}

/// What this process owes the orders it took on. Writes it owes the store, because it was
/// away when they were due: charged orders' records and sales, and claims to release.
/// [`crate::orders::upkeep`] makes them as soon as the store is back, so that a resend gets
/// its answer then rather than a 409 until the claim lapses. Kept in this process: if it
/// stops first, the orders' claims lapse and the reconciler settles them. And the
/// placements it has under way, which a stop waits for (a while), so that an order charged
/// as the service stops is recorded and counted by it, not left to the next.
#[derive(Debug, Default)]
pub struct Owed {
    /// A std `Mutex`: every use is one short critical section.
    writes: Mutex<VecDeque<Owing>>,
    added: Notify,
    /// Placements under way.
    placing: tokio::sync::watch::Sender<usize>,
}

/// A placement under way, counted until it is dropped: when the placement ends, however it
/// ends.
#[must_use]
pub struct Placing<'a>(&'a tokio::sync::watch::Sender<usize>);

impl Drop for Placing<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|under_way| *under_way -= 1);
    }
}

/// A write owed to the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Owing {
    /// A charged order, with the answer it got: to record, counting its sale.
    Sale(Order, OrderResponse),
    /// An order whose placement is over but whose claim may still be held: to release.
    Release(u64),
}

impl Owing {
    /// The order the write is about.
    pub fn order_id(&self) -> u64 {
        match self {
            Owing::Sale(order, _) => order.id,
            Owing::Release(id) => *id,
        }
    }
}

impl Owed {
    /// The most writes kept; past it the oldest is left to the reconciler.
    const CAP: usize = 10_000;

    /// Keeps a write to make once the store is back.
    pub fn push(&self, owing: Owing) {
        let mut writes = lock(&self.writes);
        if writes.len() >= Self::CAP
            && let Some(dropped) = writes.pop_front()
        {
            tracing::warn!(
                ?dropped,
                "too many writes owed to the store: this one is left to the reconciler"
            );
        }
        writes.push_back(owing);
        drop(writes);
        self.added.notify_one();
    }

    /// Counts a placement as under way for as long as the guard lives.
    pub fn placing(&self) -> Placing<'_> {
        self.placing.send_modify(|under_way| *under_way += 1);
        Placing(&self.placing)
    }

    /// How many placements are under way.
    pub fn placements(&self) -> usize {
        *self.placing.borrow()
    }

    /// Completes once no placement is under way.
    pub async fn placed(&self) {
        let mut under_way = self.placing.subscribe();
        let _ = under_way.wait_for(|under_way| *under_way == 0).await;
    }

    /// Keeps again a write that [`Owed::take`] took out and could not make.
    pub fn put_back(&self, owing: Owing) {
        lock(&self.writes).push_back(owing);
    }

    /// Every write kept, taken out.
    pub fn take(&self) -> Vec<Owing> {
        lock(&self.writes).drain(..).collect()
    }

    /// Completes once a write has been kept since the last call.
    pub async fn added(&self) {
        self.added.notified().await
    }
}

/// An order in the memory book: where it is, and while it is processing, when its claim
/// was made (`None` once released).
#[derive(Debug, Clone)]
struct Entry {
    order: Order,
    state: State,
    claimed: Option<Instant>,
}

/// The book's contents: the orders, and the ids of those processing, so the reconciler
/// finds them without reading every order.
#[derive(Debug)]
struct Contents {
    orders: Retained<u64, Entry>,
    processing: HashSet<u64>,
}

impl Contents {
    /// Writes `order` as `state`, keeping the index of orders processing up to date.
    fn write(&mut self, order: Order, state: State, claimed: Option<Instant>, now: Instant) {
        if state == State::Processing {
            self.processing.insert(order.id);
        } else {
            self.processing.remove(&order.id);
        }
        let entry = Entry {
            order,
            state,
            claimed,
        };
        self.orders.insert(order.id, entry, now);
    }

    /// Forgets the order with this id.
    fn remove(&mut self, id: u64) {
        self.orders.remove(&id);
        self.processing.remove(&id);
    }
}

/// Orders by id, in memory. A std `Mutex`: every use is one short critical section.
#[derive(Debug)]
pub struct OrderBook {
    contents: Mutex<Contents>,
    lease: Duration,
    owed: Owed,
}

impl Default for OrderBook {
    fn default() -> Self {
        OrderBook::new(Retention::DEFAULT)
    }
}

impl OrderBook {
    /// An empty book that keeps each order as `retention` says.
    pub fn new(retention: Retention) -> Self {
        OrderBook::with_lease(retention, LEASE)
    }

    /// An empty book whose claims hold for `lease`.
    pub fn with_lease(retention: Retention, lease: Duration) -> Self {
        OrderBook {
            contents: Mutex::new(Contents {
                orders: Retained::new(retention),
                processing: HashSet::new(),
            }),
            lease,
            owed: Owed::default(),
        }
    }

    fn lapsed(&self, claimed: Option<Instant>, now: Instant) -> bool {
        claimed.is_none_or(|at| now.saturating_duration_since(at) >= self.lease)
    }
}

impl Book for OrderBook {
    type Stamp = Option<Instant>;

    async fn claim(&self, order: &Order) -> Result<Claim, StoreError> {
        let now = Instant::now();
        let mut contents = lock(&self.contents);
        let seen = contents
            .orders
            .get(&order.id, now)
            .map(|entry| (entry.order, entry.state.clone(), entry.claimed));
        Ok(match seen {
            None => {
                contents.write(*order, State::Processing, Some(now), now);
                Claim::New
            }
            Some((seen, _, _))
                if (seen.customer_id, seen.amount) != (order.customer_id, order.amount) =>
            {
                Claim::Different
            }
            Some((_, State::Processing, claimed)) if self.lapsed(claimed, now) => {
                if let Some(entry) = contents.orders.get_mut(&order.id) {
                    entry.claimed = Some(now);
                }
                Claim::New
            }
            Some((_, State::Processing, _)) => Claim::InFlight,
            Some((_, State::Done(response), _)) => Claim::Answered(response),
        })
    }

    async fn record(&self, order: Order, state: State) -> Result<(), StoreError> {
        let now = Instant::now();
        lock(&self.contents).write(order, state, Some(now), now);
        Ok(())
    }

    async fn record_sale<S: Totals>(
        &self,
        order: Order,
        response: OrderResponse,
        totals: &S,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        {
            let mut contents = lock(&self.contents);
            let processing = contents
                .orders
                .get(&order.id, now)
                .is_none_or(|entry| entry.state == State::Processing);
            if !processing {
                return Ok(()); // settled already, by a copy or the reconciler
            }
            contents.write(order, State::Done(response), None, now);
        }
        // The sale is counted in memory even when saving the totals fails, so that failure
        // is logged rather than returned: settling the order again would count it twice.
        if let Err(error) = totals.record_sale(order.amount).await {
            tracing::error!(%error, "could not save today's totals");
        }
        Ok(())
    }

    async fn forget(&self, id: u64) -> Result<(), StoreError> {
        lock(&self.contents).remove(id);
        Ok(())
    }

    async fn release(&self, id: u64) -> Result<(), StoreError> {
        let mut contents = lock(&self.contents);
        if let Some(entry) = contents.orders.get_mut(&id)
            && entry.state == State::Processing
        {
            entry.claimed = None;
        }
        Ok(())
    }

    async fn take_lapsed(&self, limit: usize) -> Result<Vec<Taken<Self::Stamp>>, StoreError> {
        let now = Instant::now();
        let mut contents = lock(&self.contents);
        let Contents { orders, processing } = &mut *contents;
        let mut lapsed: Vec<(Option<Instant>, u64)> = Vec::new();
        processing.retain(|id| match orders.get(id, now) {
            Some(entry) if entry.state == State::Processing => {
                if self.lapsed(entry.claimed, now) {
                    lapsed.push((entry.claimed, *id));
                }
                true
            }
            _ => false, // pushed out of the book, or settled without the index knowing
        });
        lapsed.sort();
        lapsed.truncate(limit);
        Ok(lapsed
            .into_iter()
            .filter_map(|(_, id)| {
                let entry = orders.get_mut(&id)?;
                entry.claimed = Some(now);
                Some(Taken {
                    order: entry.order,
                    claim: entry.claimed,
                })
            })
            .collect())
    }

    async fn forget_taken(&self, taken: &Taken<Self::Stamp>) -> Result<(), StoreError> {
        let mut contents = lock(&self.contents);
        let ours = contents
            .orders
            .get_mut(&taken.order.id)
            .is_some_and(|entry| entry.state == State::Processing && entry.claimed == taken.claim);
        if ours {
            contents.remove(taken.order.id);
        }
        Ok(())
    }

    async fn unsettled(&self) -> Result<Unsettled, StoreError> {
        let now = Instant::now();
        let contents = lock(&self.contents);
        let mut unsettled = Unsettled::default();
        for id in &contents.processing {
            if let Some(entry) = contents.orders.get(id, now)
                && entry.state == State::Processing
            {
                unsettled.processing += 1;
                if self.lapsed(entry.claimed, now) {
                    unsettled.abandoned += 1;
                }
            }
        }
        Ok(unsettled)
    }

    fn owed(&self) -> &Owed {
        &self.owed
    }

    async fn view(&self, id: u64) -> Result<Option<OrderView>, StoreError> {
        let contents = lock(&self.contents);
        Ok(contents
            .orders
            .get(&id, Instant::now())
            .map(|entry| view(&entry.order, &entry.state)))
    }

    async fn clear(&self) -> Result<(), StoreError> {
        let mut contents = lock(&self.contents);
        contents.orders.clear();
        contents.processing.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::money::Cents;

    fn order(id: u64) -> Order {
        Order {
            id,
            customer_id: 1,
            amount: Cents::dollars(10),
            priority: false,
        }
    }

    #[tokio::test]
    async fn an_order_pushed_out_of_the_book_is_new_again() {
        let book = OrderBook::new(Retention {
            window: Duration::from_secs(3600),
            cap: 1,
        });
        assert_eq!(book.claim(&order(1)).await, Ok(Claim::New));
        assert_eq!(book.claim(&order(1)).await, Ok(Claim::InFlight));
        assert_eq!(book.claim(&order(2)).await, Ok(Claim::New));
        assert_eq!(
            book.view(1).await,
            Ok(None),
            "order 1 was pushed out by order 2"
        );
        assert_eq!(book.claim(&order(1)).await, Ok(Claim::New));
    }
}

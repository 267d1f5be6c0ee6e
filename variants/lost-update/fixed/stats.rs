//! Today's statistics: revenue and number of orders charged, saved after every sale.

use std::future::Future;
use std::io;

use crate::daily::{DailyStats, Day, TotalsFile};
use crate::money::Cents;
use crate::store::StoreError;
use crate::sync::{Mutex, lock};

/// What order processing needs of today's totals, wherever they are kept.
pub trait Totals: Send + Sync + 'static {
    /// Counts a sale of `amount`; gives the totals with it.
    fn record_sale(
        &self,
        amount: Cents,
    ) -> impl Future<Output = Result<DailyStats, StoreError>> + Send;

    /// Today's totals.
    fn snapshot(&self) -> impl Future<Output = Result<DailyStats, StoreError>> + Send;

    /// Back to zero.
    fn reset(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Today's totals, shared by every request handler, and the file they are saved to.
#[derive(Debug, Default)]
pub struct Stats {
    /// A std `Mutex`: its guard is never held across an `.await`.
    today: Mutex<DailyStats>,
    file: Option<TotalsFile>,
    /// The totals last written to the file. A tokio `Mutex`, held across the write: one
    /// save at a time, so the file never goes back to older totals.
    saved: tokio::sync::Mutex<DailyStats>,
}

impl Stats {
    /// Totals kept in memory only, starting from zero.
    pub fn in_memory() -> Self {
        Stats::default()
    }

    /// Totals saved to `file`, starting from what it holds for today.
    pub fn open(file: TotalsFile) -> io::Result<Self> {
        let today = file.load(Day::today())?;
        Ok(Stats {
            today: Mutex::new(today),
            file: Some(file),
            saved: tokio::sync::Mutex::new(today),
        })
    }

    /// Today's totals, as they are now.
    fn now(&self) -> DailyStats {
        lock(&self.today).as_of(Day::today())
    }
}

impl Totals for Stats {
    async fn snapshot(&self) -> Result<DailyStats, StoreError> {
        Ok(self.now())
    }

    /// Counts a sale of `amount`, and returns once the file holds it.
    async fn record_sale(&self, amount: Cents) -> Result<DailyStats, StoreError> {
        // Read, add and write back in one critical section: a copy taken out of the lock is
        // stale as soon as another order counts its sale, and writing it back would erase
        // that sale.
        let counted = {
            let mut today = lock(&self.today);
            today.add_sale(amount, Day::today());
            *today
        };
        if let Some(file) = &self.file {
            // Whoever holds `saved` writes the newest totals, which cover every sale counted
            // so far: a sale whose totals were already written by another order's save is
            // done, so under load one write serves many sales.
            let mut saved = self.saved.lock().await;
            let covered = saved.day == counted.day && saved.order_count >= counted.order_count;
            if !covered {
                let newest = self.now();
                file.save(&newest).await?;
                *saved = newest;
            }
        }
        Ok(counted)
    }

    /// Back to zero, in memory and on disk.
    async fn reset(&self) -> Result<(), StoreError> {
        let zero = DailyStats::empty(Day::today());
        let mut saved = self.saved.lock().await;
        if let Some(file) = &self.file {
            file.save(&zero).await?;
        }
        *lock(&self.today) = zero;
        *saved = zero;
        Ok(())
    }
}

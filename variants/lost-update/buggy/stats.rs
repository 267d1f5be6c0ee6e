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
    today: Mutex<DailyStats>,
    file: Option<TotalsFile>,
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

    /// Counts a sale of `amount`, and saves the new totals.
    async fn record_sale(&self, amount: Cents) -> Result<DailyStats, StoreError> {
        let mut today = self.now();
        today.add_sale(amount, Day::today());
        if let Some(file) = &self.file {
            file.save(&today).await?;
        }
        *lock(&self.today) = today;
        Ok(today)
    }

    /// Back to zero, in memory and on disk.
    async fn reset(&self) -> Result<(), StoreError> {
        let zero = DailyStats::empty(Day::today());
        if let Some(file) = &self.file {
            file.save(&zero).await?;
        }
        *lock(&self.today) = zero;
        Ok(())
    }
}

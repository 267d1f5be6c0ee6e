//! Today's statistics: revenue and number of orders charged, saved after every sale.

use std::io;

use crate::daily::{DailyStats, Day, TotalsFile};
use crate::money::Cents;
use crate::sync::{Mutex, lock};

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

    pub fn snapshot(&self) -> DailyStats {
        lock(&self.today).as_of(Day::today())
    }

    /// Counts a sale of `amount`, and saves the new totals.
    pub async fn record_sale(&self, amount: Cents) -> io::Result<DailyStats> {
        let mut today = self.snapshot();
        today.add_sale(amount, Day::today());
        if let Some(file) = &self.file {
            file.save(&today).await?;
        }
        *lock(&self.today) = today;
        Ok(today)
    }

    /// Back to zero, in memory and on disk.
    pub async fn reset(&self) -> io::Result<()> {
        let zero = DailyStats::empty(Day::today());
        if let Some(file) = &self.file {
            file.save(&zero).await?;
        }
        *lock(&self.today) = zero;
        Ok(())
    }
}

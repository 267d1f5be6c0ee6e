//! Today's statistics: revenue and number of orders charged, saved after every sale.

use std::io;

use crate::daily::{DailyStats, Day, TotalsFile};
use crate::money::Cents;
use crate::sync::{Mutex, lock};

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

    pub fn snapshot(&self) -> DailyStats {
        lock(&self.today).as_of(Day::today())
    }

    /// Counts a sale of `amount`, and returns once the file holds it.
    pub async fn record_sale(&self, amount: Cents) -> io::Result<DailyStats> {
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
                let newest = self.snapshot();
                file.save(&newest).await?;
                *saved = newest;
            }
        }
        Ok(counted)
    }

    /// Back to zero, in memory and on disk.
    pub async fn reset(&self) -> io::Result<()> {
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

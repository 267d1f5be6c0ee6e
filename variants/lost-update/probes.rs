//! Held-back probes that `exercise grade` adds to a copy of the candidate's crate as
//! `tests/grade_probes_lost_update.rs`. They call the candidate's own code, so they can see what a black
//! box cannot: a snapshot of the statistics taken between two halves of one update.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use order_service::money::Cents;
use order_service::stats::{Stats, Totals};

/// How long the probe looks for a torn snapshot before it calls the totals sound. A torn
/// read needs a snapshot to land between two halves of one sale, a window of nanoseconds, so
/// the probe keeps selling until it sees one or the budget runs out: on a busy two-core
/// machine a fixed count of sales missed two-atomic totals about half the time.
const TORN_BUDGET: Duration = Duration::from_secs(3);

/// Two tasks record sales of $1 while a thread takes snapshots: every snapshot must have
/// revenue equal to $1 times its count. Stops at the first torn snapshot or after
/// [`TORN_BUDGET`]. (In a runtime, for a `Stats` that runs a task of its own.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_snapshots_are_never_torn() {
    let stats = Arc::new(Stats::in_memory());
    let stop = Arc::new(AtomicBool::new(false));
    let observed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let runtime = tokio::runtime::Handle::current();
    let reader = {
        let (stats, stop, observed) = (stats.clone(), stop.clone(), observed.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let seen = runtime.block_on(stats.snapshot()).unwrap();
                observed.fetch_add(1, Ordering::Relaxed);
                if seen.total_revenue != Cents::dollars(1) * seen.order_count as i64 {
                    stop.store(true, Ordering::Relaxed);
                    return Some(seen);
                }
            }
            None
        })
    };
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (stats, stop) = (stats.clone(), stop.clone());
            tokio::spawn(async move {
                let mut sold = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1_000 {
                        stats.record_sale(Cents::dollars(1)).await.unwrap();
                    }
                    sold += 1_000;
                    if started.elapsed() > TORN_BUDGET {
                        break;
                    }
                }
                sold
            })
        })
        .collect();
    let mut sold = 0;
    for writer in writers {
        sold += writer.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let torn = match reader.join() {
        Ok(torn) => torn,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    if let Some(seen) = torn {
        panic!(
            "torn stats: a snapshot showed {} orders with revenue {} (expected {}), \
             {:.2} s into {sold} sales of $1 from two tasks",
            seen.order_count,
            seen.total_revenue,
            Cents::dollars(1) * seen.order_count as i64,
            started.elapsed().as_secs_f64(),
        );
    }
    assert!(
        observed.load(Ordering::Relaxed) > 0,
        "the reader took no snapshot in {sold} sales"
    );
}

/// How long the probe looks for a save that lands out of order: a burst of sales whose
/// saves overlap shows one within a few rounds when the saves are not ordered.
const SAVES_BUDGET: Duration = Duration::from_secs(3);

/// Sixteen sales of $1 at once, again and again: once they have all returned, the totals
/// file holds what `/stats` shows. A save of an older snapshot landing after a newer one
/// leaves the file behind, and a restart then loses sales. Stops at the first file that
/// lags, or after [`SAVES_BUDGET`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saved_totals_are_the_newest_once_sales_return() {
    use order_service::daily::{Day, TotalsFile};

    let dir = std::env::temp_dir().join(format!("grade-probe-saves-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stats.json");
    let stats = Arc::new(Stats::open(TotalsFile::new(&path)).unwrap());
    let started = Instant::now();
    let mut bursts = 0;
    let lagging = loop {
        let sales: Vec<_> = (0..16)
            .map(|_| {
                let stats = stats.clone();
                tokio::spawn(async move { stats.record_sale(Cents::dollars(1)).await.unwrap() })
            })
            .collect();
        for sale in sales {
            sale.await.unwrap();
        }
        bursts += 1;
        let now = stats.snapshot().await.unwrap();
        let saved = TotalsFile::new(&path).load(Day::today()).unwrap();
        if saved != now {
            break Some((saved, now));
        }
        if started.elapsed() > SAVES_BUDGET {
            break None;
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    if let Some((saved, now)) = lagging {
        panic!(
            "after burst {bursts} of 16 sales of $1 at once, all returned, the totals file holds \
             {} orders (${}) while the service shows {} (${}): an older save landed last",
            saved.order_count, saved.total_revenue, now.order_count, now.total_revenue
        );
    }
}

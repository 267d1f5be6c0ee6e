//! Held-back probes that `exercise grade` adds to a copy of the candidate's crate as
//! `tests/grade_probes.rs`. They call the candidate's own code, so they can see what a black
//! box cannot: a snapshot of the statistics taken between two halves of one update.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use order_service::money::Cents;
use order_service::stats::{Stats, Totals};

/// Two tasks record 20,000 sales of $1 each while a thread takes snapshots: every snapshot
/// must have revenue equal to $1 times its count. (In a runtime, for a `Stats` that runs a
/// task of its own.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_snapshots_are_never_torn() {
    let stats = Arc::new(Stats::in_memory());
    let stop = Arc::new(AtomicBool::new(false));
    let observed = Arc::new(AtomicU64::new(0));
    let runtime = tokio::runtime::Handle::current();
    let reader = {
        let (stats, stop, observed) = (stats.clone(), stop.clone(), observed.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let seen = runtime.block_on(stats.snapshot()).unwrap();
                observed.fetch_add(1, Ordering::Relaxed);
                assert_eq!(
                    seen.total_revenue,
                    Cents::dollars(1) * seen.order_count as i64,
                    "torn stats: a snapshot showed {} orders with revenue {}",
                    seen.order_count,
                    seen.total_revenue
                );
            }
        })
    };
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let stats = stats.clone();
            tokio::spawn(async move {
                for _ in 0..20_000 {
                    stats.record_sale(Cents::dollars(1)).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    if let Err(panic) = reader.join() {
        std::panic::resume_unwind(panic);
    }
    assert!(
        observed.load(Ordering::Relaxed) > 0,
        "the reader took no snapshot"
    );
}

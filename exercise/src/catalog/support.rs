//! What more than one bug's checks use.

use scenarios::services::Setup;

/// Seeded 0-2 ms latency and 64 processing slots: quick, so many requests overlap.
pub fn quick_balance_setup() -> Setup {
    Setup {
        faults: "none,seed=11,latency=0..2"
            .parse()
            .expect("the quick profile parses"),
        concurrency: 64,
        ..Setup::default()
    }
}

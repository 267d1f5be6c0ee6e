//! What more than one bug's checks use.

use scenarios::services::{Setup, TestApp};
use serde_json::{Value, json};

/// A check that cannot judge what it is for: its workload did not get as far as the
/// symptom (orders refused for another reason, say). Raised with [`inconclusive`]; the
/// scorecard counts it for nothing, and says why.
#[derive(Debug, Clone)]
pub struct Inconclusive(pub String);

/// Ends the check as inconclusive, saying why.
pub fn inconclusive(why: String) -> ! {
    std::panic::panic_any(Inconclusive(why))
}

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

/// Sends `orders` as one `POST /orders/batch`, which must succeed: its JSON answer.
pub async fn post_batch(app: &TestApp, orders: Vec<Value>) -> Value {
    let (status, answers) = app
        .post("/orders/batch", &json!({ "orders": orders }))
        .await;
    assert!(
        status.is_success(),
        "POST /orders/batch answered {status}: {answers}"
    );
    answers
}

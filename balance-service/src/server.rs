//! The balance service's HTTP API, with the fault plan applied to every deduction.
//!
//! A deduction request goes through these steps:
//!
//! 1. its `Idempotency-Key`, if any, is claimed: a key in use by a request in flight gets
//!    409, a key used for a different request 422, neither takes a fault decision;
//! 2. it takes its decision of the fault plan (by its arrival, or by its reference and how
//!    many requests with that reference came before it);
//! 3. it waits for one of the `concurrency` processing slots, then for its latency, so
//!    queueing delay grows with load;
//! 4. `fail_before_apply` answers 503 here, with nothing applied;
//! 5. the funds check and deduction happen in one step (or a stored outcome is replayed);
//! 6. `drop_response` withholds the answer until the client gives up.
//!
//! Once received, a deduction is seen through steps 3 to 5 whether or not its client is still
//! waiting, as a payment provider's API is.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::api::{
    Account, DeductionRequest, ErrorBody, ErrorCode, IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER,
};
use crate::error::{ApiError, Json, Path, Query};
use crate::faults::{Decision, Fault, FaultCounters, FaultPlan, text_hash};
use crate::ledger::{
    Finished, KeyConflict, KeyStatus, Ledger, LedgerEntry, Outcome, Refusal, SEED_BALANCES,
};
use crate::money::Cents;
use crate::retained::{Retained, Retention};
use crate::sync::{Mutex, lock};
use std::sync::Arc;

/// How the balance service is set up at start.
#[derive(Debug, Clone)]
pub struct BalanceConfig {
    pub faults: FaultPlan,
    /// Deductions processed at once; more wait their turn.
    pub concurrency: usize,
    /// How long idempotency records and ledger entries are kept, and how many.
    pub retention: Retention,
    /// The customers and their opening balances (also what `POST /reset` goes back to).
    pub accounts: Vec<(u64, Cents)>,
}

impl Default for BalanceConfig {
    fn default() -> Self {
        BalanceConfig {
            faults: FaultPlan::none(),
            concurrency: 4,
            retention: Retention::DEFAULT,
            accounts: SEED_BALANCES.to_vec(),
        }
    }
}

/// A cheap handle to the balance service's shared state.
#[derive(Clone)]
pub struct BalanceState {
    shared: Arc<Shared>,
}

struct Shared {
    ledger: Ledger,
    /// A std `Mutex`: taken for a counter bump, never across an `.await`.
    faults: Mutex<FaultState>,
    slots: Semaphore,
    /// Set when the server shuts down, so withheld responses stop holding it open.
    closing: watch::Sender<bool>,
}

struct FaultState {
    plan: FaultPlan,
    next_sequence: u64,
    /// How many requests each reference has made, by the reference's hash (two numbers an
    /// entry), kept as long as idempotency records; counted only while the plan draws.
    attempts: Retained<u64, u64>,
    counters: FaultCounters,
}

impl FaultState {
    fn new(plan: FaultPlan, retention: Retention) -> Self {
        FaultState {
            plan,
            next_sequence: 0,
            attempts: Retained::new(retention),
            counters: FaultCounters::default(),
        }
    }
}

/// `GET /faults` and the answer to `PUT /faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultsView {
    pub plan: FaultPlan,
    pub next_sequence: u64,
    pub counters: FaultCounters,
}

impl BalanceState {
    pub fn new(config: BalanceConfig) -> Self {
        BalanceState {
            shared: Arc::new(Shared {
                ledger: Ledger::new(&config.accounts, config.retention),
                faults: Mutex::new(FaultState::new(config.faults, config.retention)),
                slots: Semaphore::new(config.concurrency.max(1)),
                closing: watch::Sender::new(false),
            }),
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.shared.ledger
    }

    fn decide(&self, reference: &str) -> (Decision, u64) {
        let mut faults = lock(&self.shared.faults);
        let attempt = if faults.plan.draws() {
            let now = Instant::now();
            let hash = text_hash(reference);
            let attempt = faults.attempts.get(&hash, now).copied().unwrap_or(0);
            faults.attempts.insert(hash, attempt + 1, now);
            attempt
        } else {
            0 // every attempt gets the same decision: nothing to count
        };
        let decision = faults.plan.decide(faults.next_sequence, reference, attempt);
        faults.next_sequence += 1;
        faults.counters.count(decision.fault);
        (decision, faults.plan.hold_ms)
    }

    pub fn faults(&self) -> FaultsView {
        let faults = lock(&self.shared.faults);
        FaultsView {
            plan: faults.plan.clone(),
            next_sequence: faults.next_sequence,
            counters: faults.counters.clone(),
        }
    }

    /// Replaces the plan and rewinds it to its first decision.
    pub fn set_faults(&self, plan: FaultPlan) {
        let mut faults = lock(&self.shared.faults);
        let retention = faults.attempts.retention();
        *faults = FaultState::new(plan, retention);
    }

    /// Seed balances, empty ledger, no idempotency records, the fault plan rewound.
    pub fn reset(&self) {
        self.shared.ledger.reset();
        let plan = lock(&self.shared.faults).plan.clone();
        self.set_faults(plan);
    }

    /// Ends every withheld response now; used on shutdown.
    pub fn close(&self) {
        self.shared.closing.send_replace(true);
    }
}

/// The balance service's routes.
pub fn router(state: BalanceState) -> Router {
    let router = Router::new()
        .route("/health", get(health))
        .route("/accounts/{customer_id}", get(account))
        .route("/accounts/{customer_id}/deductions", post(deduct))
        .route("/deductions/{key}", get(deduction_by_key))
        .route("/ledger", get(ledger))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/reset", post(reset))
        .fallback(crate::error::not_found)
        .with_state(state);
    crate::telemetry::trace_http(router)
}

/// A balance service bound to its address and ready to serve.
pub struct BalanceServer {
    listener: TcpListener,
    state: BalanceState,
}

impl BalanceServer {
    /// Binds first, so `127.0.0.1:0` works and the port is known before serving.
    pub async fn bind(addr: SocketAddr, config: BalanceConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(BalanceServer {
            listener,
            state: BalanceState::new(config),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// `http://IP:PORT`, with no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr())
    }

    pub fn state(&self) -> BalanceState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes, then finishes the requests in progress.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(async move {
                shutdown.await;
                state.close();
            })
            .await
    }
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn account(State(state): State<BalanceState>, Path(customer_id): Path<u64>) -> Response {
    // Read now, answer after the plan's lookup delay: a slow answer carries the balance of
    // when it was asked.
    let balance = state.ledger().balance(customer_id);
    let delay = {
        let mut faults = lock(&state.shared.faults);
        faults.counters.lookups += 1;
        faults.plan.lookup_ms
    };
    if delay > 0 {
        tracing::debug!(
            customer_id,
            delay_ms = delay,
            "lookup answered late (fault plan)"
        );
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    lock(&state.shared.faults).counters.lookups_answered += 1;
    respond(account_reply(customer_id, balance))
}

#[derive(Debug, Deserialize)]
struct DeductionBody {
    amount: serde_json::Number,
    reference: String,
}

async fn deduct(
    State(state): State<BalanceState>,
    Path(customer_id): Path<u64>,
    headers: HeaderMap,
    Json(body): Json<DeductionBody>,
) -> Result<Response, ApiError> {
    let amount = Cents::parse_amount(&body.amount).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid amount {}: {e}", body.amount),
        )
    })?;
    if body.reference.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference must not be empty",
        ));
    }
    let request = DeductionRequest {
        amount,
        reference: body.reference,
    };
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(bad) => return Ok(respond(bad.reply())),
    };
    let ticket = match state
        .ledger()
        .begin(customer_id, request.clone(), key.clone())
    {
        Ok(ticket) => ticket,
        Err(conflict) => return Ok(respond(conflict_reply(conflict, &key.unwrap_or_default()))),
    };

    let (decision, hold_ms) = state.decide(&request.reference);
    tracing::debug!(
        sequence = decision.sequence,
        attempt = decision.attempt,
        fault = %decision.fault,
        latency_ms = decision.latency.as_millis() as u64,
        customer_id,
        amount = %request.amount,
        reference = %request.reference,
        key = key.as_deref().unwrap_or("-"),
        "deduction received"
    );

    let task_state = state.clone();
    let processing = tokio::spawn(async move {
        let state = task_state;
        let _slot = state
            .shared
            .slots
            .acquire()
            .await
            .expect("the slots semaphore is never closed");
        let extra = match decision.fault {
            Fault::Delay(ms) => Duration::from_millis(ms),
            _ => Duration::ZERO,
        };
        tokio::time::sleep(decision.latency + extra).await;
        if decision.fault == Fault::FailBeforeApply {
            state.ledger().abandon(ticket);
            None
        } else {
            Some(state.ledger().finish(ticket))
        }
    });
    let processed = processing
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;

    match processed {
        None => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "balance service temporarily unavailable (fault plan, request {})",
                decision.sequence
            ),
        )),
        Some(Finished { outcome, replayed }) => {
            if decision.fault == Fault::DropResponse {
                tracing::debug!(
                    sequence = decision.sequence,
                    "withholding the response to an applied deduction"
                );
                let mut closing = state.shared.closing.subscribe();
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(hold_ms)) => {}
                    _ = closing.wait_for(|closing| *closing) => {}
                }
                return Err(ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the fault plan withheld this response",
                ));
            }
            Ok(respond(outcome_reply(&outcome, replayed)))
        }
    }
}

/// An answer of the balance service's API, built apart from axum so that a test can give the
/// same answers without a server.
pub type Reply = http::Response<Vec<u8>>;

fn json_reply(status: StatusCode, body: &impl Serialize) -> Reply {
    let mut reply = http::Response::new(serde_json::to_vec(body).unwrap_or_default());
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

/// An `Idempotency-Key` header that is not 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadKey;

impl BadKey {
    /// The 400 it is answered with.
    pub fn reply(self) -> Reply {
        json_reply(
            StatusCode::BAD_REQUEST,
            &ErrorBody::new(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
                None,
            ),
        )
    }
}

/// The request's `Idempotency-Key`, if it has one.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, BadKey> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(BadKey),
    }
}

/// The answer to a deduction request whose key cannot be used now: 409 while the first
/// request with it is in flight, 422 when it was used for a different request.
pub fn conflict_reply(conflict: KeyConflict, key: &str) -> Reply {
    match conflict {
        KeyConflict::InFlight => json_reply(
            StatusCode::CONFLICT,
            &ErrorBody::new(
                format!("a request with idempotency key {key:?} is still being processed"),
                Some(ErrorCode::KeyInFlight),
            ),
        ),
        KeyConflict::Mismatch => json_reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ErrorBody::new(
                format!("idempotency key {key:?} was already used for a different request"),
                Some(ErrorCode::KeyReused),
            ),
        ),
    }
}

/// The answer for an outcome; the same for the first answer, a replay and a lookup, except
/// that the last two are marked as replays.
pub fn outcome_reply(outcome: &Outcome, replayed: bool) -> Reply {
    let mut reply = match outcome {
        Ok(deduction) => json_reply(StatusCode::OK, deduction),
        Err(Refusal::UnknownCustomer(id)) => json_reply(
            StatusCode::NOT_FOUND,
            &ErrorBody {
                customer_id: Some(*id),
                ..ErrorBody::new(
                    format!("customer {id} not found"),
                    Some(ErrorCode::UnknownCustomer),
                )
            },
        ),
        Err(Refusal::Insufficient { balance, requested }) => json_reply(
            StatusCode::PAYMENT_REQUIRED,
            &ErrorBody {
                balance: Some(*balance),
                requested: Some(*requested),
                ..ErrorBody::new(
                    format!("insufficient funds: balance {balance}, requested {requested}"),
                    Some(ErrorCode::InsufficientFunds),
                )
            },
        ),
    };
    if replayed {
        reply
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    reply
}

/// The answer to `POST /accounts/{customer_id}/deductions` when the fault plan lets it
/// through at once, with no latency: what the server answers, for a test that runs the
/// service's books without its server.
pub fn answer_deduction(
    ledger: &Ledger,
    customer_id: u64,
    request: &http::Request<Vec<u8>>,
) -> Reply {
    let key = match idempotency_key(request.headers()) {
        Ok(key) => key,
        Err(bad) => return bad.reply(),
    };
    let body: DeductionRequest = match serde_json::from_slice(request.body()) {
        Ok(body) => body,
        Err(error) => {
            return json_reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ErrorBody::new(format!("not a deduction: {error}"), None),
            );
        }
    };
    match ledger.begin(customer_id, body, key.clone()) {
        Ok(ticket) => {
            let finished = ledger.finish(ticket);
            outcome_reply(&finished.outcome, finished.replayed)
        }
        Err(conflict) => conflict_reply(conflict, &key.unwrap_or_default()),
    }
}

/// `GET /deductions/{key}`: the stored outcome (a replay), 409 while in flight, 404 if no
/// request with the key was received.
pub fn key_status_reply(key: &str, status: Option<KeyStatus>) -> Reply {
    match status {
        None => json_reply(
            StatusCode::NOT_FOUND,
            &ErrorBody::new(
                format!("no deduction request with idempotency key {key:?} was received"),
                None,
            ),
        ),
        Some(KeyStatus::InFlight) => json_reply(
            StatusCode::CONFLICT,
            &ErrorBody::new(
                format!("the request with idempotency key {key:?} is still being processed"),
                Some(ErrorCode::KeyInFlight),
            ),
        ),
        Some(KeyStatus::Done(outcome)) => outcome_reply(&outcome, true),
    }
}

/// `GET /accounts/{id}`.
pub fn account_reply(customer_id: u64, balance: Option<Cents>) -> Reply {
    match balance {
        Some(balance) => json_reply(
            StatusCode::OK,
            &Account {
                customer_id,
                balance,
            },
        ),
        None => json_reply(
            StatusCode::NOT_FOUND,
            &ErrorBody {
                customer_id: Some(customer_id),
                ..ErrorBody::new(
                    format!("customer {customer_id} not found"),
                    Some(ErrorCode::UnknownCustomer),
                )
            },
        ),
    }
}

fn respond(reply: Reply) -> Response {
    reply.map(axum::body::Body::from).into_response()
}

async fn deduction_by_key(State(state): State<BalanceState>, Path(key): Path<String>) -> Response {
    respond(key_status_reply(&key, state.ledger().key_status(&key)))
}

#[derive(Debug, Deserialize)]
struct LedgerQuery {
    reference: Option<String>,
}

async fn ledger(
    State(state): State<BalanceState>,
    Query(query): Query<LedgerQuery>,
) -> axum::Json<Vec<LedgerEntry>> {
    axum::Json(state.ledger().entries(query.reference.as_deref()))
}

async fn get_faults(State(state): State<BalanceState>) -> axum::Json<FaultsView> {
    axum::Json(state.faults())
}

async fn put_faults(
    State(state): State<BalanceState>,
    Json(plan): Json<FaultPlan>,
) -> Result<axum::Json<FaultsView>, ApiError> {
    plan.validate()
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    tracing::info!(?plan, "fault plan replaced");
    state.set_faults(plan);
    Ok(axum::Json(state.faults()))
}

async fn reset(State(state): State<BalanceState>) -> axum::Json<serde_json::Value> {
    state.reset();
    axum::Json(serde_json::json!({ "status": "reset complete" }))
}

//! Logging: `tracing` to stderr. The balance service stands for an external service, so its
//! request traces and its own failures (the 503s and 504s of a fault plan) are logged at
//! debug: quiet in the order service's logs unless asked for.

use axum::Router;
use tower_http::trace::{DefaultOnFailure, DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;
use tracing_subscriber::EnvFilter;

/// Installs the log subscriber: `RUST_LOG`'s directives, or `default` without it.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Traces every request at debug.
pub fn trace_http(router: Router) -> Router {
    router.layer(
        TraceLayer::new_for_http()
            .on_request(DefaultOnRequest::new().level(Level::DEBUG))
            .on_response(DefaultOnResponse::new().level(Level::DEBUG))
            .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
    )
}

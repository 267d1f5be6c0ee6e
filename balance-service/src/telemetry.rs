//! Logging: `tracing` to stderr. The balance service stands for an external service, so its
//! request traces and its own failures (the 503s and 504s of a fault plan) are logged at
//! debug: quiet in the order service's logs unless asked for.

use std::io::IsTerminal;

use axum::Router;
use tower_http::trace::{DefaultOnFailure, DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the log subscriber: `RUST_LOG`'s directives (`target=level,...`, as
/// `tracing_subscriber`'s `Targets` reads them), or `default` without it.
pub fn init(default: &str) {
    let filter = directives(std::env::var("RUST_LOG").ok().as_deref(), default);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours for a person at a terminal; plain text for a log file.
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .with(filter)
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

/// The filter `RUST_LOG` asks for, or `default` when it is unset or does not parse (a bad
/// value is reported, not ignored silently).
fn directives(rust_log: Option<&str>, default: &str) -> Targets {
    if let Some(text) = rust_log {
        match text.parse() {
            Ok(targets) => return targets,
            Err(error) => eprintln!(
                "RUST_LOG={text:?} is not a list of target=level ({error}); logging {default}"
            ),
        }
    }
    default.parse().unwrap_or_default()
}

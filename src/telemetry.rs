//! Logging: `tracing` to stderr, filtered by `RUST_LOG`, with a span per request.

use axum::Router;
use axum::extract::{MatchedPath, Request};
use tower_http::trace::TraceLayer;

/// Installs the log subscriber: `RUST_LOG`'s directives, or `default` without it (for
/// example `order_service=info`). Shared with the balance service, which logs the same way.
pub use balance_service::telemetry::init;

/// Wraps every request in a span naming its method and matched route (`/orders/{id}`, not
/// `/orders/7`), so logs group by endpoint.
pub fn trace_http(router: Router) -> Router {
    router.layer(
        TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str)
                .unwrap_or("-");
            tracing::info_span!("http", method = %request.method(), route)
        }),
    )
}

//! Logging: `tracing` to stderr, filtered by `RUST_LOG`.

use axum::Router;
use axum::extract::{MatchedPath, Request};
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

/// Installs the log subscriber. Without `RUST_LOG`, logs this crate at info and each HTTP
/// request at info.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("order_service=info,tower_http=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

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

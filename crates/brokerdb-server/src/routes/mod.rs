//! HTTP routes.

mod health;
mod metrics;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

/// Every route of the service.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
}

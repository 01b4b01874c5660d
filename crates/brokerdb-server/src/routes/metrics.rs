//! `GET /metrics`: Prometheus text exposition.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::app::AppState;

/// Current metrics, with the pool gauges refreshed first.
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    state.db.record_pool_gauges();
    if let Some(age) = state.checkpoints.age() {
        metrics::gauge!("brokerdb_audit_checkpoint_age_seconds").set(age);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

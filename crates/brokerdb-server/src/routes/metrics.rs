//! `GET /metrics`: Prometheus text exposition.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::app::AppState;

/// Current metrics, with the pool gauges refreshed first.
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    state.db.record_pool_gauges();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

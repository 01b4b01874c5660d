//! The HTTP application: state, router, and a server that binds first and runs until stopped.

use std::future::Future;
use std::net::SocketAddr;

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use brokerdb::db::Db;
use brokerdb_redis::RedisConn;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::api::{self, ApiSettings, ApiState};
use crate::routes;

/// What every handler can reach: the two stores, each through one handle, and the metrics.
#[derive(Clone)]
pub struct AppState {
    /// PostgreSQL: the data layer (its runtime and system pools sit behind the tenant and
    /// system scopes).
    pub db: Db,
    /// Redis: the adapters' connection pool.
    pub redis: RedisConn,
    /// Renders the Prometheus metrics.
    pub metrics: PrometheusHandle,
    /// Age of the last audit checkpoint, when the service writes them.
    pub checkpoints: crate::checkpoints::CheckpointClock,
    /// The `/v1` API's token cache, rate limit and limits.
    pub api: ApiState,
    /// The OpenAPI document, built once.
    pub openapi: Arc<utoipa::openapi::OpenApi>,
    /// The database repair console (refusing everything until configured: [`AppState::with_ops`]).
    pub ops: crate::ops::OpsState,
    /// The project store's key (webhook secrets at rest); random until [`AppState::with_projects`].
    pub projects: crate::api::projects::ProjectsState,
}

impl AppState {
    /// State over the data layer and the Redis connection pool, with the API's default
    /// settings (no I/O).
    pub fn new(db: Db, redis: RedisConn) -> Result<Self, brokerdb_cache::CacheError> {
        Self::with_api(db, redis, &ApiSettings::default())
    }

    /// State with the API's `settings` (no I/O); invalid cache settings → error.
    pub fn with_api(
        db: Db,
        redis: RedisConn,
        settings: &ApiSettings,
    ) -> Result<Self, brokerdb_cache::CacheError> {
        Ok(Self {
            api: ApiState::new(settings, db.clone(), redis.clone())?,
            openapi: Arc::new(api::openapi()),
            db,
            redis,
            metrics: crate::metrics::handle(),
            checkpoints: crate::checkpoints::CheckpointClock::default(),
            ops: crate::ops::OpsState::disabled(),
            projects: crate::api::projects::ProjectsState::default(),
        })
    }

    /// The same state with the project store's settings `projects`.
    pub fn with_projects(mut self, projects: crate::api::projects::ProjectsState) -> Self {
        self.projects = projects;
        self
    }

    /// The same state with the repair console `ops`.
    pub fn with_ops(mut self, ops: crate::ops::OpsState) -> Self {
        self.ops = ops;
        self
    }
}

/// The router with every route: health, metrics, the OpenAPI document, the `/v1` API and the
/// repair console's page (`/ops/db/repairs`, [`crate::ops::page`]), each request wrapped by [`api::request::observe`]; unknown routes and methods answer in the error
/// envelope.
pub fn router(state: AppState) -> Router {
    let (v1, _) = api::router().split_for_parts();
    routes::router()
        .merge(v1)
        .merge(crate::ops::page::router())
        .route("/openapi.json", get(api::openapi_json))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.api.body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.api.limits.clone(),
            api::request::observe,
        ))
        .with_state(state)
}

/// A bound, not yet running HTTP server.
pub struct Application {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl Application {
    /// Binds `addr` (port 0 picks a free port) and prepares the router.
    pub async fn bind(addr: SocketAddr, state: AppState) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        Ok(Self {
            listener,
            router: router(state),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

//! The HTTP application: state, router, and a server that binds first and runs until stopped.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use brokerdb::db::{CursorKey, Db, DbSettings};
use deadpool_postgres::Pool;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::routes;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The data layer.
    pub db: Db,
    /// Runtime-role pool (tenant scope); readiness reads the migration ledger through it.
    pub runtime: Pool,
    /// Redis connection manager (readiness).
    pub redis: redis::aio::ConnectionManager,
    /// The Redis adapters' connection pool (`brokerdb_redis`), when configured.
    pub redis_adapters: Option<brokerdb_redis::RedisConn>,
    /// Renders the Prometheus metrics.
    pub metrics: PrometheusHandle,
    /// Age of the last audit checkpoint, when the service writes them.
    pub checkpoints: crate::checkpoints::CheckpointClock,
}

impl AppState {
    /// State over the application's pools and Redis manager. Fails when a pool's role would
    /// switch tenant isolation off, or a pool cannot connect ([`Db::from_pools`]).
    pub async fn new(
        runtime: Pool,
        system: Pool,
        redis: redis::aio::ConnectionManager,
        settings: DbSettings,
        cursor_key: CursorKey,
    ) -> Result<Self, brokerdb::db::ConnectError> {
        let db = Db::from_pools(runtime.clone(), system, settings, cursor_key).await?;
        Ok(Self {
            db,
            runtime,
            redis,
            redis_adapters: None,
            metrics: crate::metrics::handle(),
            checkpoints: crate::checkpoints::CheckpointClock::default(),
        })
    }

    /// The same state with the Redis adapters' pool.
    #[must_use]
    pub fn with_redis_adapters(mut self, conn: brokerdb_redis::RedisConn) -> Self {
        self.redis_adapters = Some(conn);
        self
    }
}

/// The router with every route.
pub fn router(state: AppState) -> Router {
    routes::router().with_state(state)
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

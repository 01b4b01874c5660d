//! The Redis connection every adapter works through: standalone or cluster, a small pool of
//! multiplexed connections, and a command timeout that bounds every call.
//!
//! The application builds the clients (URLs, TLS, credentials are its business; [`open_client`] / [`open_cluster`]
//! help with `rediss://` and a private CA) and hands them in; this crate never reads
//! configuration. Both kinds reconnect by themselves: a
//! [`ConnectionManager`] re-dials after a broken connection, a cluster connection refreshes its
//! slot map and re-dials nodes. While Redis is away every call fails with `unavailable` no later
//! than the command timeout, then works again once the server is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, ScriptInvocation};

use crate::redis::AdapterError;

mod backend;
mod client;
mod settings;

use backend::Conn;
pub use client::{ClientError, open_client, open_cluster};
pub use settings::{ConnSettings, DEFAULT_COMMAND_TIMEOUT, DEFAULT_POOL_SIZE, MAX_POOL_SIZE};

/// A cheap-to-clone handle on Redis (standalone or cluster) shared by every adapter.
#[derive(Clone)]
pub struct RedisConn {
    inner: Arc<Inner>,
}

struct Inner {
    conns: Vec<Conn>,
    next: AtomicUsize,
    command_timeout: Duration,
    subscribers: Vec<redis::Client>,
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConn")
            .field("cluster", &self.is_cluster())
            .field("pool_size", &self.inner.conns.len())
            .field("command_timeout", &self.inner.command_timeout)
            .finish()
    }
}

impl RedisConn {
    /// A pool of `settings.pool_size` reconnecting connections to a standalone server. No I/O
    /// happens here: connections are dialled on first use, so the application can start while
    /// Redis is down. The same client also opens pub/sub connections.
    pub fn standalone(client: redis::Client, settings: ConnSettings) -> Result<Self, AdapterError> {
        settings.validate()?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.command_timeout))
            .set_response_timeout(Some(settings.command_timeout))
            .set_number_of_retries(2)
            .set_max_delay(settings.command_timeout);
        let conns = (0..settings.pool_size)
            .map(|_| {
                ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                    .map(Conn::Standalone)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_parts(
            conns,
            settings.command_timeout,
            vec![client],
        ))
    }

    /// A pool of `settings.pool_size` cluster connections (each multiplexed per node). Dials
    /// now, because a cluster connection needs the slot map: Redis down → `unavailable`.
    /// `subscribe_via` are plain clients of cluster nodes for pub/sub (classic PUBLISH reaches
    /// every node, so any one will do; later ones are tried when an earlier one is down).
    pub async fn cluster(
        client: &ClusterClient,
        subscribe_via: Vec<redis::Client>,
        settings: ConnSettings,
    ) -> Result<Self, AdapterError> {
        settings.validate()?;
        let mut conns = Vec::with_capacity(settings.pool_size);
        for _ in 0..settings.pool_size {
            let conn = tokio::time::timeout(
                settings.command_timeout.max(Duration::from_secs(1)),
                client.get_async_connection(),
            )
            .await
            .map_err(|_| AdapterError::timed_out())??;
            conns.push(Conn::Cluster(conn));
        }
        Ok(Self::from_parts(
            conns,
            settings.command_timeout,
            subscribe_via,
        ))
    }

    /// Adopts connection managers the application built itself (no pub/sub until
    /// [`Self::with_subscribers`]).
    pub fn from_managers(
        managers: Vec<ConnectionManager>,
        command_timeout: Duration,
    ) -> Result<Self, AdapterError> {
        Self::adopt(
            managers.into_iter().map(Conn::Standalone).collect(),
            command_timeout,
        )
    }

    /// Adopts cluster connections the application built itself (no pub/sub until
    /// [`Self::with_subscribers`]).
    pub fn from_cluster_connections(
        connections: Vec<ClusterConnection>,
        command_timeout: Duration,
    ) -> Result<Self, AdapterError> {
        Self::adopt(
            connections.into_iter().map(Conn::Cluster).collect(),
            command_timeout,
        )
    }

    fn adopt(conns: Vec<Conn>, command_timeout: Duration) -> Result<Self, AdapterError> {
        ConnSettings {
            command_timeout,
            pool_size: conns.len(),
        }
        .validate()?;
        Ok(Self::from_parts(conns, command_timeout, Vec::new()))
    }

    fn from_parts(conns: Vec<Conn>, command_timeout: Duration, subs: Vec<redis::Client>) -> Self {
        Self {
            inner: Arc::new(Inner {
                conns,
                next: AtomicUsize::new(0),
                command_timeout,
                subscribers: subs,
            }),
        }
    }

    /// The same pool with `clients` as the pub/sub connection sources (tried in order).
    #[must_use]
    pub fn with_subscribers(self, clients: Vec<redis::Client>) -> Self {
        let inner = &self.inner;
        Self::from_parts(inner.conns.clone(), inner.command_timeout, clients)
    }

    /// True when connected to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner.conns.first(), Some(Conn::Cluster(_)))
    }

    /// The bound of every call.
    pub fn command_timeout(&self) -> Duration {
        self.inner.command_timeout
    }

    /// Checks that Redis answers: one `PING` on the next connection of the pool, bounded by the
    /// command timeout (on a cluster, routed to one node). What start-up and readiness probes
    /// call.
    pub async fn ping(&self) -> Result<(), AdapterError> {
        let pong: String = self.query(&redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(AdapterError::unexpected("PING was not answered with PONG"))
        }
    }

    /// The clients pub/sub subscriptions dial (one per node; one for a standalone server).
    pub fn subscribers(&self) -> &[redis::Client] {
        &self.inner.subscribers
    }

    fn pick(&self) -> Conn {
        let conns = &self.inner.conns;
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed) % conns.len().max(1);
        // `from_parts` callers guarantee at least one connection (validated pool size).
        conns[i].clone()
    }

    /// Runs `fut` under the command timeout, mapping Redis errors.
    pub async fn bounded<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, AdapterError> {
        match tokio::time::timeout(self.inner.command_timeout, fut).await {
            Ok(result) => result.map_err(AdapterError::from),
            Err(_) => Err(AdapterError::timed_out()),
        }
    }

    /// One command on the next connection of the pool, bounded by the command timeout. For
    /// adapters built outside this crate: build keys with [`crate::redis::encode_key_part`]
    /// so the crate's no-collision rule holds.
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, AdapterError> {
        let mut conn = self.pick();
        self.bounded(cmd.query_async(&mut conn)).await
    }

    /// One script call: EVALSHA, and on NOSCRIPT a SCRIPT LOAD (on every node of a cluster)
    /// and the EVALSHA again, bounded by the command timeout. Public for adapters built outside
    /// this crate, whose scripts follow the same rules (every key declared, one hash tag).
    pub async fn invoke<T: FromRedisValue>(
        &self,
        script: &ScriptInvocation<'_>,
    ) -> Result<T, AdapterError> {
        let mut conn = self.pick();
        self.bounded(script.invoke_async(&mut conn)).await
    }

    /// A cluster connection for commands routed to one node (prefix scans), or `None` when
    /// standalone.
    pub fn cluster_connection(&self) -> Option<ClusterConnection> {
        match self.pick() {
            Conn::Cluster(c) => Some(c),
            Conn::Standalone(_) => None,
        }
    }
}

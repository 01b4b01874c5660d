//! Starting (or connecting to) PostgreSQL and Redis for the service.

use std::time::Duration;

use anyhow::Context;
use brokerdb::conninfo::{self, ConnInfo};
use brokerdb::db::{CursorKey, Db, DbSettings, PoolRole, StatementMode};
use brokerdb::migrate;
use brokerdb_embedded::{EmbeddedPostgres, EmbeddedRedis, PostgresOptions, RedisOptions};
use brokerdb_redis::{ConnSettings, RedisConn};
use deadpool_postgres::Pool;

use crate::config::{DatabaseTargets, PostgresTarget, RedisEndpoint, RedisTarget};

/// Name of the database the embedded cluster serves.
pub const EMBEDDED_DATABASE: &str = "brokerdb";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// PostgreSQL as the service uses it: the role settings and, when embedded, the server.
pub struct Postgres {
    /// Connection settings of the three roles.
    pub targets: DatabaseTargets,
    /// The private server, when no URL was given; stopped on drop.
    pub embedded: Option<EmbeddedPostgres>,
}

impl Postgres {
    /// Uses the configured URLs, or starts the embedded cluster under `--data-dir`, creating its
    /// database and applying migrations (the embedded default only; an external database is
    /// migrated with `brokerdb migrate`).
    pub async fn start(target: &PostgresTarget) -> anyhow::Result<Self> {
        let data_dir = match target {
            PostgresTarget::External(targets) => {
                return Ok(Self {
                    targets: (**targets).clone(),
                    embedded: None,
                });
            }
            PostgresTarget::Embedded { data_dir } => data_dir,
        };
        if let Some(admin) = running_embedded(data_dir).await {
            tracing::info!("using the embedded PostgreSQL another brokerdb process runs");
            return Ok(Self {
                targets: DatabaseTargets::from_admin(admin),
                embedded: None,
            });
        }
        let pg = start_embedded_postgres(data_dir).await?;
        let admin = ConnInfo::from(pg.config(EMBEDDED_DATABASE));
        create_database_if_missing(&pg.config("postgres").into(), EMBEDDED_DATABASE).await?;
        let mut client = connect(&admin).await?;
        let applied = migrate::apply_sets(&mut client, &crate::schema::migration_sets()).await?;
        tracing::info!(applied = applied.len(), "embedded database migrated");
        Ok(Self {
            targets: DatabaseTargets::from_admin(admin),
            embedded: Some(pg),
        })
    }
}

/// The embedded cluster under `data_dir` when another process (say `brokerdb serve`) already
/// runs it and its database answers: commands such as `brokerdb token` then use it instead of
/// trying to start a second server on the same data.
async fn running_embedded(data_dir: &std::path::Path) -> Option<ConnInfo> {
    let socket_dir = std::fs::canonicalize(data_dir)
        .ok()?
        .join("postgres-socket");
    let port = brokerdb_embedded::SOCKET_PORT;
    if !socket_dir.join(format!(".s.PGSQL.{port}")).exists() {
        return None;
    }
    let mut cfg = tokio_postgres::Config::new();
    cfg.host_path(&socket_dir)
        .port(port)
        .user(brokerdb_embedded::SUPERUSER)
        .dbname(EMBEDDED_DATABASE)
        .connect_timeout(CONNECT_TIMEOUT);
    let admin = ConnInfo::from(cfg);
    let client = admin.connect().await.ok()?;
    client.simple_query("SELECT 1").await.ok()?;
    Some(admin)
}

/// Starts the embedded PostgreSQL cluster under `data_dir` (reusing its data).
pub async fn start_embedded_postgres(
    data_dir: &std::path::Path,
) -> anyhow::Result<EmbeddedPostgres> {
    let opts = PostgresOptions::new(data_dir, std::env::var_os("PATH"));
    EmbeddedPostgres::start(&opts)
        .await
        .context("cannot start the embedded PostgreSQL")
}

/// Redis as the service uses it: the checked endpoint and, when embedded, the server.
pub struct Redis {
    /// Where it is reached.
    pub endpoint: RedisEndpoint,
    /// The private server, when no URL was given; stopped on drop.
    pub embedded: Option<EmbeddedRedis>,
}

impl Redis {
    /// Uses the configured endpoint, or starts a private redis-server under its data directory.
    pub async fn start(target: &RedisTarget) -> anyhow::Result<Self> {
        let data_dir = match target {
            RedisTarget::External(endpoint) => {
                return Ok(Self {
                    endpoint: (**endpoint).clone(),
                    embedded: None,
                });
            }
            RedisTarget::Embedded { data_dir } => data_dir,
        };
        if let Some(endpoint) = running_embedded_redis(data_dir).await {
            tracing::info!("using the embedded Redis another brokerdb process runs");
            return Ok(Self {
                endpoint,
                embedded: None,
            });
        }
        let opts = RedisOptions::new(data_dir, std::env::var_os("PATH"));
        let redis = EmbeddedRedis::start(&opts)
            .await
            .context("cannot start the embedded Redis")?;
        Ok(Self {
            endpoint: RedisEndpoint::parse(&redis.url(), None)?,
            embedded: Some(redis),
        })
    }

    /// A client for the endpoint (no I/O).
    pub fn client(&self) -> redis::Client {
        self.endpoint.client().clone()
    }

    /// The adapters' connection pool over the endpoint, after checking the server answers
    /// ([`RedisConn::ping`]); it reconnects by itself later.
    pub async fn connect(&self, settings: ConnSettings) -> anyhow::Result<RedisConn> {
        let conn = RedisConn::standalone(self.client(), settings)
            .map_err(|e| anyhow::anyhow!("cannot set up the Redis connections: {e}"))?;
        conn.ping()
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to Redis: {e}"))?;
        Ok(conn)
    }
}

/// The data layer for a one-shot command (`token`, `jobs`, `outbox`, `audit`): the configured
/// database, or the embedded one (used as it is when a `serve` already runs it), with pools of
/// `pool_size` connections; only the system role is used.
pub async fn open_system(
    target: &PostgresTarget,
    pool_size: u16,
) -> anyhow::Result<(Postgres, Db)> {
    let postgres = Postgres::start(target).await?;
    let db = connect_db(
        &postgres.targets,
        pool_size,
        DbSettings::default(),
        CursorKey::random(),
        PoolRole::System,
    )
    .await?;
    Ok((postgres, db))
}

/// The embedded Redis under `data_dir` when another process (say `brokerdb serve`) already runs
/// it and it answers: `brokerdb worker` then shares it (its relay publishes where the service's
/// subscribers listen) instead of starting a second server on the same socket.
async fn running_embedded_redis(data_dir: &std::path::Path) -> Option<RedisEndpoint> {
    let socket = std::fs::canonicalize(data_dir)
        .ok()?
        .join("redis-socket")
        .join(brokerdb_embedded::REDIS_SOCKET_NAME);
    if !socket.exists() {
        return None;
    }
    let endpoint =
        RedisEndpoint::parse(&format!("redis+unix://{}", socket.display()), None).ok()?;
    let ping = async {
        let mut conn = endpoint
            .client()
            .get_multiplexed_async_connection()
            .await
            .ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    };
    tokio::time::timeout(CONNECT_TIMEOUT, ping).await.ok()??;
    Some(endpoint)
}

/// The data layer on `targets`' runtime and system roles: both pools built with `pool_size`
/// connections and each checked with one connection, `first` first (the role the command relies
/// on, so its failure is the one reported), so a bad URL or password fails at start-up with the
/// driver's reason; then handed to [`Db::from_pools`], which checks their roles.
pub async fn connect_db(
    targets: &DatabaseTargets,
    pool_size: u16,
    settings: DbSettings,
    cursor_key: CursorKey,
    first: PoolRole,
) -> anyhow::Result<Db> {
    let runtime = pool(&targets.runtime, pool_size, settings.statement_mode)?;
    let system = pool(&targets.system, pool_size, settings.statement_mode)?;
    let mut checks = [(&runtime, &targets.runtime), (&system, &targets.system)];
    if first == PoolRole::System {
        checks.reverse();
    }
    for (pool, info) in checks {
        check_pool(pool, info).await?;
    }
    Db::from_pools(runtime, system, settings, cursor_key)
        .await
        .map_err(crate::config::explain_connect_error)
}

/// One direct connection (over TLS as the settings say), driven on the current runtime.
pub async fn connect(info: &ConnInfo) -> anyhow::Result<tokio_postgres::Client> {
    let mut info = info.clone();
    if info.config.get_connect_timeout().is_none() {
        info.config.connect_timeout(CONNECT_TIMEOUT);
    }
    info.connect().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to PostgreSQL as {}: {}",
            conninfo::describe(&info.config),
            error_chain(&e)
        )
    })
}

/// A pool for one role, for a handle in `mode`. `Fast` recycling adds no query per checkout;
/// broken connections are still detected and replaced.
pub fn pool(info: &ConnInfo, size: u16, mode: StatementMode) -> anyhow::Result<Pool> {
    brokerdb::db::pool::build_for(info, usize::from(size), mode)
        .context("cannot build the PostgreSQL pool")
}

/// Checks out one connection and runs `SELECT 1`, so bad settings fail at start-up.
pub async fn check_pool(pool: &Pool, info: &ConnInfo) -> anyhow::Result<()> {
    let who = conninfo::describe(&info.config);
    let client = pool.get().await.map_err(|e| {
        // deadpool's error does not expose the driver error as its source: unwrap it here.
        let detail = match &e {
            deadpool_postgres::PoolError::Backend(inner) => error_chain(inner),
            other => error_chain(other),
        };
        anyhow::anyhow!("cannot connect to PostgreSQL as {who}: {detail}")
    })?;
    client
        .simple_query("SELECT 1")
        .await
        .with_context(|| format!("PostgreSQL as {who} does not answer"))?;
    Ok(())
}

/// Creates database `name` (a constant, never input) on `server` unless it exists.
pub async fn create_database_if_missing(server: &ConnInfo, name: &str) -> anyhow::Result<()> {
    let client = connect(server).await?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        // `name` is a constant of this crate, never input.
        let created = client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await;
        // Another process creating it at the same time (two benches starting together) is fine.
        let raced = |e: &tokio_postgres::Error| {
            e.code().is_some_and(|c| {
                *c == tokio_postgres::error::SqlState::DUPLICATE_DATABASE
                    || *c == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
            })
        };
        match created {
            Err(e) if !raced(&e) => {
                return Err(anyhow::Error::new(e).context("cannot create the embedded database"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// An error and its sources joined with ": ", skipping a source already quoted by its parent.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let msg = e.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        source = e.source();
    }
    out
}

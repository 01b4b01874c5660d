//! Starting (or connecting to) PostgreSQL and Redis for the service.

use std::time::Duration;

use anyhow::Context;
use brokerdb::conninfo::{self, ConnInfo};
use brokerdb::migrate;
use brokerdb_embedded::{EmbeddedPostgres, EmbeddedRedis, PostgresOptions, RedisOptions};
use deadpool_postgres::Pool;

use crate::cli::ConnectionArgs;
use crate::config::DatabaseTargets;

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
    pub async fn start(args: &ConnectionArgs) -> anyhow::Result<Self> {
        if let Some(targets) = DatabaseTargets::from_args(args)? {
            return Ok(Self {
                targets,
                embedded: None,
            });
        }
        let opts = PostgresOptions::new(&args.data_dir, std::env::var_os("PATH"));
        let pg = EmbeddedPostgres::start(&opts)
            .await
            .context("cannot start the embedded PostgreSQL")?;
        let admin = ConnInfo::from(pg.config(EMBEDDED_DATABASE));
        create_database_if_missing(&pg.config("postgres").into(), EMBEDDED_DATABASE).await?;
        let mut client = connect(&admin).await?;
        let applied = migrate::apply_pending(&mut client).await?;
        tracing::info!(applied = applied.len(), "embedded database migrated");
        Ok(Self {
            targets: DatabaseTargets::from_admin(admin),
            embedded: Some(pg),
        })
    }
}

/// Redis as the service uses it: the URL and, when embedded, the server.
pub struct Redis {
    /// Connection URL.
    pub url: String,
    /// CA certificates (PEM) for a `rediss://` URL; the system roots when absent.
    pub ca_file: Option<std::path::PathBuf>,
    /// The private server, when no URL was given; stopped on drop.
    pub embedded: Option<EmbeddedRedis>,
}

impl Redis {
    /// Uses `url` (checked against `ca_file` when it is `rediss://`), or starts a private
    /// redis-server under `data_dir`.
    pub async fn start(
        url: Option<&str>,
        ca_file: Option<&std::path::Path>,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        if let Some(url) = url {
            let redis = Self {
                url: url.to_owned(),
                ca_file: ca_file.map(std::path::Path::to_path_buf),
                embedded: None,
            };
            redis.client()?;
            return Ok(redis);
        }
        let opts = RedisOptions::new(data_dir, std::env::var_os("PATH"));
        let redis = EmbeddedRedis::start(&opts)
            .await
            .context("cannot start the embedded Redis")?;
        Ok(Self {
            url: redis.url(),
            ca_file: None,
            embedded: Some(redis),
        })
    }

    /// A client for the URL (no I/O but reading the CA file).
    pub fn client(&self) -> anyhow::Result<redis::Client> {
        redis_client(&self.url, self.ca_file.as_deref())
    }

    /// A connection manager (reconnects by itself), after checking the server answers.
    pub async fn connect(&self) -> anyhow::Result<redis::aio::ConnectionManager> {
        let client = self.client()?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(1);
        let mut manager = tokio::time::timeout(
            CONNECT_TIMEOUT,
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("cannot connect to Redis: timed out"))?
        .map_err(|e| anyhow::anyhow!("cannot connect to Redis: {}", e))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut manager)
            .await
            .map_err(|e| anyhow::anyhow!("Redis does not answer PING: {}", e))?;
        Ok(manager)
    }
}

/// A client for a Redis URL and an optional CA file, with errors that name the variable and
/// never echo the URL.
pub fn redis_client(url: &str, ca_file: Option<&std::path::Path>) -> anyhow::Result<redis::Client> {
    brokerdb_redis::open_client(url, ca_file).map_err(|e| match e {
        brokerdb_redis::ClientError::InvalidUrl => {
            anyhow::anyhow!("REDIS_URL is not a valid Redis URL ({e})")
        }
        other => anyhow::anyhow!("REDIS_CA_FILE: {other}"),
    })
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

/// A pool for one role. `Fast` recycling adds no query per checkout; broken connections are
/// still detected and replaced.
pub fn pool(info: &ConnInfo, size: u16) -> anyhow::Result<Pool> {
    brokerdb::db::pool::build(info, usize::from(size)).context("cannot build the PostgreSQL pool")
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
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .context("cannot create the embedded database")?;
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

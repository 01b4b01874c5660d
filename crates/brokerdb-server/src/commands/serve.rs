//! `brokerdb serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use brokerdb::audit::{self, CheckpointSigner, SealerSettings};
use brokerdb::db::{CursorKey, DbSettings, PoolRole};
use brokerdb::outbox::RelaySettings;
use clap::Args;

use crate::api::ApiSettings;
use crate::app::{AppState, Application};
use crate::checkpoints::{self, CheckpointClock};
use crate::cli::{ConnectionArgs, RedisUrlArgs};
use crate::commands::worker::{self, JobArgs, JobsConfig};
use crate::config::{ExposeSecret, PostgresTarget, RedisTarget, SecretString, positive};
use crate::ops::OpsState;
use crate::ops::settings::{ConsoleArgs, ConsoleSettings, ProxyArgs};
use crate::outbox_relay::{self, OutboxArgs};
use crate::services::{Postgres, Redis, connect_db};

/// Options of `brokerdb serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Where Redis is.
    #[command(flatten)]
    pub redis: RedisUrlArgs,
    /// Address the HTTP service listens on.
    #[arg(long, env = "BROKERDB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Maximum connections in each PostgreSQL pool (runtime and system).
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub pool_size: u16,
    /// Data-layer tunables.
    #[command(flatten)]
    pub data: DataLayerArgs,
    /// Redis adapter tunables.
    #[command(flatten)]
    pub redis_adapters: RedisAdapterArgs,
    /// Audit sealing and checkpoints.
    #[command(flatten)]
    pub audit: AuditServiceArgs,
    /// The HTTP API's limits.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Run the background job worker and the scheduler of the sweeps in this process. `false`
    /// (or --no-worker) leaves them to `brokerdb worker` processes.
    #[arg(long = "worker", env = "WORKER_ENABLED", default_value = "true", num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub worker_enabled: bool,
    /// Do not run the job worker here (the same as WORKER_ENABLED=false).
    #[arg(long = "no-worker")]
    pub no_worker: bool,
    /// The job worker and the sweeps.
    #[command(flatten)]
    pub jobs: JobArgs,
    /// The outbox relay.
    #[command(flatten)]
    pub outbox: OutboxArgs,
    /// The read cache of the hot reads.
    #[command(flatten)]
    pub cache: CacheArgs,
    /// The database repair console's guards and timeouts.
    #[command(flatten)]
    pub console: ConsoleArgs,
    /// The console's trusted proxy header.
    #[command(flatten)]
    pub proxy: ProxyArgs,
}

/// The read cache: an in-process tier (L1) over Redis (L2) for the hot reads (users by id,
/// execute lookups, template versions, policy matches, the manifest keyset).
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Whether the in-process tier is used (off: every cached read asks Redis).
    #[arg(long, env = "CACHE_L1_ENABLED", default_value = "true", num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub cache_l1_enabled: bool,
    /// Entries the in-process tier holds at most.
    #[arg(long, env = "CACHE_L1_MAX_ENTRIES", default_value_t = brokerdb_cache::DEFAULT_L1_MAX_ENTRIES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cache_l1_max_entries: u64,
    /// Bytes of values the in-process tier holds at most (at least 65536).
    #[arg(long, env = "CACHE_L1_MAX_BYTES", default_value_t = brokerdb_cache::DEFAULT_L1_MAX_BYTES,
          value_parser = clap::value_parser!(u64).range(brokerdb_cache::MIN_L1_MAX_BYTES..))]
    pub cache_l1_max_bytes: u64,
    /// Lifetime of an in-process entry; shorter than CACHE_L2_TTL. Also how long another
    /// instance may serve an old value when an invalidation message is lost.
    #[arg(long, env = "CACHE_L1_TTL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub cache_l1_ttl: Duration,
    /// Lifetime of a Redis entry.
    #[arg(long, env = "CACHE_L2_TTL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub cache_l2_ttl: Duration,
    /// Lifetime of a cached "not found" (in the in-process tier at most CACHE_L1_TTL).
    #[arg(long, env = "CACHE_NEGATIVE_TTL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub cache_negative_ttl: Duration,
    /// Prefix of the cache's Redis keys and of its invalidation channel.
    #[arg(long, env = "CACHE_KEY_PREFIX", default_value = brokerdb_cache::DEFAULT_KEY_PREFIX)]
    pub cache_key_prefix: String,
}

impl CacheArgs {
    /// The cache settings these flags describe, or the first bad value's error.
    pub fn settings(&self) -> anyhow::Result<brokerdb_cache::CacheSettings> {
        let settings = brokerdb_cache::CacheSettings {
            l1_enabled: self.cache_l1_enabled,
            l1_max_entries: self.cache_l1_max_entries,
            l1_max_bytes: self.cache_l1_max_bytes,
            l1_ttl: positive("CACHE_L1_TTL", self.cache_l1_ttl)?,
            l2_ttl: positive("CACHE_L2_TTL", self.cache_l2_ttl)?,
            negative_ttl: positive("CACHE_NEGATIVE_TTL", self.cache_negative_ttl)?,
            key_prefix: self.cache_key_prefix.clone(),
            policy_bus_prefix: None,
        };
        settings
            .validate()
            .map_err(|e| anyhow::anyhow!("CACHE_* settings: {e}"))?;
        Ok(settings)
    }
}

/// Limits of the `/v1` API.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// How long a token's verdict is reused before the database is asked again: a revoked or
    /// expired token is refused within this time. 0 asks on every request.
    #[arg(long, env = "API_TOKEN_CACHE_TTL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub api_token_cache_ttl: Duration,
    /// Requests each token may make per API_RATE_LIMIT_WINDOW (429 with Retry-After beyond);
    /// 0 switches the limit off.
    #[arg(long, env = "API_RATE_LIMIT", default_value_t = 6000)]
    pub api_rate_limit: u32,
    /// The rate-limit window.
    #[arg(long, env = "API_RATE_LIMIT_WINDOW", default_value = "60s", value_parser = humantime::parse_duration)]
    pub api_rate_limit_window: Duration,
    /// Requests served at once; more are answered 503 at once.
    #[arg(long, env = "API_MAX_CONCURRENT_REQUESTS", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub api_max_concurrent_requests: u32,
    /// How long a request may take before it is answered 504 (its work is not cut off half-way).
    #[arg(long, env = "API_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub api_request_timeout: Duration,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, env = "API_BODY_LIMIT", default_value_t = 1024 * 1024,
          value_parser = clap::value_parser!(u32).range(1..=64 * 1024 * 1024))]
    pub api_body_limit: u32,
}

impl HttpArgs {
    /// The API settings these flags describe, or the first bad value's error.
    pub fn settings(&self) -> anyhow::Result<ApiSettings> {
        let window = positive("API_RATE_LIMIT_WINDOW", self.api_rate_limit_window)?;
        Ok(ApiSettings {
            token_cache_ttl: self.api_token_cache_ttl,
            rate_limit_requests: self.api_rate_limit,
            rate_limit_window_seconds: u32::try_from(window.as_secs().max(1))
                .context("API_RATE_LIMIT_WINDOW is too long")?,
            max_concurrent_requests: usize::try_from(self.api_max_concurrent_requests)?,
            request_timeout: positive("API_REQUEST_TIMEOUT", self.api_request_timeout)?,
            body_limit: usize::try_from(self.api_body_limit)?,
            // `CacheArgs` fills it in `ServeArgs::config`.
            cache: brokerdb_cache::CacheSettings::default(),
        })
    }
}

/// How `serve` seals the audit chains and checkpoints them.
#[derive(Debug, Clone, Args)]
pub struct AuditServiceArgs {
    /// The bound between an audit append and its seal (exported as
    /// brokerdb_audit_max_merge_delay_seconds; `audit verify` holds rows to it).
    #[arg(long, env = "AUDIT_MAX_MERGE_DELAY", default_value = "1s", value_parser = humantime::parse_duration)]
    pub audit_max_merge_delay: Duration,
    /// Pause of the sealer between rounds once every visible row is sealed.
    #[arg(long, env = "AUDIT_SEAL_INTERVAL", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub audit_seal_interval: Duration,
    /// Signing key file for periodic checkpoints (with AUDIT_CHECKPOINT_DIR; none when unset).
    #[arg(
        long,
        env = "AUDIT_CHECKPOINT_KEY_FILE",
        requires = "audit_checkpoint_dir"
    )]
    pub audit_checkpoint_key_file: Option<PathBuf>,
    /// Directory the service writes a checkpoint file into every AUDIT_CHECKPOINT_INTERVAL.
    #[arg(
        long,
        env = "AUDIT_CHECKPOINT_DIR",
        requires = "audit_checkpoint_key_file"
    )]
    pub audit_checkpoint_dir: Option<PathBuf>,
    /// How often the service writes checkpoints (brokerdb_audit_checkpoint_age_seconds shows the
    /// age of the last one).
    #[arg(long, env = "AUDIT_CHECKPOINT_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub audit_checkpoint_interval: Duration,
}

/// Tunables of the Redis adapters.
#[derive(Debug, Clone, Args)]
pub struct RedisAdapterArgs {
    /// Bound of every Redis adapter call, in milliseconds, reconnect waits included. When it
    /// expires the call fails with `unavailable`: cache reads fall back to PostgreSQL, security
    /// state (rate limits, locks, idempotency, replay, enrollment) refuses.
    #[arg(long, env = "REDIS_COMMAND_TIMEOUT_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub redis_command_timeout_ms: u64,
    /// Multiplexed Redis connections the adapters share, used round-robin.
    #[arg(long, env = "REDIS_POOL_SIZE", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub redis_pool_size: u16,
}

impl RedisAdapterArgs {
    /// The connection settings these flags describe.
    pub fn settings(&self) -> brokerdb_redis::ConnSettings {
        brokerdb_redis::ConnSettings {
            command_timeout: std::time::Duration::from_millis(self.redis_command_timeout_ms),
            pool_size: usize::from(self.redis_pool_size),
        }
    }
}

/// Tunables of the data layer.
#[derive(Debug, Clone, Args)]
pub struct DataLayerArgs {
    /// Repository operations slower than this many milliseconds count in
    /// brokerdb_slow_ops_total and log a (rate-limited) warning.
    #[arg(long, env = "SLOW_QUERY_MS", default_value_t = 300)]
    pub slow_query_ms: u64,
    /// Log every SQL statement with its duration (never its parameter values).
    #[arg(long, env = "DB_TRACE", default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub db_trace: bool,
    /// Lists count matching rows exactly up to this many; beyond, `total` is the planner's
    /// estimate and the page says `totalIsEstimate: true` (so a page never costs as much as
    /// reading every match).
    #[arg(long, env = "LIST_EXACT_TOTAL_LIMIT", default_value_t = brokerdb::db::DEFAULT_EXACT_TOTAL_LIMIT)]
    pub exact_total_limit: u32,
    /// How statements reach PostgreSQL: `prepared` (named prepared statements cached per
    /// connection) or `unnamed` (one round trip each, nothing kept on the server: for PgBouncer
    /// in transaction mode before 1.21, which does not keep prepared statements).
    #[arg(long, env = "DB_STATEMENT_MODE", default_value = "prepared",
          value_parser = |s: &str| s.parse::<brokerdb::db::StatementMode>().map_err(|e| e.to_string()))]
    pub statement_mode: brokerdb::db::StatementMode,
    /// 64 hex characters (32 bytes) signing keyset cursors; give every instance the same one.
    /// Without it a random key is used and cursors do not survive a restart.
    #[arg(long, env = "BROKERDB_CURSOR_SECRET", hide_env_values = true,
          value_parser = crate::config::secret)]
    pub cursor_secret: Option<SecretString>,
    /// 64 hex characters (32 bytes): the AES-256-GCM key of the project store's webhook
    /// secrets at rest; give every instance the same one. Without it a random key is used and
    /// stored webhook secrets cannot be read after a restart (deliveries are then refused).
    #[arg(long, env = "PROJECT_SECRET_KEY", hide_env_values = true,
          value_parser = crate::config::secret)]
    pub project_secret_key: Option<SecretString>,
}

impl DataLayerArgs {
    /// The data-layer settings these flags describe.
    pub fn settings(&self) -> brokerdb::db::DbSettings {
        brokerdb::db::DbSettings {
            slow_threshold: std::time::Duration::from_millis(self.slow_query_ms),
            trace_statements: self.db_trace,
            exact_total_limit: self.exact_total_limit,
            statement_mode: self.statement_mode,
        }
    }

    /// The cursor key, or a clear error naming the variable (never echoing it).
    pub fn cursor_key(&self) -> anyhow::Result<brokerdb::db::CursorKey> {
        let Some(secret) = self.cursor_secret.as_ref().map(|s| s.expose_secret()) else {
            tracing::warn!(
                "BROKERDB_CURSOR_SECRET is not set: using a random cursor key (cursors end with this process)"
            );
            return Ok(brokerdb::db::CursorKey::random());
        };
        let bytes: [u8; 32] = hex::decode(secret.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                anyhow::anyhow!("BROKERDB_CURSOR_SECRET must be 64 hex characters (32 bytes)")
            })?;
        Ok(brokerdb::db::CursorKey::from_bytes(bytes))
    }

    /// The project store's webhook-secret key, or a clear error naming the variable (never
    /// echoing it).
    pub fn project_key(&self) -> anyhow::Result<brokerdb_projects::SecretKey> {
        project_key(self.project_secret_key.as_ref())
    }
}

/// The project store's webhook-secret key from PROJECT_SECRET_KEY (64 hex), or a random one
/// with a warning when it is not set; a bad value is an error naming the variable (never echoing
/// it).
pub fn project_key(secret: Option<&SecretString>) -> anyhow::Result<brokerdb_projects::SecretKey> {
    let Some(secret) = secret.map(|s| s.expose_secret()) else {
        tracing::warn!(
            "PROJECT_SECRET_KEY is not set: using a random key (stored webhook secrets cannot be read after a restart)"
        );
        return Ok(brokerdb_projects::SecretKey::random());
    };
    let bytes: [u8; 32] = hex::decode(secret.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            anyhow::anyhow!("PROJECT_SECRET_KEY must be 64 hex characters (32 bytes)")
        })?;
    Ok(brokerdb_projects::SecretKey::from_bytes(bytes))
}

/// `brokerdb serve`'s configuration, checked: everything [`serve`] needs that can be wrong is
/// parsed, decoded or read here, before any server is started or reached.
#[derive(Debug)]
pub struct ServeConfig {
    /// Where PostgreSQL is.
    pub postgres: PostgresTarget,
    /// Where Redis is.
    pub redis: RedisTarget,
    /// Address the HTTP service listens on.
    pub listen: SocketAddr,
    /// Connections per PostgreSQL pool.
    pub pool_size: u16,
    /// Data-layer tunables.
    pub db_settings: DbSettings,
    /// Signs keyset cursors (`Debug` does not show it).
    pub cursor_key: CursorKey,
    /// Encrypts the project store's webhook secrets (`Debug` does not show it).
    pub project_key: brokerdb_projects::SecretKey,
    /// How the Redis adapters' connections are built.
    pub redis_settings: brokerdb_redis::ConnSettings,
    /// How the audit sealer runs.
    pub sealer: SealerSettings,
    /// Periodic checkpoints, when configured.
    pub checkpoints: Option<CheckpointConfig>,
    /// The API's limits.
    pub api: ApiSettings,
    /// The job worker and the sweeps; `None` when this process runs no worker.
    pub jobs: Option<JobsConfig>,
    /// The outbox relay's settings; `None` when this instance runs none.
    pub outbox: Option<RelaySettings>,
    /// The repair console's guards, proxy header and timeouts.
    pub console: ConsoleSettings,
}

/// Where and how often `serve` writes audit checkpoints.
#[derive(Debug)]
pub struct CheckpointConfig {
    /// The signing key, read from AUDIT_CHECKPOINT_KEY_FILE (`Debug` does not show it).
    pub signer: CheckpointSigner,
    /// AUDIT_CHECKPOINT_DIR.
    pub dir: PathBuf,
    /// AUDIT_CHECKPOINT_INTERVAL.
    pub interval: Duration,
}

impl ServeArgs {
    /// The checked configuration, or the first bad value's error (naming its variable, never
    /// quoting it). No I/O but reading the checkpoint key and Redis CA files.
    pub fn config(&self) -> anyhow::Result<ServeConfig> {
        let postgres = PostgresTarget::from_args(&self.connection)?;
        let redis = RedisTarget::from_args(&self.redis, &self.connection.data_dir)?;
        let cursor_key = self.data.cursor_key()?;
        let project_key = self.data.project_key()?;
        let audit = &self.audit;
        let sealer = SealerSettings {
            interval: positive("AUDIT_SEAL_INTERVAL", audit.audit_seal_interval)?,
            max_merge_delay: positive("AUDIT_MAX_MERGE_DELAY", audit.audit_max_merge_delay)?,
            ..SealerSettings::default()
        };
        let interval = positive("AUDIT_CHECKPOINT_INTERVAL", audit.audit_checkpoint_interval)?;
        let checkpoints = match (
            &audit.audit_checkpoint_key_file,
            &audit.audit_checkpoint_dir,
        ) {
            (Some(key), Some(dir)) => Some(CheckpointConfig {
                signer: CheckpointSigner::read_file(key)
                    .context("AUDIT_CHECKPOINT_KEY_FILE cannot be used")?,
                dir: dir.clone(),
                interval,
            }),
            // clap requires both or neither.
            _ => None,
        };
        Ok(ServeConfig {
            postgres,
            redis,
            listen: self.listen,
            pool_size: self.pool_size,
            db_settings: self.data.settings(),
            cursor_key,
            project_key,
            redis_settings: self.redis_adapters.settings(),
            sealer,
            checkpoints,
            api: ApiSettings {
                cache: self.cache.settings()?,
                ..self.http.settings()?
            },
            jobs: match self.worker_enabled && !self.no_worker {
                true => Some(self.jobs.config()?),
                false => None,
            },
            outbox: self.outbox.settings()?,
            console: ConsoleSettings {
                proxy_header: self.proxy.trusted_header()?,
                public_origins: self.proxy.public_origins()?,
                ..self.console.settings()?
            },
        })
    }
}

/// Checks the configuration, then serves it ([`serve`]).
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    serve(args.config()?).await
}

/// Starts (or connects to) PostgreSQL and Redis, checks both, binds, and serves until Ctrl-C or
/// SIGTERM; embedded servers are stopped after the last request finishes.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let postgres = Postgres::start(&config.postgres).await?;
    let redis = Redis::start(&config.redis).await?;
    let db = connect_db(
        &postgres.targets,
        config.pool_size,
        config.db_settings,
        config.cursor_key,
        PoolRole::Runtime,
    )
    .await?;
    // The console repairs through the admin connection: DATABASE_URL or the embedded cluster's
    // (none when only the role URLs are given: its routes then answer 503).
    let ops = OpsState::new(config.console, postgres.targets.admin.clone())?;
    let mut state =
        AppState::with_api(db, redis.connect(config.redis_settings).await?, &config.api)?
            .with_ops(ops)
            .with_projects(crate::api::projects::ProjectsState {
                secret_key: config.project_key,
            });
    let cache_listener = crate::api::cache::spawn_listener(state.api.cache.clone());
    let sealer = audit::spawn_sealer(state.db.clone(), config.sealer);
    let checkpointer = config.checkpoints.map(|c| {
        state.checkpoints = CheckpointClock::started_now();
        checkpoints::spawn(
            state.db.clone(),
            c.signer,
            c.dir,
            c.interval,
            state.checkpoints.clone(),
        )
    });
    let background = match &config.jobs {
        Some(jobs) => Some(worker::spawn_background(&state.db, jobs)?),
        None => {
            tracing::info!("job worker disabled (WORKER_ENABLED=false): run `brokerdb worker`");
            None
        }
    };
    let relay = match config.outbox {
        Some(settings) => Some(outbox_relay::spawn(
            state.db.clone(),
            state.redis.clone(),
            settings,
        )?),
        None => None,
    };
    let app = Application::bind(config.listen, state).await?;
    let addr = app.local_addr()?;
    tracing::info!(
        %addr,
        postgres = if postgres.embedded.is_some() { "embedded" } else { "external" },
        redis = if redis.embedded.is_some() { "embedded" } else { "external" },
        "brokerdb listening on http://{addr}"
    );
    app.run_until(shutdown_signal()).await?;
    tracing::info!("shutting down");
    if let Some(task) = checkpointer {
        task.abort();
    }
    cache_listener.abort();
    // Jobs in flight finish (and may append audit events) before the sealer's last round.
    if let Some(background) = background {
        background.stop().await;
    }
    // The last round commits before the servers stop: nothing committed stays unsealed.
    sealer.stop().await;
    if let Some(relay) = relay {
        relay.stop().await;
    }
    drop(redis);
    drop(postgres);
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn the_checked_configuration_shows_no_secret_either() -> anyhow::Result<()> {
        let cli = Cli::try_parse_from([
            "brokerdb",
            "serve",
            "--database-url",
            "postgres://admin:s3cret-admin@db.internal/brokerdb",
            "--database-runtime-url",
            "postgres://brokerdb_app:s3cret-app@db.internal/brokerdb",
            "--database-system-url",
            "postgres://brokerdb_system:s3cret-sys@db.internal/brokerdb",
            "--redis-url",
            "redis://default:s3cret-redis@cache.internal:6379",
            "--cursor-secret",
            "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7",
        ])?;
        let Command::Serve(args) = cli.command else {
            anyhow::bail!("not serve");
        };
        let shown = format!("{:?}", args.config()?);
        for hidden in ["s3cret", "5ec7e", "cache.internal"] {
            assert!(!shown.contains(hidden), "{hidden} in {shown}");
        }
        Ok(())
    }

    fn jobs_of(argv: &[&str]) -> anyhow::Result<Option<crate::commands::worker::JobsConfig>> {
        let mut full = vec!["brokerdb", "serve"];
        full.extend_from_slice(argv);
        let Command::Serve(args) = Cli::try_parse_from(full)?.command else {
            anyhow::bail!("not serve");
        };
        Ok(args.config()?.jobs)
    }

    #[test]
    fn serve_runs_the_job_worker_unless_told_not_to() -> anyhow::Result<()> {
        let on = jobs_of(&["--sweep-interval", "5m", "--sweep-batch-size", "50"])?
            .ok_or_else(|| anyhow::anyhow!("no worker by default"))?;
        assert_eq!(on.sweeps.interval, std::time::Duration::from_secs(300));
        assert_eq!(on.sweeps.batch, 50);
        assert!(jobs_of(&["--no-worker"])?.is_none());
        assert!(jobs_of(&["--worker", "false"])?.is_none());
        assert!(jobs_of(&["--worker=true"])?.is_some());
        let err = jobs_of(&["--job-visibility-timeout", "0s"]).err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("JOB_VISIBILITY_TIMEOUT must be more than zero".to_owned())
        );
        let err = jobs_of(&["--sweep-interval", "500ms"]).err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("SWEEP_INTERVAL must be at least 1s".to_owned())
        );
        assert!(jobs_of(&["--sweep-batch-size", "0"]).is_err());
        Ok(())
    }
}

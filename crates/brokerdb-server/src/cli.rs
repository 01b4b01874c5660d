//! Command-line interface. Every flag has an environment variable; `.env.example` lists them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// brokerdb — persistence layer and data service of a multi-tenant API credential broker.
#[derive(Debug, Parser)]
#[command(name = "brokerdb", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP data service (health, readiness). Without DATABASE_URL / REDIS_URL it starts
    /// private PostgreSQL and Redis servers under --data-dir and migrates them.
    Serve(ServeArgs),
    /// Apply pending schema migrations (or show their status).
    Migrate(MigrateArgs),
    /// Measure hot operations through the library and the same SQL through pgbench, in one run
    /// (seeds the database brokerdb_bench next to the configured one).
    Bench(BenchArgs),
    /// Seal, checkpoint and verify the tamper-evident audit trail.
    Audit(AuditArgs),
}

/// Options of `brokerdb audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AuditAction,
}

/// Subcommands of `brokerdb audit`.
#[derive(Debug, Clone, Subcommand)]
pub enum AuditAction {
    /// Walk the audit chains (every tenant's and the system events', or one tenant's) as the
    /// system role, recomputing every link in Rust. Prints one line per chain; for a broken
    /// chain, the first problem with its position and event id. Exits 0 when every chain is
    /// intact and 1 otherwise: a row edited or deleted, a seal deleted or rewritten, a row left
    /// unsealed beyond the maximum merge delay, or (with --checkpoints) a chain that no longer
    /// extends a signed checkpoint (rewound, or rewritten and re-hashed by an administrator).
    Verify(AuditVerifyArgs),
    /// Sign the current head of every chain and write the checkpoints outside the database
    /// (a new file in --out, or stdout with --out -). Verify against them later with
    /// `audit verify --checkpoints`.
    Checkpoint(AuditCheckpointArgs),
    /// Create a new Ed25519 checkpoint signing key in FILE (mode 0600, never overwritten) and
    /// print its public key, which `audit verify --public-key` takes.
    Keygen(AuditKeygenArgs),
    /// Seal every queued audit row now (what `serve` does continuously), then print how many.
    Seal(AuditSealArgs),
}

/// Options of `brokerdb audit verify`.
#[derive(Debug, Clone, Args)]
pub struct AuditVerifyArgs {
    /// Verify only this tenant's chain (default: every tenant and the system chain).
    #[arg(long)]
    pub tenant: Option<String>,
    /// A checkpoint file, or a directory of them (`*.jsonl`), that every chain must extend.
    /// Every checkpoint's signature must verify with --public-key.
    #[arg(long, env = "AUDIT_CHECKPOINTS", requires = "public_key")]
    pub checkpoints: Option<PathBuf>,
    /// The checkpoint public key: 64 hex digits, as `audit keygen` prints it.
    #[arg(long, env = "AUDIT_CHECKPOINT_PUBLIC_KEY")]
    pub public_key: Option<String>,
    /// How long a row may wait for its seal before verify counts it as a failure, e.g. `1s`,
    /// `500ms`.
    #[arg(long, env = "AUDIT_MAX_MERGE_DELAY", default_value = "1s", value_parser = humantime::parse_duration)]
    pub max_merge_delay: std::time::Duration,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `brokerdb audit checkpoint`.
#[derive(Debug, Clone, Args)]
pub struct AuditCheckpointArgs {
    /// The signing key file (64 hex digits, mode 0600), as `audit keygen` writes it.
    #[arg(long, env = "AUDIT_CHECKPOINT_KEY_FILE")]
    pub key: PathBuf,
    /// Directory to write the checkpoint file into (created if missing), or `-` for stdout.
    #[arg(long, env = "AUDIT_CHECKPOINT_DIR")]
    pub out: PathBuf,
    /// Seal queued rows first, so the checkpoint covers everything committed so far.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub seal_first: bool,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `brokerdb audit keygen`.
#[derive(Debug, Clone, Args)]
pub struct AuditKeygenArgs {
    /// The key file to create; keep it outside the database's host if you can.
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `brokerdb audit seal`.
#[derive(Debug, Clone, Args)]
pub struct AuditSealArgs {
    /// Queue entries sealed per transaction.
    #[arg(long, default_value_t = brokerdb::audit::DEFAULT_BATCH,
          value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub batch: i64,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `brokerdb bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Where PostgreSQL is (DATABASE_URL must be a superuser; without it the embedded cluster).
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Users seeded per tenant.
    #[arg(long, env = "BENCH_USERS", default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub users: u32,
    /// Seconds per measurement.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub seconds: u64,
    /// Concurrent callers to measure, comma-separated.
    #[arg(long, env = "BENCH_CONCURRENCY", value_delimiter = ',', default_value = "1,16",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Vec<u16>,
    /// Measure only some rows, comma-separated words: `postgres` or `redis` selects a store,
    /// any other word the rows whose name contains it (e.g. `policy,execute`, `rate-limit`).
    /// All rows when absent.
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Redis URL for the Redis rows, e.g. redis://127.0.0.1:6379. Without it a private
    /// redis-server is started. Keys go under a random `brokerdb-bench:` prefix and expire.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// PEM file of the CA certificates that sign a rediss:// server's certificate (default: the
    /// system roots).
    #[arg(long, env = "REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,
    /// Redis adapter pool sizes to measure (multiplexed connections), comma-separated.
    #[arg(long, env = "BENCH_REDIS_POOLS", value_delimiter = ',', default_value = "1,4",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub redis_pools: Vec<u16>,
}

impl BenchArgs {
    /// Whether `--only` selects the row `name` of `store` (`postgres` or `redis`).
    pub fn selects(&self, store: &str, name: &str) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|w| w == store || name.contains(w.as_str()))
    }
}

/// Where PostgreSQL and Redis are; absent URLs mean "start a private server".
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Admin PostgreSQL URL (owner or superuser), e.g. postgres://postgres@127.0.0.1:5432/brokerdb.
    /// The runtime and system roles connect to the same server and database under their own
    /// names unless DATABASE_RUNTIME_URL / DATABASE_SYSTEM_URL are given.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// PostgreSQL URL for the runtime role (brokerdb_app); needed when roles use passwords.
    #[arg(
        long,
        env = "DATABASE_RUNTIME_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_runtime_url: Option<String>,
    /// PostgreSQL URL for the system role (brokerdb_system); needed when roles use passwords.
    #[arg(
        long,
        env = "DATABASE_SYSTEM_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_system_url: Option<String>,
    /// Directory of the private (embedded) servers, used when no URL is given.
    #[arg(
        long,
        env = "BROKERDB_DATA_DIR",
        default_value = ".brokerdb",
        global = true
    )]
    pub data_dir: PathBuf,
}

/// Options of `brokerdb serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Redis URL, e.g. redis://127.0.0.1:6379 or rediss://cache.internal:6380 (TLS). Without it
    /// a private redis-server is started.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// PEM file of the CA certificates that sign a rediss:// server's certificate (default: the
    /// system roots).
    #[arg(long, env = "REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,
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
    pub redis: RedisArgs,
    /// Audit sealing and checkpoints.
    #[command(flatten)]
    pub audit: AuditServiceArgs,
}

/// How `serve` seals the audit chains and checkpoints them.
#[derive(Debug, Clone, Args)]
pub struct AuditServiceArgs {
    /// The bound between an audit append and its seal (exported as
    /// brokerdb_audit_max_merge_delay_seconds; `audit verify` holds rows to it).
    #[arg(long, env = "AUDIT_MAX_MERGE_DELAY", default_value = "1s", value_parser = humantime::parse_duration)]
    pub audit_max_merge_delay: std::time::Duration,
    /// Pause of the sealer between rounds when the queue is drained.
    #[arg(long, env = "AUDIT_SEAL_INTERVAL", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub audit_seal_interval: std::time::Duration,
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
    pub audit_checkpoint_interval: std::time::Duration,
}

/// Tunables of the Redis adapters.
#[derive(Debug, Clone, Args)]
pub struct RedisArgs {
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

impl RedisArgs {
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
    /// 64 hex characters (32 bytes) signing keyset cursors; give every instance the same one.
    /// Without it a random key is used and cursors do not survive a restart.
    #[arg(long, env = "BROKERDB_CURSOR_SECRET", hide_env_values = true)]
    pub cursor_secret: Option<String>,
}

impl DataLayerArgs {
    /// The data-layer settings these flags describe.
    pub fn settings(&self) -> brokerdb::db::DbSettings {
        brokerdb::db::DbSettings {
            slow_threshold: std::time::Duration::from_millis(self.slow_query_ms),
            trace_statements: self.db_trace,
        }
    }

    /// The cursor key, or a clear error naming the variable (never echoing it).
    pub fn cursor_key(&self) -> anyhow::Result<brokerdb::db::CursorKey> {
        let Some(secret) = self.cursor_secret.as_deref() else {
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
}

/// Options of `brokerdb migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// `status` lists applied and pending migrations without changing anything.
    #[command(subcommand)]
    pub action: Option<MigrateAction>,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Subcommands of `brokerdb migrate`.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// List every migration with its state (applied, pending, changed, unknown); exits 1 when an
    /// applied migration has changed.
    Status,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

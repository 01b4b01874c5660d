//! Command-line interface: the top-level command, and the connection options several commands
//! share. Each command's own options sit next to its `run`, in [`crate::commands`]. Every flag
//! has an environment variable; `.env.example` lists them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{audit, bench, migrate, serve};

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
    Serve(serve::ServeArgs),
    /// Apply pending schema migrations (or show their status).
    Migrate(migrate::MigrateArgs),
    /// Measure hot operations through the library and the same SQL through pgbench, in one run
    /// (seeds the database brokerdb_bench next to the configured one).
    Bench(bench::BenchArgs),
    /// Seal, checkpoint and verify the tamper-evident audit trail.
    Audit(audit::AuditArgs),
}

/// Where PostgreSQL is; absent URLs mean "start a private server".
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

/// Where Redis is; no URL means "start a private redis-server". The one declaration of
/// `REDIS_URL` and `REDIS_CA_FILE`, flattened into the commands that use Redis.
#[derive(Debug, Clone, Args)]
pub struct RedisUrlArgs {
    /// Redis URL, e.g. redis://127.0.0.1:6379 or rediss://cache.internal:6380 (TLS). Without it
    /// a private redis-server is started.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// PEM file of the CA certificates that sign a rediss:// server's certificate (default: the
    /// system roots).
    #[arg(long, env = "REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,
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

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
    /// Redis URL, e.g. redis://127.0.0.1:6379. Without it a private redis-server is started.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Address the HTTP service listens on.
    #[arg(long, env = "BROKERDB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Maximum connections in each PostgreSQL pool (runtime and system).
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub pool_size: u16,
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

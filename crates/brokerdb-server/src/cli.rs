//! Command-line interface: the top-level command, and the connection options several commands
//! share. Each command's own options sit next to its `run`, in [`crate::commands`]. Every flag
//! has an environment variable; `.env.example` lists them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{
    audit, bench, doctor, jobs, migrate, outbox, repair, seed, serve, token, worker,
};
use crate::config::SecretString;

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
    /// Run the HTTP data service (the /v1 API, health, readiness, metrics). Without
    /// DATABASE_URL / REDIS_URL it starts private PostgreSQL and Redis servers under
    /// --data-dir and migrates them.
    Serve(Box<serve::ServeArgs>),
    /// Apply pending schema migrations (or show their status).
    Migrate(migrate::MigrateArgs),
    /// Measure hot operations through the library and the same SQL through pgbench, in one run
    /// (seeds the database brokerdb_bench next to the configured one); with --soak, run mixed
    /// HTTP load at a fixed rate for a while instead and chart it over time.
    Bench(bench::BenchArgs),
    /// Seal, checkpoint and verify the tamper-evident audit trail.
    Audit(audit::AuditArgs),
    /// Create, list and revoke the API tokens the HTTP service authenticates (bearer tokens,
    /// stored only as a hash).
    Token(token::TokenArgs),
    /// Fill the database with demo data through the library: tenants t_demo_1…, their users,
    /// workloads, templates, integrations, policy rules, approvals and audit events. Re-running
    /// it writes nothing twice and says what was already there. DATABASE_URL's database is
    /// migrated first; without it the embedded servers under --data-dir are used, as by serve.
    Seed(seed::SeedArgs),
    /// Run the background job worker and the scheduler of the sweeps (expired sessions and
    /// enrollment tokens, stale pending approvals, old succeeded jobs) until Ctrl-C or SIGTERM.
    /// `serve` runs one too unless WORKER_ENABLED=false; any number may run at once.
    Worker(worker::WorkerArgs),
    /// Inspect the background job queue and manage its dead letters: list jobs, retry dead
    /// ones, purge finished ones.
    Jobs(jobs::JobsArgs),
    /// Inspect the template-invalidation outbox the relay delivers: list rows not yet
    /// delivered, send failed ones again.
    Outbox(outbox::OutboxCommandArgs),
    /// The database repair console: list the hash-verified repair playbooks, preview one,
    /// execute one, list the recorded runs. Works only where BROKERDB_ENV is staging or
    /// development, for the OS user listed as os:USER in BROKERDB_REPAIR_ADMINS; a refusal
    /// exits 2.
    Repair(repair::RepairArgs),
    /// Compare the live schema with the one the migrations promise (a dropped index, row-level
    /// security switched off, a disabled trigger, …) and name the playbook that repairs each
    /// drift. Exits 1 on drift, 0 when clean. Read-only: the console's guards do not apply.
    Doctor(doctor::DoctorArgs),
}

/// Where PostgreSQL is; absent URLs mean "start a private server".
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Admin PostgreSQL URL (owner or superuser), e.g. postgres://postgres@127.0.0.1:5432/brokerdb.
    /// The runtime and system roles connect to the same server and database under their own
    /// names unless DATABASE_RUNTIME_URL / DATABASE_SYSTEM_URL are given.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true,
          value_parser = crate::config::secret)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL URL for the runtime role (brokerdb_app); needed when roles use passwords.
    #[arg(
        long,
        env = "DATABASE_RUNTIME_URL",
        hide_env_values = true,
        global = true,
        value_parser = crate::config::secret
    )]
    pub database_runtime_url: Option<SecretString>,
    /// PostgreSQL URL for the system role (brokerdb_system); needed when roles use passwords.
    #[arg(
        long,
        env = "DATABASE_SYSTEM_URL",
        hide_env_values = true,
        global = true,
        value_parser = crate::config::secret
    )]
    pub database_system_url: Option<SecretString>,
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
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = crate::config::secret)]
    pub redis_url: Option<SecretString>,
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

    /// Every environment variable of every command, with the commands that read it.
    fn env_vars(cmd: &clap::Command, out: &mut std::collections::BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(var) = arg.get_env() {
                out.insert(var.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            env_vars(sub, out);
        }
    }

    #[test]
    fn env_example_lists_every_setting_of_every_command() {
        let example = include_str!("../../../.env.example");
        let mut vars = std::collections::BTreeSet::new();
        env_vars(&Cli::command(), &mut vars);
        let missing: Vec<&String> = vars
            .iter()
            .filter(|v| !example.contains(&format!("# {v}=")))
            .collect();
        assert!(missing.is_empty(), ".env.example lacks {missing:?}");
    }

    const CURSOR_SECRET: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";

    /// A command line with every PostgreSQL URL carrying a password (and, with `redis`, the
    /// Redis URL) as flags: flags win over the environment, so the test process's does not matter.
    fn with_secrets(command: &[&str], redis: bool) -> Vec<String> {
        let mut args = vec!["brokerdb".to_owned()];
        args.extend(command.iter().map(|s| (*s).to_owned()));
        let mut flags = vec![
            (
                "--database-url",
                "postgres://admin:s3cret-admin@db.internal/brokerdb",
            ),
            (
                "--database-runtime-url",
                "postgres://brokerdb_app:s3cret-app@db.internal/brokerdb",
            ),
            (
                "--database-system-url",
                "postgres://brokerdb_system:s3cret-sys@db.internal/brokerdb",
            ),
        ];
        if redis {
            flags.push((
                "--redis-url",
                "rediss://default:s3cret-redis@cache.internal:6380",
            ));
        }
        for (flag, value) in flags {
            args.extend([flag.to_owned(), value.to_owned()]);
        }
        args
    }

    #[test]
    fn debug_of_a_parsed_command_line_never_shows_a_secret() -> Result<(), clap::Error> {
        let mut serve = with_secrets(&["serve"], true);
        serve.extend(["--cursor-secret".to_owned(), CURSOR_SECRET.to_owned()]);
        for argv in [
            serve,
            with_secrets(&["bench"], true),
            with_secrets(&["migrate", "status"], false),
            with_secrets(&["audit", "seal"], false),
        ] {
            let shown = format!("{:?}", Cli::try_parse_from(&argv)?);
            for hidden in ["s3cret", "5ec7e", "db.internal", "cache.internal"] {
                assert!(!shown.contains(hidden), "{hidden} in {shown}");
            }
            assert!(shown.contains("REDACTED"), "{shown}");
        }
        Ok(())
    }
}

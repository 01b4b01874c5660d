//! `brokerdb migrate` and `brokerdb migrate status`.

use std::process::ExitCode;

use brokerdb::migrate::{self, MigrationState};
use clap::{Args, Subcommand};

use crate::cli::ConnectionArgs;
use crate::config::AdminTarget;
use crate::services::{
    EMBEDDED_DATABASE, connect, create_database_if_missing, start_embedded_postgres,
};

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

/// `brokerdb migrate`'s configuration, checked before any I/O.
#[derive(Debug, Clone)]
pub struct MigrateConfig {
    /// DATABASE_URL, or the embedded cluster.
    pub database: AdminTarget,
    /// `status`, or none to apply.
    pub action: Option<MigrateAction>,
}

impl MigrateArgs {
    /// The checked configuration, or the first bad value's error (naming its variable, never
    /// quoting it).
    pub fn config(&self) -> anyhow::Result<MigrateConfig> {
        Ok(MigrateConfig {
            database: AdminTarget::from_args(&self.connection)?,
            action: self.action,
        })
    }
}

/// Applies pending migrations (or lists their state) on DATABASE_URL, or on the embedded
/// cluster under `--data-dir` when no URL is given.
pub async fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let (cfg, _embedded) = match config.database {
        AdminTarget::Url(info) => (*info, None),
        AdminTarget::Embedded { data_dir } => {
            let pg = start_embedded_postgres(&data_dir).await?;
            create_database_if_missing(&pg.config("postgres").into(), EMBEDDED_DATABASE).await?;
            (pg.config(EMBEDDED_DATABASE).into(), Some(pg))
        }
    };
    let mut client = connect(&cfg).await?;
    match config.action {
        Some(MigrateAction::Status) => print_status(&client).await,
        None => {
            let sets = crate::schema::migration_sets();
            let applied = migrate::apply_sets(&mut client, &sets).await?;
            for m in &applied {
                println!("applied  {}", m.label());
            }
            let total: usize = sets.iter().map(|s| s.migrations.len()).sum();
            println!(
                "database is up to date: {total} migrations applied ({} now)",
                applied.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn print_status(client: &tokio_postgres::Client) -> anyhow::Result<ExitCode> {
    let mut statuses = Vec::new();
    for set in crate::schema::migration_sets() {
        let of_set = migrate::status_of_set(client, &set).await?;
        statuses.extend(of_set.into_iter().map(|s| (set.name, s)));
    }
    let mut changed = false;
    println!(
        "{:<9} {:<8} {:<40} {:<9} applied at",
        "set", "version", "name", "state"
    );
    for (set, s) in &statuses {
        let (state, when) = match &s.state {
            MigrationState::Applied { applied_at } => (
                "applied",
                humantime::format_rfc3339_seconds(*applied_at).to_string(),
            ),
            MigrationState::Pending => ("pending", String::new()),
            MigrationState::Changed { .. } => {
                changed = true;
                (
                    "CHANGED",
                    "file differs from the applied migration".to_owned(),
                )
            }
            MigrationState::Unknown => ("unknown", "applied by a newer brokerdb".to_owned()),
        };
        println!(
            "{set:<9} {:<8} {:<40} {:<9} {when}",
            format!("{:04}", s.version),
            s.name,
            state
        );
    }
    let pending = statuses
        .iter()
        .filter(|(_, s)| s.state == MigrationState::Pending)
        .count();
    println!("{} applied, {pending} pending", statuses.len() - pending);
    Ok(if changed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

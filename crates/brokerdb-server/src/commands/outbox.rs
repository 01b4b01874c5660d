//! `brokerdb outbox …`: look at the template-invalidation outbox and send failed rows again.
//!
//! The relay (run by `serve` and `brokerdb worker`) delivers rows at least once and marks a row
//! `failed` after its last allowed attempt, keeping the error; these commands show such rows and
//! put them back in the relay's way. Everything runs as the system role.

use std::process::ExitCode;

use anyhow::{Context, bail};
use brokerdb::db::ErrorCode;
use brokerdb::outbox::{self, OutboxRow};
use clap::{Args, Subcommand};

use crate::cli::ConnectionArgs;
use crate::commands::table;
use crate::config::PostgresTarget;
use crate::services::open_system;

/// Options of `brokerdb outbox`.
#[derive(Debug, Clone, Args)]
pub struct OutboxCommandArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: OutboxAction,
}

/// Subcommands of `brokerdb outbox`.
#[derive(Debug, Clone, Subcommand)]
pub enum OutboxAction {
    /// List outbox rows, newest first: tenant, id, template, version, status, attempts, next
    /// attempt, created, delivered and last error. Without --status, the rows not yet delivered.
    List(OutboxListArgs),
    /// Send failed rows again (pending, fresh attempts, due at once): one by its id, or every
    /// failed row with --all-failed.
    Retry(OutboxRetryArgs),
}

/// Options of `brokerdb outbox list`.
#[derive(Debug, Clone, Args)]
pub struct OutboxListArgs {
    /// Only rows in this status (default: pending and failed).
    #[arg(long, value_parser = ["pending", "delivered", "failed"])]
    pub status: Option<String>,
    /// How many rows to show at most (1..=1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub limit: i64,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `brokerdb outbox retry`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "all_failed"])))]
pub struct OutboxRetryArgs {
    /// The failed row to send again (`brokerdb outbox list --status failed` shows the ids).
    pub id: Option<String>,
    /// Send every failed row again.
    #[arg(long, conflicts_with = "id")]
    pub all_failed: bool,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Runs an `outbox` subcommand.
pub async fn run(args: OutboxCommandArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        OutboxAction::List(args) => {
            let (_pg, db) = open_system(&PostgresTarget::from_args(&args.connection)?, 1).await?;
            let rows = outbox::list(&db, args.status.as_deref(), args.limit)
                .await
                .context("cannot list the outbox")?;
            print!("{}", table(&rows));
            eprintln!("{} row(s)", rows.len());
            Ok(ExitCode::SUCCESS)
        }
        OutboxAction::Retry(args) => {
            let (_pg, db) = open_system(&PostgresTarget::from_args(&args.connection)?, 1).await?;
            match outbox::retry_failed(&db, args.id.as_deref()).await {
                Ok(n) => {
                    println!("{n} failed row(s) queued for delivery again");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => match (e.code(), args.id) {
                    (ErrorCode::NotFound, Some(id)) => bail!("no outbox row has the id {id}"),
                    (ErrorCode::StateTransitionInvalid, Some(id)) => {
                        bail!("outbox row {id} is not failed: only failed rows can be retried")
                    }
                    _ => Err(anyhow::Error::new(e).context("cannot retry the outbox rows")),
                },
            }
        }
    }
}

/// The most characters of a last error the table shows.
const ERROR_WIDTH: usize = 60;

/// The rows as an aligned table with a header line.
fn table(rows: &[OutboxRow]) -> String {
    let mut cells = vec![
        [
            "TENANT",
            "ID",
            "TEMPLATE",
            "VERSION",
            "STATUS",
            "ATTEMPTS",
            "NEXT_ATTEMPT",
            "CREATED",
            "DELIVERED",
            "LAST_ERROR",
        ]
        .map(str::to_owned),
    ];
    for r in rows {
        let error = table::cut(r.last_error.as_deref(), ERROR_WIDTH);
        cells.push([
            r.tenant_id.to_string(),
            r.id.clone(),
            r.template_id.clone(),
            r.version.to_string(),
            r.status.clone(),
            r.attempts.to_string(),
            r.next_attempt_at.to_string(),
            r.created_at.to_string(),
            r.delivered_at
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
            error,
        ]);
    }
    table::render(&cells)
}

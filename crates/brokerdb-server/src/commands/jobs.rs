//! `brokerdb jobs …`: look at the background job queue and manage its dead letters.
//!
//! `list` prints a table on stdout (newest first); `retry` and `purge` print what they did.
//! Everything runs as the system role (the queue is global data).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use brokerdb::db::{Db, ErrorCode};
use brokerdb::jobs::{self, BATCH_LIMIT, Job, JobFilter, JobId, JobStatus, PurgeFilter};
use brokerdb::model::Timestamp;
use clap::{Args, Subcommand};

use crate::cli::ConnectionArgs;
use crate::commands::table;
use crate::config::PostgresTarget;
use crate::services::open_system;

/// Options of `brokerdb jobs`.
#[derive(Debug, Clone, Args)]
pub struct JobsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: JobsAction,
}

/// Subcommands of `brokerdb jobs`.
#[derive(Debug, Clone, Subcommand)]
pub enum JobsAction {
    /// List jobs, newest first: id, queue, kind, status, attempts, when due, when finished,
    /// tenant and last error.
    List(JobsListArgs),
    /// Queue dead jobs again with a fresh set of attempts: one by its id, or every dead job of a
    /// queue with --all-dead --queue Q.
    Retry(JobsRetryArgs),
    /// Delete finished jobs (succeeded by default, or dead) that finished at least --older-than
    /// ago.
    Purge(JobsPurgeArgs),
}

/// Options of `brokerdb jobs list`.
#[derive(Debug, Clone, Args)]
pub struct JobsListArgs {
    /// Only this queue's jobs.
    #[arg(long, value_parser = queue_name)]
    pub queue: Option<String>,
    /// Only jobs in this status.
    #[arg(long, value_parser = ["queued", "running", "succeeded", "dead"])]
    pub status: Option<String>,
    /// How many jobs to show at most (1..=1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub limit: i64,
    /// Only jobs older than this id (the next page after a listing's last id).
    #[arg(long)]
    pub before: Option<JobId>,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `brokerdb jobs retry`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["job_id", "all_dead"])))]
pub struct JobsRetryArgs {
    /// The dead job to queue again (`brokerdb jobs list --status dead` shows the ids).
    pub job_id: Option<JobId>,
    /// Queue again every dead job of --queue (at most 10000 per call; of dead jobs sharing a
    /// dedupe key only the newest).
    #[arg(long, requires = "queue", conflicts_with = "job_id")]
    pub all_dead: bool,
    /// The queue whose dead jobs --all-dead retries.
    #[arg(long, value_parser = queue_name, requires = "all_dead")]
    pub queue: Option<String>,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `brokerdb jobs purge`.
#[derive(Debug, Clone, Args)]
pub struct JobsPurgeArgs {
    /// Only jobs that finished at least this long ago, e.g. `7d`, `12h` (`0s`: every one).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub older_than: Duration,
    /// Which finished jobs: `succeeded`, `dead` or `finished` (both).
    #[arg(long, default_value = "succeeded", value_parser = ["succeeded", "dead", "finished"])]
    pub status: String,
    /// Only this queue's jobs.
    #[arg(long, value_parser = queue_name)]
    pub queue: Option<String>,
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// A queue name, checked as the library checks it.
fn queue_name(text: &str) -> Result<String, String> {
    jobs::check_name("queue", text)
        .map(|()| text.to_owned())
        .map_err(|e| e.message.into_owned())
}

/// Runs a `jobs` subcommand.
pub async fn run(args: JobsArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        JobsAction::List(args) => {
            let filter = JobFilter {
                queue: args.queue.clone(),
                status: args.status.as_deref().map(JobStatus::parse).transpose()?,
            };
            let (_pg, db) = open_system(&PostgresTarget::from_args(&args.connection)?, 1).await?;
            let listed = jobs::list(&mut db.system(), &filter, args.limit, args.before)
                .await
                .context("cannot list the jobs")?;
            print!("{}", table(&listed));
            eprintln!("{} job(s)", listed.len());
            Ok(ExitCode::SUCCESS)
        }
        JobsAction::Retry(args) => {
            let (_pg, db) = open_system(&PostgresTarget::from_args(&args.connection)?, 1).await?;
            match (args.job_id, args.queue) {
                (Some(id), _) => retry_one(&db, id).await,
                (None, Some(queue)) => {
                    let n = jobs::retry_dead(&mut db.system(), &queue, BATCH_LIMIT)
                        .await
                        .context("cannot retry the dead jobs")?;
                    println!("queued {n} dead job(s) of queue {queue} again");
                    if n >= BATCH_LIMIT as u64 {
                        eprintln!("more dead jobs may remain: run the command again");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                // clap requires a job id or --all-dead, and --all-dead requires --queue.
                (None, None) => bail!("give a job id, or --all-dead --queue Q"),
            }
        }
        JobsAction::Purge(args) => {
            let statuses = match args.status.as_str() {
                "finished" => vec![JobStatus::Succeeded, JobStatus::Dead],
                other => vec![JobStatus::parse(other)?],
            };
            let filter = PurgeFilter {
                statuses,
                older_than: args.older_than,
                queue: args.queue.clone(),
            };
            let (_pg, db) = open_system(&PostgresTarget::from_args(&args.connection)?, 1).await?;
            let mut total = 0u64;
            loop {
                let n = jobs::purge(&mut db.system(), &filter, BATCH_LIMIT)
                    .await
                    .context("cannot purge the jobs")?;
                total += n;
                if n < BATCH_LIMIT as u64 {
                    break;
                }
            }
            println!(
                "purged {total} {} job(s) finished more than {} ago",
                args.status,
                humantime::format_duration(args.older_than)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn retry_one(db: &Db, id: JobId) -> anyhow::Result<ExitCode> {
    match jobs::retry(&mut db.system(), id).await {
        Ok(job) => {
            println!(
                "job {} of queue {} queued again ({} attempts)",
                job.id, job.queue, job.max_attempts
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => match e.code() {
            ErrorCode::NotFound => bail!("no job has the id {id}"),
            ErrorCode::StateTransitionInvalid => {
                let status = jobs::get(&mut db.system(), id)
                    .await?
                    .map_or_else(|| "gone".to_owned(), |j| j.status.to_string());
                bail!("job {id} is {status}, not dead: only dead jobs can be retried")
            }
            ErrorCode::UniqueViolation => bail!(
                "job {id} cannot be queued again: an unfinished job of its queue has the same dedupe key"
            ),
            _ => Err(anyhow::Error::new(e).context("cannot retry the job")),
        },
    }
}

/// The most characters of a last error the table shows.
const ERROR_WIDTH: usize = 60;

/// The jobs as an aligned table with a header line.
fn table(jobs: &[Job]) -> String {
    let show = |t: Option<Timestamp>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
    let mut rows = vec![[
        "ID".to_owned(),
        "QUEUE".to_owned(),
        "KIND".to_owned(),
        "STATUS".to_owned(),
        "ATTEMPTS".to_owned(),
        "RUN_AT".to_owned(),
        "FINISHED".to_owned(),
        "TENANT".to_owned(),
        "LAST_ERROR".to_owned(),
    ]];
    for j in jobs {
        let error = table::cut(j.last_error.as_deref(), ERROR_WIDTH);
        rows.push([
            j.id.to_string(),
            j.queue.clone(),
            j.kind.clone(),
            j.status.to_string(),
            format!("{}/{}", j.attempts, j.max_attempts),
            j.run_at.to_string(),
            show(j.finished_at),
            j.tenant_id
                .as_ref()
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
            error,
        ]);
    }
    table::render(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_its_columns_and_cuts_long_errors() -> anyhow::Result<()> {
        let at = Timestamp::parse("2026-01-02T03:04:05.678Z")?;
        let job = |id: JobId, queue: &str, error: Option<String>| Job {
            id,
            queue: queue.to_owned(),
            kind: "k".to_owned(),
            payload: serde_json::json!({}),
            tenant_id: None,
            dedupe_key: None,
            status: JobStatus::Dead,
            attempts: 3,
            max_attempts: 3,
            run_at: at,
            locked_until: None,
            last_error: error,
            created_at: at,
            updated_at: at,
            finished_at: Some(at),
        };
        let text = table(&[
            job(12, "sweep_sessions", Some("x".repeat(100))),
            job(3, "q", None),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("ID  QUEUE           KIND  STATUS"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("12  sweep_sessions  k     dead    3/3"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("3   q               k     dead"),
            "{text}"
        );
        assert!(
            lines[1].ends_with(&format!("{}…", "x".repeat(59))),
            "{text}"
        );
        assert!(lines[2].ends_with("  -"), "{text}");
        Ok(())
    }
}

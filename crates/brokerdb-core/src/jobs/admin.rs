//! Looking at jobs and managing dead letters: [`get`], [`list`], [`retry`], [`retry_dead`],
//! [`purge`], [`depth`]. System scope: the queue is global data.

use std::time::Duration;

use super::REPO;
use super::model::{Job, JobId, JobStatus, check_name, from_row};
use crate::db::{DbError, SystemExec};
use crate::scalar::ValidationError;

const BY_ID: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE job_id = $1");
const LIST: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM jobs
     WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR status = $2)
       AND ($3::int8 IS NULL OR job_id < $3)
     ORDER BY job_id DESC LIMIT $4"
);
const RETRY: &str = concat!(
    "UPDATE jobs SET status = 'queued', attempts = 0, run_at = date_trunc('milliseconds', now()),
         finished_at = NULL
     WHERE job_id = $1 AND status = 'dead'
     RETURNING ",
    job_columns!()
);
/// Dead jobs of queue `$1`, oldest first, at most `$2`. Of dead jobs sharing a dedupe key only the
/// newest is retried, and none whose key an unfinished job holds (the unique index would refuse
/// the whole statement).
const RETRY_DEAD: &str = "UPDATE jobs SET status = 'queued', attempts = 0,
         run_at = date_trunc('milliseconds', now()), finished_at = NULL
     WHERE job_id IN (
         SELECT d.job_id FROM jobs d
         WHERE d.queue = $1 AND d.status = 'dead'
           AND NOT EXISTS (SELECT 1 FROM jobs o
                           WHERE o.queue = d.queue AND o.dedupe_key = d.dedupe_key
                             AND (o.status IN ('queued', 'running')
                                  OR (o.status = 'dead' AND o.job_id > d.job_id)))
         ORDER BY d.job_id LIMIT $2
         FOR UPDATE SKIP LOCKED)";
/// Finished jobs of the statuses `$1`, finished at least `$2` ms ago, of queue `$3` (or any),
/// oldest first, at most `$4`.
const PURGE: &str = "DELETE FROM jobs WHERE job_id IN (
         SELECT job_id FROM jobs
         WHERE status = ANY($1::text[]) AND status IN ('succeeded', 'dead')
           AND finished_at <= now() - $2::int8 * interval '1 millisecond'
           AND ($3::text IS NULL OR queue = $3)
         ORDER BY finished_at LIMIT $4
         FOR UPDATE SKIP LOCKED)";
/// One branch per status, each read from that status's partial index (the succeeded jobs, most
/// of the table, are never scanned).
const DEPTH: &str =
    "SELECT queue, 'queued', count(*) FROM jobs WHERE status = 'queued' GROUP BY queue
     UNION ALL
     SELECT queue, 'running', count(*) FROM jobs WHERE status = 'running' GROUP BY queue
     UNION ALL
     SELECT queue, 'dead', count(*) FROM jobs WHERE status = 'dead' GROUP BY queue
     ORDER BY 1, 2";

/// The most jobs one [`list`] returns.
pub const LIST_LIMIT: i64 = 1000;
/// The most jobs one [`retry_dead`] or [`purge`] call changes.
pub const BATCH_LIMIT: i64 = 10_000;

/// Which jobs [`list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only this queue's.
    pub queue: Option<String>,
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
}

/// Which finished jobs [`purge`] deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeFilter {
    /// `succeeded`, `dead` or both; queued and running jobs are never purged.
    pub statuses: Vec<JobStatus>,
    /// Only jobs finished at least this long ago (database clock); zero: every one.
    pub older_than: Duration,
    /// Only this queue's (default: every queue).
    pub queue: Option<String>,
}

/// One row of [`depth`]: how many jobs of a queue are in a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthRow {
    /// The queue.
    pub queue: String,
    /// `queued`, `running` or `dead`.
    pub status: JobStatus,
    /// How many.
    pub jobs: i64,
}

fn check_limit(limit: i64, most: i64) -> Result<(), ValidationError> {
    if (1..=most).contains(&limit) {
        Ok(())
    } else if most == LIST_LIMIT {
        Err(ValidationError::new(
            "limit",
            "must be an integer from 1 to 1000",
        ))
    } else {
        Err(ValidationError::new(
            "limit",
            "must be an integer from 1 to 10000",
        ))
    }
}

/// The job, or `None`.
pub async fn get(exec: &mut impl SystemExec, id: JobId) -> Result<Option<Job>, DbError> {
    exec.op(REPO, "get")
        .query_opt(BY_ID, &[&id], from_row)
        .await
}

/// Jobs newest first (by id), filtered, at most `limit` (1..=1000); `before` continues a listing
/// after the last id of the previous page.
pub async fn list(
    exec: &mut impl SystemExec,
    filter: &JobFilter,
    limit: i64,
    before: Option<JobId>,
) -> Result<Vec<Job>, DbError> {
    check_limit(limit, LIST_LIMIT)?;
    if let Some(queue) = &filter.queue {
        check_name("queue", queue)?;
    }
    let status = filter.status.map(JobStatus::as_str);
    exec.op(REPO, "list")
        .query_all(LIST, &[&filter.queue, &status, &before, &limit], from_row)
        .await
}

/// Queues a dead job again with a fresh set of attempts (its `last_error` is kept until the next
/// failure). Unknown id → `not_found`; a job that is not dead → `state_transition_invalid`; a dead
/// job whose dedupe key an unfinished job of its queue holds → `unique_violation` on
/// `dedupe_key`.
pub async fn retry(exec: &mut impl SystemExec, id: JobId) -> Result<Job, DbError> {
    if let Some(job) = exec
        .op(REPO, "retry")
        .query_opt(RETRY, &[&id], from_row)
        .await?
    {
        return Ok(job);
    }
    match get(exec, id).await? {
        None => Err(DbError::not_found("job")),
        Some(job) => Err(DbError::StateTransitionInvalid {
            message: format!("only a dead job can be retried; this one is {}", job.status).into(),
        }),
    }
}

/// Queues up to `limit` (1..=10 000) dead jobs of `queue` again, oldest first, each with a fresh
/// set of attempts; returns how many. Of dead jobs sharing a dedupe key only the newest is
/// retried, and none whose key an unfinished job of the queue holds.
pub async fn retry_dead(
    exec: &mut impl SystemExec,
    queue: &str,
    limit: i64,
) -> Result<u64, DbError> {
    check_name("queue", queue)?;
    check_limit(limit, BATCH_LIMIT)?;
    exec.op(REPO, "retry_dead")
        .execute(RETRY_DEAD, &[&queue, &limit])
        .await
}

/// Deletes up to `limit` (1..=10 000) finished jobs that `filter` selects, oldest first; returns
/// how many (call again until it returns less than `limit`). A status that is not finished →
/// `validation_error` on `status`.
pub async fn purge(
    exec: &mut impl SystemExec,
    filter: &PurgeFilter,
    limit: i64,
) -> Result<u64, DbError> {
    check_limit(limit, BATCH_LIMIT)?;
    if filter.statuses.is_empty() || filter.statuses.iter().any(|s| !s.is_finished()) {
        return Err(
            ValidationError::new("status", "only succeeded and dead jobs can be purged").into(),
        );
    }
    if let Some(queue) = &filter.queue {
        check_name("queue", queue)?;
    }
    let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    let older = i64::try_from(filter.older_than.as_millis()).unwrap_or(i64::MAX);
    exec.op(REPO, "purge")
        .execute(PURGE, &[&statuses, &older, &filter.queue, &limit])
        .await
}

/// How many jobs each queue has queued, running and dead (statuses without a job are absent).
pub async fn depth(exec: &mut impl SystemExec) -> Result<Vec<DepthRow>, DbError> {
    exec.op(REPO, "depth")
        .query_all(DEPTH, &[], |r| {
            let status: String = r.try_get(1)?;
            Ok(DepthRow {
                queue: r.try_get(0)?,
                status: JobStatus::parse(&status).map_err(|_| DbError::Unexpected {
                    message: "stored job violates its contract".into(),
                })?,
                jobs: r.try_get(2)?,
            })
        })
        .await
}

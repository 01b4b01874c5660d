//! Claiming jobs and settling them: [`claim`], [`heartbeat`], [`complete`], [`fail`]. Each is one
//! statement; the three that settle need the claim's [`Lease`].

use std::time::Duration;

use super::REPO;
use super::model::{Job, JobError, JobStatus, Lease, check_name, from_row};
use crate::db::{DbError, SystemExec};
use crate::scalar::{Timestamp, ValidationError};

/// Claims up to `$2` jobs of queue `$1` for `$3` ms under token `$4`: running jobs whose lease
/// has passed first, then due queued jobs, each set locked with `SKIP LOCKED` so concurrent
/// claimers take disjoint jobs. An expired job with no attempt left is dead-lettered instead of
/// run again.
const CLAIM: &str = concat!(
    "WITH expired AS (
         SELECT job_id FROM jobs
         WHERE queue = $1 AND status = 'running' AND locked_until <= now()
         ORDER BY locked_until, job_id LIMIT $2
         FOR UPDATE SKIP LOCKED),
     due AS (
         SELECT job_id FROM jobs
         WHERE queue = $1 AND status = 'queued' AND run_at <= now()
         ORDER BY run_at, job_id LIMIT $2
         FOR UPDATE SKIP LOCKED),
     picked AS (
         SELECT job_id AS picked_id FROM expired
         UNION ALL
         SELECT job_id FROM due
         LIMIT $2)
     UPDATE jobs SET
         status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'running' END,
         attempts = CASE WHEN attempts >= max_attempts THEN attempts ELSE attempts + 1 END,
         locked_until = CASE WHEN attempts >= max_attempts THEN NULL
                        ELSE date_trunc('milliseconds', now() + $3::int8 * interval '1 millisecond') END,
         lock_token = CASE WHEN attempts >= max_attempts THEN NULL ELSE $4 END,
         finished_at = CASE WHEN attempts >= max_attempts THEN date_trunc('milliseconds', now()) END,
         last_error = CASE WHEN status = 'running'
                      THEN 'the lease of attempt ' || attempts || ' expired before its run was settled'
                      ELSE last_error END
     FROM picked WHERE job_id = picked.picked_id
     RETURNING ",
    job_columns!()
);
const HEARTBEAT: &str = "UPDATE jobs
     SET locked_until = date_trunc('milliseconds', now() + $3::int8 * interval '1 millisecond')
     WHERE job_id = $1 AND lock_token = $2 AND status = 'running'
     RETURNING locked_until";
const COMPLETE: &str = "UPDATE jobs
     SET status = 'succeeded', finished_at = date_trunc('milliseconds', now()),
         locked_until = NULL, lock_token = NULL
     WHERE job_id = $1 AND lock_token = $2 AND status = 'running'";
/// `$4`: permanent; `$5`: the backoff in ms.
const FAIL: &str = "UPDATE jobs SET
         status = CASE WHEN $4 OR attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
         run_at = CASE WHEN $4 OR attempts >= max_attempts THEN run_at
                  ELSE date_trunc('milliseconds', now() + $5::int8 * interval '1 millisecond') END,
         finished_at = CASE WHEN $4 OR attempts >= max_attempts
                       THEN date_trunc('milliseconds', now()) END,
         last_error = $3, locked_until = NULL, lock_token = NULL
     WHERE job_id = $1 AND lock_token = $2 AND status = 'running'
     RETURNING status, run_at";

/// The most jobs one [`claim`] takes.
pub const MAX_CLAIM: i64 = 1000;

/// A claimed job and the lease to settle it with.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The job, as the claim left it (`running`, `attempts` counting this run).
    pub job: Job,
    /// The right to settle this run.
    pub lease: Lease,
}

/// How long a failed job waits before its next attempt: `base` doubled per attempt already made,
/// capped at `max`, then "equal jitter" (a random point in the upper half), so retries of many
/// jobs that failed together spread out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first attempt (before jitter).
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 10 s doubling to 1 h.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(10),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The wait before the attempt after `attempt` (1 for the first): between half and all of
    /// `min(base × 2^(attempt-1), max)`.
    pub fn delay(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let full = self
            .base
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max);
        let half = full / 2;
        let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rand::random_range(0..=nanos))
    }
}

/// What [`fail`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Queued again, due at `run_at`.
    Retried {
        /// When the next attempt is due.
        run_at: Timestamp,
    },
    /// Dead-lettered: no attempt left, or the error was permanent.
    Dead,
}

fn millis(field: &'static str, d: Duration) -> Result<i64, ValidationError> {
    match i64::try_from(d.as_millis()) {
        Ok(ms) if ms > 0 => Ok(ms),
        _ => Err(ValidationError::new(field, "must be at least 1 ms")),
    }
}

fn lease_lost() -> DbError {
    DbError::Conflict {
        message: "the job's lease is no longer held (it expired and the job was claimed again, \
                  or the run was settled)"
            .into(),
    }
}

/// Claims up to `limit` (1..=1000) jobs of `queue` for `visibility` (at least 1 ms): each
/// becomes `running`, counts an attempt and gets a lease ending `visibility` from now (database
/// clock) and a token new to this claim. Due queued jobs are taken oldest `run_at` first, after
/// running jobs whose lease has passed (their worker is presumed dead). Concurrent claimers get
/// disjoint jobs. A job whose lease passed with no attempt left becomes `dead` instead
/// (counted in `brokerdb_jobs_total{outcome="dead"}`) and is not returned. System scope.
pub async fn claim(
    exec: &mut impl SystemExec,
    queue: &str,
    limit: i64,
    visibility: Duration,
) -> Result<Vec<ClaimedJob>, DbError> {
    check_name("queue", queue)?;
    if !(1..=MAX_CLAIM).contains(&limit) {
        return Err(ValidationError::new("limit", "must be an integer from 1 to 1000").into());
    }
    let ms = millis("visibility_timeout", visibility)?;
    let token = hex::encode(rand::random::<[u8; 16]>());
    let jobs = exec
        .op(REPO, "claim")
        .query_all(CLAIM, &[&queue, &limit, &ms, &token], from_row)
        .await?;
    let mut claimed = Vec::with_capacity(jobs.len());
    for job in jobs {
        if job.status == JobStatus::Dead {
            metrics::counter!("brokerdb_jobs_total", "queue" => job.queue.clone(), "outcome" => "dead")
                .increment(1);
            tracing::warn!(
                job_id = job.id,
                queue = %job.queue,
                attempts = job.attempts,
                "job dead-lettered: its last attempt's lease expired"
            );
            continue;
        }
        let lease = Lease {
            job_id: job.id,
            token: token.clone(),
            attempt: job.attempts,
        };
        claimed.push(ClaimedJob { job, lease });
    }
    Ok(claimed)
}

/// Extends a running job's lease to `extend` from now (database clock): what a long run calls
/// well before its lease ends. A lease no longer held (the job was claimed again, or settled) is
/// `conflict`: stop the run, its result would be refused. Returns the new end of the lease.
pub async fn heartbeat(
    exec: &mut impl SystemExec,
    lease: &Lease,
    extend: Duration,
) -> Result<Timestamp, DbError> {
    let ms = millis("visibility_timeout", extend)?;
    exec.op(REPO, "heartbeat")
        .query_opt(HEARTBEAT, &[&lease.job_id, &lease.token, &ms], |r| {
            Ok(r.try_get::<_, Timestamp>(0)?)
        })
        .await?
        .ok_or_else(lease_lost)
}

/// Marks the leased run `succeeded`. A lease no longer held is `conflict` and changes nothing:
/// another worker holds the job now (or it was settled), and its result counts instead.
pub async fn complete(exec: &mut impl SystemExec, lease: &Lease) -> Result<(), DbError> {
    match exec
        .op(REPO, "complete")
        .execute(COMPLETE, &[&lease.job_id, &lease.token])
        .await?
    {
        0 => Err(lease_lost()),
        _ => Ok(()),
    }
}

/// Records a failed run with its error (kept as `last_error`, cut to
/// [`super::MAX_ERROR_CHARS`] characters). With attempts left and a non-permanent error the job
/// is queued again after `backoff.delay(attempt)`; otherwise it is `dead`. A lease no longer held
/// is `conflict` and changes nothing.
pub async fn fail(
    exec: &mut impl SystemExec,
    lease: &Lease,
    error: &JobError,
    backoff: &Backoff,
) -> Result<FailOutcome, DbError> {
    let message = error.stored();
    let permanent = error.is_permanent();
    let delay = i64::try_from(backoff.delay(lease.attempt).as_millis()).unwrap_or(i64::MAX);
    let (status, run_at) = exec
        .op(REPO, "fail")
        .query_opt(
            FAIL,
            &[&lease.job_id, &lease.token, &message, &permanent, &delay],
            |r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, Timestamp>(1)?)),
        )
        .await?
        .ok_or_else(lease_lost)?;
    Ok(match status.as_str() {
        "queued" => FailOutcome::Retried { run_at },
        _ => FailOutcome::Dead,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_max() {
        let b = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let first = b.delay(1);
            assert!(first >= Duration::from_secs(5) && first <= Duration::from_secs(10));
            let third = b.delay(3);
            assert!(third >= Duration::from_secs(20) && third <= Duration::from_secs(40));
            let late = b.delay(30);
            assert!(late >= Duration::from_secs(30) && late <= Duration::from_secs(60));
        }
        assert_eq!(
            Backoff {
                base: Duration::ZERO,
                max: Duration::ZERO
            }
            .delay(4),
            Duration::ZERO
        );
    }
}

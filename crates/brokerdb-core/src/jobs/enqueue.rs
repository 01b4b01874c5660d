//! [`enqueue`]: one statement, alone or in the caller's transaction.

use std::time::Duration;

use super::REPO;
use super::model::{Dedupe, Job, NewJob, RunAt, from_row_at};
use crate::db::{DbError, SystemExec};
use crate::scalar::Timestamp;

/// A job without a dedupe key (`$7` an instant or NULL, `$8` the delay in ms from now).
const INSERT: &str = concat!(
    "INSERT INTO jobs (queue, kind, payload, tenant_id, max_attempts, run_at)
     VALUES ($1, $2, $3, $4, $5, COALESCE($6, date_trunc('milliseconds', now() + $7::int8 * interval '1 millisecond')))
     RETURNING true, ",
    job_columns!()
);
/// A job with a dedupe key (`$5`), unless a job of the queue with that key exists: unfinished,
/// or any when `$9` (kept). The partial unique index decides between concurrent inserters; the
/// loser inserts nothing and reads the winner with [`EXISTING`].
const INSERT_DEDUPED: &str = concat!(
    "WITH existing AS (
         SELECT ",
    job_columns!(),
    " FROM jobs
         WHERE queue = $1 AND dedupe_key = $5 AND ($9 OR status IN ('queued', 'running'))
         ORDER BY job_id DESC LIMIT 1),
     inserted AS (
         INSERT INTO jobs (queue, kind, payload, tenant_id, dedupe_key, max_attempts, run_at)
         SELECT $1, $2, $3, $4, $5, $6,
                COALESCE($7, date_trunc('milliseconds', now() + $8::int8 * interval '1 millisecond'))
         WHERE NOT EXISTS (SELECT 1 FROM existing)
         ON CONFLICT DO NOTHING
         RETURNING ",
    job_columns!(),
    ")
     SELECT true, * FROM inserted UNION ALL SELECT false, * FROM existing"
);
const EXISTING: &str = concat!(
    "SELECT false, ",
    job_columns!(),
    " FROM jobs WHERE queue = $1 AND dedupe_key = $2 AND ($3 OR status IN ('queued', 'running'))
     ORDER BY job_id DESC LIMIT 1"
);

/// What [`enqueue`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The new job, or the existing one its dedupe key matched.
    pub job: Job,
    /// False when an existing job was returned instead of a new one.
    pub created: bool,
}

fn created_and_job(row: &tokio_postgres::Row) -> Result<(bool, Job), DbError> {
    // The job's columns follow the flag.
    Ok((row.try_get(0)?, from_row_at(row, 1)?))
}

fn delay_ms(delay: Duration) -> i64 {
    i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)
}

/// Stores a job (system scope: the queue is global data). Runs as one statement, on its own or
/// inside the caller's [`SystemTx`](crate::db::SystemTx): enqueue a follow-up in the
/// transaction of the change it follows, so both commit or neither does.
///
/// With a dedupe key, a job of the same queue with that key ([`Dedupe::Unfinished`]: queued or
/// running; [`Dedupe::Kept`]: any stored one) is returned instead (`created: false`), also when
/// concurrent callers race: exactly one of them creates the job.
///
/// Every rule of [`NewJob`] is checked before any I/O (`validation_error` on the field); an
/// unknown tenant is `integrity_violation` on `tenant_id`.
pub async fn enqueue(exec: &mut impl SystemExec, job: &NewJob) -> Result<Enqueued, DbError> {
    job.validate()?;
    let (at, delay): (Option<Timestamp>, i64) = match job.run_at {
        RunAt::Now => (None, 0),
        RunAt::After(d) => (None, delay_ms(d)),
        RunAt::At(t) => (Some(t), 0),
    };
    let Some(dedupe) = &job.dedupe else {
        let (_, job) = exec
            .op(REPO, "enqueue")
            .query_one(
                INSERT,
                &[
                    &job.queue,
                    &job.kind,
                    &job.payload,
                    &job.tenant_id,
                    &job.max_attempts,
                    &at,
                    &delay,
                ],
                created_and_job,
            )
            .await?;
        return Ok(Enqueued { job, created: true });
    };
    let kept = matches!(dedupe, Dedupe::Kept(_));
    let key = dedupe.key();
    let found = exec
        .op(REPO, "enqueue")
        .query_opt(
            INSERT_DEDUPED,
            &[
                &job.queue,
                &job.kind,
                &job.payload,
                &job.tenant_id,
                &key,
                &job.max_attempts,
                &at,
                &delay,
                &kept,
            ],
            created_and_job,
        )
        .await?;
    let found = match found {
        Some(found) => Some(found),
        // A concurrent caller inserted the key after this statement's snapshot: read its job.
        None => {
            exec.op(REPO, "enqueue_existing")
                .query_opt(EXISTING, &[&job.queue, &key, &kept], created_and_job)
                .await?
        }
    };
    match found {
        Some((created, job)) => Ok(Enqueued { job, created }),
        None => Err(DbError::Conflict {
            message: "a concurrent job with the same dedupe key finished before it could be read"
                .into(),
        }),
    }
}

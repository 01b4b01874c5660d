//! The sweeps, run as jobs: each removes (or expires) a bounded batch of rows per run, so one run
//! is one short statement or transaction whatever the backlog.
//!
//! | queue (= schedule, kind) | what one run does | scope |
//! |---|---|---|
//! | `sweep_sessions` | deletes up to `batch` expired workload sessions ([`repo::sessions::delete_expired`]) | system |
//! | `sweep_enrollment_tokens` | deletes up to `batch` enrollment tokens that expired unused ([`repo::enrollment_tokens::delete_expired`]) | system |
//! | `expire_approvals` | moves up to `batch` pending approvals past `expires_at` to `expired`, one `approval_decided` audit event each, per tenant in one transaction ([`repo::approvals::expire_pending`]) | system to find, tenant to expire |
//! | `purge_jobs` | deletes up to `batch` `succeeded` jobs finished more than the retention ago ([`super::purge`]); dead jobs are kept | system |
//!
//! [`schedules`] runs each every [`SweepSettings::interval`]; a run that hit its bound enqueues a
//! follow-up run of its queue at once, so a backlog drains batch by batch without waiting for the
//! next slot. [`register`] adds the four handlers to a [`Worker`]; concurrent runs (in one
//! worker or several) handle disjoint rows.
//!
//! Every run logs one line (`sweep finished`, with its rows and whether more remain; info level
//! when it removed rows, debug otherwise) and counts its rows in `brokerdb_sweep_rows_total{sweep}`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::{
    DEFAULT_MAX_ATTEMPTS, Dedupe, Job, JobError, JobStatus, NewJob, PurgeFilter, Schedule, Worker,
    enqueue, purge,
};
use crate::db::{Db, DbError};
use crate::model::{ApprovalId, NonEmptyString, TenantId, Timestamp, ValidationError};
use crate::repo;

/// Queue (and schedule and kind) of the session sweep.
pub const SWEEP_SESSIONS: &str = "sweep_sessions";
/// Queue of the enrollment-token sweep.
pub const SWEEP_ENROLLMENT_TOKENS: &str = "sweep_enrollment_tokens";
/// Queue of the approval expiry.
pub const EXPIRE_APPROVALS: &str = "expire_approvals";
/// Queue of the purge of old succeeded jobs.
pub const PURGE_JOBS: &str = "purge_jobs";
/// Every sweep's queue.
pub const QUEUES: [&str; 4] = [
    SWEEP_SESSIONS,
    SWEEP_ENROLLMENT_TOKENS,
    EXPIRE_APPROVALS,
    PURGE_JOBS,
];
/// The largest batch.
pub const MAX_BATCH: i64 = 10_000;

/// How the sweeps run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSettings {
    /// How often each sweep is scheduled (default 60 s; at least 1 s).
    pub interval: Duration,
    /// Rows one run handles at most (1..=10 000; default 1 000).
    pub batch: i64,
    /// Succeeded jobs are purged once finished this long (default 7 days).
    pub job_retention: Duration,
    /// Runs of one sweep a worker runs at once (1..=1000; default 1). Concurrent runs handle
    /// disjoint rows.
    pub concurrency: usize,
}

impl Default for SweepSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            batch: 1_000,
            job_retention: Duration::from_secs(7 * 24 * 3600),
            concurrency: 1,
        }
    }
}

impl SweepSettings {
    fn check(&self) -> Result<(), ValidationError> {
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return Err(ValidationError::new(
                "batch",
                "must be an integer from 1 to 10000",
            ));
        }
        if self.interval < Duration::from_secs(1) {
            return Err(ValidationError::new("interval", "must be at least 1 s"));
        }
        Ok(())
    }
}

/// What one sweep run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// The sweep (its queue).
    pub sweep: &'static str,
    /// Rows deleted (or approvals expired).
    pub rows: u64,
    /// The run hit its bound: more rows may be due.
    pub more: bool,
}

fn report(sweep: &'static str, rows: u64, batch: i64) -> SweepReport {
    SweepReport {
        sweep,
        rows,
        more: rows >= u64::try_from(batch).unwrap_or(u64::MAX),
    }
}

fn check_batch(batch: i64) -> Result<(), ValidationError> {
    SweepSettings {
        batch,
        ..SweepSettings::default()
    }
    .check()
}

/// Deletes up to `batch` expired workload sessions (revoked or not).
pub async fn sweep_sessions(db: &Db, batch: i64) -> Result<SweepReport, DbError> {
    check_batch(batch)?;
    let rows = repo::sessions::delete_expired(&mut db.system(), Timestamp::now(), batch).await?;
    Ok(report(SWEEP_SESSIONS, rows, batch))
}

/// Deletes up to `batch` enrollment tokens that expired without being used.
pub async fn sweep_enrollment_tokens(db: &Db, batch: i64) -> Result<SweepReport, DbError> {
    check_batch(batch)?;
    let rows =
        repo::enrollment_tokens::delete_expired(&mut db.system(), Timestamp::now(), batch).await?;
    Ok(report(SWEEP_ENROLLMENT_TOKENS, rows, batch))
}

/// Expires up to `batch` pending approvals past their `expires_at`, each tenant's share in one
/// transaction with one `approval_decided` audit event per approval (actor `system`, correlation
/// id `correlation_id`). An approval decided between the lookup and the update is left alone.
pub async fn expire_approvals(
    db: &Db,
    batch: i64,
    correlation_id: &NonEmptyString,
) -> Result<SweepReport, DbError> {
    check_batch(batch)?;
    let now = Timestamp::now();
    let found = repo::approvals::find_expired_pending(&mut db.system(), now, batch).await?;
    let listed = found.len();
    let mut by_tenant: BTreeMap<TenantId, Vec<ApprovalId>> = BTreeMap::new();
    for (tenant, id) in found {
        by_tenant.entry(tenant).or_default().push(id);
    }
    let by = repo::approvals::ExpiredBy {
        actor: NonEmptyString::new("actor", "system")?,
        correlation_id: correlation_id.clone(),
    };
    let mut rows = 0u64;
    for (tenant, ids) in &by_tenant {
        let expired =
            repo::approvals::expire_pending(&mut db.tenant(tenant), ids, now, &by).await?;
        rows += expired.len() as u64;
    }
    Ok(SweepReport {
        sweep: EXPIRE_APPROVALS,
        rows,
        more: listed >= usize::try_from(batch).unwrap_or(usize::MAX),
    })
}

/// Deletes up to `batch` succeeded jobs finished at least `retention` ago.
pub async fn purge_jobs(db: &Db, retention: Duration, batch: i64) -> Result<SweepReport, DbError> {
    check_batch(batch)?;
    let filter = PurgeFilter {
        statuses: vec![JobStatus::Succeeded],
        older_than: retention,
        queue: None,
    };
    let rows = purge(&mut db.system(), &filter, batch).await?;
    Ok(report(PURGE_JOBS, rows, batch))
}

/// Logs and counts a run (at info level when it removed rows, debug otherwise: an idle sweep
/// every minute is not news).
fn observe(report: &SweepReport, batch: i64) {
    metrics::counter!("brokerdb_sweep_rows_total", "sweep" => report.sweep).increment(report.rows);
    let (sweep, rows, more) = (report.sweep, report.rows, report.more);
    if rows > 0 {
        tracing::info!(sweep, rows, batch, more, "sweep finished");
    } else {
        tracing::debug!(sweep, rows, batch, more, "sweep finished");
    }
}

/// Runs the sweep of `job.queue`, then, when it hit its bound, enqueues the next run at once
/// (dedupe key `<queue>:after:<job id>`, so a retried run does not enqueue two).
async fn run_sweep(job: Job, db: Db, settings: SweepSettings) -> Result<(), JobError> {
    let batch = settings.batch;
    let done = match job.queue.as_str() {
        SWEEP_SESSIONS => sweep_sessions(&db, batch).await?,
        SWEEP_ENROLLMENT_TOKENS => sweep_enrollment_tokens(&db, batch).await?,
        EXPIRE_APPROVALS => {
            let correlation = NonEmptyString::new("correlation_id", &format!("job-{}", job.id))
                .map_err(DbError::from)?;
            expire_approvals(&db, batch, &correlation).await?
        }
        PURGE_JOBS => purge_jobs(&db, settings.job_retention, batch).await?,
        _ => return Err(JobError::permanent("no sweep runs on this queue")),
    };
    observe(&done, batch);
    if done.more {
        let next = sweep_job(done.sweep).with_dedupe(Dedupe::Unfinished(format!(
            "{}:after:{}",
            done.sweep, job.id
        )));
        enqueue(&mut db.system(), &next).await?;
    }
    Ok(())
}

fn sweep_job(queue: &'static str) -> NewJob {
    NewJob::new(queue, queue, json!({})).with_max_attempts(DEFAULT_MAX_ATTEMPTS)
}

/// Registers the four sweeps' handlers on `worker`, each queue with `settings.concurrency`. Bad
/// settings (batch out of 1..=10 000, interval under 1 s, concurrency out of 1..=1000) or a sweep
/// queue registered already → `ValidationError`.
pub fn register(worker: &mut Worker, settings: &SweepSettings) -> Result<(), ValidationError> {
    settings.check()?;
    for queue in QUEUES {
        let settings = settings.clone();
        worker.register(queue, settings.concurrency, move |job: Job, db: Db| {
            run_sweep(job, db, settings.clone())
        })?;
    }
    Ok(())
}

/// The four sweeps' schedules, each every `settings.interval`.
pub fn schedules(settings: &SweepSettings) -> Vec<Schedule> {
    QUEUES
        .into_iter()
        .map(|queue| Schedule::new(queue, settings.interval, sweep_job(queue)))
        .collect()
}

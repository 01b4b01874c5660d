//! The background job queue (`brokerdb::jobs`) against real PostgreSQL: enqueue and dedupe,
//! claims, leases and settling (`queue`), dead letters and the admin functions (`admin`), the
//! worker runtime with real concurrent workers (`worker`), the scheduler (`schedule`) and the
//! sweeps (`sweeps`).
//!
//! Nothing here asserts a duration. Where a test needs time to pass (a lease to expire, a job to
//! become due) it either moves the row's instant into the past as the superuser, or waits for the
//! outcome with [`eventually`], which only bounds the wait so a broken build fails instead of
//! hanging.

mod admin;
mod queue;
mod schedule;
mod sweeps;
mod worker;

use std::future::Future;
use std::time::Duration;

use brokerdb::db::{CursorKey, Db, DbSettings, pool};
use brokerdb::jobs::{Backoff, Job, JobId, WorkerSettings};
use brokerdb_testkit::TestDatabase;

use crate::support::Error;

/// A `Db` on `db` with pools of `size` connections each: a process of its own for the
/// concurrency tests.
pub async fn db_with_pools(db: &TestDatabase, size: usize) -> Result<Db, Error> {
    let runtime = pool::build(&db.runtime_config(), size)?;
    let system = pool::build(&db.system_config(), size)?;
    Ok(Db::from_pools(runtime, system, DbSettings::default(), CursorKey::random()).await?)
}

/// Worker settings for tests: quick polls and retries, leases as long as production's.
pub fn quick_settings() -> WorkerSettings {
    WorkerSettings {
        poll_interval: Duration::from_millis(20),
        backoff: Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(5),
        },
        depth_interval: Duration::from_millis(100),
        ..WorkerSettings::default()
    }
}

/// Polls `check` every 20 ms until it returns `Some`, for at most a minute (then fails with
/// `what`). The bound only turns a hang into a failure; no test relies on its length.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, Error>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = check().await? {
            return Ok(found);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("gave up waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The job `id` as stored.
pub async fn job(db: &Db, id: JobId) -> Result<Job, Error> {
    Ok(brokerdb::jobs::get(&mut db.system(), id)
        .await?
        .ok_or("job missing")?)
}

/// Jobs of `queue` in `status`, counted as the superuser.
pub async fn count(db: &TestDatabase, queue: &str, status: &str) -> Result<i64, Error> {
    Ok(db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM jobs WHERE queue = $1 AND status = $2",
            &[&queue, &status],
        )
        .await?
        .get(0))
}

/// Makes every queued job of `queue` due now and every lease of it expired, as time passing
/// would (as the superuser).
pub async fn let_time_pass(db: &TestDatabase, queue: &str) -> Result<(), Error> {
    make_due(db, queue).await?;
    db.admin()
        .await
        .execute(
            "UPDATE jobs SET locked_until = now() - interval '1 second' WHERE queue = $1 AND status = 'running'",
            &[&queue],
        )
        .await?;
    Ok(())
}

/// Makes every queued job of `queue` due now (leases untouched), as the superuser.
pub async fn make_due(db: &TestDatabase, queue: &str) -> Result<(), Error> {
    db.admin()
        .await
        .execute(
            "UPDATE jobs SET run_at = now() - interval '1 second' WHERE queue = $1 AND status = 'queued'",
            &[&queue],
        )
        .await?;
    Ok(())
}

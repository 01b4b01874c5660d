//! The periodic sweep that enqueues the artifact scans a stopped process missed: the intake
//! stores a push event, then enqueues its scan in a second transaction; a process that stops in
//! between leaves a `received` push event without a job. Every run calls
//! [`enqueue_missing_scans`](crate::intake::enqueue_missing_scans) for events older than
//! [`GRACE`] (younger ones may still get their job from the intake itself); the scan's dedupe
//! key makes a repeat harmless.
//!
//! The binary's worker registers the handler ([`register`]) and the scheduler runs
//! [`schedule`] at the sweep interval, beside the broker's sweeps.

use std::time::Duration;

use brokerdb_core::db::Db;
use brokerdb_core::jobs::{DEFAULT_MAX_ATTEMPTS, Job, JobError, NewJob, Schedule, Worker};
use brokerdb_core::scalar::ValidationError;
use serde_json::json;

use crate::intake;

/// The sweep's queue (and job kind).
pub const QUEUE: &str = "projects-missing-scans";

/// How old a `received` push event must be before the sweep enqueues its scan.
pub const GRACE: Duration = Duration::from_secs(60);

/// Registers the sweep's handler on `worker`.
pub fn register(worker: &mut Worker, concurrency: usize) -> Result<(), ValidationError> {
    worker.register(QUEUE, concurrency, |_job: Job, db: Db| run(db))?;
    Ok(())
}

/// The sweep's schedule: one run every `every`.
pub fn schedule(every: Duration) -> Schedule {
    Schedule::new(
        QUEUE,
        every,
        NewJob::new(QUEUE, QUEUE, json!({})).with_max_attempts(DEFAULT_MAX_ATTEMPTS),
    )
}

async fn run(db: Db) -> Result<(), JobError> {
    let created = intake::enqueue_missing_scans(&db, GRACE).await?;
    if created > 0 {
        tracing::info!(created, "enqueued artifact scans a stopped intake missed");
    }
    Ok(())
}

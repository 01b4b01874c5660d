//! Periodic jobs: every `every`, one job of a [`Schedule`], however many instances run the
//! scheduler.
//!
//! Time is cut into slots of `every` since the Unix epoch; slot `n` of schedule `s` is the job
//! with dedupe key `s:n`, enqueued with [`Dedupe::Kept`], so every instance that reaches the slot
//! gets the same job back and the run happens once (until the job is purged). A schedule never
//! piles up: while a run of it (a job of its queue whose key starts with `s:`) is queued or
//! running, a new slot is skipped. So a stopped worker finds one pending run of each schedule,
//! not one per slot missed.
//!
//! Slots follow each instance's own clock; instances whose clocks disagree at a slot's boundary
//! still agree on the slot's number, so the dedupe key holds.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;

use super::REPO;
use super::enqueue::enqueue;
use super::model::{Dedupe, Job, NewJob, RunAt, check_name, from_row};
use crate::db::{Db, DbError, SystemExec};
use crate::scalar::{Timestamp, ValidationError};

/// The oldest unfinished job of queue `$1` whose dedupe key starts with `$2` (a pending run).
const PENDING_RUN: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM jobs WHERE queue = $1 AND status IN ('queued', 'running')
       AND dedupe_key IS NOT NULL AND left(dedupe_key, length($2)) = $2
     ORDER BY job_id LIMIT 1"
);

/// A periodic job: `job` (its queue, kind, payload, tenant, attempts) every `every`.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The schedule's name (queue-name rule): the dedupe keys of its runs are `<name>:<slot>`.
    pub name: String,
    /// The period (at least 1 s).
    pub every: Duration,
    /// What each run enqueues; its dedupe key and due time are the scheduler's.
    pub job: NewJob,
}

impl Schedule {
    /// `job` every `every`, under `name`.
    pub fn new(name: impl Into<String>, every: Duration, job: NewJob) -> Self {
        Self {
            name: name.into(),
            every,
            job,
        }
    }

    fn check(&self) -> Result<(), ValidationError> {
        check_name("schedule", &self.name)?;
        if self.every < Duration::from_secs(1) {
            return Err(ValidationError::new("every", "must be at least 1 s"));
        }
        self.job.validate()
    }
}

/// The slot `now` falls in for period `every` (whole periods since the Unix epoch).
pub fn slot_of(every: Duration, now: Timestamp) -> i64 {
    let period = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
    now.unix_millis().div_euclid(period)
}

/// What [`enqueue_slot`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotOutcome {
    /// The slot's job was created.
    Enqueued(Job),
    /// The slot's job existed already (another instance, or an earlier call, enqueued it).
    AlreadyEnqueued(Job),
    /// A run of an earlier slot is still queued or running: this slot is skipped.
    Skipped {
        /// The pending run.
        pending: Job,
    },
}

/// Enqueues `schedule`'s job for `slot` unless that slot's job exists or an earlier run is still
/// pending (module docs). Concurrent callers for one slot create one job. System scope. A bad
/// schedule (name, period under 1 s, job) → `validation_error`.
pub async fn enqueue_slot(
    exec: &mut impl SystemExec,
    schedule: &Schedule,
    slot: i64,
) -> Result<SlotOutcome, DbError> {
    schedule.check()?;
    let key = format!("{}:{slot}", schedule.name);
    let prefix = format!("{}:", schedule.name);
    let pending = exec
        .op(REPO, "pending_run")
        .query_opt(PENDING_RUN, &[&schedule.job.queue, &prefix], from_row)
        .await?;
    if let Some(pending) = pending {
        return Ok(match pending.dedupe_key.as_deref() == Some(key.as_str()) {
            true => SlotOutcome::AlreadyEnqueued(pending),
            false => SlotOutcome::Skipped { pending },
        });
    }
    let mut job = schedule.job.clone().with_dedupe(Dedupe::Kept(key));
    job.run_at = RunAt::Now;
    let done = enqueue(exec, &job).await?;
    Ok(match done.created {
        true => SlotOutcome::Enqueued(done.job),
        false => SlotOutcome::AlreadyEnqueued(done.job),
    })
}

/// A running scheduler; `stop` ends it between ticks. Dropping it stops the scheduler too.
pub type SchedulerHandle = crate::task::TaskHandle;

/// Every `tick` (at least 1 ms), enqueues the current slot of each schedule it has not enqueued
/// yet ([`enqueue_slot`]). Errors are logged, counted in
/// `brokerdb_jobs_worker_errors_total{stage="schedule"}` and retried next tick. A bad schedule or
/// tick → `ValidationError`, before anything starts.
pub fn spawn_scheduler(
    db: Db,
    schedules: Vec<Schedule>,
    tick: Duration,
) -> Result<SchedulerHandle, ValidationError> {
    for s in &schedules {
        s.check()?;
    }
    if tick < Duration::from_millis(1) {
        return Err(ValidationError::new("tick", "must be at least 1 ms"));
    }
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut done: HashMap<String, i64> = HashMap::new();
        loop {
            for schedule in &schedules {
                let slot = slot_of(schedule.every, Timestamp::now());
                if done.get(&schedule.name) == Some(&slot) {
                    continue;
                }
                match enqueue_slot(&mut db.system(), schedule, slot).await {
                    Ok(outcome) => {
                        if let SlotOutcome::Enqueued(job) = &outcome {
                            tracing::debug!(schedule = %schedule.name, slot, job_id = job.id, "scheduled job enqueued");
                        }
                        done.insert(schedule.name.clone(), slot);
                    }
                    Err(e) => {
                        metrics::counter!("brokerdb_jobs_worker_errors_total", "queue" => schedule.job.queue.clone(), "stage" => "schedule")
                            .increment(1);
                        tracing::warn!(schedule = %schedule.name, error = %e, "cannot enqueue a scheduled job; retrying");
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(tick) => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
        }
    });
    Ok(crate::task::TaskHandle::new(stop, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_whole_periods_since_the_epoch() -> Result<(), ValidationError> {
        let minute = Duration::from_secs(60);
        assert_eq!(slot_of(minute, Timestamp::from_unix_millis(0)?), 0);
        assert_eq!(slot_of(minute, Timestamp::from_unix_millis(59_999)?), 0);
        assert_eq!(slot_of(minute, Timestamp::from_unix_millis(60_000)?), 1);
        assert_eq!(slot_of(minute, Timestamp::from_unix_millis(-1)?), -1);
        Ok(())
    }
}

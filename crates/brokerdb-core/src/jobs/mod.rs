//! Background jobs: a queue in PostgreSQL (the `jobs` table, created by the broker set's
//! migration 0018), workers that claim jobs with `FOR UPDATE SKIP LOCKED`, and a scheduler for
//! periodic jobs. A domain's periodic work (the broker's sweeps, the project store's missed-scan
//! sweep) is a handler of its own on a queue of its own.
//!
//! **Why PostgreSQL and not Redis.** The queue is a table, claimed the way River and
//! graphile-worker claim theirs, for three reasons:
//! - a job must be enqueued in the same PostgreSQL transaction as the change it follows, so the
//!   change and its follow-up commit or roll back together ([`enqueue`] takes any
//!   [`SystemExec`](crate::db::SystemExec), a caller's [`SystemTx`](crate::db::SystemTx)
//!   included). A queue in Redis would be a second write that can succeed while the first fails,
//!   or the other way round;
//! - the Redis the broker uses keeps nothing on disk: queued jobs would vanish on a restart;
//! - a Redis queue library (apalis-redis was considered; it uses the same `redis` crate) builds
//!   key names inside its Lua scripts instead of declaring them, which breaks the broker's Redis
//!   Cluster rule that every key a script touches is declared and shares one hash tag.
//!
//! **Life of a job.** [`enqueue`] stores it `queued`, due at once or later (`run_at`). A worker's
//! [`claim`] moves due jobs of a queue to `running` under a *lease*: a visibility timeout
//! (`locked_until`) and a token unique to that claim. The worker then settles the job with its
//! lease: [`complete`] (`succeeded`) or [`fail`] (back to `queued` with an exponential, jittered
//! backoff, or `dead` after the last attempt or a permanent error, with the error kept). A long
//! job extends its lease with [`heartbeat`] (the [`Worker`] does this by itself).
//!
//! | status | moves to | by |
//! |---|---|---|
//! | `queued` | `running` | [`claim`], once `run_at` has passed |
//! | `running` | `succeeded` / `queued` / `dead` | [`complete`] / [`fail`] (attempts left) / [`fail`] (none left, or permanent) |
//! | `running`, lease expired | `running` (new lease) / `dead` | [`claim`] (attempts left) / [`claim`] (none left) |
//! | `dead` | `queued` | [`retry`], [`retry_dead`] (attempts start again) |
//! | `succeeded`, `dead` | deleted | [`purge`] |
//!
//! **Guarantees.**
//! - *At least once.* A job runs until one run succeeds or its attempts are spent. A worker that
//!   dies mid-job stops renewing its lease; once `locked_until` passes, the job is claimed again
//!   (a new attempt). So a handler may run more than once for one job, also after doing its work
//!   (a crash between the work and [`complete`]): handlers must be idempotent.
//! - *One holder at a time.* A claim is one `UPDATE … WHERE job_id IN (SELECT … FOR UPDATE SKIP
//!   LOCKED)`: concurrent workers never claim the same job. Settling needs the claim's token, so
//!   a worker whose lease expired and whose job was claimed again cannot complete or fail it any
//!   more (`conflict`); its result is discarded.
//! - *Dead letters.* A job whose attempts are spent is `dead`, with its last error (bounded to
//!   [`MAX_ERROR_CHARS`] characters; never put secrets in an error), until [`retry`]d or
//!   [`purge`]d. Nothing is dropped silently.
//! - *Dedupe.* A job may carry a dedupe key ([`Dedupe`]): enqueueing a second job with the key of
//!   an unfinished one (or, with [`Dedupe::Kept`], of any kept one) returns the first. A partial
//!   unique index decides races.
//!
//! **Time.** `run_at`, leases and backoff are computed with the database's clock, so instances
//! with skewed clocks agree on when a job is due or a lease has passed.
//!
//! | module | what it holds |
//! |---|---|
//! | `model` | [`Job`], [`JobStatus`], [`NewJob`], [`Dedupe`], [`Lease`], [`JobError`], the name rules |
//! | `enqueue` | [`enqueue`] |
//! | `lease` | [`claim`], [`heartbeat`], [`complete`], [`fail`], [`Backoff`] |
//! | `admin` | [`get`], [`list`], [`retry`], [`retry_dead`], [`purge`], [`depth`] |
//! | `worker` | the [`Worker`] runtime: handlers per queue, concurrency limits, a backoff per queue or worker, polling, graceful stop |
//! | `schedule` | the [`spawn_scheduler`] of periodic jobs, one job per time slot across instances |
//!
//! Metrics: `brokerdb_jobs_queue_depth{queue,status}` (gauge: queued, running and dead jobs),
//! `brokerdb_job_duration_seconds{queue,outcome}` (histogram of runs),
//! `brokerdb_jobs_total{queue,outcome}` (counter; outcomes `succeeded`, `retried`, `dead`,
//! `lost`: the lease was lost before the run was settled, `unsettled`: the outcome could not be
//! recorded, so the job runs again after its lease), `brokerdb_jobs_worker_errors_total{queue,stage}`
//! (the worker's own failures: `claim`, `settle`, `heartbeat`, `schedule`, and `depth` with queue
//! `*`).

const REPO: &str = "jobs";

/// The columns every statement returns for a [`Job`], in `model::from_row` order.
macro_rules! job_columns {
    () => {
        "job_id, queue, kind, payload, tenant_id, dedupe_key, status, attempts, max_attempts, \
         run_at, locked_until, last_error, created_at, updated_at, finished_at"
    };
}

mod admin;
mod enqueue;
mod lease;
mod model;
mod schedule;
mod worker;

pub use admin::{
    BATCH_LIMIT, DepthRow, JobFilter, LIST_LIMIT, PurgeFilter, depth, get, list, purge, retry,
    retry_dead,
};
pub use enqueue::{Enqueued, enqueue};
pub use lease::{Backoff, ClaimedJob, FailOutcome, claim, complete, fail, heartbeat};
pub use model::{
    DEFAULT_MAX_ATTEMPTS, Dedupe, Job, JobError, JobId, JobStatus, Lease, MAX_ATTEMPTS_LIMIT,
    MAX_DEDUPE_KEY_CHARS, MAX_ERROR_CHARS, MAX_PAYLOAD_BYTES, NewJob, RunAt, check_name,
};
pub use schedule::{
    Schedule, SchedulerHandle, SlotOutcome, enqueue_slot, slot_of, spawn_scheduler,
};
pub use worker::{Handler, HandlerFuture, Worker, WorkerHandle, WorkerSettings};

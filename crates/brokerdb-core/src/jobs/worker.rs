//! The [`Worker`]: runs the jobs of the queues it has handlers for.
//!
//! Per queue, one poller task claims due jobs ([`claim`]) as long as the queue's concurrency limit
//! has room, and runs each claimed job in its own task: the handler (itself a task, so a panic is
//! a failed run, not a dead worker) alongside a heartbeat that renews the lease every third of the
//! visibility timeout. The run is then settled: [`complete`], or [`fail`] with the handler's error
//! (a panic is an error too). When a heartbeat finds the lease gone (the job was claimed again
//! after this worker stalled), the run is stopped and counted `lost`. When a queue has no due job,
//! its poller sleeps for the poll interval.
//!
//! Errors of the worker itself (the database unreachable while claiming, settling or renewing)
//! are logged, counted in `brokerdb_jobs_worker_errors_total{queue,stage}` and retried; they never
//! stop it. A run that could not be settled stays `running` until its lease passes and is then
//! claimed again, as after a crash.
//!
//! [`WorkerHandle::stop`] stops claiming and waits for the runs in flight (at most
//! [`WorkerSettings::shutdown_timeout`]; runs still going then are abandoned, and their jobs are
//! claimed again once their leases pass). The concurrency limit is per worker: N processes each
//! running a worker with limit C run up to N × C jobs of the queue at once.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::admin::depth;
use super::lease::{Backoff, ClaimedJob, FailOutcome, MAX_CLAIM, claim, complete, fail, heartbeat};
use super::model::{Job, JobError, JobStatus, Lease, check_name};
use crate::db::{Db, DbError, ErrorCode};
use crate::scalar::ValidationError;

/// What a handler returns: a boxed, `Send` future.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'static>>;

/// Runs the jobs of one queue. Any `Fn(Job, Db) -> impl Future<Output = Result<(), JobError>>`
/// is one. A job may run more than once (at least once delivery): make the work idempotent.
pub trait Handler: Send + Sync + 'static {
    /// Runs `job`; `Err` fails the run (retried with backoff unless permanent or the last).
    fn run(&self, job: Job, db: Db) -> HandlerFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(Job, Db) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    fn run(&self, job: Job, db: Db) -> HandlerFuture {
        Box::pin(self(job, db))
    }
}

/// How a [`Worker`] runs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Pause of a queue's poller when the queue had no due job (default 1 s): the most a new job
    /// waits for a worker with room.
    pub poll_interval: Duration,
    /// Lease of a claimed run (default 60 s), renewed every third of it while the run goes on. A
    /// run whose worker stops renewing is claimed again once it passes.
    pub visibility_timeout: Duration,
    /// Waits between the attempts of a failing job, for queues registered without a backoff of
    /// their own ([`Worker::register_with_backoff`]).
    pub backoff: Backoff,
    /// How long [`WorkerHandle::stop`] waits for runs in flight (default 30 s).
    pub shutdown_timeout: Duration,
    /// How often `brokerdb_jobs_queue_depth` is refreshed (default 15 s).
    pub depth_interval: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            visibility_timeout: Duration::from_secs(60),
            backoff: Backoff::default(),
            shutdown_timeout: Duration::from_secs(30),
            depth_interval: Duration::from_secs(15),
        }
    }
}

/// One registered queue.
#[derive(Clone)]
struct Queue {
    name: Arc<str>,
    concurrency: usize,
    /// The queue's own backoff; `None`: the worker's.
    backoff: Option<Backoff>,
    handler: Arc<dyn Handler>,
}

/// A job worker under construction: register a handler per queue, then [`Worker::spawn`].
pub struct Worker {
    db: Db,
    settings: WorkerSettings,
    queues: Vec<Queue>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("settings", &self.settings)
            .field("queues", &self.queue_names())
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker on `db` with no queue yet.
    pub fn new(db: Db, settings: WorkerSettings) -> Self {
        Self {
            db,
            settings,
            queues: Vec::new(),
        }
    }

    /// Runs `queue`'s jobs with `handler`, at most `concurrency` (1..=1000) at once in this
    /// worker. A bad queue name, a concurrency out of range or a queue registered twice →
    /// `ValidationError`.
    pub fn register(
        &mut self,
        queue: &str,
        concurrency: usize,
        handler: impl Handler,
    ) -> Result<&mut Self, ValidationError> {
        self.add(queue, concurrency, None, handler)
    }

    /// [`Self::register`], with failed runs of this queue waiting `backoff` (instead of
    /// [`WorkerSettings::backoff`]) before their next attempt: for a queue whose retry pace is
    /// part of its contract.
    pub fn register_with_backoff(
        &mut self,
        queue: &str,
        concurrency: usize,
        backoff: Backoff,
        handler: impl Handler,
    ) -> Result<&mut Self, ValidationError> {
        self.add(queue, concurrency, Some(backoff), handler)
    }

    fn add(
        &mut self,
        queue: &str,
        concurrency: usize,
        backoff: Option<Backoff>,
        handler: impl Handler,
    ) -> Result<&mut Self, ValidationError> {
        check_name("queue", queue)?;
        if !(1..=MAX_CLAIM as usize).contains(&concurrency) {
            return Err(ValidationError::new(
                "concurrency",
                "must be an integer from 1 to 1000",
            ));
        }
        if self.queues.iter().any(|q| &*q.name == queue) {
            return Err(ValidationError::new("queue", "is registered twice"));
        }
        self.queues.push(Queue {
            name: queue.into(),
            concurrency,
            backoff,
            handler: Arc::new(handler),
        });
        Ok(self)
    }

    /// The registered queues, in registration order.
    pub fn queue_names(&self) -> Vec<&str> {
        self.queues.iter().map(|q| &*q.name).collect()
    }

    /// Starts the pollers (one per queue) and the depth gauge; returns the handle that stops
    /// them. Settings out of range (a zero poll interval or visibility timeout) →
    /// `ValidationError`.
    pub fn spawn(self) -> Result<WorkerHandle, ValidationError> {
        let s = &self.settings;
        for (field, value) in [
            ("poll_interval", s.poll_interval),
            ("visibility_timeout", s.visibility_timeout),
            ("depth_interval", s.depth_interval),
        ] {
            if value < Duration::from_millis(1) {
                return Err(ValidationError::new(field, "must be at least 1 ms"));
            }
        }
        let (stop, stopped) = watch::channel(false);
        let settings = Arc::new(self.settings);
        let mut tasks = JoinSet::new();
        for queue in &self.queues {
            tasks.spawn(poll(
                self.db.clone(),
                queue.clone(),
                settings.clone(),
                stopped.clone(),
            ));
        }
        let names: Vec<Arc<str>> = self.queues.iter().map(|q| q.name.clone()).collect();
        tasks.spawn(publish_depth(
            self.db.clone(),
            names,
            settings.depth_interval,
            stopped,
        ));
        let task = tokio::spawn(async move { while tasks.join_next().await.is_some() {} });
        Ok(crate::task::TaskHandle::new(stop, task))
    }
}

/// A running [`Worker`]: `stop` stops claiming and waits for the runs in flight to be settled
/// (at most the shutdown timeout; runs still going then are abandoned and claimed again after
/// their leases); `abort` cuts them off unsettled. Dropping it stops the worker too, without
/// waiting.
pub type WorkerHandle = crate::task::TaskHandle;

/// Resolves once a stop is asked for (or the handle is gone).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Sleeps `pause`; true if a stop was asked for meanwhile.
async fn pause_or_stop(stop: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(pause) => *stop.borrow(),
        () = stop_requested(stop) => true,
    }
}

fn worker_error(queue: &str, stage: &'static str, err: &DbError) {
    metrics::counter!("brokerdb_jobs_worker_errors_total", "queue" => queue.to_owned(), "stage" => stage)
        .increment(1);
    tracing::warn!(queue, stage, error = %err, "job worker error; retrying");
}

/// One queue's poller: claims while there is room, runs each job in its own task.
async fn poll(
    db: Db,
    queue: Queue,
    settings: Arc<WorkerSettings>,
    mut stop: watch::Receiver<bool>,
) {
    let room = Arc::new(Semaphore::new(queue.concurrency));
    let mut running = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let first = tokio::select! {
            biased;
            () = stop_requested(&mut stop) => break,
            permit = room.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let want = 1 + room.available_permits();
        let limit = i64::try_from(want).unwrap_or(MAX_CLAIM).min(MAX_CLAIM);
        let claimed = match claim(
            &mut db.system(),
            &queue.name,
            limit,
            settings.visibility_timeout,
        )
        .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                worker_error(&queue.name, "claim", &e);
                drop(first);
                if pause_or_stop(&mut stop, settings.poll_interval).await {
                    break;
                }
                continue;
            }
        };
        let got = claimed.len();
        let mut first = Some(first);
        for job in claimed {
            // This poller is the only one taking permits: the ones counted above are free.
            let permit = match first.take() {
                Some(permit) => permit,
                None => match room.clone().acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            running.spawn(run(
                db.clone(),
                queue.clone(),
                settings.clone(),
                job,
                permit,
            ));
        }
        if got < want && pause_or_stop(&mut stop, settings.poll_interval).await {
            break;
        }
    }
    let in_flight = running.len();
    let drain = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(settings.shutdown_timeout, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            queue = %queue.name,
            in_flight,
            "job runs still going at shutdown were abandoned; they run again once their leases pass"
        );
    }
}

/// Aborts the task when dropped (a run cut off must not leave its handler running).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a run ended, as the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Retried,
    Dead,
    Lost,
    Unsettled,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Retried => "retried",
            Self::Dead => "dead",
            Self::Lost => "lost",
            Self::Unsettled => "unsettled",
        }
    }
}

/// Runs one claimed job with heartbeats, settles it and records the outcome.
async fn run(
    db: Db,
    queue: Queue,
    settings: Arc<WorkerSettings>,
    claimed: ClaimedJob,
    _permit: OwnedSemaphorePermit,
) {
    let ClaimedJob { job, lease } = claimed;
    let started = Instant::now();
    let job_id = job.id;
    let mut handler = AbortOnDrop(tokio::spawn(queue.handler.run(job, db.clone())));
    let every = (settings.visibility_timeout / 3).max(Duration::from_millis(1));
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let finished = loop {
        tokio::select! {
            joined = &mut handler.0 => break Some(joined),
            _ = beat.tick() => {
                match heartbeat(&mut db.system(), &lease, settings.visibility_timeout).await {
                    Ok(_) => {}
                    Err(e) if e.code() == ErrorCode::Conflict => break None,
                    Err(e) => worker_error(&queue.name, "heartbeat", &e),
                }
            }
        }
    };
    drop(handler);
    let outcome = match finished {
        None => Outcome::Lost,
        Some(Ok(Ok(()))) => match complete(&mut db.system(), &lease).await {
            Ok(()) => Outcome::Succeeded,
            Err(e) => unsettled(&queue.name, &e),
        },
        Some(Ok(Err(error))) => settle_failure(&db, &queue, &lease, &error, &settings).await,
        Some(Err(joined)) => {
            let error = JobError::new(if joined.is_panic() {
                "the handler panicked"
            } else {
                "the handler was cancelled"
            });
            settle_failure(&db, &queue, &lease, &error, &settings).await
        }
    };
    let label = outcome.label();
    metrics::histogram!("brokerdb_job_duration_seconds", "queue" => queue.name.to_string(), "outcome" => label)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("brokerdb_jobs_total", "queue" => queue.name.to_string(), "outcome" => label)
        .increment(1);
    match outcome {
        Outcome::Succeeded => {
            tracing::debug!(queue = %queue.name, job_id, attempt = lease.attempt(), "job succeeded");
        }
        Outcome::Lost => tracing::warn!(
            queue = %queue.name,
            job_id,
            attempt = lease.attempt(),
            "job run stopped: its lease was lost (the job was claimed again)"
        ),
        _ => {}
    }
}

/// A settle that failed: `lost` when the lease is gone, else `unsettled` (logged and counted).
fn unsettled(queue: &str, err: &DbError) -> Outcome {
    if err.code() == ErrorCode::Conflict {
        Outcome::Lost
    } else {
        worker_error(queue, "settle", err);
        Outcome::Unsettled
    }
}

async fn settle_failure(
    db: &Db,
    queue: &Queue,
    lease: &Lease,
    error: &JobError,
    settings: &WorkerSettings,
) -> Outcome {
    let backoff = queue.backoff.as_ref().unwrap_or(&settings.backoff);
    let queue = &*queue.name;
    match fail(&mut db.system(), lease, error, backoff).await {
        Ok(FailOutcome::Retried { run_at }) => {
            tracing::warn!(
                queue,
                job_id = lease.job_id(),
                attempt = lease.attempt(),
                %run_at,
                error = %error.stored(),
                "job failed; retrying"
            );
            Outcome::Retried
        }
        Ok(FailOutcome::Dead) => {
            tracing::error!(
                queue,
                job_id = lease.job_id(),
                attempt = lease.attempt(),
                permanent = error.is_permanent(),
                error = %error.stored(),
                "job failed for good; dead-lettered"
            );
            Outcome::Dead
        }
        Err(e) => unsettled(queue, &e),
    }
}

/// Publishes `brokerdb_jobs_queue_depth{queue,status}` every `interval` for every queue seen
/// (registered or not), 0 when a status has no job.
async fn publish_depth(
    db: Db,
    registered: Vec<Arc<str>>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut known: HashSet<String> = registered.iter().map(|q| q.to_string()).collect();
    loop {
        match depth(&mut db.system()).await {
            Ok(rows) => {
                known.extend(rows.iter().map(|r| r.queue.clone()));
                for queue in &known {
                    for status in [JobStatus::Queued, JobStatus::Running, JobStatus::Dead] {
                        let jobs = rows
                            .iter()
                            .find(|r| &r.queue == queue && r.status == status)
                            .map_or(0, |r| r.jobs);
                        metrics::gauge!("brokerdb_jobs_queue_depth", "queue" => queue.clone(), "status" => status.as_str())
                            .set(jobs as f64);
                    }
                }
            }
            Err(e) => worker_error("*", "depth", &e),
        }
        if pause_or_stop(&mut stop, interval).await {
            return;
        }
    }
}

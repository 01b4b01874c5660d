//! `brokerdb worker`: runs the background job worker, the scheduler of periodic jobs (the
//! sweeps) and the outbox relay until Ctrl-C or SIGTERM. `serve` runs the same through
//! [`spawn_background`] unless WORKER_ENABLED=false (and the relay unless
//! OUTBOX_RELAY_ENABLED=false).
//!
//! Any number of workers (and serving instances) may run against one database: jobs are claimed
//! with `FOR UPDATE SKIP LOCKED`, and each time slot of a schedule is enqueued once.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::routing::get;
use brokerdb::db::{CursorKey, Db, DbSettings, PoolRole};
use brokerdb::jobs::sweeps::{self, SweepSettings};
use brokerdb::jobs::{
    Backoff, SchedulerHandle, Worker, WorkerHandle, WorkerSettings, spawn_scheduler,
};
use clap::Args;

use crate::cli::{ConnectionArgs, RedisUrlArgs};
use crate::commands::serve::RedisAdapterArgs;
use crate::config::{PostgresTarget, RedisTarget, positive};
use crate::outbox_relay::{self, OutboxArgs};
use crate::services::{Postgres, Redis, connect_db};

/// How often the scheduler checks whether a schedule's next slot has begun.
const SCHEDULER_TICK: Duration = Duration::from_secs(1);

/// Settings of the job worker and the sweeps, shared by `serve` and `worker`.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// How often each sweep runs: expired workload sessions, enrollment tokens that expired
    /// unused, pending approvals past their expiry (marked expired, audited), succeeded jobs
    /// older than JOB_RETENTION.
    #[arg(long, env = "SWEEP_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub sweep_interval: Duration,
    /// Rows one sweep run handles at most; a run that reaches it is followed by another at once.
    #[arg(long, env = "SWEEP_BATCH_SIZE", default_value_t = 1000,
          value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub sweep_batch_size: i64,
    /// Succeeded jobs are deleted once they finished this long ago (dead jobs are kept until
    /// `brokerdb jobs purge`).
    #[arg(long, env = "JOB_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub job_retention: Duration,
    /// Jobs of one queue this process runs at once.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub worker_concurrency: u16,
    /// Lease of a running job, renewed every third of it while the job runs; a job whose worker
    /// died runs again once its lease passes.
    #[arg(long, env = "JOB_VISIBILITY_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub job_visibility_timeout: Duration,
    /// How often a queue without due jobs is polled again.
    #[arg(long, env = "JOB_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub job_poll_interval: Duration,
}

/// The checked settings of the background tasks.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// How the worker runs.
    pub worker: WorkerSettings,
    /// How the sweeps run.
    pub sweeps: SweepSettings,
}

impl JobArgs {
    /// The checked settings, or the first bad value's error naming its variable.
    pub fn config(&self) -> anyhow::Result<JobsConfig> {
        let interval = positive("SWEEP_INTERVAL", self.sweep_interval)?;
        if interval < Duration::from_secs(1) {
            anyhow::bail!("SWEEP_INTERVAL must be at least 1s");
        }
        Ok(JobsConfig {
            worker: WorkerSettings {
                poll_interval: positive("JOB_POLL_INTERVAL", self.job_poll_interval)?,
                visibility_timeout: positive(
                    "JOB_VISIBILITY_TIMEOUT",
                    self.job_visibility_timeout,
                )?,
                backoff: Backoff::default(),
                ..WorkerSettings::default()
            },
            sweeps: SweepSettings {
                interval,
                batch: self.sweep_batch_size,
                job_retention: self.job_retention,
                concurrency: usize::from(self.worker_concurrency),
            },
        })
    }
}

/// The background tasks of a process: the job worker and the scheduler.
#[derive(Debug)]
pub struct Background {
    worker: WorkerHandle,
    scheduler: SchedulerHandle,
}

impl Background {
    /// Stops scheduling, then stops the worker after its runs in flight are settled.
    pub async fn stop(self) {
        self.scheduler.stop().await;
        self.worker.stop().await;
    }
}

/// Starts the job worker (the sweeps' handlers) and the scheduler (the sweeps' schedules) on
/// `db`; the returned handle stops them. Background tasks of other kinds are added here.
pub fn spawn_background(db: &Db, config: &JobsConfig) -> anyhow::Result<Background> {
    let mut worker = Worker::new(db.clone(), config.worker.clone());
    sweeps::register(&mut worker, &config.sweeps).context("cannot set up the job worker")?;
    brokerdb_projects::scan_sweep::register(&mut worker, config.sweeps.concurrency)
        .context("cannot set up the job worker")?;
    let queues = worker.queue_names().join(", ");
    // The scheduler first: the worker's first claims then find the current slot's runs.
    let scheduler = spawn_scheduler(
        db.clone(),
        sweeps::schedules(&config.sweeps)
            .into_iter()
            .chain([brokerdb_projects::scan_sweep::schedule(
                config.sweeps.interval,
            )])
            .collect(),
        SCHEDULER_TICK,
    )
    .context("cannot start the job scheduler")?;
    let worker = worker.spawn().context("cannot start the job worker")?;
    tracing::info!(
        %queues,
        sweep_interval = %humantime::format_duration(config.sweeps.interval),
        sweep_batch = config.sweeps.batch,
        "job worker and scheduler started"
    );
    Ok(Background { worker, scheduler })
}

/// Options of `brokerdb worker`.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Where PostgreSQL is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Maximum connections in each PostgreSQL pool (runtime and system).
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub pool_size: u16,
    /// Address to serve GET /metrics on (Prometheus text), e.g. 127.0.0.1:9091; none by default.
    #[arg(long, env = "WORKER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// The worker and the sweeps.
    #[command(flatten)]
    pub jobs: JobArgs,
    /// Where Redis is (the outbox relay publishes there). Without REDIS_URL, the embedded Redis
    /// that `serve` runs under --data-dir, or a private one.
    #[command(flatten)]
    pub redis: RedisUrlArgs,
    /// Redis adapter tunables.
    #[command(flatten)]
    pub redis_adapters: RedisAdapterArgs,
    /// The outbox relay.
    #[command(flatten)]
    pub outbox: OutboxArgs,
}

/// Runs the worker, the scheduler and the outbox relay until Ctrl-C or SIGTERM, then stops them
/// gracefully.
pub async fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let config = args.jobs.config()?;
    let target = PostgresTarget::from_args(&args.connection)?;
    let relay_settings = args.outbox.settings()?;
    let redis_target = relay_settings
        .is_some()
        .then(|| RedisTarget::from_args(&args.redis, &args.connection.data_dir))
        .transpose()?;
    let metrics = match args.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?,
        ),
        None => None,
    };
    if metrics.is_some() {
        // The recorder first, so the worker's metrics are recorded from its first run.
        crate::metrics::handle();
    }
    let postgres = Postgres::start(&target).await?;
    let db = connect_db(
        &postgres.targets,
        args.pool_size,
        DbSettings::default(),
        CursorKey::random(),
        PoolRole::System,
    )
    .await?;
    let background = spawn_background(&db, &config)?;
    let redis = match &redis_target {
        Some(target) => Some(Redis::start(target).await?),
        None => None,
    };
    let relay = match (relay_settings, &redis) {
        (Some(settings), Some(redis)) => {
            let conn = redis.connect(args.redis_adapters.settings()).await?;
            tracing::info!("outbox relay started");
            Some(outbox_relay::spawn(db.clone(), conn, settings)?)
        }
        _ => None,
    };
    let (stop_metrics, metrics_stopped) = tokio::sync::watch::channel(false);
    let metrics_task = metrics.map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "worker metrics on http://{addr}/metrics");
        }
        tokio::spawn(serve_metrics(listener, db.clone(), metrics_stopped))
    });
    crate::commands::serve::shutdown_signal().await;
    tracing::info!("shutting down");
    background.stop().await;
    if let Some(relay) = relay {
        relay.stop().await;
    }
    let _ = stop_metrics.send(true);
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    drop(redis);
    drop(postgres);
    Ok(ExitCode::SUCCESS)
}

/// `GET /metrics` alone, for a worker process (which serves no API).
async fn serve_metrics(
    listener: tokio::net::TcpListener,
    db: Db,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let handle = crate::metrics::handle();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let (handle, db) = (handle.clone(), db.clone());
            async move {
                db.record_pool_gauges();
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    );
    let shutdown = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::warn!(error = %e, "the worker's metrics endpoint stopped");
    }
}

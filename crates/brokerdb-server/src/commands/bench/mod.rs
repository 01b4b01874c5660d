//! `brokerdb bench`: hot operations through the library and, in the same run, the raw
//! equivalent — the same SQL through `pgbench -M prepared`, the same Redis scripts as raw
//! EVALSHAs and in `redis-benchmark` — with p50/p95/p99, throughput and the ratio to raw.

mod library;
mod pgbench;
mod redis;
mod redis_benchmark;
mod redis_ops;
mod stats;
mod timed;
mod workload;

use std::process::ExitCode;

use anyhow::Context;
use brokerdb::conninfo;
use brokerdb::db::{CursorKey, Db, DbSettings, pool};
use clap::Args;

use crate::cli::{ConnectionArgs, RedisUrlArgs};
use crate::config::{AdminTarget, RedisTarget};
use crate::services::{connect, create_database_if_missing, start_embedded_postgres};
use stats::Measurement;
use workload::{BENCH_DATABASE, OPERATIONS};

/// Options of `brokerdb bench`.
#[derive(Debug, Clone, Args)]
#[command(mut_arg("redis_url", |a| a.help(
    "Redis URL for the Redis rows, e.g. redis://127.0.0.1:6379. Without it a private \
     redis-server is started. Keys go under a random `brokerdb-bench:` prefix and expire"
)))]
pub struct BenchArgs {
    /// Where PostgreSQL is (DATABASE_URL must be a superuser; without it the embedded cluster).
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Users seeded per tenant.
    #[arg(long, env = "BENCH_USERS", default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub users: u32,
    /// Seconds per measurement.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub seconds: u64,
    /// Concurrent callers to measure, comma-separated.
    #[arg(long, env = "BENCH_CONCURRENCY", value_delimiter = ',', default_value = "1,16",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Vec<u16>,
    /// Measure only some rows, comma-separated words: `postgres` or `redis` selects a store,
    /// any other word the rows whose name contains it (e.g. `policy,execute`, `rate-limit`).
    /// All rows when absent.
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Where Redis is.
    #[command(flatten)]
    pub redis: RedisUrlArgs,
    /// Redis adapter pool sizes to measure (multiplexed connections), comma-separated.
    #[arg(long, env = "BENCH_REDIS_POOLS", value_delimiter = ',', default_value = "1,4",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub redis_pools: Vec<u16>,
}

/// `brokerdb bench`'s configuration, checked before any server is started or reached: a bad
/// REDIS_URL fails before the PostgreSQL rows run, not after.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The admin connection (DATABASE_URL) or the embedded cluster; `None` when `--only`
    /// selects no PostgreSQL row.
    pub postgres: Option<AdminTarget>,
    /// Where Redis is; `None` when `--only` selects no Redis row.
    pub redis: Option<RedisTarget>,
    /// Users seeded per tenant.
    pub users: u32,
    /// Seconds per measurement.
    pub seconds: u64,
    /// Concurrent callers to measure.
    pub concurrency: Vec<u16>,
    /// `--only` words.
    pub only: Vec<String>,
    /// Redis adapter pool sizes to measure.
    pub redis_pools: Vec<u16>,
}

impl BenchConfig {
    /// Whether `--only` selects the row `name` of `store` (`postgres` or `redis`).
    pub fn selects(&self, store: &str, name: &str) -> bool {
        selects(&self.only, store, name)
    }
}

fn selects(only: &[String], store: &str, name: &str) -> bool {
    only.is_empty() || only.iter().any(|w| w == store || name.contains(w.as_str()))
}

impl BenchArgs {
    /// The checked configuration, or the first bad value's error (naming its variable, never
    /// quoting it).
    pub fn config(&self) -> anyhow::Result<BenchConfig> {
        let postgres_rows = OPERATIONS
            .iter()
            .any(|op| selects(&self.only, "postgres", op.name));
        let redis_rows = redis_ops::RedisOp::ALL
            .iter()
            .any(|op| selects(&self.only, "redis", op.name()));
        if !postgres_rows && !redis_rows {
            anyhow::bail!("--only matches no row");
        }
        let postgres = postgres_rows
            .then(|| AdminTarget::from_args(&self.connection))
            .transpose()?;
        let redis = redis_rows
            .then(|| RedisTarget::from_args(&self.redis, &self.connection.data_dir))
            .transpose()?;
        if let Some(RedisTarget::External(endpoint)) = &redis {
            redis::benchmark_target(endpoint.client())?;
        }
        Ok(BenchConfig {
            postgres,
            redis,
            users: self.users,
            seconds: self.seconds,
            concurrency: self.concurrency.clone(),
            only: self.only.clone(),
            redis_pools: self.redis_pools.clone(),
        })
    }
}

/// Runs every selected operation at every concurrency and prints one table (plus the exact
/// redis-benchmark command lines and the adapters' ratio to redis-benchmark).
pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let mut results = Vec::new();
    if let Some(target) = &config.postgres {
        results.extend(postgres(&config, target).await?);
    }
    let mut notes = Vec::new();
    if let Some(target) = &config.redis {
        let (rows, commands) = redis::measure_all(&config, target).await?;
        notes.extend(commands.into_iter().map(|c| format!("raw: {c}")));
        notes.extend(redis::versus_redis_benchmark(&rows));
        results.extend(rows);
    }
    println!("{}", stats::table(&results));
    for note in notes {
        println!("{note}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Seeds the bench database and measures the PostgreSQL operations.
async fn postgres(args: &BenchConfig, target: &AdminTarget) -> anyhow::Result<Vec<Measurement>> {
    let (server, _embedded) = match target {
        AdminTarget::Url(info) => ((**info).clone(), None),
        AdminTarget::Embedded { data_dir } => {
            let pg = start_embedded_postgres(data_dir).await?;
            (pg.config("postgres").into(), Some(pg))
        }
    };
    create_database_if_missing(&server, BENCH_DATABASE).await?;
    let admin = conninfo::for_database(&server, BENCH_DATABASE);
    let mut client = connect(&admin).await?;
    brokerdb::migrate::apply_pending(&mut client).await?;
    eprintln!(
        "seeding {} users per tenant (2 tenants) and {} audit events …",
        args.users, args.users
    );
    workload::seed(&client, args.users).await?;

    let max_callers = usize::from(args.concurrency.iter().copied().max().unwrap_or(1));
    let runtime_cfg = conninfo::for_role(&admin, brokerdb::roles::RUNTIME);
    let system_cfg = conninfo::for_role(&admin, brokerdb::roles::SYSTEM);
    let db = Db::from_pools(
        pool::build(&runtime_cfg, max_callers)?,
        pool::build(&system_cfg, max_callers)?,
        DbSettings::default(),
        CursorKey::random(),
    )
    .await
    .map_err(crate::config::explain_connect_error)?;
    // As in `serve`: appends are sealed after commit by one sealer task, which keeps the queue
    // short while the append rows run (the seed's rows are sealed first).
    brokerdb::audit::seal_pending(&db.system(), brokerdb::audit::DEFAULT_BATCH)
        .await
        .context("cannot seal the seeded audit events")?;
    let sealer =
        brokerdb::audit::spawn_sealer(db.clone(), brokerdb::audit::SealerSettings::default());
    let selected: Vec<_> = OPERATIONS
        .into_iter()
        .filter(|op| args.selects("postgres", op.name))
        .collect();
    let mut results: Vec<Measurement> = Vec::new();
    let second = std::time::Duration::from_secs(1);
    for op in selected {
        let (scoped_script, plain_script) =
            (op.scoped_script(args.users), op.plain_script(args.users));
        let with_library = op.via != workload::Via::UnchainedAppend;
        for callers in args.concurrency.iter().copied().map(usize::from) {
            eprintln!("{} × {callers} …", op.name);
            // One-second slices of the library and of both pgbench runs, alternating, so load
            // from other processes hits all three alike (after a warm-up of the library).
            if with_library {
                library::slice(&db, op, callers, args.users, second).await?;
            }
            let (mut lib, mut lib_time) = (Vec::new(), std::time::Duration::ZERO);
            let (mut scoped, mut plain) = (pgbench::Slices::default(), pgbench::Slices::default());
            for _ in 0..args.seconds {
                if with_library {
                    let (latencies, elapsed) =
                        library::slice(&db, op, callers, args.users, second).await?;
                    lib.extend(latencies);
                    lib_time += elapsed;
                }
                scoped.push(pgbench::slice(&runtime_cfg, &scoped_script, callers, 1)?);
                plain.push(pgbench::slice(&system_cfg, &plain_script, callers, 1)?);
            }
            if with_library {
                results.push(Measurement::from_latencies(
                    op.name,
                    "brokerdb (library, tenant scope)",
                    callers,
                    lib,
                    lib_time,
                ));
            }
            results.push(scoped.into_measurement(
                op,
                "pgbench, same 4 statements pipelined",
                true,
                callers,
            ));
            results.push(plain.into_measurement(
                op,
                "pgbench, plain SELECT (no scope)",
                false,
                callers,
            ));
        }
    }
    sealer.stop().await;
    Ok(results)
}

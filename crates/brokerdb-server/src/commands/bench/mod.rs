//! `brokerdb bench`: hot operations through the library and, in the same run, the raw
//! equivalent — the same SQL through `pgbench -M prepared`, the same Redis scripts as raw
//! EVALSHAs and in `redis-benchmark` — with p50/p95/p99, throughput and the ratio to raw.

mod budgets;
mod cache;
mod charts;
mod http;
mod library;
mod outbox;
mod pgbench;
mod projects;
mod raw;
mod redis;
mod redis_benchmark;
mod redis_ops;
mod report;
pub mod soak;
mod stats;
mod timed;
mod users_list;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use brokerdb::conninfo;
use brokerdb::db::{CursorKey, Db, DbSettings, StatementMode, pool};
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
    /// Users of the users-list rows, seeded once into a tenant of their own (`t_list_<n>`, with
    /// the plan-guard tests' generator; a million take a few minutes the first time).
    #[arg(long, env = "BENCH_LIST_USERS", default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub list_users: u32,
    /// Seconds per measurement.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub seconds: u64,
    /// Concurrent callers to measure, comma-separated [default: 1,16; with --report
    /// 1,2,4,8,16,32].
    #[arg(long, env = "BENCH_CONCURRENCY", value_delimiter = ',',
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Vec<u16>,
    /// Calls per side and shape of the users-list matrix (every filter × sort at one caller),
    /// after 3 warm-up calls.
    #[arg(long, env = "BENCH_MATRIX_CALLS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub matrix_calls: u32,
    /// Also write DIR/report.md (every measurement, the users-list matrix, the budgets) and SVG
    /// charts per operation: throughput and p50/p99 latency against callers, library against raw,
    /// with the latency budgets drawn. DIR is created if missing; existing files are replaced.
    #[arg(long, env = "BENCH_REPORT", value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Measure only some rows, comma-separated words: `postgres`, `redis`, `outbox` or `projects`
    /// selects a group, any other word the rows whose name contains it (e.g. `policy,execute`, `rate-limit`).
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
    /// Run the soak instead of the rows: mixed HTTP load through the service at `--rate` for
    /// this long (e.g. 10m, 90s), sampled every `--sample-every` (p50/p99, errors, RSS, open
    /// connections), written to `--soak-csv` and charted in `--soak-svg`. Exits 1 on any error
    /// or a connection count above its bound.
    #[arg(long, env = "BENCH_SOAK", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub soak: Option<std::time::Duration>,
    /// Requests per second of the soak (N or N/s).
    #[arg(long, env = "BENCH_SOAK_RATE", default_value = "200/s", value_parser = soak::parse_rate)]
    pub rate: u32,
    /// Sampling interval of the soak.
    #[arg(long, env = "BENCH_SOAK_SAMPLE_EVERY", default_value = "5s", value_parser = humantime::parse_duration)]
    pub sample_every: std::time::Duration,
    /// Where the soak's series goes (CSV, one row per sample).
    #[arg(long, env = "BENCH_SOAK_CSV", default_value = "target/soak.csv")]
    pub soak_csv: PathBuf,
    /// Where the soak's chart goes (SVG: latency, RSS and connections over time).
    #[arg(long, env = "BENCH_SOAK_SVG", default_value = "target/soak.svg")]
    pub soak_svg: PathBuf,
    /// How the library's statements reach PostgreSQL: `prepared` or `unnamed` (what
    /// `DB_STATEMENT_MODE` sets for `serve`). The raw rows are unaffected.
    #[arg(long, env = "BENCH_STATEMENT_MODE", default_value = "prepared",
          value_parser = |s: &str| s.parse::<StatementMode>().map_err(|e| e.to_string()))]
    pub statement_mode: StatementMode,
    /// `<host>:<port>` of a PgBouncer in transaction mode in front of the same server: the
    /// library's runtime and system pools go through it, in unnamed mode (setup, seeding and the
    /// raw rows stay direct). Compare with a run without it.
    #[arg(long, env = "BENCH_PGBOUNCER", value_name = "HOST:PORT",
          value_parser = parse_host_port)]
    pub pgbouncer: Option<(String, u16)>,
}

/// `<host>:<port>`.
fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    conninfo::parse_host_port(s).map_err(|e| e.to_string())
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
    /// Users of the users-list tenant.
    pub list_users: u32,
    /// Calls per side and shape of the users-list matrix.
    pub matrix_calls: u32,
    /// Where the report goes, if anywhere.
    pub report: Option<PathBuf>,
    /// Seconds per measurement.
    pub seconds: u64,
    /// Concurrent callers to measure.
    pub concurrency: Vec<u16>,
    /// `--only` words.
    pub only: Vec<String>,
    /// Redis adapter pool sizes to measure.
    pub redis_pools: Vec<u16>,
    /// The soak, when `--soak` asks for it (then no row is measured).
    pub soak: Option<soak::SoakConfig>,
    /// How the library's statements reach PostgreSQL (unnamed when `pgbouncer` is set).
    pub statement_mode: StatementMode,
    /// The PgBouncer the library's pools go through, if any.
    pub pgbouncer: Option<(String, u16)>,
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

/// Callers measured when `--concurrency` is absent.
pub const DEFAULT_CONCURRENCY: [u16; 2] = [1, 16];
/// Callers measured with `--report` when `--concurrency` is absent: the ladder the charts plot.
pub const REPORT_CONCURRENCY: [u16; 6] = [1, 2, 4, 8, 16, 32];

/// Every PostgreSQL row name.
fn postgres_rows() -> impl Iterator<Item = &'static str> {
    OPERATIONS
        .iter()
        .map(|op| op.name)
        .chain(users_list::names())
        .chain(http::names())
        .chain(cache::names())
}

impl BenchArgs {
    /// The checked configuration, or the first bad value's error (naming its variable, never
    /// quoting it).
    pub fn config(&self) -> anyhow::Result<BenchConfig> {
        if let Some(duration) = self.soak {
            if self.sample_every.is_zero() {
                anyhow::bail!("--sample-every must be positive");
            }
            if self.pgbouncer.is_some() {
                anyhow::bail!("--soak connects directly: it does not take --pgbouncer");
            }
            return Ok(BenchConfig {
                postgres: Some(AdminTarget::from_args(&self.connection)?),
                redis: Some(RedisTarget::from_args(
                    &self.redis,
                    &self.connection.data_dir,
                )?),
                users: self.users,
                list_users: self.list_users,
                matrix_calls: self.matrix_calls,
                report: None,
                seconds: self.seconds,
                concurrency: DEFAULT_CONCURRENCY.to_vec(),
                only: Vec::new(),
                redis_pools: self.redis_pools.clone(),
                statement_mode: self.statement_mode,
                pgbouncer: None,
                soak: Some(soak::SoakConfig {
                    duration,
                    rate: self.rate,
                    every: self.sample_every,
                    csv: self.soak_csv.clone(),
                    svg: self.soak_svg.clone(),
                }),
            });
        }
        // The outbox and project-store rows need both stores and are their own groups.
        let two_store_rows = outbox::names().any(|name| selects(&self.only, outbox::STORE, name))
            || projects::names().any(|name| selects(&self.only, projects::STORE, name));
        let postgres_rows =
            postgres_rows().any(|name| selects(&self.only, "postgres", name)) || two_store_rows;
        let redis_rows = redis_ops::RedisOp::ALL
            .iter()
            .any(|op| selects(&self.only, "redis", op.name()));
        if !postgres_rows && !redis_rows {
            anyhow::bail!("--only matches no row");
        }
        let http_rows = http::names()
            .chain(cache::names())
            .any(|name| selects(&self.only, "postgres", name))
            || two_store_rows;
        let postgres = postgres_rows
            .then(|| AdminTarget::from_args(&self.connection))
            .transpose()?;
        let redis = (redis_rows || http_rows)
            .then(|| RedisTarget::from_args(&self.redis, &self.connection.data_dir))
            .transpose()?;
        if let Some(RedisTarget::External(endpoint)) = &redis {
            redis::benchmark_target(endpoint.client())?;
        }
        Ok(BenchConfig {
            postgres,
            redis,
            users: self.users,
            list_users: self.list_users,
            matrix_calls: self.matrix_calls,
            report: self.report.clone(),
            seconds: self.seconds,
            concurrency: match (&self.report, self.concurrency.is_empty()) {
                (_, false) => self.concurrency.clone(),
                (Some(_), true) => REPORT_CONCURRENCY.to_vec(),
                (None, true) => DEFAULT_CONCURRENCY.to_vec(),
            },
            only: self.only.clone(),
            redis_pools: self.redis_pools.clone(),
            statement_mode: match self.pgbouncer {
                Some(_) => StatementMode::Unnamed,
                None => self.statement_mode,
            },
            pgbouncer: self.pgbouncer.clone(),
            soak: None,
        })
    }
}

/// Runs every selected operation at every concurrency and prints one table (plus the users-list
/// matrix, the exact redis-benchmark command lines and the adapters' ratio to redis-benchmark);
/// with `--report`, writes the report and its charts too.
pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    if let Some(soak) = &config.soak {
        let passed = soak::run(&config, soak).await?;
        return Ok(if passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if let Some(dir) = &config.report {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    }
    let started = std::time::Instant::now();
    let mut results = Vec::new();
    let mut matrix = Vec::new();
    if let Some(target) = &config.postgres {
        let (rows, list) = postgres(&config, target, config.redis.as_ref()).await?;
        results.extend(rows);
        results.extend(list.rows);
        matrix = list.matrix;
    }
    let mut notes = http::notes(&results);
    notes.extend(cache::notes(&results));
    let redis_rows = redis_ops::RedisOp::ALL
        .iter()
        .any(|op| config.selects("redis", op.name()));
    if let Some(target) = config.redis.as_ref().filter(|_| redis_rows) {
        let (rows, commands) = redis::measure_all(&config, target).await?;
        notes.extend(commands.into_iter().map(|c| format!("raw: {c}")));
        notes.extend(redis::versus_redis_benchmark(&rows));
        results.extend(rows);
    }
    println!("{}", stats::table(&results));
    if !matrix.is_empty() {
        println!("{}", report::matrix_table(&matrix));
    }
    for note in &notes {
        println!("{note}");
    }
    if let Some(dir) = &config.report {
        let run = report::Run {
            config: &config,
            elapsed: started.elapsed(),
        };
        let written = report::write(dir, &run, &results, &matrix, &notes)?;
        eprintln!(
            "report: {} ({} charts)",
            written.display(),
            report::chart_count(&results)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The advisory lock key held while a bench migrates and seeds its database.
const SETUP_LOCK: i64 = 0x6272_6f6b_6265_6e63;

/// The bench database on `target` (the embedded cluster started when asked for; keep it while
/// measuring), migrated and seeded with `users` users per tenant and, when given, the users-list
/// tenant of `list_users`: its admin connection settings and a connection.
async fn prepare_database(
    target: &AdminTarget,
    users: u32,
    list_users: Option<u32>,
) -> anyhow::Result<(
    conninfo::ConnInfo,
    tokio_postgres::Client,
    Option<brokerdb_embedded::EmbeddedPostgres>,
)> {
    let (server, embedded) = match target {
        AdminTarget::Url(info) => ((**info).clone(), None),
        AdminTarget::Embedded { data_dir } => {
            let pg = start_embedded_postgres(data_dir).await?;
            (pg.config("postgres").into(), Some(pg))
        }
    };
    create_database_if_missing(&server, BENCH_DATABASE).await?;
    let admin = conninfo::for_database(&server, BENCH_DATABASE);
    let mut client = connect(&admin).await?;
    // One bench at a time migrates and seeds (their DDL and seed checks would race).
    client
        .execute("SELECT pg_advisory_lock($1)", &[&SETUP_LOCK])
        .await?;
    brokerdb::migrate::apply_sets(&mut client, &crate::schema::migration_sets()).await?;
    eprintln!(
        "seeding {} users per tenant (2 tenants) and {} audit events …",
        users, users
    );
    workload::seed(&client, users).await?;
    if let Some(list_users) = list_users {
        users_list::seed(&client, list_users).await?;
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&SETUP_LOCK])
        .await?;
    Ok((admin, client, embedded))
}

/// Seeds the bench database and measures the PostgreSQL operations: the pgbench-compared rows,
/// then the users-list rows.
async fn postgres(
    args: &BenchConfig,
    target: &AdminTarget,
    redis: Option<&RedisTarget>,
) -> anyhow::Result<(Vec<Measurement>, users_list::ListResults)> {
    let (admin, client, _embedded) = prepare_database(
        target,
        args.users,
        users_list::selected(args).then_some(args.list_users),
    )
    .await?;

    let max_callers = usize::from(args.concurrency.iter().copied().max().unwrap_or(1));
    // The raw rows always connect directly; the library's pools go through PgBouncer if asked.
    let runtime_cfg = conninfo::for_role(&admin, brokerdb::roles::RUNTIME);
    let system_cfg = conninfo::for_role(&admin, brokerdb::roles::SYSTEM);
    let (pool_runtime, pool_system) = match &args.pgbouncer {
        None => (runtime_cfg.clone(), system_cfg.clone()),
        Some((host, port)) => {
            eprintln!(
                "the library's pools go through PgBouncer at {host}:{port} (unnamed statements)"
            );
            let through = |role| conninfo::for_role_at(&admin, role, host, *port);
            (
                through(brokerdb::roles::RUNTIME),
                through(brokerdb::roles::SYSTEM),
            )
        }
    };
    let mode = args.statement_mode;
    let db = Db::from_pools(
        pool::build_for(&pool_runtime, max_callers, mode)?,
        pool::build_for(&pool_system, max_callers, mode)?,
        DbSettings {
            statement_mode: mode,
            ..DbSettings::default()
        },
        CursorKey::random(),
    )
    .await
    .map_err(crate::config::explain_connect_error)?;
    // As in `serve`: appends are sealed after commit by one sealer task, which keeps the unsealed
    // backlog short while the append rows run (the seed's rows are sealed first).
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
        let with_library = op.via.has_library();
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
                "pgbench, same statements pipelined",
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
    if http::selected(args) {
        let redis = redis.context("the HTTP rows need Redis")?;
        results.extend(http::measure(args, &db, redis).await?);
    }
    if outbox::selected(args) {
        let redis = redis.context("the outbox rows need Redis")?;
        results.extend(outbox::measure(args, &db, &client, redis).await?);
    }
    if cache::selected(args) {
        let redis = redis.context("the cache rows need Redis")?;
        results.extend(cache::measure(args, &db, redis).await?);
    }
    if projects::selected(args) {
        let redis = redis.context("the project-store rows need Redis")?;
        let targets = projects::Targets {
            db: &db,
            runtime: &runtime_cfg,
            system: &system_cfg,
            admin: &client,
            redis,
        };
        results.extend(projects::measure(args, &targets).await?);
    }
    let list = users_list::measure(args, &db, &client, &runtime_cfg).await?;
    sealer.stop().await;
    Ok((results, list))
}

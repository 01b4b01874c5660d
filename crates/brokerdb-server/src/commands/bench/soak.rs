//! `brokerdb bench --soak DURATION`: mixed HTTP load through the service at a fixed request
//! rate for a long time, sampled every few seconds: p50/p99 latency of each interval, errors,
//! the process' RSS and the open PostgreSQL and Redis connections. The series goes to a CSV
//! file and an SVG chart; the run fails (exit code 1) on any error or a connection count above
//! its bound.
//!
//! The service runs in this process on a loopback port with `serve`'s defaults (pools of
//! [`PG_POOL_SIZE`] per role, Redis pool of 4, token cache, read cache, request wrapper; the
//! per-token rate limit is set out of reach), with the audit sealer running as in `serve`.
//! Requests are sent open-loop: one is due every `1/rate` seconds whether or not earlier ones
//! have finished, and its latency is measured from when it was due, so a stall shows as latency
//! rather than as a lower request rate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use brokerdb::conninfo::{self, ConnInfo};
use brokerdb::db::{CursorKey, Db, DbSettings, pool};
use brokerdb::model::{NonEmptyString, TenantId};
use brokerdb::repo::api_tokens::{self, Actor, ApiTokenRole, NewApiToken};
use plotters::prelude::*;

use super::BenchConfig;
use super::http::{Connections, LocalApi};

/// Connections in each PostgreSQL pool (runtime and system): `serve`'s default.
pub const PG_POOL_SIZE: u16 = 16;
/// Extra Redis connections beyond the adapters' pool the service may hold: the read cache's two
/// invalidation subscriptions (its own channel and the policy bus), and up to two being
/// re-dialled.
pub const REDIS_EXTRA: u64 = 4;
/// RSS growth allowed between the end of the warm-up and the end of the run.
pub const RSS_MARGIN: f64 = 0.20;
/// Runs shorter than this report the RSS growth but are not judged by it (too little time for
/// the allocator to settle).
pub const RSS_JUDGED_FROM: Duration = Duration::from_secs(120);
/// The CSV header: one row per sample.
pub const CSV_HEADER: &str =
    "elapsed_s,requests,errors,p50_ms,p99_ms,rss_mib,pg_connections,pg_active,redis_connections";
/// Client-side keep-alive connections the load is spread over.
const CLIENTS: usize = 32;
/// The tenant the soak reads and writes (seeded by the bench; the created users stay, with
/// emails `soak-<run>-<n>@example.com`).
const TENANT: &str = "t_other";

/// What `--soak` asks for.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// How long the load runs.
    pub duration: Duration,
    /// Requests per second.
    pub rate: u32,
    /// Sampling interval.
    pub every: Duration,
    /// Where the CSV goes.
    pub csv: PathBuf,
    /// Where the SVG chart goes.
    pub svg: PathBuf,
}

/// `200/s` or `200`: requests per second, 1..=100000.
pub fn parse_rate(s: &str) -> Result<u32, String> {
    let n = s.trim().trim_end_matches("/s").trim();
    match n.parse::<u32>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err("expected requests per second as N or N/s, 1..100000 (e.g. 200/s)".to_owned()),
    }
}

/// One sampling interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Seconds since the load started, at the end of the interval.
    pub elapsed_s: f64,
    /// Requests completed in the interval.
    pub requests: u64,
    /// Of them, failed (wrong status, transport error).
    pub errors: u64,
    /// Median latency of the interval's requests.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Resident set size of this process (VmRSS).
    pub rss_mib: f64,
    /// Connections of the service's two pools open on the server.
    pub pg_connections: u64,
    /// Of them, running a statement.
    pub pg_active: u64,
    /// Clients connected to Redis, the sampler's own connection not counted.
    pub redis_connections: u64,
}

impl Sample {
    fn csv_row(&self) -> String {
        format!(
            "{:.1},{},{},{:.3},{:.3},{:.1},{},{},{}",
            self.elapsed_s,
            self.requests,
            self.errors,
            self.p50_ms,
            self.p99_ms,
            self.rss_mib,
            self.pg_connections,
            self.pg_active,
            self.redis_connections
        )
    }
}

/// The process' resident set size in MiB, from `/proc/self/status`.
pub fn rss_mib() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/self/status")?;
    Ok(kib / 1024.0)
}

/// Runs the soak; `Ok(false)` when it failed its checks (errors, connection bounds, RSS margin).
pub async fn run(config: &BenchConfig, soak: &SoakConfig) -> anyhow::Result<bool> {
    let target = config
        .postgres
        .as_ref()
        .context("the soak needs PostgreSQL")?;
    let redis = config.redis.as_ref().context("the soak needs Redis")?;
    let (admin, client, _embedded) = super::prepare_database(target, config.users, None).await?;
    // The pools carry an application name of this run's own, so the sampler counts exactly them.
    let app_name = format!("brokerdb-soak-{}", std::process::id());
    let role_pool = |role: &str| -> anyhow::Result<_> {
        let mut info: ConnInfo = conninfo::for_role(&admin, role);
        info.config.application_name(&app_name);
        Ok(pool::build_for(
            &info,
            usize::from(PG_POOL_SIZE),
            config.statement_mode,
        )?)
    };
    let (runtime, system) = (
        role_pool(brokerdb::roles::RUNTIME)?,
        role_pool(brokerdb::roles::SYSTEM)?,
    );
    // Both pools are opened to their full size before the load: a pool that grows mid-run (when
    // a slow interval puts more requests in flight) would add its connections' buffers to RSS
    // inside the judged window, and the margin is there to catch leaks, not pool growth.
    for pool in [&runtime, &system] {
        fill(pool, usize::from(PG_POOL_SIZE))
            .await
            .context("cannot open the soak's PostgreSQL connections")?;
    }
    let db = Db::from_pools(
        runtime,
        system,
        DbSettings {
            statement_mode: config.statement_mode,
            ..DbSettings::default()
        },
        CursorKey::random(),
    )
    .await
    .map_err(crate::config::explain_connect_error)?;
    let sealer =
        brokerdb::audit::spawn_sealer(db.clone(), brokerdb::audit::SealerSettings::default());
    let (server, conn) = super::redis::adapters(redis).await?;
    let mut redis_probe = server.client().get_multiplexed_async_connection().await?;
    let redis_pool = brokerdb_redis::ConnSettings::default().pool_size as u64;

    let tenant = TenantId::parse(TENANT)?;
    let by = Actor {
        actor: NonEmptyString::new("actor", "bench-soak")?,
        correlation_id: NonEmptyString::new("correlation_id", "bench-soak")?,
    };
    let issued = api_tokens::create(
        &mut db.system(),
        &NewApiToken {
            tenant_id: Some(tenant),
            role: ApiTokenRole::Admin,
            subject: NonEmptyString::new("subject", "bench-soak")?,
            expires_at: None,
        },
        &by,
    )
    .await
    .context("cannot create the soak's API token")?;
    let token: Arc<str> = issued.secret.expose().into();
    let api = LocalApi::start(&db, conn).await?;

    eprintln!(
        "soak: {} at {}/s, a sample every {} …",
        humantime::format_duration(soak.duration),
        soak.rate,
        humantime::format_duration(soak.every)
    );
    let load = Load {
        clients: Connections::new(api.addr.clone(), CLIENTS),
        token,
        users: u64::from(config.users.max(1)),
        run: format!("{:08x}", rand::random::<u32>()).into(),
        latencies: Arc::default(),
        errors: Arc::default(),
    };
    let probe = Probe {
        admin: &client,
        app_name: &app_name,
        redis: &mut redis_probe,
    };
    let samples = drive(&load, soak, probe).await;
    api.stop().await?;
    sealer.stop().await;
    api_tokens::revoke(&mut db.system(), &issued.token.token_id, &by).await?;
    let samples = samples?;

    write_csv(&soak.csv, &samples)?;
    chart(&soak.svg, &samples, soak)?;
    let verdict = Verdict::of(&samples, soak.duration, redis_pool);
    for line in verdict.lines(&samples) {
        println!("{line}");
    }
    println!(
        "soak: series in {}, chart in {}",
        soak.csv.display(),
        soak.svg.display()
    );
    Ok(verdict.passed())
}

/// Opens `size` connections of `pool` at once and returns them to it, so the pool holds its
/// full size from the start.
async fn fill(pool: &deadpool_postgres::Pool, size: usize) -> Result<(), brokerdb::db::DbError> {
    let held = futures_util::future::try_join_all((0..size).map(|_| pool.get())).await?;
    drop(held);
    Ok(())
}

/// The load's shared parts.
struct Load {
    clients: Connections,
    token: Arc<str>,
    users: u64,
    run: Arc<str>,
    latencies: Arc<std::sync::Mutex<Vec<u64>>>,
    errors: Arc<AtomicU64>,
}

/// What the sampler reads besides the load's own figures.
struct Probe<'a> {
    admin: &'a tokio_postgres::Client,
    app_name: &'a str,
    redis: &'a mut redis::aio::MultiplexedConnection,
}

/// Sends the load for the configured duration, sampling every interval.
async fn drive(
    load: &Load,
    soak: &SoakConfig,
    mut probe: Probe<'_>,
) -> anyhow::Result<Vec<Sample>> {
    let start = tokio::time::Instant::now();
    let end = start + soak.duration;
    let mut ticks =
        tokio::time::interval_at(start, Duration::from_secs_f64(1.0 / f64::from(soak.rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sampler = tokio::time::interval_at(start + soak.every, soak.every);
    let mut samples = Vec::new();
    let mut in_flight = tokio::task::JoinSet::new();
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            due = ticks.tick() => {
                if due >= end {
                    break;
                }
                let request = request(load, n);
                n += 1;
                in_flight.spawn(request.send(load.clients.clone(), due.into_std(),
                    load.latencies.clone(), load.errors.clone()));
            }
            at = sampler.tick() => {
                // The interval that ends with the run is sampled once its requests are done.
                if at < end {
                    samples.push(sample(load, &mut probe, start.elapsed()).await?);
                }
            }
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                done.context("a soak request task panicked")?;
            }
        }
    }
    // The requests still in flight finish; then the last interval (shorter when the duration
    // is not a multiple of the sampling interval) is sampled.
    while let Some(done) = in_flight.join_next().await {
        done.context("a soak request task panicked")?;
    }
    samples.push(sample(load, &mut probe, start.elapsed()).await?);
    Ok(samples)
}

/// Takes the interval's latencies and errors and reads RSS and the connection counts.
async fn sample(load: &Load, probe: &mut Probe<'_>, elapsed: Duration) -> anyhow::Result<Sample> {
    let mut micros = std::mem::take(
        &mut *load
            .latencies
            .lock()
            .map_err(|_| anyhow!("the latency buffer was poisoned"))?,
    );
    let errors = load.errors.swap(0, Ordering::Relaxed);
    micros.sort_unstable();
    let pick = |q: f64| {
        let idx = ((micros.len() as f64 - 1.0) * q).round() as usize;
        micros.get(idx).copied().unwrap_or(0) as f64 / 1000.0
    };
    let row = probe
        .admin
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE state = 'active')
               FROM pg_stat_activity WHERE application_name = $1",
            &[&probe.app_name],
        )
        .await
        .context("cannot count the pools' connections in pg_stat_activity")?;
    let (pg, active): (i64, i64) = (row.get(0), row.get(1));
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query_async(probe.redis)
        .await
        .context("cannot read INFO clients from Redis")?;
    let clients: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no connected_clients in INFO clients")?;
    let s = Sample {
        elapsed_s: elapsed.as_secs_f64(),
        requests: micros.len() as u64,
        errors,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        rss_mib: rss_mib()?,
        pg_connections: u64::try_from(pg).unwrap_or(0),
        pg_active: u64::try_from(active).unwrap_or(0),
        redis_connections: clients.saturating_sub(1),
    };
    eprintln!(
        "soak {:>7.1} s: {} requests, {} errors, p50 {:.2} ms, p99 {:.2} ms, RSS {:.1} MiB, \
         PostgreSQL {} ({} active), Redis {}",
        s.elapsed_s,
        s.requests,
        s.errors,
        s.p50_ms,
        s.p99_ms,
        s.rss_mib,
        s.pg_connections,
        s.pg_active,
        s.redis_connections
    );
    Ok(s)
}

/// One request of the mix, chosen by its sequence number: of every 20, 10 read a user by id,
/// 4 read the first page of 20 users (with the total), 2 read the tenant, 2 read the newest
/// 20 audit events, 2 create a user (a transaction with its audit event).
struct Request {
    method: hyper::Method,
    path: String,
    body: Option<String>,
    expect: u16,
    client: usize,
    token: Arc<str>,
}

fn request(load: &Load, n: u64) -> Request {
    let client = (n % CLIENTS as u64) as usize;
    let token = load.token.clone();
    let get = |path: String| Request {
        method: hyper::Method::GET,
        path,
        body: None,
        expect: 200,
        client,
        token: token.clone(),
    };
    match n % 20 {
        0..10 => {
            let user = n.wrapping_mul(7919) % load.users + 1;
            get(format!("/v1/users/u_other_{user}"))
        }
        10..14 => get("/v1/users?pageSize=20".to_owned()),
        14..16 => get("/v1/tenant".to_owned()),
        16..18 => get("/v1/audit/events?limit=20".to_owned()),
        _ => Request {
            method: hyper::Method::POST,
            path: "/v1/users".to_owned(),
            body: Some(
                serde_json::json!({
                    "email": format!("soak-{}-{n}@example.com", load.run),
                    "roles": ["auditor"],
                })
                .to_string(),
            ),
            expect: 201,
            client,
            token,
        },
    }
}

impl Request {
    /// Sends the request on its client connection (dialled when missing or closed) and records
    /// its latency from `due`, or an error.
    async fn send(
        self,
        clients: Connections,
        due: Instant,
        latencies: Arc<std::sync::Mutex<Vec<u64>>>,
        errors: Arc<AtomicU64>,
    ) {
        let sent = clients
            .send(
                self.client,
                self.method,
                &self.path,
                &self.token,
                self.body.as_deref(),
                self.expect,
            )
            .await;
        match sent {
            Ok(()) => {
                let micros = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
                if let Ok(mut l) = latencies.lock() {
                    l.push(micros);
                }
            }
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %self.path, error = %e, "soak request failed");
            }
        }
    }
}

/// Writes `samples` as CSV with [`CSV_HEADER`] (the directory is created if missing).
pub fn write_csv(path: &Path, samples: &[Sample]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut text = String::from(CSV_HEADER);
    text.push('\n');
    for s in samples {
        text.push_str(&s.csv_row());
        text.push('\n');
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// One line of a panel: its label, colour and (seconds, value) points.
type ChartLine<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

fn draw_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("cannot draw the soak chart: {e}")
}

/// Three panels over time: p50 and p99 latency, RSS, open connections.
pub fn chart(path: &Path, samples: &[Sample], soak: &SoakConfig) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let root = SVGBackend::new(path, (900, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let root = root
        .titled(
            &format!(
                "brokerdb bench --soak {} --rate {}/s: mixed HTTP load",
                humantime::format_duration(soak.duration),
                soak.rate
            ),
            ("sans-serif", 18),
        )
        .map_err(draw_err)?;
    let panels = root.split_evenly((3, 1));
    let x_max = samples.iter().map(|s| s.elapsed_s).fold(1.0_f64, f64::max);
    let top = |values: &mut dyn Iterator<Item = f64>| values.fold(1.0_f64, f64::max) * 1.25;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(255, 127, 14);
    let green = RGBColor(44, 160, 44);

    let series: [(&str, &str, Vec<ChartLine>); 3] = [
        (
            "latency per interval",
            "ms",
            vec![
                (
                    "p50",
                    blue,
                    samples.iter().map(|s| (s.elapsed_s, s.p50_ms)).collect(),
                ),
                (
                    "p99",
                    orange,
                    samples.iter().map(|s| (s.elapsed_s, s.p99_ms)).collect(),
                ),
            ],
        ),
        (
            "resident set size",
            "MiB",
            vec![(
                "RSS",
                blue,
                samples.iter().map(|s| (s.elapsed_s, s.rss_mib)).collect(),
            )],
        ),
        (
            "open connections",
            "connections",
            vec![
                (
                    "PostgreSQL (both pools)",
                    blue,
                    samples
                        .iter()
                        .map(|s| (s.elapsed_s, s.pg_connections as f64))
                        .collect(),
                ),
                (
                    "PostgreSQL active",
                    green,
                    samples
                        .iter()
                        .map(|s| (s.elapsed_s, s.pg_active as f64))
                        .collect(),
                ),
                (
                    "Redis",
                    orange,
                    samples
                        .iter()
                        .map(|s| (s.elapsed_s, s.redis_connections as f64))
                        .collect(),
                ),
            ],
        ),
    ];
    for (panel, (title, unit, lines)) in panels.iter().zip(series) {
        let y_max = top(&mut lines.iter().flat_map(|(_, _, p)| p.iter().map(|(_, y)| *y)));
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc(unit)
            .light_line_style(TRANSPARENT)
            .y_label_formatter(&|v| format!("{v:.1}"))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(draw_err)?;
        for (label, color, points) in lines {
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)).point_size(2))
                .map_err(draw_err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(draw_err)?;
    }
    root.present().map_err(draw_err)?;
    Ok(())
}

/// The run's checks: no error; connections within the pools (PostgreSQL at most both pools,
/// Redis at most the adapters' pool plus [`REDIS_EXTRA`]); RSS growth after the warm-up within
/// [`RSS_MARGIN`] (judged on runs of at least [`RSS_JUDGED_FROM`]).
#[derive(Debug)]
pub struct Verdict {
    /// Failed requests over the run.
    pub errors: u64,
    /// Requests completed.
    pub requests: u64,
    /// Largest PostgreSQL connection count seen, and its bound.
    pub pg_max: (u64, u64),
    /// Largest Redis connection count seen, and its bound.
    pub redis_max: (u64, u64),
    /// The sample that ends the warm-up (the first at or after a fifth of the run, at most
    /// 60 s in), and the RSS growth from it to the last sample.
    pub rss_growth: Option<(usize, f64)>,
    /// Whether the RSS growth is judged (a long enough run).
    pub rss_judged: bool,
}

impl Verdict {
    /// Judges `samples` of a run of `duration` with a Redis adapter pool of `redis_pool`.
    pub fn of(samples: &[Sample], duration: Duration, redis_pool: u64) -> Self {
        let warm = duration.min(Duration::from_secs(300)).as_secs_f64() / 5.0;
        let rss_growth = samples
            .iter()
            .position(|s| s.elapsed_s >= warm)
            .zip(samples.last())
            .map(|(i, last)| (i, last.rss_mib / samples[i].rss_mib.max(f64::EPSILON) - 1.0));
        Self {
            errors: samples.iter().map(|s| s.errors).sum(),
            requests: samples.iter().map(|s| s.requests).sum(),
            pg_max: (
                samples.iter().map(|s| s.pg_connections).max().unwrap_or(0),
                2 * u64::from(PG_POOL_SIZE),
            ),
            redis_max: (
                samples
                    .iter()
                    .map(|s| s.redis_connections)
                    .max()
                    .unwrap_or(0),
                redis_pool + REDIS_EXTRA,
            ),
            rss_growth,
            rss_judged: duration >= RSS_JUDGED_FROM,
        }
    }

    /// True when every judged check holds.
    pub fn passed(&self) -> bool {
        self.errors == 0
            && self.pg_max.0 <= self.pg_max.1
            && self.redis_max.0 <= self.redis_max.1
            && (!self.rss_judged || self.rss_growth.is_none_or(|(_, g)| g <= RSS_MARGIN))
    }

    /// The summary printed at the end: start and end figures, then each check.
    pub fn lines(&self, samples: &[Sample]) -> Vec<String> {
        let mut out = Vec::new();
        if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
            out.push(format!(
                "soak: start ({:.0} s): p50 {:.2} ms, p99 {:.2} ms, RSS {:.1} MiB, PostgreSQL {} \
                 connections, Redis {}",
                first.elapsed_s,
                first.p50_ms,
                first.p99_ms,
                first.rss_mib,
                first.pg_connections,
                first.redis_connections
            ));
            out.push(format!(
                "soak: end ({:.0} s): p50 {:.2} ms, p99 {:.2} ms, RSS {:.1} MiB, PostgreSQL {} \
                 connections, Redis {}",
                last.elapsed_s,
                last.p50_ms,
                last.p99_ms,
                last.rss_mib,
                last.pg_connections,
                last.redis_connections
            ));
        }
        let ok = |b: bool| if b { "ok" } else { "FAILED" };
        out.push(format!(
            "soak: {} requests, {} errors: {}",
            self.requests,
            self.errors,
            ok(self.errors == 0)
        ));
        out.push(format!(
            "soak: PostgreSQL connections at most {} (bound: both pools, {}): {}",
            self.pg_max.0,
            self.pg_max.1,
            ok(self.pg_max.0 <= self.pg_max.1)
        ));
        out.push(format!(
            "soak: Redis connections at most {} (bound: adapter pool + {REDIS_EXTRA}, {}): {}",
            self.redis_max.0,
            self.redis_max.1,
            ok(self.redis_max.0 <= self.redis_max.1)
        ));
        match self.rss_growth {
            Some((i, growth)) => out.push(format!(
                "soak: RSS {:+.1} % from the end of the warm-up ({:.0} s, {:.1} MiB) to the end \
                 (margin {:.0} %): {}",
                growth * 100.0,
                samples[i].elapsed_s,
                samples[i].rss_mib,
                RSS_MARGIN * 100.0,
                if self.rss_judged {
                    ok(growth <= RSS_MARGIN)
                } else {
                    "not judged (run shorter than 2 minutes)"
                }
            )),
            None => out.push("soak: RSS growth: no sample after the warm-up".to_owned()),
        }
        out
    }
}

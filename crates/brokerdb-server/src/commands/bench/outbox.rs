//! The outbox rows: how fast the relay drains a backlog (one relay, then four side by side, as
//! four instances would run), and how far delivery trails a steady 1,000 writes per second.
//! Rows are published on private channels (`brokerdb-bench:<random>:…`) of the bench's Redis.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use brokerdb::db::Db;
use brokerdb::model::TenantId;
use brokerdb::outbox::{self, RelaySettings};
use brokerdb::repo::templates::{self, TemplateInvalidationSignal};
use brokerdb_redis::outbox::OutboxRedisPublisher;
use brokerdb_redis::policy::PolicyInvalidationBus;
use brokerdb_redis::ssrf::{SsrfGuardOptions, SsrfGuardStore};
use tokio_postgres::Client;

use super::BenchConfig;
use super::stats::Measurement;
use super::workload::TENANT;
use crate::config::RedisTarget;

/// Row: draining a backlog.
pub const DRAIN: &str =
    "outbox relay: drain a 20,000-row backlog (rows/s; latency = one round of ≤500)";
/// Row: delivery lag under a steady write rate.
pub const LAG: &str = "outbox relay under 1,000 writes/s (latency = commit → delivered)";

const BACKLOG: i32 = 20_000;
const WRITES_PER_SECOND: u64 = 1_000;
const WRITERS: u64 = 4;

/// Every outbox row name.
pub fn names() -> impl Iterator<Item = &'static str> {
    [DRAIN, LAG].into_iter()
}

/// The store word that selects every outbox row (`--only outbox`); `--only postgres` does not,
/// since the rows need Redis too and take a fixed time.
pub const STORE: &str = "outbox";

/// Whether `--only` selects an outbox row.
pub fn selected(config: &BenchConfig) -> bool {
    names().any(|name| config.selects(STORE, name))
}

/// Measures the selected outbox rows against `db`; `admin` is the bench database's superuser
/// connection (it fills and clears the backlog).
pub async fn measure(
    config: &BenchConfig,
    db: &Db,
    admin: &Client,
    redis: &RedisTarget,
) -> anyhow::Result<Vec<Measurement>> {
    let (_server, conn) = super::redis::adapters(redis).await?;
    let prefix = super::redis::run_prefix();
    let signals = SsrfGuardStore::new(
        conn.clone(),
        SsrfGuardOptions {
            key_prefix: Some(format!("{prefix}ssrf")),
            ..SsrfGuardOptions::default()
        },
    )?;
    let policy = PolicyInvalidationBus::new(conn, Some(&format!("{prefix}pe")));
    let publisher = Arc::new(OutboxRedisPublisher::new(policy, signals));
    let mut rows = Vec::new();
    if config.selects(STORE, DRAIN) {
        for relays in [1, 4] {
            eprintln!("{DRAIN} × {relays} …");
            rows.push(drain(db, admin, &publisher, relays).await?);
        }
    }
    if config.selects(STORE, LAG) {
        eprintln!("{LAG} …");
        rows.push(lag(config, db, admin, &publisher).await?);
    }
    clear(admin).await?;
    Ok(rows)
}

async fn clear(admin: &Client) -> anyhow::Result<()> {
    admin
        .execute(
            "DELETE FROM template_invalidation_outbox WHERE template_id LIKE 'tpl_bench_%'",
            &[],
        )
        .await
        .context("cannot clear the bench's outbox rows")?;
    Ok(())
}

/// Fills a backlog, then lets `relays` loops of [`outbox::deliver_round`] drain it.
async fn drain(
    db: &Db,
    admin: &Client,
    publisher: &Arc<OutboxRedisPublisher>,
    relays: usize,
) -> anyhow::Result<Measurement> {
    clear(admin).await?;
    admin
        .execute(
            "INSERT INTO template_invalidation_outbox
                 (tenant_id, template_id, version, updated_at_signal, payload_json)
             SELECT $1, 'tpl_bench_drain', g, now(), jsonb_build_object(
                 'template_id', 'tpl_bench_drain', 'version', g, 'tenant_id', $1::text,
                 'updated_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))
             FROM generate_series(1, $2::int4) g",
            &[&TENANT, &BACKLOG],
        )
        .await
        .context("cannot fill the outbox backlog")?;
    let started = Instant::now();
    let mut loops = Vec::new();
    for _ in 0..relays {
        let (db, publisher) = (db.clone(), publisher.clone());
        loops.push(tokio::spawn(async move {
            let settings = RelaySettings::default();
            let (mut rounds, mut delivered) = (Vec::new(), 0_u64);
            loop {
                let at = Instant::now();
                let r = outbox::deliver_round(&db, publisher.as_ref(), &settings).await?;
                if r.claimed == 0 {
                    return anyhow::Ok((rounds, delivered));
                }
                rounds.push(u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX));
                delivered += r.delivered;
            }
        }));
    }
    let (mut rounds, mut delivered) = (Vec::new(), 0);
    for l in loops {
        let (r, d) = l.await??;
        rounds.extend(r);
        delivered += d;
    }
    let elapsed = started.elapsed();
    if delivered != BACKLOG as u64 {
        anyhow::bail!("the relays delivered {delivered} of {BACKLOG} rows");
    }
    let mut m = Measurement::from_latencies(
        DRAIN,
        format!("relay × {relays} (batch 500, Redis publish of both channels per row)"),
        relays,
        rounds,
        elapsed,
    );
    m.throughput = delivered as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    Ok(m)
}

/// Writes `WRITES_PER_SECOND` signals per second through the library (one transaction each,
/// from `WRITERS` tasks) while the relay runs as in `serve`; then reads each row's delivery delay.
async fn lag(
    config: &BenchConfig,
    db: &Db,
    admin: &Client,
    publisher: &Arc<OutboxRedisPublisher>,
) -> anyhow::Result<Measurement> {
    clear(admin).await?;
    let relay = outbox::spawn_relay(db.clone(), publisher.clone(), RelaySettings::default());
    let seconds = config.seconds.max(5);
    let per_writer = WRITES_PER_SECOND * seconds / WRITERS;
    let period = Duration::from_micros(1_000_000 * WRITERS / WRITES_PER_SECOND);
    let tenant = TenantId::parse(TENANT)?;
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (db, tenant) = (db.clone(), tenant.clone());
        writers.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for i in 0..per_writer {
                tick.tick().await;
                let signal = TemplateInvalidationSignal {
                    template_id: "tpl_bench_lag".into(),
                    version: i32::try_from(w * per_writer + i + 1)?,
                    tenant_id: TENANT.into(),
                    updated_at: "2026-01-01T00:00:00.000Z".into(),
                };
                templates::persist_invalidation_outbox(&mut db.tenant(&tenant), &signal).await?;
            }
            anyhow::Ok(())
        }));
    }
    let mut max_lag = Duration::ZERO;
    // The lag gauge's value, sampled while the writers run.
    while !writers.iter().all(tokio::task::JoinHandle::is_finished) {
        if let Ok(Some(age)) = outbox::lag(db).await {
            max_lag = max_lag.max(age);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for w in writers {
        w.await??;
    }
    let written = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(30);
    while outbox::lag(db).await?.is_some() {
        if Instant::now() > deadline {
            anyhow::bail!("the relay did not catch up within 30 s of the last write");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.stop().await;
    let delays: Vec<u64> = admin
        .query(
            "SELECT (EXTRACT(EPOCH FROM delivered_at - created_at) * 1e6)::int8
             FROM template_invalidation_outbox
             WHERE template_id = 'tpl_bench_lag' AND status = 'delivered'",
            &[],
        )
        .await?
        .iter()
        .map(|r| u64::try_from(r.get::<_, i64>(0).max(0)).unwrap_or(0))
        .collect();
    Ok(Measurement::from_latencies(
        LAG,
        format!(
            "relay (interval 100 ms), {} writes in {:.1} s; oldest undelivered row seen: {} ms",
            delays.len(),
            written.as_secs_f64(),
            max_lag.as_millis()
        ),
        usize::try_from(WRITERS)?,
        delays,
        written,
    ))
}

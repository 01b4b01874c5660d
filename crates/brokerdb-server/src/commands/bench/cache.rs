//! The read-cache rows (`--only cache`): the execute lookup and the policy match, each as
//!
//! - the uncached library call (the rows' reference, ratio 1),
//! - a cache miss: the entry is busted before every read (the bust is not timed: throughput is
//!   reads per second of read time per caller),
//! - an L2 hit: a cache with L1 off, every read one Redis round trip and a JSON decode,
//! - an L1 hit: a listening cache with L1 on, warmed first,
//!
//! over the same workloads `w_bench_1..100`, alternating second by second. The caches use
//! long TTLs (60 s in L1, 120 s in L2) so hit rows measure hits, and a random key prefix.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use brokerdb::db::Db;
use brokerdb::model::{CanonicalRequestDescriptor, IntegrationId, TenantId, WorkloadId};
use brokerdb::repo::{integrations, policy_rules};
use brokerdb_cache::{CacheSettings, CachedReads, Resource};

use super::BenchConfig;
use super::stats::Measurement;
use super::workload::{BENCH_WORKLOADS, TENANT, policy_descriptor};
use crate::config::RedisTarget;

/// Row: the execute lookup.
pub const EXECUTE: &str = "cache: execute lookup (workload + integration + template)";
/// Row: the policy match.
pub const POLICY: &str = "cache: policy rules for scope (descriptor match)";
/// The reference side.
pub const UNCACHED: &str = "uncached library call";
/// A miss.
pub const MISS: &str = "cache miss (busted before each read; bust not timed)";
/// An L2 hit.
pub const L2_HIT: &str = "L2 hit (Redis; L1 off)";
/// An L1 hit.
pub const L1_HIT: &str = "L1 hit (in process)";
const GROUP: &str = "cache";

/// The goals the notes check: L1 hit and L2 hit throughput against the uncached call at 16
/// callers.
const GOALS: [(&str, f64); 2] = [(L1_HIT, 50.0), (L2_HIT, 2.0)];

/// Every cache row name.
pub fn names() -> impl Iterator<Item = &'static str> {
    [EXECUTE, POLICY].into_iter()
}

/// Whether `--only` selects a cache row.
pub fn selected(config: &BenchConfig) -> bool {
    names().any(|name| config.selects("postgres", name))
}

/// One timed call: `(caller, iteration)` → the time to count.
type Probe = Arc<dyn Fn(usize, u64) -> ProbeFuture + Send + Sync>;
type ProbeFuture = Pin<Box<dyn Future<Output = anyhow::Result<Duration>> + Send>>;

/// Which side a probe runs.
#[derive(Clone, Copy)]
enum Side {
    Uncached,
    Miss,
    L2Hit,
    L1Hit,
}

impl Side {
    const ALL: [Self; 4] = [Self::Uncached, Self::Miss, Self::L2Hit, Self::L1Hit];

    fn label(self) -> &'static str {
        match self {
            Self::Uncached => UNCACHED,
            Self::Miss => MISS,
            Self::L2Hit => L2_HIT,
            Self::L1Hit => L1_HIT,
        }
    }
}

/// The caches the sides read through, and every call's inputs, built once (so the rows measure
/// the reads, not building their arguments).
struct Caches {
    db: Db,
    tenant: TenantId,
    integration: IntegrationId,
    workloads: Vec<WorkloadId>,
    descriptors: Vec<CanonicalRequestDescriptor>,
    /// L1 on, listening (the L1 side, and the miss side's reads).
    l1: CachedReads,
    /// L1 off.
    l2: CachedReads,
}

/// Measures the selected cache rows against `db` (the seeded bench database), with Redis at
/// `redis`.
pub async fn measure(
    config: &BenchConfig,
    db: &Db,
    redis: &RedisTarget,
) -> anyhow::Result<Vec<Measurement>> {
    let (_server, conn) = super::redis::adapters(redis).await?;
    let settings = CacheSettings {
        key_prefix: format!("{}cache:", super::redis::run_prefix()),
        l1_ttl: Duration::from_secs(60),
        l2_ttl: Duration::from_secs(120),
        ..CacheSettings::default()
    };
    let l1 = CachedReads::new(db.clone(), conn.clone(), settings.clone())?;
    l1.listen()
        .await
        .context("the cache rows cannot subscribe to invalidations")?;
    let l2 = CachedReads::new(
        db.clone(),
        conn,
        CacheSettings {
            l1_enabled: false,
            ..settings
        },
    )?;
    let workloads = (1..=BENCH_WORKLOADS)
        .map(|n| WorkloadId::parse(&format!("w_bench_{n}")))
        .collect::<Result<Vec<_>, _>>()?;
    let caches = Arc::new(Caches {
        db: db.clone(),
        tenant: TenantId::parse(TENANT)?,
        integration: IntegrationId::parse("int_bench")?,
        descriptors: workloads.iter().map(descriptor).collect(),
        workloads,
        l1,
        l2,
    });
    let mut rows = Vec::new();
    for name in names().filter(|n| config.selects("postgres", n)) {
        let probes: Vec<Probe> = Side::ALL
            .iter()
            .map(|side| probe(name, *side, caches.clone()))
            .collect();
        for callers in config.concurrency.iter().copied().map(usize::from) {
            eprintln!("{name} × {callers} …");
            for p in &probes {
                round(p, callers, Duration::from_secs(1)).await?;
            }
            let mut out: Vec<(Vec<u64>, Duration)> = vec![(Vec::new(), Duration::ZERO); 4];
            for _ in 0..config.seconds {
                for ((p, side), slot) in probes.iter().zip(Side::ALL).zip(out.iter_mut()) {
                    let started = Instant::now();
                    let (latencies, busy) = round(p, callers, Duration::from_secs(1)).await?;
                    slot.0.extend(latencies);
                    // Wall time, as every other row; the miss side leaves its untimed busts out.
                    slot.1 += match side {
                        Side::Miss => busy,
                        _ => started.elapsed(),
                    };
                }
            }
            for (side, (latencies, busy)) in Side::ALL.iter().zip(out) {
                let m = Measurement::from_latencies(name, side.label(), callers, latencies, busy);
                rows.push(match side {
                    Side::Uncached => m.baseline_of(GROUP),
                    _ => m.in_group(GROUP),
                });
            }
        }
    }
    Ok(rows)
}

/// The probe of `side` for row `name`.
fn probe(name: &'static str, side: Side, caches: Arc<Caches>) -> Probe {
    Arc::new(move |caller, i| {
        let caches = caches.clone();
        Box::pin(async move {
            // The workloads in a scattered order, different per caller.
            let n = usize::try_from(i.wrapping_mul(7919).wrapping_add(caller as u64 * 104_729))
                .unwrap_or(0)
                % caches.workloads.len().max(1);
            if matches!(side, Side::Miss) {
                let resource = if name == EXECUTE {
                    Resource::ExecuteLookup
                } else {
                    Resource::PolicyRules
                };
                caches.l1.invalidate(&caches.tenant, resource).await?;
            }
            let started = Instant::now();
            if name == EXECUTE {
                execute(&caches, side, n).await?;
            } else {
                policy(&caches, side, n).await?;
            }
            Ok(started.elapsed())
        })
    })
}

async fn execute(caches: &Caches, side: Side, n: usize) -> anyhow::Result<()> {
    let (workload, integration) = (
        caches.workloads.get(n).context("no such workload")?,
        &caches.integration,
    );
    let t = &caches.tenant;
    match side {
        Side::Uncached => {
            integrations::get_template_for_execute(&mut caches.db.tenant(t), workload, integration)
                .await?;
        }
        Side::Miss | Side::L1Hit => {
            caches.l1.execute_lookup(t, workload, integration).await?;
        }
        Side::L2Hit => {
            caches.l2.execute_lookup(t, workload, integration).await?;
        }
    }
    Ok(())
}

/// The descriptor the policy rows match for `workload` (as the library rows build it).
fn descriptor(workload: &WorkloadId) -> CanonicalRequestDescriptor {
    policy_descriptor(workload.as_str())
}

async fn policy(caches: &Caches, side: Side, n: usize) -> anyhow::Result<()> {
    let descriptor = caches.descriptors.get(n).context("no such descriptor")?;
    let t = &caches.tenant;
    match side {
        Side::Uncached => {
            policy_rules::list_for_descriptor(&mut caches.db.tenant(t), descriptor).await?;
        }
        Side::Miss | Side::L1Hit => {
            caches.l1.policy_rules_for_descriptor(t, descriptor).await?;
        }
        Side::L2Hit => {
            caches.l2.policy_rules_for_descriptor(t, descriptor).await?;
        }
    }
    Ok(())
}

/// `callers` tasks run `probe` back to back for `limit`: every counted latency (µs), and the
/// counted time per caller (the mean over callers).
async fn round(
    probe: &Probe,
    callers: usize,
    limit: Duration,
) -> anyhow::Result<(Vec<u64>, Duration)> {
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let probe = probe.clone();
            tokio::spawn(async move {
                let (mut latencies, mut busy) = (Vec::new(), Duration::ZERO);
                let end = Instant::now() + limit;
                let mut i = 0;
                while Instant::now() < end {
                    let took = probe(caller, i).await?;
                    busy += took;
                    latencies.push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
                    i += 1;
                }
                anyhow::Ok((latencies, busy))
            })
        })
        .collect();
    let (mut all, mut busy) = (Vec::new(), Duration::ZERO);
    for t in tasks {
        let (latencies, b) = t.await??;
        all.extend(latencies);
        busy += b;
    }
    let per_caller = busy / u32::try_from(callers.max(1)).unwrap_or(u32::MAX);
    Ok((all, per_caller))
}

/// The goals, checked at 16 callers: L1 hit ≥ 50× and L2 hit ≥ 2× the uncached call's
/// throughput.
pub fn notes(rows: &[Measurement]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names() {
        let at = |label: &str| {
            rows.iter()
                .find(|r| r.operation == name && r.callers == 16 && r.implementation == label)
        };
        let Some(uncached) = at(UNCACHED) else {
            continue;
        };
        for (label, goal) in GOALS {
            if let Some(row) = at(label) {
                let times = row.throughput / uncached.throughput.max(f64::EPSILON);
                out.push(format!(
                    "{name}: {label} is {times:.1}× the uncached call's throughput at 16 callers \
                     (goal ≥ {goal}×: {})",
                    if times >= goal { "met" } else { "not met" }
                ));
            }
        }
    }
    out
}

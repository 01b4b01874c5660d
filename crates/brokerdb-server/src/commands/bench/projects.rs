//! The project-store rows (`--only projects`): its hot calls through the library and, second by
//! second in turn, the same statement or script sent raw.
//!
//! - MCP log append: `mcp_log::append` against the same INSERT through a plain `tokio_postgres`
//!   connection of the runtime role, in the same pipelined tenant transaction ([`super::raw`]).
//! - MCP token bucket: `McpRateLimiter::try_acquire` against the same EVALSHA of the same script
//!   from raw redis-rs connections (as many as the adapters' pool).
//! - Webhook intake: `intake::accept_webhook` of a signed `push` delivery with a distinct payload
//!   per call (so every call stores a new event and enqueues its scan) against the statements it
//!   sends, raw: the secret read (tenant transaction), the deduplicating event INSERT with
//!   `ON CONFLICT DO NOTHING` and the `last_seen_at` touch (tenant transaction), the deduplicated
//!   job INSERT (system transaction). The raw side opens no secret and checks no HMAC.
//!
//! The rows need PostgreSQL and Redis, so `--only postgres` and `--only redis` leave them out.
//! They append to the bench tenant's MCP log (append-only: the rows stay) for a project created
//! per run; token buckets go under this run's random key prefix. The intake rows' events and
//! scan jobs are deleted afterwards.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use brokerdb::conninfo::ConnInfo;
use brokerdb::db::Db;
use brokerdb::model::TenantId;
use brokerdb_projects::intake;
use brokerdb_projects::mcp_log::{self, McpCall};
use brokerdb_projects::projects::{self, NewProject};
use brokerdb_projects::rate_limit::{self, BucketRate, BucketSettings, McpRateLimiter};
use brokerdb_projects::scan_job;
use brokerdb_projects::webhooks;
use brokerdb_projects::{
    McpLogId, McpResult, ProjectId, SecretBytes, SecretKey, WebhookEventId, WebhookSource,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cmd;
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::BenchConfig;
use super::raw::{self, RawConn};
use super::stats::Measurement;
use super::timed::{self, Call};
use super::workload::TENANT;
use crate::config::RedisTarget;

/// The store word that selects every project-store row (`--only projects`).
pub const STORE: &str = "projects";
/// Row: one MCP tool call appended to the audit log.
pub const MCP_APPEND: &str = "projects: MCP log append (one tool call)";
/// Row: one token taken from an MCP tool-call bucket.
pub const TOKEN_BUCKET: &str = "projects: MCP token bucket try_acquire (one EVALSHA)";
/// Row: one signed webhook delivery accepted, stored and its scan enqueued.
pub const INTAKE: &str = "projects: webhook intake (verify + dedupe insert + enqueue scan)";
/// The library side of the PostgreSQL rows.
pub const LIBRARY: &str = "brokerdb-projects (library, tenant scope)";
/// The raw side of the PostgreSQL rows.
pub const RAW_SQL: &str = "tokio-postgres, same statements pipelined";
/// The library side of the token-bucket row.
pub const ADAPTER: &str = "brokerdb-projects limiter (adapter pool)";
/// The raw side of the token-bucket row.
pub const RAW_REDIS: &str = "raw redis-rs, same EVALSHA";
const GROUP: &str = "projects";

/// Distinct (client, tool) buckets the token-bucket row spreads its calls over.
const BUCKETS: u64 = 1000;
const TOOL: &str = "read_artifact";

/// Every project-store row name.
pub fn names() -> impl Iterator<Item = &'static str> {
    [MCP_APPEND, TOKEN_BUCKET, INTAKE].into_iter()
}

/// Whether `--only` selects a project-store row.
pub fn selected(config: &BenchConfig) -> bool {
    names().any(|name| config.selects(STORE, name))
}

/// Where the project-store rows run: the bench database (library pools and the runtime role's
/// connection info for the raw side) and Redis.
pub struct Targets<'a> {
    /// The library's pools over the seeded bench database.
    pub db: &'a Db,
    /// The runtime role's connection info (the raw SQL side).
    pub runtime: &'a ConnInfo,
    /// The system role's connection info (the raw side's job INSERT).
    pub system: &'a ConnInfo,
    /// The bench database's superuser connection (it deletes the intake rows' events and jobs).
    pub admin: &'a Client,
    /// Where Redis is.
    pub redis: &'a RedisTarget,
}

/// Measures the selected project-store rows at every concurrency of `config`.
pub async fn measure(config: &BenchConfig, at: &Targets<'_>) -> anyhow::Result<Vec<Measurement>> {
    let mut rows = Vec::new();
    let max_callers = usize::from(config.concurrency.iter().copied().max().unwrap_or(1));
    let tenant = TenantId::parse(TENANT)?;
    let key = SecretKey::random();
    let project = if config.selects(STORE, MCP_APPEND) || config.selects(STORE, INTAKE) {
        Some(bench_project(at.db, &tenant, &key).await?)
    } else {
        None
    };
    let runtime_conns = match &project {
        Some(_) => Arc::new(raw::connections(at.runtime, max_callers).await?),
        None => Arc::new(Vec::new()),
    };
    if let (true, Some(project)) = (config.selects(STORE, MCP_APPEND), &project) {
        let library = append_library(at.db.clone(), tenant.clone(), project.clone());
        let raw = append_raw(runtime_conns.clone(), project.clone());
        rows.extend(pair(config, MCP_APPEND, (&library, LIBRARY), (&raw, RAW_SQL)).await?);
    }
    if let (true, Some(project)) = (config.selects(STORE, INTAKE), &project) {
        let system_conns = Arc::new(raw::connections(at.system, max_callers).await?);
        let run = format!("{:08x}", rand::random::<u32>());
        let library = intake_library(at.db.clone(), key, tenant, project.clone(), run.clone());
        let raw = intake_raw(runtime_conns, system_conns, project.clone(), run);
        let measured = pair(config, INTAKE, (&library, LIBRARY), (&raw, RAW_SQL)).await;
        clear_intake(at.admin, project).await?;
        rows.extend(measured?);
    }
    if config.selects(STORE, TOKEN_BUCKET) {
        let (server, conn) = super::redis::adapters(at.redis).await?;
        let prefix = super::redis::run_prefix();
        let rate = BucketRate::new(rate_limit::MAX_CAPACITY, rate_limit::MAX_REFILL_PER_SECOND);
        let limiter = McpRateLimiter::new(conn, BucketSettings::new(rate))?
            .with_prefix(&format!("{prefix}a"));
        let manager = ConnectionManagerConfig::new()
            .set_response_timeout(Some(brokerdb_redis::DEFAULT_COMMAND_TIMEOUT));
        let mut conns = Vec::new();
        for _ in 0..brokerdb_redis::DEFAULT_POOL_SIZE {
            conns.push(ConnectionManager::new_with_config(server.client(), manager.clone()).await?);
        }
        let sha = load_token_bucket(&mut conns[0]).await?;
        let library = bucket_library(limiter);
        let raw = bucket_raw(Arc::new(conns), sha, format!("{prefix}r:"), rate);
        rows.extend(pair(config, TOKEN_BUCKET, (&library, ADAPTER), (&raw, RAW_REDIS)).await?);
    }
    Ok(rows)
}

/// `library` and `raw` alternately at every concurrency: the library row, then the raw one as
/// its reference.
async fn pair(
    config: &BenchConfig,
    name: &'static str,
    (library, library_label): (&Call, &str),
    (raw, raw_label): (&Call, &str),
) -> anyhow::Result<Vec<Measurement>> {
    let mut rows = Vec::new();
    for callers in config.concurrency.iter().copied().map(usize::from) {
        eprintln!("{name} × {callers} …");
        let [(lat, elapsed), (raw_lat, raw_elapsed)] =
            timed::run_interleaved(library, raw, callers, config.seconds).await?;
        rows.push(
            Measurement::from_latencies(name, library_label, callers, lat, elapsed).in_group(GROUP),
        );
        rows.push(
            Measurement::from_latencies(name, raw_label, callers, raw_lat, raw_elapsed)
                .baseline_of(GROUP),
        );
    }
    Ok(rows)
}

/// A project of the bench tenant of this run's own (with a webhook secret, as a real one has).
async fn bench_project(db: &Db, tenant: &TenantId, key: &SecretKey) -> anyhow::Result<ProjectId> {
    let input = NewProject {
        name: format!("bench project {:08x}", rand::random::<u32>()),
        repo_url: "https://github.com/example/bench".into(),
        webhook_secret: Some(webhook_secret()),
        config: None,
    };
    let project = projects::create(&mut db.tenant(tenant), key, &input)
        .await
        .context("cannot create the bench project")?;
    Ok(project.project_id)
}

/// The tool call both sides log: the library hashes its arguments on every call, the raw side
/// sends the hash computed once.
fn mcp_call() -> McpCall {
    McpCall {
        actor_type: "agent".into(),
        actor_id: "bench-agent".into(),
        tool: TOOL.into(),
        scope: "project:read".into(),
        args: serde_json::json!({"path": "docs/prd.md", "version": 3}),
        result: McpResult::Success,
        error_code: None,
        ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        user_agent: Some("brokerdb-bench".into()),
    }
}

fn append_library(db: Db, tenant: TenantId, project: ProjectId) -> Call {
    let shared = Arc::new((db, tenant, project, mcp_call()));
    Arc::new(move |_, _| {
        let shared = shared.clone();
        Box::pin(async move {
            let (db, tenant, project, call) = &*shared;
            mcp_log::append(&mut db.tenant(tenant), project, call).await?;
            Ok(())
        })
    })
}

fn append_raw(conns: Arc<Vec<RawConn>>, project: ProjectId) -> Call {
    let call = mcp_call();
    let hash = mcp_log::args_hash(&call.args);
    let shared = Arc::new((conns, project.into_inner(), call, hash));
    Arc::new(move |caller, _| {
        let shared = shared.clone();
        Box::pin(async move {
            let (conns, project, call, hash) = &*shared;
            let conn = conns
                .get(caller)
                .context("no raw connection for a caller")?;
            let id = McpLogId::generate().into_inner();
            let params: [&(dyn ToSql + Sync); 12] = [
                &id,
                &TENANT,
                project,
                &call.actor_type,
                &call.actor_id,
                &call.tool,
                &call.scope,
                hash,
                &call.result.as_str(),
                &call.error_code,
                &call.ip,
                &call.user_agent,
            ];
            let rows = conn
                .scoped(TENANT, mcp_log::append_statement_text(), &params, false)
                .await?;
            anyhow::ensure!(rows.len() == 1, "the raw append inserted no row");
            Ok(())
        })
    })
}

/// The bucket a call takes from: scattered over [`BUCKETS`] clients, differently per caller.
fn bucket_client(caller: usize, i: u64) -> String {
    format!("c{}", (caller as u64 * 7919 + i) % BUCKETS)
}

fn bucket_library(limiter: McpRateLimiter) -> Call {
    let limiter = Arc::new(limiter);
    Arc::new(move |caller, i| {
        let limiter = limiter.clone();
        Box::pin(async move {
            let decision = limiter
                .try_acquire(&bucket_client(caller, i), TOOL, None)
                .await?;
            anyhow::ensure!(decision.allowed, "the bench bucket ran dry");
            Ok(())
        })
    })
}

/// The same EVALSHA the limiter sends, with the same key shape and arguments, over a
/// round-robin pool of `conns`.
fn bucket_raw(
    conns: Arc<Vec<ConnectionManager>>,
    sha: String,
    prefix: String,
    rate: BucketRate,
) -> Call {
    let refill = format!("{:?}", rate.refill_per_second);
    let margin = u64::try_from(rate_limit::TTL_MARGIN.as_millis()).unwrap_or(u64::MAX);
    let shared = Arc::new((conns, sha, prefix, refill));
    Arc::new(move |caller, i| {
        let shared = shared.clone();
        Box::pin(async move {
            let (conns, sha, prefix, refill) = &*shared;
            let n = conns.len().max(1);
            let mut c = conns
                .get((caller + i as usize) % n)
                .context("no raw Redis connection")?
                .clone();
            let key = format!(
                "{prefix}rate_limit:mcp:{{{}}}:{TOOL}",
                bucket_client(caller, i)
            );
            let reply: Vec<i64> = cmd("EVALSHA")
                .arg(sha.as_str())
                .arg(1)
                .arg(key)
                .arg(rate.capacity)
                .arg(refill.as_str())
                .arg("")
                .arg(margin)
                .query_async(&mut c)
                .await?;
            anyhow::ensure!(reply.first() == Some(&1), "the raw bucket ran dry");
            Ok(())
        })
    })
}

/// Loads the token-bucket script (EVALSHA needs it on the server); its SHA-1.
async fn load_token_bucket(conn: &mut ConnectionManager) -> anyhow::Result<String> {
    let sha = redis::Script::new(rate_limit::TOKEN_BUCKET_SOURCE)
        .get_hash()
        .to_owned();
    let loaded: String = cmd("SCRIPT")
        .arg("LOAD")
        .arg(rate_limit::TOKEN_BUCKET_SOURCE)
        .query_async(conn)
        .await?;
    anyhow::ensure!(loaded == sha, "SHA-1 mismatch for the token-bucket script");
    Ok(sha)
}

fn webhook_secret() -> SecretBytes {
    SecretBytes::new(b"bench-webhook-secret".to_vec())
}

/// The `push` payload of call `n` of a side: distinct per run, side and call (the iteration
/// numbers of `timed` repeat between concurrencies), so every call stores a new event.
fn push_payload(run: &str, side: &str, n: u64) -> Vec<u8> {
    format!(
        r#"{{"ref":"refs/heads/main","after":"{run}-{side}-{n}","repository":{{"full_name":"example/bench"}}}}"#
    )
    .into_bytes()
}

fn intake_library(
    db: Db,
    key: SecretKey,
    tenant: TenantId,
    project: ProjectId,
    run: String,
) -> Call {
    let shared = Arc::new((db, key, tenant, project, run, webhook_secret()));
    let calls = Arc::new(AtomicU64::new(0));
    Arc::new(move |_, _| {
        let (shared, n) = (shared.clone(), calls.fetch_add(1, Ordering::Relaxed));
        Box::pin(async move {
            let (db, key, tenant, project, run, secret) = &*shared;
            let payload = push_payload(run, "lib", n);
            let signature = intake::github_signature(secret, &payload);
            let accepted = intake::accept_webhook(
                db,
                key,
                tenant,
                project,
                WebhookSource::Github,
                intake::PUSH_EVENT,
                Some(&signature),
                &payload,
            )
            .await?;
            anyhow::ensure!(
                accepted.scan_job.is_some(),
                "the delivery enqueued no scan job"
            );
            Ok(())
        })
    })
}

/// The statements `accept_webhook` sends for a new `push` (the library's text at the time of
/// writing: `projects` SECRET and TOUCH, `webhooks` INSERT_IF_NOT_PROCESSED, the core's
/// deduplicated job INSERT); each returns what the library's returns.
const RAW_SECRET: &str = "SELECT webhook_secret_ciphertext FROM projects WHERE project_id = $1";
const RAW_EVENT: &str = "INSERT INTO webhook_events (event_id, tenant_id, project_id, source, event_type, payload_hash, retry_count)
     SELECT $1, $2, $3, $4::text::webhook_source, $5, $6,
            (SELECT COALESCE(MAX(f.retry_count), 0) FROM webhook_events f
              WHERE f.tenant_id = $2 AND f.project_id = $3 AND f.payload_hash = $6
                AND f.source = $4::text::webhook_source AND f.status = 'failed')
     WHERE NOT EXISTS (SELECT 1 FROM webhook_events p
                        WHERE p.tenant_id = $2 AND p.project_id = $3 AND p.payload_hash = $6
                          AND p.source = $4::text::webhook_source AND p.status = 'processed')
     ON CONFLICT (tenant_id, project_id, source, payload_hash) WHERE status IN ('received', 'processing')
     DO NOTHING
     RETURNING event_id, tenant_id, project_id, source::text, event_type, payload_hash, status,
         processed, retry_count, last_error, duplicate_deliveries, received_at, processed_at";
const RAW_TOUCH: &str = "UPDATE projects SET last_seen_at = date_trunc('milliseconds', now()), \
     updated_at = updated_at WHERE project_id = $1";
const RAW_JOB: &str = "WITH existing AS (
         SELECT job_id, queue, kind, payload, tenant_id, dedupe_key, status, attempts, max_attempts,
                run_at, locked_until, last_error, created_at, updated_at, finished_at FROM jobs
         WHERE queue = $1 AND dedupe_key = $5 AND ($9 OR status IN ('queued', 'running'))
         ORDER BY job_id DESC LIMIT 1),
     inserted AS (
         INSERT INTO jobs (queue, kind, payload, tenant_id, dedupe_key, max_attempts, run_at)
         SELECT $1, $2, $3, $4, $5, $6,
                COALESCE($7, date_trunc('milliseconds', now() + $8::int8 * interval '1 millisecond'))
         WHERE NOT EXISTS (SELECT 1 FROM existing)
         ON CONFLICT DO NOTHING
         RETURNING job_id, queue, kind, payload, tenant_id, dedupe_key, status, attempts,
                   max_attempts, run_at, locked_until, last_error, created_at, updated_at, finished_at)
     SELECT true, * FROM inserted UNION ALL SELECT false, * FROM existing";

fn intake_raw(
    tenant_conns: Arc<Vec<RawConn>>,
    system_conns: Arc<Vec<RawConn>>,
    project: ProjectId,
    run: String,
) -> Call {
    let shared = Arc::new((tenant_conns, system_conns, project.into_inner(), run));
    let calls = Arc::new(AtomicU64::new(0));
    Arc::new(move |caller, _| {
        let (shared, n) = (shared.clone(), calls.fetch_add(1, Ordering::Relaxed));
        Box::pin(async move {
            let (tenant_conns, system_conns, project, run) = &*shared;
            let tenant_conn = tenant_conns.get(caller).context("no raw connection")?;
            let system_conn = system_conns.get(caller).context("no raw connection")?;
            let payload = push_payload(run, "raw", n);
            let read: [&(dyn ToSql + Sync); 1] = [project];
            tenant_conn
                .transaction(Some(TENANT), &[(RAW_SECRET, &read)])
                .await?;
            let event = WebhookEventId::generate().into_inner();
            let hash = webhooks::payload_hash(&payload);
            let (source, event_type) = ("github", intake::PUSH_EVENT);
            let insert: [&(dyn ToSql + Sync); 6] =
                [&event, &TENANT, project, &source, &event_type, &hash];
            let stored = tenant_conn
                .transaction(Some(TENANT), &[(RAW_EVENT, &insert), (RAW_TOUCH, &read)])
                .await?;
            anyhow::ensure!(
                stored.first().map(Vec::len) == Some(1),
                "the raw delivery stored no event"
            );
            let job_payload = serde_json::json!({
                "tenantId": TENANT, "projectId": project, "webhookEventId": event,
            });
            let dedupe = format!("{TENANT}:{event}");
            let (run_at, delay, kept) = (None::<std::time::SystemTime>, 0_i64, true);
            let job: [&(dyn ToSql + Sync); 9] = [
                &scan_job::QUEUE,
                &scan_job::KIND,
                &job_payload,
                &TENANT,
                &dedupe,
                &scan_job::MAX_ATTEMPTS,
                &run_at,
                &delay,
                &kept,
            ];
            let enqueued = system_conn.transaction(None, &[(RAW_JOB, &job)]).await?;
            anyhow::ensure!(
                enqueued.first().map(Vec::len) == Some(1),
                "the raw delivery enqueued no job"
            );
            Ok(())
        })
    })
}

/// Deletes the intake rows' scan jobs and webhook events of `project`.
async fn clear_intake(admin: &Client, project: &ProjectId) -> anyhow::Result<()> {
    admin
        .execute(
            "DELETE FROM jobs WHERE queue = $1 AND payload->>'projectId' = $2",
            &[&scan_job::QUEUE, &project.as_str()],
        )
        .await
        .context("cannot delete the bench's scan jobs")?;
    admin
        .execute(
            "DELETE FROM webhook_events WHERE project_id = $1",
            &[&project.as_str()],
        )
        .await
        .context("cannot delete the bench's webhook events")?;
    Ok(())
}

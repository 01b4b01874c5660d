//! The sealer: gives committed audit rows their chain positions and hashes, in batches.
//!
//! An append only inserts the row; a statement trigger queues its `event_id`
//! (`audit_seal_queue`, `system_audit_seal_queue`). [`seal_pending`] drains the queues as the
//! system role, one transaction per batch:
//! 1. lock the single row of `audit_sealer_lock` (`FOR UPDATE SKIP LOCKED`): one sealer at a time
//!    across every instance; a second one finds it taken and leaves the work to the first. Only
//!    the system role may lock that row (an advisory lock could be taken by any role);
//! 2. delete the oldest queued entries (the lock makes this sealer their only consumer) (at most `batch`) and read their rows; entries whose row is
//!    already sealed or does not exist are dropped and counted;
//! 3. read the head (last seal) of every chain in the batch, link the rows in queue order,
//!    hashing each in Rust ([`super::canonical`]), and insert the seals in one statement.
//!
//! A crash (or a cancelled task) anywhere before the commit rolls the whole batch back: the
//! entries are queued again and nothing is lost. Rows become visible to the sealer only when
//! their transaction commits, so a rolled-back append is never sealed.
//!
//! [`spawn_sealer`] runs this on an interval inside the service and exports
//! `brokerdb_audit_sealed_total{chain}`, `brokerdb_audit_seal_dropped_total{chain}`,
//! `brokerdb_audit_oldest_unsealed_seconds{chain}` and `brokerdb_audit_max_merge_delay_seconds`.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;

use super::canonical::{self, BodyKind, GENESIS, system_body_columns, tenant_body_columns};
use crate::db::{Db, DbError, Exec, SystemScope, SystemTx, TxOptions};

const LOCK: &str = "SELECT id FROM audit_sealer_lock WHERE id = 'sealer' FOR UPDATE SKIP LOCKED";

// The claims below cost O(batch) whatever the size of the tables: the queue entries are deleted
// by id through the queue_id index (`= ANY (ARRAY(…))`), and each claimed row is looked up by its
// key (a LATERAL subquery with LIMIT, which cannot be turned into a join). As plain joins the
// planner, which cannot estimate how many rows a DELETE … RETURNING yields, hashed the whole
// events table and the whole queue for every batch: ~12,000 rows/s at 360,000 events, slowing as
// the table grew, and on two cores the sealer then took the CPU the appends needed.

/// The tenant chains' claim (`$1` the batch size). Public (hidden) for the plan guard.
#[doc(hidden)]
pub const CLAIM_TENANT: &str = concat!(
    "WITH claimed AS (
        DELETE FROM audit_seal_queue WHERE queue_id = ANY (ARRAY(
            SELECT queue_id FROM audit_seal_queue ORDER BY queue_id LIMIT $1))
        RETURNING queue_id, tenant_id, event_id)
     SELECT c.queue_id, c.tenant_id, ",
    tenant_body_columns!(),
    " FROM claimed c
     LEFT JOIN LATERAL (SELECT * FROM audit_events e
                        WHERE e.tenant_id = c.tenant_id AND e.event_id = c.event_id
                          AND NOT EXISTS (SELECT 1 FROM audit_seals s
                                          WHERE s.tenant_id = c.tenant_id AND s.event_id = c.event_id)
                        LIMIT 1) e ON true
     ORDER BY c.queue_id"
);
const CLAIM_SYSTEM: &str = concat!(
    "WITH claimed AS (
        DELETE FROM system_audit_seal_queue WHERE queue_id = ANY (ARRAY(
            SELECT queue_id FROM system_audit_seal_queue ORDER BY queue_id LIMIT $1))
        RETURNING queue_id, event_id)
     SELECT c.queue_id, ''::text, ",
    system_body_columns!(),
    " FROM claimed c
     LEFT JOIN LATERAL (SELECT * FROM system_audit_events e
                        WHERE e.event_id = c.event_id
                          AND NOT EXISTS (SELECT 1 FROM system_audit_seals s
                                          WHERE s.event_id = c.event_id)
                        LIMIT 1) e ON true
     ORDER BY c.queue_id"
);

const TENANT_HEADS: &str = "SELECT t.tenant_id, s.chain_seq, s.hash
     FROM unnest($1::text[]) AS t(tenant_id)
     LEFT JOIN LATERAL (SELECT chain_seq, hash FROM audit_seals
                        WHERE tenant_id = t.tenant_id ORDER BY chain_seq DESC LIMIT 1) s ON true";
const SYSTEM_HEAD: &str =
    "SELECT ''::text, chain_seq, hash FROM system_audit_seals ORDER BY chain_seq DESC LIMIT 1";
const INSERT_TENANT_SEALS: &str =
    "INSERT INTO audit_seals (tenant_id, chain_seq, event_id, prev_hash, hash)
     SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[])";
const INSERT_SYSTEM_SEALS: &str =
    "INSERT INTO system_audit_seals (chain_seq, event_id, prev_hash, hash)
     SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[])";
const OLDEST_TENANT: &str = "SELECT EXTRACT(EPOCH FROM clock_timestamp() - enqueued_at)::float8
     FROM audit_seal_queue ORDER BY queue_id LIMIT 1";
const OLDEST_SYSTEM: &str = "SELECT EXTRACT(EPOCH FROM clock_timestamp() - enqueued_at)::float8
     FROM system_audit_seal_queue ORDER BY queue_id LIMIT 1";

/// Queue entries taken per transaction by default.
pub const DEFAULT_BATCH: i64 = 5_000;

/// Which chains a batch seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chains {
    Tenant,
    System,
}

impl Chains {
    fn label(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::System => "system",
        }
    }
}

/// What one [`seal_pending`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Tenant rows sealed.
    pub tenant_links: u64,
    /// System rows sealed.
    pub system_links: u64,
    /// Queue entries dropped: already sealed, queued twice, or naming no stored row.
    pub dropped: u64,
    /// Another sealer held the lock; this call sealed nothing and left the work to it.
    pub busy: bool,
}

/// One batch's outcome.
struct Batch {
    claimed: u64,
    sealed: u64,
    dropped: u64,
    busy: bool,
}

/// Seals everything queued when the call starts (and whatever commits meanwhile), batch by batch,
/// until both queues are empty or another sealer holds the lock. `batch` is the number of queue
/// entries per transaction (at least 1).
pub async fn seal_pending(system: &SystemScope<'_>, batch: i64) -> Result<SealReport, DbError> {
    let batch = batch.max(1);
    let mut report = SealReport::default();
    for chains in [Chains::Tenant, Chains::System] {
        loop {
            let done = seal_batch(system, chains, batch).await?;
            report.dropped += done.dropped;
            match chains {
                Chains::Tenant => report.tenant_links += done.sealed,
                Chains::System => report.system_links += done.sealed,
            }
            metrics::counter!("brokerdb_audit_sealed_total", "chain" => chains.label())
                .increment(done.sealed);
            if done.dropped > 0 {
                metrics::counter!("brokerdb_audit_seal_dropped_total", "chain" => chains.label())
                    .increment(done.dropped);
            }
            if done.busy {
                report.busy = true;
                return Ok(report);
            }
            if done.claimed < batch as u64 {
                break;
            }
        }
    }
    Ok(report)
}

async fn seal_batch(
    system: &SystemScope<'_>,
    chains: Chains,
    batch: i64,
) -> Result<Batch, DbError> {
    system
        .transaction(&TxOptions::DEFAULT, move |tx| {
            Box::pin(async move { seal_in(tx, chains, batch).await })
        })
        .await
}

/// A claimed row ready to link: its chain key (tenant id, or "" for the system chain), event id
/// and canonical body.
struct Claimed {
    chain: String,
    event_id: String,
    body: String,
}

async fn seal_in(tx: &mut SystemTx, chains: Chains, batch: i64) -> Result<Batch, DbError> {
    if tx.query_opt(LOCK, &[]).await?.is_none() {
        return Ok(Batch {
            claimed: 0,
            sealed: 0,
            dropped: 0,
            busy: true,
        });
    }
    let (claim, kind) = match chains {
        Chains::Tenant => (CLAIM_TENANT, BodyKind::Tenant),
        Chains::System => (CLAIM_SYSTEM, BodyKind::System),
    };
    let rows = tx.query(claim, &[&batch]).await?;
    let claimed = rows.len() as u64;
    let mut seen = std::collections::HashSet::new();
    let mut ready = Vec::with_capacity(rows.len());
    for row in &rows {
        // Column 2 is the event's own event_id: NULL when the row is missing or already sealed.
        let Some(event_id) = row.try_get::<_, Option<String>>(2)? else {
            continue;
        };
        let chain: String = row.try_get(1)?;
        if !seen.insert((chain.clone(), event_id.clone())) {
            continue; // queued twice in this batch
        }
        ready.push(Claimed {
            chain,
            event_id,
            body: canonical::body(kind, row, 2)?,
        });
    }
    let dropped = claimed - ready.len() as u64;
    if ready.is_empty() {
        return Ok(Batch {
            claimed,
            sealed: 0,
            dropped,
            busy: false,
        });
    }
    let mut heads = read_heads(tx, chains, &ready).await?;
    let n = ready.len();
    let (mut tenants, mut seqs, mut ids, mut prevs, mut hashes) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for c in ready {
        let head = heads
            .entry(c.chain.clone())
            .or_insert_with(|| (0, GENESIS.to_owned()));
        let seq = head.0 + 1;
        let hash = canonical::link_hash(&head.1, seq, &c.body);
        prevs.push(std::mem::replace(&mut head.1, hash.clone()));
        head.0 = seq;
        tenants.push(c.chain);
        seqs.push(seq);
        ids.push(c.event_id);
        hashes.push(hash);
    }
    match chains {
        Chains::Tenant => {
            tx.execute(
                INSERT_TENANT_SEALS,
                &[&tenants, &seqs, &ids, &prevs, &hashes],
            )
            .await?
        }
        Chains::System => {
            tx.execute(INSERT_SYSTEM_SEALS, &[&seqs, &ids, &prevs, &hashes])
                .await?
        }
    };
    Ok(Batch {
        claimed,
        sealed: n as u64,
        dropped,
        busy: false,
    })
}

/// The last seal of every chain in `ready` (chains without one are absent).
async fn read_heads(
    tx: &mut SystemTx,
    chains: Chains,
    ready: &[Claimed],
) -> Result<HashMap<String, (i64, String)>, DbError> {
    let rows = match chains {
        Chains::Tenant => {
            let mut keys: Vec<&str> = ready.iter().map(|c| c.chain.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            tx.query(TENANT_HEADS, &[&keys]).await?
        }
        Chains::System => tx.query(SYSTEM_HEAD, &[]).await?,
    };
    let mut heads = HashMap::with_capacity(rows.len());
    for row in rows {
        if let (Some(seq), Some(hash)) = (
            row.try_get::<_, Option<i64>>(1)?,
            row.try_get::<_, Option<String>>(2)?,
        ) {
            heads.insert(row.try_get::<_, String>(0)?, (seq, hash));
        }
    }
    Ok(heads)
}

/// How the service runs the sealer.
#[derive(Debug, Clone)]
pub struct SealerSettings {
    /// Pause between rounds when the queues were drained (default 100 ms).
    pub interval: Duration,
    /// Queue entries per transaction (default [`DEFAULT_BATCH`]).
    pub batch: i64,
    /// The promised bound between an append and its seal (default 1 s); exported as
    /// `brokerdb_audit_max_merge_delay_seconds`, and what `audit verify` holds rows to.
    pub max_merge_delay: Duration,
}

impl Default for SealerSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(100),
            batch: DEFAULT_BATCH,
            max_merge_delay: DEFAULT_MAX_MERGE_DELAY,
        }
    }
}

/// The default maximum merge delay.
pub const DEFAULT_MAX_MERGE_DELAY: Duration = Duration::from_secs(1);

/// A running sealer; `stop` ends it after its current batch (which commits first), `abort`
/// ends it as a crash would (the batch rolls back and is queued again).
pub type SealerHandle = crate::task::TaskHandle;

/// Runs [`seal_pending`] every `settings.interval` on the system role until stopped. Errors
/// (database unavailable, …) are logged, counted in `brokerdb_audit_seal_errors_total` and
/// retried on the next round; they never stop the task.
pub fn spawn_sealer(db: Db, settings: SealerSettings) -> SealerHandle {
    let (stop, mut stopped) = watch::channel(false);
    metrics::gauge!("brokerdb_audit_max_merge_delay_seconds")
        .set(settings.max_merge_delay.as_secs_f64());
    let task = tokio::spawn(async move {
        loop {
            match seal_pending(&db.system(), settings.batch).await {
                Ok(_) => {}
                Err(e) => {
                    metrics::counter!("brokerdb_audit_seal_errors_total").increment(1);
                    tracing::warn!(error = %e, "sealing audit events failed; retrying");
                }
            }
            record_backlog(&db).await;
            tokio::select! {
                _ = tokio::time::sleep(settings.interval) => {}
                _ = stopped.changed() => return,
            }
        }
    });
    crate::task::TaskHandle::new(stop, task)
}

/// Publishes the age of the oldest queued entry of each chain (0 when none).
async fn record_backlog(db: &Db) {
    for (label, sql) in [("tenant", OLDEST_TENANT), ("system", OLDEST_SYSTEM)] {
        if let Ok(row) = db.system().query_opt(sql, &[]).await {
            let age = row.and_then(|r| r.try_get::<_, f64>(0).ok()).unwrap_or(0.0);
            metrics::gauge!("brokerdb_audit_oldest_unsealed_seconds", "chain" => label).set(age);
        }
    }
}

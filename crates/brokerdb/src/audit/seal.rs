//! The sealer: gives committed audit rows their chain positions and hashes, in batches.
//!
//! An append only inserts the row; the database stamps it with the transaction that wrote it
//! (`writer_xid`, `DEFAULT pg_current_xact_id()`, a column the appending roles cannot set).
//! [`seal_pending`] seals as the system role, one transaction per batch:
//! 1. lock the single row of `audit_sealer_lock` (`FOR UPDATE SKIP LOCKED`): one sealer at a time
//!    across every instance; a second one finds it taken and leaves the work to the first. Only
//!    the system role may lock that row (an advisory lock could be taken by any role). The row
//!    holds each chain's *horizon*: every row written by a transaction below it is sealed. The
//!    same statement reads its snapshot's xmin (every transaction below it has ended) and xmax
//!    (no transaction at or above it had started);
//! 2. read the visible rows written from the horizon up to that xmax that have no seal yet, in
//!    `writer_xid` order (at most `batch`), through the `writer_xid` index, each seal looked up
//!    by key (rows of later transactions wait for the next round);
//! 3. read the head (last seal) of every chain in the batch, link the rows in that order,
//!    hashing each in Rust ([`super::canonical`]), and insert the seals in one statement;
//! 4. when the batch took every such row, move the horizon to the xmin read in step 1: a later
//!    statement's snapshot saw every row those ended transactions wrote, and this batch sealed
//!    them.
//!
//! Rows committed above the horizon are sealed as soon as they are visible, so a long-running
//! transaction delays only its own rows' seals; until it ends, each round re-reads (and skips)
//! the sealed rows appended after it began.
//!
//! A horizon ahead of the cluster's xmin means the database was restored into another cluster
//! (`pg_dump` keeps the rows' `writer_xid` and the horizon, not the transaction counter): that
//! round reads every unsealed row, whatever its `writer_xid`, and restarts the horizon at the
//! new cluster's xmin.
//!
//! A crash (or a cancelled task) anywhere before the commit rolls the whole batch back, horizon
//! included: the rows are found again next round and nothing is lost. Rows become visible to the
//! sealer only when their transaction commits, so a rolled-back append is never sealed.
//!
//! [`spawn_sealer`] runs this on an interval inside the service and exports
//! `brokerdb_audit_sealed_total{chain}`, `brokerdb_audit_oldest_unsealed_seconds{chain}` and
//! `brokerdb_audit_max_merge_delay_seconds`.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;

use super::canonical::{self, BodyKind, GENESIS, system_body_columns, tenant_body_columns};
use crate::db::{Db, DbError, Exec, SystemScope, SystemTx, TxOptions};

/// The horizon of the lock row `l`'s column `$col` as the readers of the chains take it: `0` while
/// it is ahead of this snapshot's xmin (it came from another cluster with a restore, and the
/// sealer has not restarted it yet), so every row counts as above it. As a literal for `concat!`.
macro_rules! horizon {
    ($col:literal) => {
        concat!(
            "CASE WHEN l.",
            $col,
            " <= pg_snapshot_xmin(pg_current_snapshot()) THEN l.",
            $col,
            " ELSE '0'::xid8 END"
        )
    };
}
pub(crate) use horizon;

/// Takes the sealer's lock and reads, as text (`xid8`): both horizons as stored, this
/// snapshot's xmin and xmax, and both horizons as [`horizon!`] takes them.
const LOCK: &str = concat!(
    "SELECT l.tenant_sealed_below::text, l.system_sealed_below::text,
            pg_snapshot_xmin(pg_current_snapshot())::text,
            pg_snapshot_xmax(pg_current_snapshot())::text, (",
    horizon!("tenant_sealed_below"),
    ")::text, (",
    horizon!("system_sealed_below"),
    ")::text
     FROM audit_sealer_lock l WHERE l.id = 'sealer' FOR UPDATE SKIP LOCKED"
);

/// The largest `xid8`: no upper bound.
const NO_UPPER_BOUND: &str = "18446744073709551615";

// The claims cost O(batch) whatever the size of the tables: an index range on `writer_xid` from
// the horizon, and each row's seal looked up by key (a LATERAL subquery with LIMIT, which the
// planner cannot turn into a hash anti-join over the whole seals table).

/// The tenant chains' claim: rows of transactions in `[$1, $3)` (`xid8` as text) without a seal,
/// at most `$2`. Public (hidden) for the plan guard.
#[doc(hidden)]
pub const CLAIM_TENANT: &str = concat!(
    "SELECT e.tenant_id, ",
    tenant_body_columns!(),
    " FROM audit_events e
     LEFT JOIN LATERAL (SELECT 1 AS sealed FROM audit_seals s
                        WHERE s.tenant_id = e.tenant_id AND s.event_id = e.event_id
                        LIMIT 1) s ON true
     WHERE e.writer_xid >= $1::text::xid8 AND e.writer_xid < $3::text::xid8 AND s.sealed IS NULL
     ORDER BY e.writer_xid LIMIT $2"
);
const CLAIM_SYSTEM: &str = concat!(
    "SELECT ''::text, ",
    system_body_columns!(),
    " FROM system_audit_events e
     LEFT JOIN LATERAL (SELECT 1 AS sealed FROM system_audit_seals s
                        WHERE s.event_id = e.event_id LIMIT 1) s ON true
     WHERE e.writer_xid >= $1::text::xid8 AND e.writer_xid < $3::text::xid8 AND s.sealed IS NULL
     ORDER BY e.writer_xid LIMIT $2"
);
const ADVANCE_TENANT: &str =
    "UPDATE audit_sealer_lock SET tenant_sealed_below = $1::text::xid8 WHERE id = 'sealer'";
const ADVANCE_SYSTEM: &str =
    "UPDATE audit_sealer_lock SET system_sealed_below = $1::text::xid8 WHERE id = 'sealer'";

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
/// The age of the oldest row not sealed yet (NULL when none).
const OLDEST_TENANT: &str = concat!(
    "SELECT EXTRACT(EPOCH FROM clock_timestamp() - min(e.created_at))::float8
     FROM (SELECT ",
    horizon!("tenant_sealed_below"),
    " AS below FROM audit_sealer_lock l WHERE l.id = 'sealer') h
     JOIN audit_events e ON e.writer_xid >= h.below
     WHERE NOT EXISTS (SELECT 1 FROM audit_seals s
                       WHERE s.tenant_id = e.tenant_id AND s.event_id = e.event_id)"
);
const OLDEST_SYSTEM: &str = concat!(
    "SELECT EXTRACT(EPOCH FROM clock_timestamp() - min(e.created_at))::float8
     FROM (SELECT ",
    horizon!("system_sealed_below"),
    " AS below FROM audit_sealer_lock l WHERE l.id = 'sealer') h
     JOIN system_audit_events e ON e.writer_xid >= h.below
     WHERE NOT EXISTS (SELECT 1 FROM system_audit_seals s WHERE s.event_id = e.event_id)"
);

/// Rows sealed per transaction by default.
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
    /// Another sealer held the lock; this call sealed nothing and left the work to it.
    pub busy: bool,
}

/// One batch's outcome.
struct Batch {
    sealed: u64,
    busy: bool,
}

/// Seals every row visible when the call starts (and whatever commits meanwhile), batch by batch,
/// until no unsealed row is visible or another sealer holds the lock. `batch` is the number of
/// rows per transaction (at least 1).
pub async fn seal_pending(system: &SystemScope<'_>, batch: i64) -> Result<SealReport, DbError> {
    let batch = batch.max(1);
    let mut report = SealReport::default();
    for chains in [Chains::Tenant, Chains::System] {
        loop {
            let done = seal_batch(system, chains, batch).await?;
            match chains {
                Chains::Tenant => report.tenant_links += done.sealed,
                Chains::System => report.system_links += done.sealed,
            }
            metrics::counter!("brokerdb_audit_sealed_total", "chain" => chains.label())
                .increment(done.sealed);
            if done.busy {
                report.busy = true;
                return Ok(report);
            }
            if done.sealed < batch as u64 {
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
    let Some(lock) = tx.query_opt(LOCK, &[]).await? else {
        return Ok(Batch {
            sealed: 0,
            busy: true,
        });
    };
    let (horizon, from, claim, advance, kind): (String, String, _, _, _) = match chains {
        Chains::Tenant => (
            lock.try_get(0)?,
            lock.try_get(4)?,
            CLAIM_TENANT,
            ADVANCE_TENANT,
            BodyKind::Tenant,
        ),
        Chains::System => (
            lock.try_get(1)?,
            lock.try_get(5)?,
            CLAIM_SYSTEM,
            ADVANCE_SYSTEM,
            BodyKind::System,
        ),
    };
    let (xmin, xmax): (String, String) = (lock.try_get(2)?, lock.try_get(3)?);
    let below = if from != horizon {
        // The horizon is ahead of this cluster's transactions: the database was restored into
        // another cluster (pg_dump keeps the rows' writer_xid and the horizon, not the counter).
        // Seal every unsealed row, whatever its writer_xid (one pass over the table), then
        // restart the horizon at this cluster's xmin.
        NO_UPPER_BOUND
    } else {
        // Rows above `xmax` (restored from a cluster further on) were sealed when the horizon
        // restarted; rows of this cluster's later transactions are found next round.
        xmax.as_str()
    };
    let rows = tx.query(claim, &[&from, &batch, &below]).await?;
    let n = rows.len();
    let ready = rows
        .iter()
        .map(|row| {
            Ok(Claimed {
                chain: row.try_get(0)?,
                event_id: row.try_get(1)?,
                body: canonical::body(kind, row, 1)?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    if !ready.is_empty() {
        insert_seals(tx, chains, ready).await?;
    }
    if (n as i64) < batch && horizon != xmin {
        // Every row of a transaction below `xmin` was visible to the claim, and all it found is
        // sealed now.
        tx.execute(advance, &[&xmin]).await?;
    }
    Ok(Batch {
        sealed: n as u64,
        busy: false,
    })
}

/// Links `ready` in order onto the heads of their chains and inserts the seals.
async fn insert_seals(
    tx: &mut SystemTx,
    chains: Chains,
    ready: Vec<Claimed>,
) -> Result<(), DbError> {
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
    Ok(())
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
    /// Pause between rounds once everything visible is sealed (default 100 ms).
    pub interval: Duration,
    /// Rows sealed per transaction (default [`DEFAULT_BATCH`]).
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
/// ends it as a crash would (the batch rolls back, and the next round finds its rows again).
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

/// Publishes the age of the oldest unsealed row of each chain (0 when none).
async fn record_backlog(db: &Db) {
    for (label, sql) in [("tenant", OLDEST_TENANT), ("system", OLDEST_SYSTEM)] {
        if let Ok(row) = db.system().query_opt(sql, &[]).await {
            let age = row.and_then(|r| r.try_get::<_, f64>(0).ok()).unwrap_or(0.0);
            metrics::gauge!("brokerdb_audit_oldest_unsealed_seconds", "chain" => label).set(age);
        }
    }
}

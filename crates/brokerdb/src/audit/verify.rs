//! Walking a sealed chain and reporting its first broken link.
//!
//! Everything is recomputed here, in Rust ([`super::canonical`]); the database only hands over
//! rows. One read-only `REPEATABLE READ` transaction per chain gives one snapshot, so seals and
//! rows committed meanwhile are either both seen or both not. A chain is intact when:
//! 1. its seals are numbered 1, 2, 3, … without gaps, each `prev_hash` is the previous `hash`
//!    (64 zeros for the first), each sealed row still exists and hashes to its seal;
//! 2. it extends every signed checkpoint given ([`super::checkpoint`]): at each checkpoint's size
//!    the link hash equals the checkpoint's head;
//! 3. every row of the chain's table is sealed, or unsealed for less than the maximum merge delay
//!    (counted from the row's `created_at`) and still above the sealer's horizon (a row below it
//!    without a seal was passed over: its `writer_xid` or the horizon was tampered with).

use std::time::Duration;

use super::canonical::{self, BodyKind, GENESIS, system_body_columns, tenant_body_columns};
use super::checkpoint::{CheckpointSet, SYSTEM_CHAIN, tenant_chain_name};
use super::seal::{DEFAULT_MAX_MERGE_DELAY, horizon};
use crate::db::{DbError, Exec, IsolationLevel, SystemScope, SystemTx, TxOptions};
use crate::model::TenantId;

const TENANT_LINKS: &str = concat!(
    "SELECT s.chain_seq, s.prev_hash, s.hash, s.event_id, ",
    tenant_body_columns!(),
    " FROM audit_seals s
     LEFT JOIN audit_events e ON e.tenant_id = s.tenant_id AND e.event_id = s.event_id
     WHERE s.tenant_id = $1 AND s.chain_seq > $2 ORDER BY s.chain_seq LIMIT $3"
);
const SYSTEM_LINKS: &str = concat!(
    "SELECT s.chain_seq, s.prev_hash, s.hash, s.event_id, ",
    system_body_columns!(),
    " FROM system_audit_seals s
     LEFT JOIN system_audit_events e ON e.event_id = s.event_id
     WHERE s.chain_seq > $1 ORDER BY s.chain_seq LIMIT $2"
);
/// The oldest row without a seal that is either below the sealer's horizon (passed over) or
/// older than the delay; the flag says whether it is merely overdue. A horizon restored from
/// another cluster passes over nothing ([`horizon!`]).
const TENANT_UNSEALED: &str = concat!(
    "SELECT e.event_id, e.writer_xid >= h.below
     FROM (SELECT ",
    horizon!("tenant_sealed_below"),
    " AS below FROM audit_sealer_lock l WHERE l.id = 'sealer') h
     JOIN audit_events e ON e.tenant_id = $1
     WHERE NOT EXISTS (SELECT 1 FROM audit_seals s
                       WHERE s.tenant_id = e.tenant_id AND s.event_id = e.event_id)
       AND (e.writer_xid < h.below OR e.created_at < now() - make_interval(secs => $2))
     ORDER BY e.created_at, e.event_id LIMIT 1"
);
const SYSTEM_UNSEALED: &str = concat!(
    "SELECT e.event_id, e.writer_xid >= h.below
     FROM (SELECT ",
    horizon!("system_sealed_below"),
    " AS below FROM audit_sealer_lock l WHERE l.id = 'sealer') h
     CROSS JOIN system_audit_events e
     WHERE NOT EXISTS (SELECT 1 FROM system_audit_seals s WHERE s.event_id = e.event_id)
       AND (e.writer_xid < h.below OR e.created_at < now() - make_interval(secs => $1))
     ORDER BY e.created_at, e.event_id LIMIT 1"
);
/// Every tenant, plus any tenant id a seal or event still names: what `audit verify` walks.
const CHAINED_TENANTS: &str = "SELECT tenant_id FROM tenants
     UNION SELECT DISTINCT tenant_id FROM audit_seals ORDER BY 1";

const BATCH: i64 = 5_000;

/// What verification holds chains to.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// A row may wait this long for its seal (from its append) before it counts as a failure.
    pub max_merge_delay: Duration,
    /// Signed checkpoints every chain must extend (empty: internal consistency only).
    pub checkpoints: CheckpointSet,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            max_merge_delay: DEFAULT_MAX_MERGE_DELAY,
            checkpoints: CheckpointSet::empty(),
        }
    }
}

/// What is wrong where a chain stops being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakKind {
    /// A position has no seal: a seal was deleted.
    SealMissing,
    /// A seal's `prev_hash` is not the previous seal's hash: the chain was rewritten.
    PrevHashMismatch,
    /// A sealed row no longer exists: the audit row was deleted.
    RowMissing,
    /// A row no longer hashes to its seal: the row was modified.
    RowModified,
    /// The chain differs from a signed checkpoint at the checkpoint's position.
    CheckpointMismatch,
    /// The chain is shorter than a signed checkpoint.
    ShorterThanCheckpoint,
    /// A row is still unsealed after the maximum merge delay.
    SealOverdue,
    /// A row is unsealed although the sealer's horizon has passed it: its `writer_xid` or the
    /// horizon was changed behind the sealer's back.
    PassedOver,
}

impl BreakKind {
    /// What the break means, in words.
    pub fn reason(self) -> &'static str {
        match self {
            Self::SealMissing => "no seal at this position (a seal was deleted)",
            Self::PrevHashMismatch => {
                "prev_hash does not match the previous seal (the chain was rewritten)"
            }
            Self::RowMissing => "the sealed audit row is missing (the row was deleted)",
            Self::RowModified => "row content does not match its seal (the row was modified)",
            Self::CheckpointMismatch => {
                "the chain differs from a signed checkpoint at this position (it was rewritten at or before it)"
            }
            Self::ShorterThanCheckpoint => {
                "the chain is shorter than a signed checkpoint (it was rewound or truncated)"
            }
            Self::SealOverdue => {
                "the row is still unsealed after the maximum merge delay (the sealer is behind or stopped)"
            }
            Self::PassedOver => {
                "the row is unsealed although the sealer has passed it (its writer_xid or the sealer's horizon was changed)"
            }
        }
    }
}

/// The first place a chain stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The chain position at fault, when the break has one (a seal, or a checkpoint's size).
    pub chain_seq: Option<i64>,
    /// The event where the break was seen, when one is left to show it.
    pub event_id: Option<String>,
    /// What is wrong.
    pub kind: BreakKind,
}

impl BrokenLink {
    /// [`BreakKind::reason`].
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }
}

/// The result of walking one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Links checked (every link when the chain is intact; up to the break otherwise).
    pub links: u64,
    /// Signed checkpoints of this chain the walk matched.
    pub checkpoints: usize,
    /// The first broken link, if any.
    pub first_broken: Option<BrokenLink>,
}

impl ChainReport {
    /// True when every link, checkpoint and row checks out.
    pub fn is_valid(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Which chain a walk reads.
#[derive(Clone, Copy)]
enum Chain<'a> {
    Tenant(&'a TenantId),
    System,
}

/// Walk state: the link expected next.
struct Walk<'c> {
    expected_seq: i64,
    expected_prev: String,
    links: u64,
    checkpoints: &'c [(i64, String)],
    matched: usize,
}

impl<'c> Walk<'c> {
    fn new(checkpoints: &'c [(i64, String)]) -> Self {
        Self {
            expected_seq: 1,
            expected_prev: GENESIS.to_owned(),
            links: 0,
            checkpoints,
            matched: 0,
        }
    }

    /// Checks one seal and its row; the first break ends the walk.
    fn step(
        &mut self,
        kind: BodyKind,
        row: &tokio_postgres::Row,
    ) -> Result<Option<BrokenLink>, DbError> {
        let (seq, prev, hash, event_id): (i64, String, String, String) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        let row_present = row.try_get::<_, Option<String>>(4)?.is_some();
        let broken = |chain_seq, kind| {
            Some(BrokenLink {
                chain_seq: Some(chain_seq),
                event_id: Some(event_id.clone()),
                kind,
            })
        };
        let found = if seq != self.expected_seq {
            broken(self.expected_seq, BreakKind::SealMissing)
        } else if prev != self.expected_prev {
            broken(seq, BreakKind::PrevHashMismatch)
        } else if !row_present {
            broken(seq, BreakKind::RowMissing)
        } else if canonical::link_hash(&prev, seq, &canonical::body(kind, row, 4)?) != hash {
            broken(seq, BreakKind::RowModified)
        } else {
            let at_checkpoint = self.checkpoints.iter().filter(|(size, _)| *size == seq);
            let mut mismatch = false;
            for (_, head) in at_checkpoint {
                if *head == hash {
                    self.matched += 1;
                } else {
                    mismatch = true;
                }
            }
            if mismatch {
                broken(seq, BreakKind::CheckpointMismatch)
            } else {
                None
            }
        };
        if found.is_none() {
            self.links += 1;
            self.expected_seq += 1;
            self.expected_prev = hash;
        }
        Ok(found)
    }

    fn report(&self, first_broken: Option<BrokenLink>) -> ChainReport {
        ChainReport {
            links: self.links,
            checkpoints: self.matched,
            first_broken,
        }
    }
}

const SNAPSHOT: TxOptions = TxOptions {
    isolation: IsolationLevel::RepeatableRead,
    read_only: true,
    ..TxOptions::DEFAULT
};

/// Walks one chain inside `tx`.
async fn walk(
    tx: &mut SystemTx,
    chain: Chain<'_>,
    opts: &VerifyOptions,
) -> Result<ChainReport, DbError> {
    let (kind, name) = match chain {
        Chain::Tenant(t) => (BodyKind::Tenant, tenant_chain_name(t)),
        Chain::System => (BodyKind::System, SYSTEM_CHAIN.to_owned()),
    };
    let mut walk = Walk::new(opts.checkpoints.for_chain(&name));
    loop {
        let after = walk.expected_seq - 1;
        let rows = match chain {
            Chain::Tenant(t) => tx.query(TENANT_LINKS, &[t, &after, &BATCH]).await?,
            Chain::System => tx.query(SYSTEM_LINKS, &[&after, &BATCH]).await?,
        };
        for row in &rows {
            if let Some(broken) = walk.step(kind, row)? {
                return Ok(walk.report(Some(broken)));
            }
        }
        if (rows.len() as i64) < BATCH {
            break;
        }
    }
    let length = walk.expected_seq - 1;
    if let Some((size, _)) = walk
        .checkpoints
        .iter()
        .filter(|(size, _)| *size > length)
        .max_by_key(|(size, _)| *size)
    {
        return Ok(walk.report(Some(BrokenLink {
            chain_seq: Some(*size),
            event_id: None,
            kind: BreakKind::ShorterThanCheckpoint,
        })));
    }
    let delay = opts.max_merge_delay.as_secs_f64();
    let unsealed = match chain {
        Chain::Tenant(t) => tx.query_opt(TENANT_UNSEALED, &[t, &delay]).await?,
        Chain::System => tx.query_opt(SYSTEM_UNSEALED, &[&delay]).await?,
    };
    let broken = unsealed
        .map(|row| {
            Ok::<_, DbError>(BrokenLink {
                chain_seq: None,
                event_id: Some(row.try_get(0)?),
                kind: if row.try_get::<_, bool>(1)? {
                    BreakKind::SealOverdue
                } else {
                    BreakKind::PassedOver
                },
            })
        })
        .transpose()?;
    Ok(walk.report(broken))
}

/// Walks a tenant's chain (system scope: verification is an operator's job across tenants).
pub async fn verify_tenant_chain(
    system: &SystemScope<'_>,
    tenant: &TenantId,
    opts: &VerifyOptions,
) -> Result<ChainReport, DbError> {
    let (tenant, opts) = (tenant.clone(), opts.clone());
    system
        .transaction(&SNAPSHOT, move |tx| {
            let (tenant, opts) = (tenant.clone(), opts.clone());
            Box::pin(async move { walk(tx, Chain::Tenant(&tenant), &opts).await })
        })
        .await
}

/// Walks the system events' chain.
pub async fn verify_system_chain(
    system: &SystemScope<'_>,
    opts: &VerifyOptions,
) -> Result<ChainReport, DbError> {
    let opts = opts.clone();
    system
        .transaction(&SNAPSHOT, move |tx| {
            let opts = opts.clone();
            Box::pin(async move { walk(tx, Chain::System, &opts).await })
        })
        .await
}

/// Every tenant to verify: all tenants, and any tenant a seal still names.
pub async fn chained_tenants(system: &SystemScope<'_>) -> Result<Vec<TenantId>, DbError> {
    let mut system = *system;
    system
        .query(CHAINED_TENANTS, &[])
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
}

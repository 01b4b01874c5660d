//! Walking a hash chain and reporting its first broken link.
//!
//! The walk reads the rows (in batches, by `chain_seq`) and the chain head in one read-only
//! `REPEATABLE READ` transaction: one snapshot, so appends committed meanwhile can neither be
//! half-seen nor make the head look ahead of the rows (a false "trailing rows deleted").

use crate::db::{DbError, IsolationLevel, SystemScope, Tx, TxOptions};
use crate::model::{EventId, TenantId};

const TENANT_LINKS: &str = "SELECT chain_seq, prev_hash, hash,
        brokerdb_audit_link_hash(prev_hash, chain_seq, brokerdb_audit_event_body(e)), event_id
     FROM audit_events e WHERE tenant_id = $1 AND chain_seq > $2 ORDER BY chain_seq LIMIT $3";
const TENANT_HEAD: &str = "SELECT chain_seq, hash FROM audit_chain_heads WHERE tenant_id = $1";
const SYSTEM_LINKS: &str = "SELECT chain_seq, prev_hash, hash,
        brokerdb_audit_link_hash(prev_hash, chain_seq, brokerdb_system_audit_event_body(e)), event_id
     FROM system_audit_events e WHERE chain_seq > $1 ORDER BY chain_seq LIMIT $2";
const SYSTEM_HEAD: &str = "SELECT chain_seq, hash FROM system_audit_chain_head";
/// Every tenant that has (or had) a chain, plus every tenant: what `audit verify` walks.
const CHAINED_TENANTS: &str =
    "SELECT tenant_id FROM tenants UNION SELECT tenant_id FROM audit_chain_heads ORDER BY 1";

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const BATCH: i64 = 5_000;

/// The first place a chain stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The link at fault: the edited row, the first missing position, or (for a truncated
    /// chain) the position the head expects last.
    pub chain_seq: i64,
    /// The row where the break was seen: the edited row, or the first row after a gap; `None`
    /// when no row is left to show it (trailing rows deleted).
    pub event_id: Option<EventId>,
    /// What is wrong there.
    pub reason: &'static str,
}

/// The result of walking one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Links checked (every link when the chain is intact; up to the break otherwise).
    pub links: u64,
    /// The first broken link, if any.
    pub first_broken: Option<BrokenLink>,
}

impl ChainReport {
    /// True when every link and the head check out.
    pub fn is_valid(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Walk state: the link expected next.
struct Walk {
    expected_seq: i64,
    expected_prev: String,
    links: u64,
}

impl Walk {
    fn new() -> Self {
        Self {
            expected_seq: 1,
            expected_prev: GENESIS.to_owned(),
            links: 0,
        }
    }

    /// Checks one row; the first break found ends the walk.
    fn step(&mut self, row: &tokio_postgres::Row) -> Result<Option<BrokenLink>, DbError> {
        let (seq, prev, hash, recomputed, event_id): (i64, String, String, String, EventId) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
        );
        let reason = if seq != self.expected_seq {
            Some((self.expected_seq, "link missing (a row was deleted)"))
        } else if prev != self.expected_prev {
            Some((seq, "prev_hash does not match the previous link"))
        } else if hash != recomputed {
            Some((
                seq,
                "row content does not match its hash (the row was modified)",
            ))
        } else {
            None
        };
        if let Some((chain_seq, reason)) = reason {
            return Ok(Some(BrokenLink {
                chain_seq,
                event_id: Some(event_id),
                reason,
            }));
        }
        self.links += 1;
        self.expected_seq += 1;
        self.expected_prev = hash;
        Ok(None)
    }

    /// Compares the end of the rows with the head.
    fn finish(self, head: Option<(i64, String)>) -> ChainReport {
        let last_seq = self.expected_seq - 1;
        let broken = match head {
            Some((seq, hash)) if seq != last_seq || hash != self.expected_prev => {
                Some(BrokenLink {
                    chain_seq: seq,
                    event_id: None,
                    reason: "chain ends before its head (trailing rows were deleted)",
                })
            }
            None if last_seq > 0 => Some(BrokenLink {
                chain_seq: last_seq,
                event_id: None,
                reason: "chain head is missing",
            }),
            _ => None,
        };
        ChainReport {
            links: self.links,
            first_broken: broken,
        }
    }
}

fn head(row: Option<tokio_postgres::Row>) -> Result<Option<(i64, String)>, DbError> {
    Ok(row
        .map(|r| Ok::<_, tokio_postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
        .transpose()?)
}

const SNAPSHOT: TxOptions = TxOptions {
    isolation: IsolationLevel::RepeatableRead,
    read_only: true,
    ..TxOptions::DEFAULT
};

/// Walks one chain inside `tx`: `tenant` `Some` for a tenant chain, `None` for the system one.
async fn walk(tx: &mut Tx<'_>, tenant: Option<&TenantId>) -> Result<ChainReport, DbError> {
    let mut walk = Walk::new();
    loop {
        let after = walk.expected_seq - 1;
        let rows = match tenant {
            Some(t) => tx.query(TENANT_LINKS, &[t, &after, &BATCH]).await?,
            None => tx.query(SYSTEM_LINKS, &[&after, &BATCH]).await?,
        };
        for row in &rows {
            if let Some(broken) = walk.step(row)? {
                return Ok(ChainReport {
                    links: walk.links,
                    first_broken: Some(broken),
                });
            }
        }
        if (rows.len() as i64) < BATCH {
            break;
        }
    }
    let head = match tenant {
        Some(t) => head(tx.query_opt(TENANT_HEAD, &[t]).await?)?,
        None => head(tx.query_opt(SYSTEM_HEAD, &[]).await?)?,
    };
    Ok(walk.finish(head))
}

/// Walks a tenant's chain (system scope: verification is an operator's job across tenants).
pub async fn verify_tenant_chain(
    system: &SystemScope<'_>,
    tenant: &TenantId,
) -> Result<ChainReport, DbError> {
    let tenant = tenant.clone();
    system
        .transaction(&SNAPSHOT, move |tx| {
            let tenant = tenant.clone();
            Box::pin(async move { walk(tx, Some(&tenant)).await })
        })
        .await
}

/// Walks the system events' chain.
pub async fn verify_system_chain(system: &SystemScope<'_>) -> Result<ChainReport, DbError> {
    system
        .transaction(&SNAPSHOT, |tx| {
            Box::pin(async move { walk(tx, None).await })
        })
        .await
}

/// Every tenant to verify: all tenants, and any tenant a chain head still names.
pub async fn chained_tenants(system: &SystemScope<'_>) -> Result<Vec<TenantId>, DbError> {
    system
        .query(CHAINED_TENANTS, &[])
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
}

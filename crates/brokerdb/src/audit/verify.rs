//! Walking a hash chain and reporting its first broken link.

use crate::db::{DbError, SystemScope};
use crate::model::TenantId;

const TENANT_LINKS: &str = "SELECT chain_seq, prev_hash, hash,
        brokerdb_audit_link_hash(prev_hash, chain_seq, brokerdb_audit_event_body(e))
     FROM audit_events e WHERE tenant_id = $1 ORDER BY chain_seq";
const TENANT_HEAD: &str = "SELECT chain_seq, hash FROM audit_chain_heads WHERE tenant_id = $1";
const SYSTEM_LINKS: &str = "SELECT chain_seq, prev_hash, hash,
        brokerdb_audit_link_hash(prev_hash, chain_seq, brokerdb_system_audit_event_body(e))
     FROM system_audit_events e ORDER BY chain_seq";
const SYSTEM_HEAD: &str = "SELECT chain_seq, hash FROM system_audit_chain_head";

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The first place a chain stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The link at fault (for a truncated chain, the last link the head expects).
    pub chain_seq: i64,
    /// What is wrong there.
    pub reason: &'static str,
}

/// The result of walking one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Links present.
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

fn walk(rows: &[tokio_postgres::Row], head: Option<(i64, String)>) -> Result<ChainReport, DbError> {
    let (mut expected_seq, mut expected_prev) = (1_i64, GENESIS.to_owned());
    for row in rows {
        let (seq, prev, hash, recomputed): (i64, String, String, String) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        let reason = if seq != expected_seq {
            Some((expected_seq, "link missing (a row was deleted)"))
        } else if prev != expected_prev {
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
            return Ok(ChainReport {
                links: rows.len() as u64,
                first_broken: Some(BrokenLink { chain_seq, reason }),
            });
        }
        expected_seq += 1;
        expected_prev = hash;
    }
    let last_seq = expected_seq - 1;
    let broken = match head {
        Some((seq, hash)) if seq != last_seq || hash != expected_prev => Some(BrokenLink {
            chain_seq: seq,
            reason: "chain ends before its head (trailing rows were deleted)",
        }),
        None if last_seq > 0 => Some(BrokenLink {
            chain_seq: last_seq,
            reason: "chain head is missing",
        }),
        _ => None,
    };
    Ok(ChainReport {
        links: rows.len() as u64,
        first_broken: broken,
    })
}

fn head(row: Option<tokio_postgres::Row>) -> Result<Option<(i64, String)>, DbError> {
    Ok(row
        .map(|r| Ok::<_, tokio_postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
        .transpose()?)
}

/// Walks a tenant's chain (system scope: verification is an operator's job across tenants).
pub async fn verify_tenant_chain(
    system: &SystemScope<'_>,
    tenant: &TenantId,
) -> Result<ChainReport, DbError> {
    let rows = system.query(TENANT_LINKS, &[tenant]).await?;
    let head = head(system.query_opt(TENANT_HEAD, &[tenant]).await?)?;
    walk(&rows, head)
}

/// Walks the system events' chain.
pub async fn verify_system_chain(system: &SystemScope<'_>) -> Result<ChainReport, DbError> {
    let rows = system.query(SYSTEM_LINKS, &[]).await?;
    let head = head(system.query_opt(SYSTEM_HEAD, &[]).await?)?;
    walk(&rows, head)
}

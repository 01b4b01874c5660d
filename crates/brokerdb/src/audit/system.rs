//! Reading system (tenant-less) audit events, newest first. They live in their own table, so
//! this is the only way to see them and it can never return a tenant event.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::db::paging::{KeysetPage, decode_cursor};
use crate::db::{DbError, SystemExec};
use crate::model::{EventId, Timestamp};
use crate::repo::audit_events::{checked_limit, cursor_position};

const SORT_TAG: &str = "system_audit_events:timestamp_desc,event_id_desc";
const PAGE: &str = "SELECT e.event_id, e.\"timestamp\", e.actor, e.action, e.correlation_id, e.event_json,
            (SELECT s.chain_seq FROM system_audit_seals s WHERE s.event_id = e.event_id)
     FROM system_audit_events e
     WHERE (e.\"timestamp\", e.event_id) < (COALESCE($1, 'infinity'::timestamptz), COALESCE($2, ''::text))
     ORDER BY e.\"timestamp\" DESC, e.event_id DESC LIMIT $3";

/// A stored system event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemAuditRecord {
    /// Event id.
    pub event_id: EventId,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// Trace id.
    pub correlation_id: String,
    /// Details.
    pub details: Map<String, Value>,
    /// Position in the system chain; `None` until the sealer has sealed it.
    pub chain_seq: Option<i64>,
}

/// System events, newest first (`timestamp` desc, `event_id` desc); `limit` 1..=200 (default
/// 100), signed cursor from the previous page.
pub async fn list_system_events(
    exec: &mut impl SystemExec,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<KeysetPage<SystemAuditRecord>, DbError> {
    let limit = checked_limit(limit)?;
    let key = exec.db().cursor_key().clone();
    let (at, id) = cursor_position(decode_cursor(&key, "", SORT_TAG, cursor)?)?;
    let fetch = limit + 1;
    let items = exec
        .op(super::REPO, "list_system_events")
        .query_all(PAGE, &[&at, &id, &fetch], from_row)
        .await?;
    Ok(KeysetPage::from_rows(
        &key,
        "",
        SORT_TAG,
        items,
        limit,
        |e| vec![e.timestamp.to_string(), e.event_id.to_string()],
    ))
}

fn from_row(r: &tokio_postgres::Row) -> Result<SystemAuditRecord, DbError> {
    let details: Value = r.try_get(5)?;
    Ok(SystemAuditRecord {
        event_id: r.try_get(0)?,
        timestamp: r.try_get(1)?,
        actor: r.try_get(2)?,
        action: r.try_get(3)?,
        correlation_id: r.try_get(4)?,
        details: match details {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        chain_seq: r.try_get(6)?,
    })
}

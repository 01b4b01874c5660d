//! The canonical form of a stored audit row and the link hash of the chains.
//!
//! The sealer and the verifier both read a row with the columns of `tenant_body_columns!` /
//! `system_body_columns!` and hash it here, in Rust: no database function takes part, so an
//! administrator who redefines functions cannot change what a hash covers.
//!
//! **Body.** A JSON array (serde_json's compact output, so escaping is deterministic and the
//! encoding unambiguous) of every content column, in this order, `null` for SQL NULL:
//! - tenant events: `"brokerdb.audit.v1"`, event_id, tenant_id, timestamp, workload_id,
//!   integration_id, correlation_id, event_type, decision, action_group, risk_tier,
//!   upstream_status_code (number), latency_ms (number), event_json, created_at;
//! - system events: `"brokerdb.system_audit.v1"`, event_id, timestamp, actor, action,
//!   correlation_id, event_json, created_at.
//!
//! Enums are their labels; instants are UTC RFC 3339 with microseconds (`…T…​.ffffffZ`, the
//! precision of `timestamptz`); `event_json` is PostgreSQL's own text of the stored `jsonb`
//! (canonical: keys sorted, fixed separators) as a JSON string, so the hash never depends on how
//! Rust would parse numbers.
//!
//! **Link.** `hash = hex(SHA-256(prev_hash "\n" chain_seq "\n" body))`, `prev_hash` the previous
//! link's hash (64 zeros for position 1), `chain_seq` in decimal.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_postgres::Row;

/// `prev_hash` of the first link of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The columns of `audit_events` a tenant body covers, in order (alias `e`), as a literal for
/// `concat!`.
macro_rules! tenant_body_columns {
    () => {
        "e.event_id, e.tenant_id, e.\"timestamp\", e.workload_id, e.integration_id, \
         e.correlation_id, e.event_type::text, e.decision::text, e.action_group, e.risk_tier::text, \
         e.upstream_status_code, e.latency_ms, e.event_json::text, e.created_at"
    };
}
/// The columns of `system_audit_events` a system body covers, in order (alias `e`).
macro_rules! system_body_columns {
    () => {
        "e.event_id, e.\"timestamp\", e.actor, e.action, e.correlation_id, e.event_json::text, \
         e.created_at"
    };
}
pub(crate) use {system_body_columns, tenant_body_columns};

/// Which chain a row belongs to: its body's columns and version tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `audit_events`.
    Tenant,
    /// `system_audit_events`.
    System,
}

fn instant(t: DateTime<Utc>) -> Value {
    Value::String(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

fn text(row: &Row, i: usize) -> Result<Value, tokio_postgres::Error> {
    Ok(row
        .try_get::<_, Option<String>>(i)?
        .map_or(Value::Null, Value::String))
}

fn int(row: &Row, i: usize) -> Result<Value, tokio_postgres::Error> {
    Ok(row
        .try_get::<_, Option<i32>>(i)?
        .map_or(Value::Null, Value::from))
}

fn at(row: &Row, i: usize) -> Result<Value, tokio_postgres::Error> {
    Ok(row
        .try_get::<_, Option<DateTime<Utc>>>(i)?
        .map_or(Value::Null, instant))
}

/// The canonical body of the row whose body columns start at `offset`.
pub(crate) fn body(
    kind: BodyKind,
    row: &Row,
    offset: usize,
) -> Result<String, tokio_postgres::Error> {
    let o = offset;
    let values = match kind {
        BodyKind::Tenant => vec![
            Value::from("brokerdb.audit.v1"),
            text(row, o)?,
            text(row, o + 1)?,
            at(row, o + 2)?,
            text(row, o + 3)?,
            text(row, o + 4)?,
            text(row, o + 5)?,
            text(row, o + 6)?,
            text(row, o + 7)?,
            text(row, o + 8)?,
            text(row, o + 9)?,
            int(row, o + 10)?,
            int(row, o + 11)?,
            text(row, o + 12)?,
            at(row, o + 13)?,
        ],
        BodyKind::System => vec![
            Value::from("brokerdb.system_audit.v1"),
            text(row, o)?,
            at(row, o + 1)?,
            text(row, o + 2)?,
            text(row, o + 3)?,
            text(row, o + 4)?,
            text(row, o + 5)?,
            at(row, o + 6)?,
        ],
    };
    Ok(Value::Array(values).to_string())
}

/// The hash of the link at `chain_seq` over `body`, after `prev_hash`.
pub fn link_hash(prev_hash: &str, chain_seq: i64, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(chain_seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_hash_is_sha256_of_prev_seq_and_body() {
        // printf '%s\n%s\n%s' 000…0 1 '["x"]' | sha256sum
        assert_eq!(
            link_hash(GENESIS, 1, r#"["x"]"#),
            hex::encode(Sha256::digest(format!("{GENESIS}\n1\n[\"x\"]").as_bytes()))
        );
        assert_ne!(link_hash(GENESIS, 1, "a"), link_hash(GENESIS, 2, "a"));
    }

    #[test]
    fn instants_have_microseconds_in_utc() -> Result<(), chrono::ParseError> {
        let t = DateTime::parse_from_rfc3339("2026-01-02T01:00:00.5+01:00")?.with_timezone(&Utc);
        assert_eq!(instant(t), Value::from("2026-01-02T00:00:00.500000Z"));
        Ok(())
    }
}

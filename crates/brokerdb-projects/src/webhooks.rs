//! Received webhook deliveries: recorded once per in-flight payload, then moved through
//! `received → processing → processed | failed`. All in the tenant scope, under RLS.
//!
//! Deduplication ([`receive`]): a delivery is keyed by `(project, source, SHA-256 of the raw
//! payload)`.
//! - While an event of that key is `received` or `processing`, a redelivery returns it and
//!   creates nothing ([`ReceiveOutcome::DuplicateInFlight`]). The partial unique index
//!   `uq_webhook_events_in_flight_payload` makes this race-safe: concurrent deliveries insert
//!   with `ON CONFLICT DO NOTHING`, exactly one wins, the others re-read the winner.
//! - After it was `processed`, a redelivery increments that event's `duplicate_deliveries`
//!   and returns it ([`ReceiveOutcome::DuplicateAfterProcessed`]): no new event, no new work.
//! - After it `failed`, a redelivery is a retry: a new event, whose `retry_count` carries on from
//!   the failed one's.
//!
//! Work that must happen only for a new event (enqueueing its scan) goes in the same
//! transaction: call [`receive`] with a [`TenantTx`](brokerdb_core::db::TenantTx), act when the
//! outcome is [`ReceiveOutcome::Created`], then commit; a rollback undoes both.

use brokerdb_core::db::{DbError, Exec, TenantExec, TxOptions};
use brokerdb_core::scalar::Timestamp;
use brokerdb_core::scalar::{TenantId, ValidationError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::Row;

use crate::ids::{ProjectId, WebhookEventId};
use crate::model::{WebhookSource, WebhookStatus, bounded_text, stored};

const REPO: &str = "webhook_events";
/// Longest `last_error` kept, in characters.
pub const MAX_ERROR_LEN: usize = 1000;

macro_rules! cols {
    () => {
        "event_id, tenant_id, project_id, source::text, event_type, payload_hash, status, \
         processed, retry_count, last_error, duplicate_deliveries, received_at, processed_at"
    };
}

const IN_FLIGHT: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM webhook_events WHERE project_id = $1 AND source = $2::text::webhook_source
       AND payload_hash = $3 AND status IN ('received', 'processing')"
);
const BUMP_PROCESSED: &str = concat!(
    "UPDATE webhook_events SET duplicate_deliveries = duplicate_deliveries + 1
     WHERE event_id = (SELECT event_id FROM webhook_events
                        WHERE project_id = $1 AND source = $2::text::webhook_source
                          AND payload_hash = $3 AND status = 'processed'
                        ORDER BY processed_at DESC, event_id DESC LIMIT 1)
     RETURNING ",
    cols!()
);
const GET: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM webhook_events WHERE event_id = $1"
);
const TRANSITION: &str = concat!(
    "UPDATE webhook_events SET status = $2,
            processed_at = CASE WHEN $2 = 'processed' THEN date_trunc('milliseconds', now()) END,
            retry_count = retry_count + CASE WHEN $2 = 'failed' THEN 1 ELSE 0 END,
            last_error = CASE WHEN $2 = 'failed' THEN $3 ELSE last_error END
     WHERE event_id = $1 AND status = ANY($4)
     RETURNING ",
    cols!()
);
const UNPROCESSED: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM webhook_events WHERE project_id = $1 AND processed = false
     ORDER BY received_at, event_id LIMIT $2"
);

/// A stored webhook event (the payload itself is not stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEvent {
    /// Its id.
    pub event_id: WebhookEventId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Its project.
    pub project_id: ProjectId,
    /// Who sent it.
    pub source: WebhookSource,
    /// The sender's event type (`push`, `pull_request`, …), 1..=100 characters.
    pub event_type: String,
    /// SHA-256 of the raw payload, 64 lower-case hex.
    pub payload_hash: String,
    /// Where it is in its processing.
    pub status: WebhookStatus,
    /// `status == processed` (a generated column).
    pub processed: bool,
    /// How many times processing failed (carried on to a retry's new event).
    pub retry_count: i32,
    /// The last failure, at most 1000 characters.
    pub last_error: Option<String>,
    /// Deliveries of the same payload received after it was processed.
    pub duplicate_deliveries: i32,
    /// When it was received.
    pub received_at: Timestamp,
    /// When it was processed.
    pub processed_at: Option<Timestamp>,
}

fn from_row(r: &Row) -> Result<WebhookEvent, DbError> {
    Ok(WebhookEvent {
        event_id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        project_id: r.try_get(2)?,
        source: stored(WebhookSource::parse, r.try_get(3)?)?,
        event_type: r.try_get(4)?,
        payload_hash: r.try_get(5)?,
        status: stored(WebhookStatus::parse, r.try_get(6)?)?,
        processed: r.try_get(7)?,
        retry_count: r.try_get(8)?,
        last_error: r.try_get(9)?,
        duplicate_deliveries: r.try_get(10)?,
        received_at: r.try_get(11)?,
        processed_at: r.try_get(12)?,
    })
}

/// What [`receive`] did with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiveOutcome {
    /// A new event was recorded: the caller processes it (enqueues its work).
    Created,
    /// An event of the same payload is received or processing: nothing was recorded.
    DuplicateInFlight,
    /// The same payload was already processed: its `duplicate_deliveries` went up by one.
    DuplicateAfterProcessed,
}

/// A delivery's event (new or existing) and what [`receive`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    /// The new event, the in-flight one, or the processed one.
    pub event: WebhookEvent,
    /// What happened.
    pub outcome: ReceiveOutcome,
}

/// Lower-case hex SHA-256 of a raw payload: the dedupe key of a delivery.
pub fn payload_hash(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

/// Records a delivery of `payload` (raw bytes, hashed, never stored) for a project of the scope's
/// tenant, deduplicated as the module docs say; atomic on a scope, inside the transaction when
/// given a [`TenantTx`](brokerdb_core::db::TenantTx). A project that does not exist in the tenant →
/// `integrity_violation` on `project_id`.
pub async fn receive(
    exec: &mut impl TenantExec,
    project_id: &ProjectId,
    source: WebhookSource,
    event_type: &str,
    payload: &[u8],
) -> Result<Received, DbError> {
    let event_type = bounded_text("event_type", event_type, 100, "must be 1..100 characters")?;
    let hash = payload_hash(payload);
    let project = project_id.clone();
    exec.op(REPO, "receive")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (project, event_type, hash) = (project.clone(), event_type.clone(), hash.clone());
            Box::pin(async move {
                let tenant = tx.tenant_id().clone();
                let source = source.as_str();
                // A concurrent delivery may move between states while this one looks: a few
                // rounds always settle (each round sees every commit before it).
                for _ in 0..5 {
                    let id = WebhookEventId::generate();
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
                        [&id, &tenant, &project, &source, &event_type, &hash];
                    if let Some(row) = tx.query_opt(INSERT_IF_NOT_PROCESSED, &params).await? {
                        return Ok(Received {
                            event: from_row(&row)?,
                            outcome: ReceiveOutcome::Created,
                        });
                    }
                    if let Some(row) = tx.query_opt(IN_FLIGHT, &[&project, &source, &hash]).await? {
                        return Ok(Received {
                            event: from_row(&row)?,
                            outcome: ReceiveOutcome::DuplicateInFlight,
                        });
                    }
                    if let Some(row) = tx
                        .query_opt(BUMP_PROCESSED, &[&project, &source, &hash])
                        .await?
                    {
                        return Ok(Received {
                            event: from_row(&row)?,
                            outcome: ReceiveOutcome::DuplicateAfterProcessed,
                        });
                    }
                }
                Err(DbError::Contention)
            })
        })
        .await
}

/// A new event, unless one of the key is in flight (the partial unique index) or was processed
/// (then the delivery is a duplicate); a retry after `failed` carries on its `retry_count`.
const INSERT_IF_NOT_PROCESSED: &str = concat!(
    "INSERT INTO webhook_events (event_id, tenant_id, project_id, source, event_type, payload_hash, retry_count)
     SELECT $1, $2, $3, $4::text::webhook_source, $5, $6,
            (SELECT COALESCE(MAX(f.retry_count), 0) FROM webhook_events f
              WHERE f.tenant_id = $2 AND f.project_id = $3 AND f.payload_hash = $6
                AND f.source = $4::text::webhook_source AND f.status = 'failed')
     WHERE NOT EXISTS (SELECT 1 FROM webhook_events p
                        WHERE p.tenant_id = $2 AND p.project_id = $3 AND p.payload_hash = $6
                          AND p.source = $4::text::webhook_source AND p.status = 'processed')
     ON CONFLICT (tenant_id, project_id, source, payload_hash) WHERE status IN ('received', 'processing')
     DO NOTHING
     RETURNING ",
    cols!()
);

/// An event of the scope's tenant, or `None`.
pub async fn get(
    exec: &mut impl TenantExec,
    event_id: &WebhookEventId,
) -> Result<Option<WebhookEvent>, DbError> {
    exec.op(REPO, "get")
        .query_opt(GET, &[event_id], from_row)
        .await
}

async fn transition(
    exec: &mut impl TenantExec,
    name: &'static str,
    event_id: &WebhookEventId,
    to: WebhookStatus,
    error: Option<String>,
    from: &[&str],
) -> Result<WebhookEvent, DbError> {
    let from: Vec<&str> = from.to_vec();
    let updated = exec
        .op(REPO, name)
        .query_opt(
            TRANSITION,
            &[event_id, &to.as_str(), &error, &from],
            from_row,
        )
        .await?;
    match updated {
        Some(event) => Ok(event),
        None => match get(exec, event_id).await? {
            Some(_) => Err(DbError::StateTransitionInvalid {
                message: "the webhook event is not in a state that allows this change".into(),
            }),
            None => Err(DbError::not_found("webhook event")),
        },
    }
}

/// `received → processing`. Unknown event → `not_found`; another state →
/// `state_transition_invalid`.
pub async fn mark_processing(
    exec: &mut impl TenantExec,
    event_id: &WebhookEventId,
) -> Result<WebhookEvent, DbError> {
    transition(
        exec,
        "mark_processing",
        event_id,
        WebhookStatus::Processing,
        None,
        &["received"],
    )
    .await
}

/// `received | processing → processed` (sets `processed_at`).
pub async fn mark_processed(
    exec: &mut impl TenantExec,
    event_id: &WebhookEventId,
) -> Result<WebhookEvent, DbError> {
    let from = ["received", "processing"];
    transition(
        exec,
        "mark_processed",
        event_id,
        WebhookStatus::Processed,
        None,
        &from,
    )
    .await
}

/// `received | processing → failed`: `retry_count` + 1 and `last_error` = `error` cut to 1000
/// characters. The caller writes an error without payload values in it (it is stored as given).
pub async fn mark_failed(
    exec: &mut impl TenantExec,
    event_id: &WebhookEventId,
    error: &str,
) -> Result<WebhookEvent, DbError> {
    let error: String = error.chars().take(MAX_ERROR_LEN).collect();
    let error = match error.trim().is_empty() {
        true => return Err(ValidationError::new("last_error", "cannot be empty").into()),
        false => error,
    };
    let from = ["received", "processing"];
    transition(
        exec,
        "mark_failed",
        event_id,
        WebhookStatus::Failed,
        Some(error),
        &from,
    )
    .await
}

/// A project's events not yet processed (received, processing or failed), oldest first;
/// `limit` 1..=200 (default 100).
pub async fn list_unprocessed(
    exec: &mut impl TenantExec,
    project_id: &ProjectId,
    limit: Option<i64>,
) -> Result<Vec<WebhookEvent>, DbError> {
    let limit = crate::projects::checked_limit(limit)?;
    exec.op(REPO, "list_unprocessed")
        .query_all(UNPROCESSED, &[project_id, &limit], from_row)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_hash_is_hex_sha256_of_the_raw_bytes() {
        assert_eq!(
            payload_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

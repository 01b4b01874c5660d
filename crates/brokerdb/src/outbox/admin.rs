//! Looking at the outbox and sending failed rows again (`brokerdb outbox list | retry`).

use crate::db::{Db, DbError, Exec};
use crate::model::{TenantId, Timestamp};

const LIST: &str = "SELECT tenant_id, id, template_id, version, status::text, attempts,
            next_attempt_at, created_at, delivered_at, last_error
     FROM template_invalidation_outbox
     WHERE ($1::text IS NULL AND status <> 'delivered') OR status::text = $1
     ORDER BY created_at DESC, id DESC
     LIMIT $2";

const RETRY_ONE: &str = "UPDATE template_invalidation_outbox
     SET status = 'pending', attempts = 0, next_attempt_at = date_trunc('milliseconds', now())
     WHERE id = $1 AND status = 'failed'";

const RETRY_ALL: &str = "UPDATE template_invalidation_outbox
     SET status = 'pending', attempts = 0, next_attempt_at = date_trunc('milliseconds', now())
     WHERE status = 'failed'";

const STATUS_OF: &str = "SELECT status::text FROM template_invalidation_outbox WHERE id = $1";

/// A row of the outbox, as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The signal's tenant.
    pub tenant_id: TenantId,
    /// The row's id.
    pub id: String,
    /// The invalidated template.
    pub template_id: String,
    /// Its version.
    pub version: i32,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Publishes tried so far.
    pub attempts: i32,
    /// When the relay may try it (again).
    pub next_attempt_at: Timestamp,
    /// When it was written.
    pub created_at: Timestamp,
    /// When it was delivered.
    pub delivered_at: Option<Timestamp>,
    /// The last failed publish's error (cleared when the row is delivered).
    pub last_error: Option<String>,
}

/// The newest rows (at most `limit`), of one status (`pending`, `delivered`, `failed`) or, with
/// `None`, every row not yet delivered. System scope. An unknown status → `validation_error`.
pub async fn list(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<OutboxRow>, DbError> {
    if let Some(s) = status
        && !matches!(s, "pending" | "delivered" | "failed")
    {
        return Err(crate::model::ValidationError::new(
            "status",
            "must be one of: pending delivered failed",
        )
        .into());
    }
    let rows = db
        .system()
        .query(LIST, &[&status, &limit.clamp(1, 10_000)])
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OutboxRow {
                tenant_id: r.try_get(0)?,
                id: r.try_get(1)?,
                template_id: r.try_get(2)?,
                version: r.try_get(3)?,
                status: r.try_get(4)?,
                attempts: r.try_get(5)?,
                next_attempt_at: r.try_get(6)?,
                created_at: r.try_get(7)?,
                delivered_at: r.try_get(8)?,
                last_error: r.try_get(9)?,
            })
        })
        .collect()
}

/// Sends failed rows again: the one with `id`, or every failed row with `None`. They become
/// `pending` with a fresh set of attempts, due at once (their last error is kept until they are
/// delivered). Returns how many rows changed. A given id that is not failed →
/// `state_transition_invalid`; an unknown one → `not_found`.
pub async fn retry_failed(db: &Db, id: Option<&str>) -> Result<u64, DbError> {
    let Some(id) = id else {
        return db.system().execute(RETRY_ALL, &[]).await;
    };
    let changed = db.system().execute(RETRY_ONE, &[&id]).await?;
    if changed > 0 {
        return Ok(changed);
    }
    match db.system().query_opt(STATUS_OF, &[&id]).await? {
        None => Err(DbError::not_found("outbox row")),
        Some(_) => Err(DbError::StateTransitionInvalid {
            message: "only failed outbox rows can be retried".into(),
        }),
    }
}

//! Expiring stale pending approvals in bulk, as the sweep does: [`find_expired_pending`] finds
//! them across tenants (system scope), [`expire_pending`] expires a tenant's batch (tenant scope)
//! with one `approval_decided` audit event per approval, in the same transaction, as a decision
//! through the API writes one.

use serde_json::{Map, Value};

use super::REPO;
use super::dto::{ApprovalRequest, from_snapshot};
use crate::audit::{self, AuditEvent, AuditEventType};
use crate::db::{DbError, Exec, SystemExec, TenantExec, TxOptions};
use crate::model::{ApprovalId, NonEmptyString, TenantId, Timestamp, ValidationError};

/// At most `$2` pending approvals whose `expires_at` ≤ `$1`, soonest expiry first, across
/// tenants (read from `idx_approval_requests_status_expires_at`).
const FIND: &str = "SELECT tenant_id, approval_id FROM approval_requests
     WHERE status = 'pending' AND expires_at <= $1
     ORDER BY expires_at, approval_id LIMIT $2";
/// `pending → expired` for the approvals `$1` still pending and past `$2` (one conditional
/// update: an approval decided meanwhile is left alone). `decided_at` is the expiry time.
const EXPIRE: &str = "UPDATE approval_requests
     SET status = 'expired', decided_at = $2,
         approval_json = jsonb_set(approval_json, '{status}', '\"expired\"')
     WHERE approval_id = ANY($1::text[]) AND status = 'pending' AND expires_at <= $2
     RETURNING approval_json";

/// Who expires approvals, as the audit events record it.
#[derive(Debug, Clone)]
pub struct ExpiredBy {
    /// The actor (`system` for the sweep).
    pub actor: NonEmptyString,
    /// The trace id of the run (the sweep uses its job's).
    pub correlation_id: NonEmptyString,
}

/// Up to `limit` (≥ 1) pending approvals past their `expires_at` at `now`, of every tenant,
/// soonest expiry first, as (tenant, approval) pairs (system scope: a sweep across tenants).
pub async fn find_expired_pending(
    exec: &mut impl SystemExec,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<(TenantId, ApprovalId)>, DbError> {
    if limit < 1 {
        return Err(ValidationError::new("limit", "must be at least 1").into());
    }
    exec.op(REPO, "find_expired_pending")
        .query_all(FIND, &[&now, &limit], |r| {
            Ok((r.try_get(0)?, r.try_get(1)?))
        })
        .await
}

fn expiry_event(
    tenant: &TenantId,
    approval: &ApprovalRequest,
    by: &ExpiredBy,
) -> Result<AuditEvent, DbError> {
    let (_, workload, integration) = approval.canonical_descriptor.ids()?;
    let mut event = AuditEvent::generated(
        tenant.clone(),
        AuditEventType::ApprovalDecided,
        by.correlation_id.clone(),
    );
    event.workload_id = Some(workload);
    event.integration_id = Some(integration);
    event.action_group = Some(approval.summary.action_group.clone());
    event.risk_tier = Some(approval.summary.risk_tier);
    event.message = Some("approval.expired".into());
    let mut metadata = Map::new();
    metadata.insert("action".into(), Value::from("approval.expired"));
    metadata.insert("actor".into(), Value::from(by.actor.as_str()));
    metadata.insert(
        "approval_id".into(),
        Value::from(approval.approval_id.as_str()),
    );
    metadata.insert("to".into(), Value::from("expired"));
    metadata.insert(
        "reason".into(),
        Value::from("no decision before its expires_at"),
    );
    event.metadata = Some(metadata);
    Ok(event)
}

/// Expires the approvals of `ids` (of the executor's tenant) that are still `pending` and past
/// their `expires_at` at `now`, and appends one `approval_decided` audit event per expired
/// approval (message `approval.expired`, `by` as actor and correlation id), all in one
/// transaction (the caller's, or its own). Returns the expired approvals; ids that are unknown,
/// another tenant's, decided meanwhile or not yet due are left alone and not returned.
pub async fn expire_pending(
    exec: &mut impl TenantExec,
    ids: &[ApprovalId],
    now: Timestamp,
    by: &ExpiredBy,
) -> Result<Vec<ApprovalRequest>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
    let by = by.clone();
    exec.op(REPO, "expire_pending")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (ids, by) = (ids.clone(), by.clone());
            Box::pin(async move {
                let tenant = tx.tenant_id().clone();
                let rows = tx.query(EXPIRE, &[&ids, &now]).await?;
                let mut expired = Vec::with_capacity(rows.len());
                for row in &rows {
                    let approval = from_snapshot(row)?;
                    audit::append(tx, &expiry_event(&tenant, &approval, &by)?).await?;
                    expired.push(approval);
                }
                Ok(expired)
            })
        })
        .await
}

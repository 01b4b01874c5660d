//! Admin access requests: created pending, decided once by a conditional update.

use serde::Serialize;
use tokio_postgres::Row;

use super::listing::ListingSql;
use super::{Actor, AdminPrincipal, REPO, audit};
use crate::db::{DbError, Exec, SystemExec, TxOptions};
use crate::model::{
    AccessRequestId, Timestamp, UserRole, ValidationError, trim, trimmed_non_empty,
};

macro_rules! request_cols {
    () => {
        "request_id, issuer, subject, email, name, requested_roles::text[], requested_tenant_ids, status::text, request_reason, decision_reason, decided_by, decided_at, created_at, updated_at"
    };
}
const INSERT: &str = concat!(
    "INSERT INTO admin_access_requests (request_id, issuer, subject, email, name, requested_roles, requested_tenant_ids, request_reason) \
     VALUES ($1, $2, $3, $4, $5, $6::text[]::user_role[], $7, $8) RETURNING ",
    request_cols!()
);
/// The access requests listing's shapes (see [`super::listing`]).
pub(super) const LISTING: ListingSql = ListingSql {
    name: "admin_access_requests",
    inner: "SELECT r.* FROM admin_access_requests r",
    conditions: [
        "r.status = ${n}::text::admin_access_request_status",
        "r.requested_tenant_ids @> ARRAY[${n}::text]",
        "r.requested_roles @> ARRAY[${n}::text::user_role]",
        "(r.email ILIKE ${n} OR r.name ILIKE ${n} OR r.subject ILIKE ${n} OR r.request_id ILIKE ${n})",
    ],
    cursor: "(r.created_at, r.request_id) < (${at}::timestamptz, ${id}::text)",
    order: "r.created_at DESC, r.request_id DESC",
    outer: concat!("SELECT ", request_cols!(), " FROM ({inner}) r"),
};
const BY_ID: &str = concat!(
    "SELECT ",
    request_cols!(),
    " FROM admin_access_requests WHERE request_id = $1"
);
/// Decides a request only while it is pending: of concurrent deciders exactly one wins.
const DECIDE: &str = concat!(
    "UPDATE admin_access_requests \
     SET status = $2::text::admin_access_request_status, decided_by = $3, decided_at = $4, \
         decision_reason = COALESCE($5, decision_reason) \
     WHERE request_id = $1 AND status = 'pending' RETURNING ",
    request_cols!()
);

pub use crate::model::AccessRequestStatus;

/// `AdminAccessRequest`; `reason` is the decision reason if set, else the request reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminAccessRequest {
    /// Business id.
    pub request_id: AccessRequestId,
    /// OIDC issuer.
    pub issuer: String,
    /// OIDC subject.
    pub subject: String,
    /// Lower-case email.
    pub email: String,
    /// Omitted when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// At least one, sorted.
    pub requested_roles: Vec<UserRole>,
    /// Sorted (not checked for existence).
    pub requested_tenant_ids: Vec<String>,
    /// Status.
    pub status: AccessRequestStatus,
    /// Decision reason, else request reason; omitted when neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

pub(super) fn from_row(row: &Row) -> Result<AdminAccessRequest, DbError> {
    let requested_roles = crate::repo::stored_roles(&row.try_get::<_, Vec<String>>(5)?)?;
    let mut requested_tenant_ids: Vec<String> = row.try_get(6)?;
    requested_tenant_ids.sort();
    let status: String = row.try_get(7)?;
    let (request_reason, decision_reason): (Option<String>, Option<String>) =
        (row.try_get(8)?, row.try_get(9)?);
    Ok(AdminAccessRequest {
        request_id: row.try_get(0)?,
        issuer: row.try_get(1)?,
        subject: row.try_get(2)?,
        email: row.try_get(3)?,
        name: row
            .try_get::<_, Option<String>>(4)?
            .filter(|n| !n.is_empty()),
        requested_roles,
        requested_tenant_ids,
        status: AccessRequestStatus::parse(&status).map_err(|_| DbError::Unexpected {
            message: "stored request status violates its contract".into(),
        })?,
        reason: decision_reason.or(request_reason),
        decided_by: row.try_get(10)?,
        decided_at: row.try_get(11)?,
        created_at: row.try_get(12)?,
        updated_at: row.try_get(13)?,
    })
}

fn optional_reason(reason: Option<&str>) -> Option<String> {
    reason
        .map(trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}

/// Records a pending request (tenant ids are not checked). Another pending request of the same
/// `(issuer, subject)` → `unique_violation`. `request_id` defaults to `aar_<32 hex>`. The
/// requester (`issuer|subject`) is the audit actor.
pub async fn create(
    exec: &mut impl SystemExec,
    request_id: Option<&str>,
    principal: &AdminPrincipal,
    reason: Option<&str>,
    who: &Actor,
) -> Result<AdminAccessRequest, DbError> {
    let id = match request_id {
        Some(given) => AccessRequestId::parse(given)?,
        None => AccessRequestId::generate(),
    };
    let (p, reason, who) = (principal.clone(), optional_reason(reason), who.clone());
    exec.op(REPO, "create_access_request")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (id, p, reason, who) = (id.clone(), p.clone(), reason.clone(), who.clone());
            Box::pin(async move {
                let roles: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
                let rows = tx
                    .query(
                        INSERT,
                        &[
                            &id,
                            &p.issuer,
                            &p.subject,
                            &p.email,
                            &p.name,
                            &roles,
                            &p.tenant_ids,
                            &reason,
                        ],
                    )
                    .await?;
                let request = rows
                    .first()
                    .map(from_row)
                    .unwrap_or_else(|| Err(crate::db::DbError::returned_nothing()))?;
                audit(
                    tx,
                    &who,
                    "admin_access_request.created",
                    serde_json::json!({ "request_id": id.as_str(), "requested_roles": roles }),
                )
                .await?;
                Ok(request)
            })
        })
        .await
}

/// Decides a pending request (`approved`, `denied` or `canceled`; `pending` → `validation_error`)
/// with one conditional update. If it was not pending: missing → `not_found`; already in the
/// target status → returned unchanged (idempotent); otherwise → `state_transition_invalid`.
pub async fn transition(
    exec: &mut impl SystemExec,
    request_id: &str,
    target: AccessRequestStatus,
    reason: Option<&str>,
    decided_at: Option<Timestamp>,
    who: &Actor,
) -> Result<AdminAccessRequest, DbError> {
    if target == AccessRequestStatus::Pending {
        return Err(ValidationError::new("status", "must be approved, denied or canceled").into());
    }
    let id = AccessRequestId::parse(trimmed_non_empty("request_id", request_id)?)?;
    let (reason, who, at) = (
        optional_reason(reason),
        who.clone(),
        decided_at.unwrap_or_else(Timestamp::now),
    );
    exec.op(REPO, "transition_access_request")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (id, reason, who) = (id.clone(), reason.clone(), who.clone());
            Box::pin(async move {
                let actor = who.actor.as_str();
                if let Some(row) = tx
                    .query_opt(DECIDE, &[&id, &target.as_str(), &actor, &at, &reason])
                    .await?
                {
                    let decided = from_row(&row)?;
                    audit(
                        tx,
                        &who,
                        "admin_access_request.decided",
                        serde_json::json!({ "request_id": id.as_str(), "status": target.as_str() }),
                    )
                    .await?;
                    return Ok(decided);
                }
                let current = tx
                    .query_opt(BY_ID, &[&id])
                    .await?
                    .ok_or(DbError::not_found("access request"))?;
                let current = from_row(&current)?;
                if current.status == target {
                    Ok(current)
                } else {
                    Err(DbError::StateTransitionInvalid {
                        message: "the access request is no longer pending".into(),
                    })
                }
            })
        })
        .await
}

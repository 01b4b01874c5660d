//! Workload sessions (bearer tokens bound to a client certificate).
//!
//! Two weaknesses of the original are fixed: re-upserting a revoked session does not reactivate
//! it (`revoked_at` is kept), and revoking twice keeps the first revocation time.

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use crate::db::{DbError, SystemExec, TenantExec};
use crate::model::{
    DpopThumbprint, NonEmptyString, SessionId, TenantId, Timestamp, TokenHash, ValidationError,
    WorkloadId,
};

const REPO: &str = "sessions";
const UPSERT: &str = "INSERT INTO workload_sessions
       (session_id, workload_id, tenant_id, cert_fingerprint_256, token_hash, dpop_jkt, scopes, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (session_id) DO UPDATE SET
       workload_id = EXCLUDED.workload_id, cert_fingerprint_256 = EXCLUDED.cert_fingerprint_256,
       token_hash = EXCLUDED.token_hash, dpop_jkt = EXCLUDED.dpop_jkt, scopes = EXCLUDED.scopes,
       expires_at = EXCLUDED.expires_at
     RETURNING session_id, workload_id, tenant_id, cert_fingerprint_256, token_hash, dpop_jkt, scopes, expires_at";
const BY_TOKEN: &str = "SELECT session_id, workload_id, tenant_id, cert_fingerprint_256, token_hash, dpop_jkt, scopes, expires_at
     FROM workload_sessions WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()
     ORDER BY created_at DESC LIMIT 1";
const REVOKE: &str =
    "UPDATE workload_sessions SET revoked_at = COALESCE(revoked_at, now()) WHERE session_id = $1";
const DELETE_EXPIRED: &str = "DELETE FROM workload_sessions WHERE expires_at <= $1";

/// `SessionRecord` (camelCase on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionRecord {
    /// UUID.
    pub session_id: SessionId,
    /// The workload the session belongs to.
    pub workload_id: WorkloadId,
    /// The workload's tenant.
    pub tenant_id: TenantId,
    /// SHA-256 fingerprint of the bound client certificate.
    pub cert_fingerprint256: NonEmptyString,
    /// SHA-256 hex of the bearer token.
    pub token_hash: TokenHash,
    /// Last valid instant (exclusive).
    pub expires_at: Timestamp,
    /// DPoP key thumbprint when the token is DPoP-bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key_thumbprint: Option<DpopThumbprint>,
    /// Granted scopes (omitted when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

fn from_row(row: &Row) -> Result<SessionRecord, DbError> {
    let scopes: serde_json::Value = row.try_get(6)?;
    let scopes: Vec<String> = scopes
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let fingerprint: String = row.try_get(3)?;
    let hash: String = row.try_get(4)?;
    let jkt: Option<String> = row.try_get(5)?;
    let contract = |_| DbError::Unexpected {
        message: "stored session violates its contract".into(),
    };
    Ok(SessionRecord {
        session_id: row.try_get(0)?,
        workload_id: row.try_get(1)?,
        tenant_id: row.try_get(2)?,
        cert_fingerprint256: NonEmptyString::new("cert_fingerprint_256", &fingerprint)
            .map_err(contract)?,
        token_hash: TokenHash::parse(&hash).map_err(contract)?,
        expires_at: row.try_get(7)?,
        dpop_key_thumbprint: jkt
            .as_deref()
            .map(DpopThumbprint::parse)
            .transpose()
            .map_err(contract)?,
        scopes: (!scopes.is_empty()).then_some(scopes),
    })
}

/// Inserts or overwrites the session `record.session_id` of the scope's tenant (a record naming
/// another tenant → `validation_error`). A revoked session stays revoked. A token hash used by
/// another session → `unique_violation`; unknown workload → `integrity_violation`.
pub async fn upsert(
    exec: &mut impl TenantExec,
    record: &SessionRecord,
) -> Result<SessionRecord, DbError> {
    if &record.tenant_id != exec.tenant_id() {
        return Err(ValidationError::new("tenantId", "does not match the tenant scope").into());
    }
    let scopes = serde_json::Value::from(record.scopes.clone().unwrap_or_default());
    let jkt = record.dpop_key_thumbprint.as_ref().map(|j| j.as_str());
    exec.op(REPO, "upsert")
        .query_one(
            UPSERT,
            &[
                &record.session_id,
                &record.workload_id,
                &record.tenant_id,
                &record.cert_fingerprint256.as_str(),
                &record.token_hash.as_str(),
                &jkt,
                &scopes,
                &record.expires_at,
            ],
            from_row,
        )
        .await
        .map_err(|e| match e {
            // The session id is another tenant's: the same error as any duplicate id.
            DbError::RowSecurity => DbError::UniqueViolation {
                field: "session_id".into(),
            },
            other => other,
        })
}

/// The live session (not revoked, not expired by the database clock) with this token hash, or
/// `None` (system scope: a bearer token is checked before its tenant is known).
pub async fn get_by_token_hash(
    exec: &mut impl SystemExec,
    token_hash: &TokenHash,
) -> Result<Option<SessionRecord>, DbError> {
    exec.op(REPO, "get_by_token_hash")
        .query_opt(BY_TOKEN, &[&token_hash.as_str()], from_row)
        .await
}

/// Revokes a session of the executor's tenant (the first revocation time is kept). Unknown (or
/// another tenant's) session → `not_found`.
pub async fn revoke_by_id(
    exec: &mut impl TenantExec,
    session_id: &SessionId,
) -> Result<(), DbError> {
    match exec
        .op(REPO, "revoke_by_id")
        .execute(REVOKE, &[session_id])
        .await?
    {
        0 => Err(DbError::not_found("session")),
        _ => Ok(()),
    }
}

/// Deletes every session with `expires_at ≤ now`, revoked or not; returns how many (system
/// scope: a sweep across tenants).
pub async fn delete_expired(exec: &mut impl SystemExec, now: Timestamp) -> Result<u64, DbError> {
    exec.op(REPO, "delete_expired")
        .execute(DELETE_EXPIRED, &[&now])
        .await
}

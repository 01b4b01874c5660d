//! Workload sessions (bearer tokens bound to a client certificate).
//!
//! Two weaknesses of the original are fixed: re-upserting a revoked session does not reactivate
//! it (`revoked_at` is kept), and revoking twice keeps the first revocation time.
//!
//! [`list_by_workload`] lists a workload's sessions as metadata only ([`SessionSummary`] has no
//! token hash), newest first, keyset-paged.

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use crate::db::paging::{KeysetPage, decode_cursor};
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
/// At most `$2` sessions with `expires_at <= $1`, oldest expiry first, read from
/// `idx_workload_sessions_expires_at`; rows another sweeper holds are skipped, not waited for.
const DELETE_EXPIRED: &str = "DELETE FROM workload_sessions WHERE (tenant_id, id) IN (
         SELECT tenant_id, id FROM workload_sessions WHERE expires_at <= $1
         ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)";
/// The first page of [`list_by_workload`] (`$1` tenant, `$2` workload, `$3` rows to fetch).
/// One range read of `idx_workload_sessions_tenant_workload_created` (migration 0016) in list
/// order, stopping at the limit; the cursor's row comparison is part of the index condition.
const LIST_FIRST: &str = "SELECT session_id, workload_id, tenant_id, cert_fingerprint_256, dpop_jkt, scopes, expires_at, revoked_at, created_at
     FROM workload_sessions WHERE tenant_id = $1 AND workload_id = $2
     ORDER BY created_at DESC, session_id DESC LIMIT $3";
/// The pages after a cursor (`$3`, `$4` the last row's `created_at` and `session_id`, `$5`
/// rows to fetch).
const LIST_AFTER: &str = "SELECT session_id, workload_id, tenant_id, cert_fingerprint_256, dpop_jkt, scopes, expires_at, revoked_at, created_at
     FROM workload_sessions WHERE tenant_id = $1 AND workload_id = $2
       AND (created_at, session_id) < ($3::timestamptz, $4::text)
     ORDER BY created_at DESC, session_id DESC LIMIT $5";
/// The largest page of [`list_by_workload`].
pub const MAX_LIST_LIMIT: i64 = 100;

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

/// A session's metadata, as listed: everything but the token hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// UUID.
    pub session_id: SessionId,
    /// The workload the session belongs to.
    pub workload_id: WorkloadId,
    /// The workload's tenant.
    pub tenant_id: TenantId,
    /// SHA-256 fingerprint of the bound client certificate.
    pub cert_fingerprint256: NonEmptyString,
    /// DPoP key thumbprint when the token is DPoP-bound.
    pub dpop_key_thumbprint: Option<DpopThumbprint>,
    /// Granted scopes (empty when none).
    pub scopes: Vec<String>,
    /// Last valid instant (exclusive).
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// When it was first stored.
    pub created_at: Timestamp,
}

fn contract(_: ValidationError) -> DbError {
    DbError::Unexpected {
        message: "stored session violates its contract".into(),
    }
}

fn scopes_of(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn summary_from_row(row: &Row) -> Result<SessionSummary, DbError> {
    let fingerprint: String = row.try_get(3)?;
    let jkt: Option<String> = row.try_get(4)?;
    let scopes: serde_json::Value = row.try_get(5)?;
    Ok(SessionSummary {
        session_id: row.try_get(0)?,
        workload_id: row.try_get(1)?,
        tenant_id: row.try_get(2)?,
        cert_fingerprint256: NonEmptyString::new("cert_fingerprint_256", &fingerprint)
            .map_err(contract)?,
        dpop_key_thumbprint: jkt
            .as_deref()
            .map(DpopThumbprint::parse)
            .transpose()
            .map_err(contract)?,
        scopes: scopes_of(&scopes),
        expires_at: row.try_get(6)?,
        revoked_at: row.try_get(7)?,
        created_at: row.try_get(8)?,
    })
}

fn from_row(row: &Row) -> Result<SessionRecord, DbError> {
    let scopes: serde_json::Value = row.try_get(6)?;
    let scopes = scopes_of(&scopes);
    let fingerprint: String = row.try_get(3)?;
    let hash: String = row.try_get(4)?;
    let jkt: Option<String> = row.try_get(5)?;
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

/// The sessions of a workload of the executor's tenant — revoked and expired ones included —
/// newest first (`created_at` desc, then `session_id` desc), keyset-paged: `limit` 1..=100
/// (else `validation_error` on `limit`), `cursor` the `next_cursor` of the previous page
/// (signed, bound to the tenant and the workload; anything else → `validation_error` on
/// `cursor`). Fetches `limit + 1` rows, so the last page has no cursor. An unknown (or another
/// tenant's) workload is an empty page: check the workload first to tell the two apart.
///
/// The rows are found through the `(tenant_id, workload_id)` index; there is no index on
/// `created_at` after it, so each page sorts the workload's sessions (top-N in memory). Expired
/// sessions are deleted by [`delete_expired`], which keeps that set to the live ones.
pub async fn list_by_workload(
    exec: &mut impl TenantExec,
    workload_id: &WorkloadId,
    limit: i64,
    cursor: Option<&str>,
) -> Result<KeysetPage<SessionSummary>, DbError> {
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        return Err(ValidationError::new("limit", "must be an integer from 1 to 100").into());
    }
    let key = exec.db().cursor_key().clone();
    let tenant = exec.tenant_id().clone();
    let sort_tag = format!("sessions:{workload_id}:created_at_desc,session_id_desc");
    let after = decode_cursor::<2>(&key, tenant.as_str(), &sort_tag, cursor)?
        .map(|[at, id]| {
            Timestamp::parse(&at)
                .map(|at| (at, id))
                .map_err(|e| e.with_field("cursor"))
        })
        .transpose()?;
    let fetch = limit + 1;
    let items = match &after {
        None => {
            exec.op(REPO, "list_by_workload")
                .query_all(
                    LIST_FIRST,
                    &[&tenant, workload_id, &fetch],
                    summary_from_row,
                )
                .await?
        }
        Some((at, id)) => {
            exec.op(REPO, "list_by_workload")
                .query_all(
                    LIST_AFTER,
                    &[&tenant, workload_id, at, id, &fetch],
                    summary_from_row,
                )
                .await?
        }
    };
    Ok(KeysetPage::from_rows(
        &key,
        tenant.as_str(),
        &sort_tag,
        items,
        limit,
        |s| vec![s.created_at.to_string(), s.session_id.to_string()],
    ))
}

/// Deletes at most `limit` (≥ 1) sessions with `expires_at ≤ now`, revoked or not, oldest expiry
/// first; returns how many (system scope: a sweep across tenants). Fewer than `limit` means none
/// is left; call again otherwise. Concurrent sweepers delete disjoint rows.
pub async fn delete_expired(
    exec: &mut impl SystemExec,
    now: Timestamp,
    limit: i64,
) -> Result<u64, DbError> {
    if limit < 1 {
        return Err(ValidationError::new("limit", "must be at least 1").into());
    }
    exec.op(REPO, "delete_expired")
        .execute(DELETE_EXPIRED, &[&now, &limit])
        .await
}

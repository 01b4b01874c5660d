//! EnrollmentTokenRepository: one-time tokens a workload exchanges for its first certificate.
//! Every function but the sweep ([`delete_expired`], system scope) runs on a tenant executor of
//! the workload's tenant (the enrolment flow resolves the tenant from the workload first, in the
//! system scope), alone or in the caller's transaction. Issuing and consuming are one statement
//! each.

use serde::Serialize;
use tokio_postgres::Row;

use crate::db::{DbError, SystemExec, TenantExec};
use crate::model::{TenantId, Timestamp, TokenHash, ValidationError, WorkloadId};

const REPO: &str = "enrollment_tokens";
/// The statement of [`issue`] (`$1` token hash, `$2` workload, `$3` expires at, `$4` created at):
/// the token is inserted only for a workload the executor's tenant can see (row-level security
/// hides every other), so no row means an unknown workload. Public for `brokerdb bench`.
pub const ISSUE_SQL: &str =
    "INSERT INTO enrollment_tokens (token_hash, workload_id, tenant_id, expires_at, created_at)
     SELECT $1, w.workload_id, w.tenant_id, $3, $4 FROM workloads w WHERE w.workload_id = $2
     RETURNING token_hash, workload_id, tenant_id, expires_at, created_at, used_at";
/// The statement of [`consume_once`] (`$1` token hash, `$2` now, `$3` workload or NULL). Public
/// for `brokerdb bench`.
pub const CONSUME_SQL: &str = "UPDATE enrollment_tokens SET used_at = $2
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND ($3::text IS NULL OR workload_id = $3)
     RETURNING token_hash, workload_id, tenant_id, expires_at, created_at, used_at";
const HAS_CONSUMED: &str = "SELECT EXISTS (SELECT 1 FROM enrollment_tokens WHERE workload_id = $1 AND used_at IS NOT NULL)";
/// At most `$2` never-used tokens with `expires_at <= $1`, oldest expiry first, read from
/// `idx_enrollment_tokens_expires_at`; rows another sweeper holds are skipped.
const DELETE_EXPIRED: &str = "DELETE FROM enrollment_tokens WHERE (tenant_id, id) IN (
         SELECT tenant_id, id FROM enrollment_tokens WHERE expires_at <= $1 AND used_at IS NULL
         ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)";
const INVALIDATE: &str = "UPDATE enrollment_tokens SET used_at = $2
     WHERE workload_id = $1 AND used_at IS NULL AND expires_at > $2";

/// `EnrollmentTokenRecord`; `used_at` is omitted while unused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnrollmentTokenRecord {
    /// SHA-256 hex of the one-time token (`Debug` redacts it).
    pub token_hash: TokenHash,
    /// The workload it enrols.
    pub workload_id: WorkloadId,
    /// The workload's tenant.
    pub tenant_id: TenantId,
    /// Last instant it can be consumed (exclusive).
    pub expires_at: Timestamp,
    /// Issue time.
    pub created_at: Timestamp,
    /// When it was consumed or invalidated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_at: Option<Timestamp>,
}

fn from_row(row: &Row) -> Result<EnrollmentTokenRecord, DbError> {
    Ok(EnrollmentTokenRecord {
        token_hash: row.try_get(0)?,
        workload_id: row.try_get(1)?,
        tenant_id: row.try_get(2)?,
        expires_at: row.try_get(3)?,
        created_at: row.try_get(4)?,
        used_at: row.try_get(5)?,
    })
}

/// What `issue` needs.
#[derive(Debug, Clone)]
pub struct IssueEnrollmentToken {
    /// SHA-256 hex of the token (the raw token is never stored).
    pub token_hash: TokenHash,
    /// The workload to enrol; must belong to the scope's tenant.
    pub workload_id: WorkloadId,
    /// Must be strictly after `created_at`.
    pub expires_at: Timestamp,
    /// Defaults to now.
    pub created_at: Option<Timestamp>,
}

/// Issues a token for a workload of the scope's tenant.
///
/// `expires_at ≤ created_at` → `validation_error` (before any I/O; no wall-clock check).
/// Unknown workload → `not_found`. A workload of another tenant is invisible here, so it is
/// `not_found` too (the original's `conflict` would tell a caller that the id exists elsewhere).
/// Duplicate hash → `unique_violation`.
pub async fn issue(
    exec: &mut impl TenantExec,
    input: &IssueEnrollmentToken,
) -> Result<EnrollmentTokenRecord, DbError> {
    let created_at = input.created_at.unwrap_or_else(Timestamp::now);
    if input.expires_at <= created_at {
        return Err(ValidationError::new("expires_at", "must be after created_at").into());
    }
    exec.op(REPO, "issue")
        .query_found(
            "workload",
            ISSUE_SQL,
            &[
                &input.token_hash.as_str(),
                &input.workload_id,
                &input.expires_at,
                &created_at,
            ],
            from_row,
        )
        .await
}

/// Consumes a token once: one conditional update sets `used_at = now` only if the token is
/// unused, `expires_at > now`, and (when given) it belongs to `workload_id`. Any other case
/// (unknown, used, expired, other workload) is `not_found`, deliberately indistinguishable.
/// Of any number of concurrent consumers exactly one succeeds.
pub async fn consume_once(
    exec: &mut impl TenantExec,
    token_hash: &TokenHash,
    workload_id: Option<&WorkloadId>,
    now: Timestamp,
) -> Result<EnrollmentTokenRecord, DbError> {
    let workload = workload_id.map(WorkloadId::as_str);
    exec.op(REPO, "consume_once")
        .query_found(
            "enrollment token",
            CONSUME_SQL,
            &[&token_hash.as_str(), &now, &workload],
            from_row,
        )
        .await
}

/// True when any token of the workload has been consumed (or invalidated).
pub async fn has_consumed_for_workload(
    exec: &mut impl TenantExec,
    workload_id: &WorkloadId,
) -> Result<bool, DbError> {
    exec.op(REPO, "has_consumed")
        .query_one(HAS_CONSUMED, &[workload_id], |r| Ok(r.try_get(0)?))
        .await
}

/// Marks every unused, unexpired token of the workload as used at `now`; returns how many.
/// Expired and already used tokens are untouched.
pub async fn invalidate_active(
    exec: &mut impl TenantExec,
    workload_id: &WorkloadId,
    now: Timestamp,
) -> Result<u64, DbError> {
    exec.op(REPO, "invalidate_active")
        .execute(INVALIDATE, &[workload_id, &now])
        .await
}

/// Deletes at most `limit` (≥ 1) tokens that expired (`expires_at ≤ now`) without being used,
/// oldest expiry first; returns how many (system scope: a sweep across tenants). Fewer than
/// `limit` means none is left. Such a token can never be consumed, and nothing reads it. Used
/// (consumed or invalidated) tokens are kept, expired or not: [`has_consumed_for_workload`]
/// answers from them. Concurrent sweepers delete disjoint rows.
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

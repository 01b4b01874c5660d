//! Approval requests of a tenant, deduplicated by the canonical descriptor hash
//! ([`crate::model::CanonicalRequestDescriptor::sha256`]). Tenant scope throughout.
//!
//! **States.** An approval is created `pending` (a human is asked) and moves only by
//! [`transition`], one conditional update from the one status each target may come from:
//!
//! | status | may move to | in flight: blocks a new approval of the same key |
//! |---|---|---|
//! | `pending` | `approved`, `denied`, `expired`, `canceled` | yes, until its `expires_at` (then [`create`] marks it `expired`) |
//! | `approved` | `executed` (only) | **yes, until executed**: it has no expiry |
//! | `executed` | nothing (terminal) | no |
//! | `denied` | nothing (terminal) | no |
//! | `expired` | nothing (terminal) | no |
//! | `canceled` | nothing (terminal) | no |
//!
//! The key is (tenant, workload, integration, descriptor hash). The in-flight states,
//! [`IN_FLIGHT_STATUSES`], are exactly the states some transition leaves: an approval is in
//! flight as long as it can still lead to the request being executed. An `approved` approval
//! waits for its one execution, so a new request for the same descriptor must be served by it,
//! not by a second prompt in front of a human.
//!
//! **Consuming an approval.** An `approved` approval is consumed by
//! [`transition`]`(…, ApprovalStatus::Executed, …)`: one `UPDATE … WHERE status = 'approved'`, so
//! of concurrent executors exactly one gets `changed: true` and may carry out the request (claim
//! it before the upstream call). That frees the key. Nothing else consumes it: `approved` cannot
//! expire, be denied or be canceled, and `expires_at` is not checked on execution. The Redis
//! approve-once cache (`brokerdb-redis`, `approval-once:v2:…`) only caches an approval by the
//! same descriptor hash; it is not a record of use (bust it with
//! `invalidate_approval_once_cache` when the approval is executed).
//!
//! **Dedupe.** At most one in-flight (`pending` or `approved`) approval exists per key: the
//! partial unique index `uq_approval_requests_in_flight_descriptor` (migration 0015; until then
//! `uq_approval_requests_pending_descriptor` covered `pending` only) enforces it, so concurrent
//! creators cannot both win, and no creator wins while an approved approval of the key waits for
//! its execution. The insert is `ON CONFLICT DO NOTHING`, so a losing creator gets
//! `unique_violation` **without aborting its transaction**: inside a caller's transaction it can
//! go on to [`find_open`] and use the in-flight approval (pending: wait for the decision;
//! approved: execute it).
//!
//! **Stale pending approvals.** The index ignores `expires_at` (in the original a pending
//! approval past its expiry blocked every new one forever, as nothing expired it).
//! [`create`] therefore first marks pending approvals of the same key whose `expires_at` has
//! passed as `expired` (with `decided_at` = now), in the same transaction as the insert. So an
//! expired-but-pending approval never blocks a new one, and it is never silently overwritten:
//! it stays, as `expired`. An `approved` approval is never expired this way: the state machine
//! has no `approved → expired`, and it stays usable (and in flight) until executed.
//!
//! **The expiry sweep.** Stale pending approvals of keys nobody asks for again are expired by
//! the `expire_approvals` job ([`crate::jobs::sweeps`]): [`find_expired_pending`] (system scope)
//! finds a bounded batch across tenants, [`expire_pending`] (tenant scope) expires each tenant's
//! share with one `pending → expired` update and an `approval_decided` audit event per approval,
//! in one transaction. (The expiry [`create`] does for the key it inserts writes no event.)
//!
//! **Transitions** are one conditional `UPDATE … WHERE status = <the only allowed source>`, so
//! of concurrent deciders exactly one wins ([`transition`]).

mod dto;
mod expire;
mod transition;

pub use dto::{ApprovalRequest, ApprovalSummary};
pub use expire::{ExpiredBy, expire_pending, find_expired_pending};
pub use transition::{Transitioned, transition};

use dto::from_snapshot;

use crate::db::listing::statement;
use crate::db::{DbError, Exec, TenantExec, TxOptions};
use crate::model::{
    ApprovalId, ApprovalStatus, CanonicalRequestDescriptor, NonEmptyString, Timestamp,
    ValidationError,
};

const REPO: &str = "approvals";
const EXPIRE_STALE: &str = "UPDATE approval_requests
     SET status = 'expired', decided_at = $5, approval_json = jsonb_set(approval_json, '{status}', '\"expired\"')
     WHERE tenant_id = $1 AND workload_id = $2 AND integration_id = $3 AND descriptor_sha256 = $4
       AND status = 'pending' AND expires_at <= $5";
const INSERT: &str = "INSERT INTO approval_requests (approval_id, tenant_id, status, expires_at, correlation_id,
         workload_id, integration_id, action_group, risk_tier, destination_host, method, path,
         descriptor_sha256, canonical_descriptor, approval_json)
     VALUES ($1, $2, $3::text::approval_status, $4, $5, $6, $7, $8, $9::text::risk_tier, $10, $11, $12, $13, $14, $15)
     ON CONFLICT DO NOTHING RETURNING approval_json";
/// The predicate of `uq_approval_requests_in_flight_descriptor`, word for word, so the planner
/// can read the two statements below from that index.
const IN_FLIGHT_EXISTS: &str = "SELECT 1 FROM approval_requests
     WHERE tenant_id = $1 AND workload_id = $2 AND integration_id = $3 AND descriptor_sha256 = $4
       AND status IN ('pending', 'approved')";
const FIND_OPEN: &str = "SELECT approval_json FROM approval_requests
     WHERE tenant_id = $1 AND workload_id = $2 AND integration_id = $3 AND descriptor_sha256 = $4
       AND status IN ('pending', 'approved') AND (status = 'approved' OR expires_at > $5)
     ORDER BY created_at DESC, approval_id DESC LIMIT 1";
const BY_ID: &str = "SELECT approval_json FROM approval_requests WHERE approval_id = $1";

/// The statuses in which an approval is in flight and blocks a new approval of the same
/// (tenant, workload, integration, descriptor hash): `pending` (a pending one past its
/// `expires_at` is expired by [`create`] instead) and `approved` (until it is executed). They are
/// the statuses some [`transition`] leaves; the others are terminal (module docs).
pub const IN_FLIGHT_STATUSES: &[ApprovalStatus] =
    &[ApprovalStatus::Pending, ApprovalStatus::Approved];

/// The statement [`list`] sends with or without a status filter (one text per shape, see
/// [`crate::db::listing`]): `$1` the tenant, `$2` the status when `with_status`, then the limit.
/// Each shape is a range read of its index in list order that stops at the limit:
/// `idx_approval_requests_tenant_created`, or `idx_approval_requests_tenant_status_created`
/// with a status (migration 0013). Public for plan guards and benchmarks.
#[doc(hidden)]
pub fn list_sql(with_status: bool) -> &'static str {
    statement("approvals", u32::from(with_status), || {
        let (status, limit) = if with_status {
            (" AND status = $2::text::approval_status", 3)
        } else {
            ("", 2)
        };
        format!(
            "SELECT approval_json FROM approval_requests WHERE tenant_id = $1{status} \
             ORDER BY created_at DESC, approval_id DESC LIMIT ${limit}"
        )
    })
}

fn same_tenant(
    exec: &impl TenantExec,
    d: &CanonicalRequestDescriptor,
) -> Result<(), ValidationError> {
    if d.tenant_id == exec.tenant_id().as_str() {
        Ok(())
    } else {
        Err(ValidationError::new(
            "canonical_descriptor.tenant_id",
            "does not match the tenant scope",
        ))
    }
}

/// Stores `approval` (any status). Stale pending approvals of the same key are expired first
/// (module docs). An in-flight approval (`pending` or `approved`, [`IN_FLIGHT_STATUSES`]) while
/// another in-flight one of the same key exists → `unique_violation` on `descriptor`, nothing
/// written (call [`find_open`] for the existing one); a duplicate id → `unique_violation` on
/// `approval_id`; unknown tenant → `integrity_violation`. An approval created in a terminal
/// status is never deduplicated. The descriptor's tenant must be the scope's.
pub async fn create(
    exec: &mut impl TenantExec,
    approval: &ApprovalRequest,
) -> Result<ApprovalRequest, DbError> {
    let cols = approval.columns()?;
    same_tenant(exec, &approval.canonical_descriptor)?;
    let (a, now) = (approval.clone(), Timestamp::now());
    exec.op(REPO, "create")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (a, hash, host, method, snapshot) = (
                a.clone(),
                cols.hash.clone(),
                cols.host.as_str().to_owned(),
                cols.method.as_str(),
                cols.snapshot.clone(),
            );
            Box::pin(async move {
                let d = &a.canonical_descriptor;
                let key: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                    [&d.tenant_id, &d.workload_id, &d.integration_id, &hash];
                tx.execute(EXPIRE_STALE, &[key[0], key[1], key[2], key[3], &now])
                    .await?;
                let (status, tier) = (a.status.as_str(), a.summary.risk_tier.as_str());
                let descriptor = d.to_json();
                let rows = tx
                    .query(
                        INSERT,
                        &[
                            &a.approval_id,
                            &d.tenant_id,
                            &status,
                            &a.expires_at,
                            &a.correlation_id,
                            &d.workload_id,
                            &d.integration_id,
                            &a.summary.action_group,
                            &tier,
                            &host,
                            &method,
                            &a.summary.path,
                            &hash,
                            &descriptor,
                            &snapshot,
                        ],
                    )
                    .await?;
                if let Some(row) = rows.first() {
                    return from_snapshot(row);
                }
                let in_flight_taken = IN_FLIGHT_STATUSES.contains(&a.status)
                    && tx.query_opt(IN_FLIGHT_EXISTS, &key).await?.is_some();
                Err(DbError::UniqueViolation {
                    field: if in_flight_taken {
                        "descriptor"
                    } else {
                        "approval_id"
                    }
                    .into(),
                })
            })
        })
        .await
}

/// Builds a pending approval (`approval_id` generated when `None`) and [`create`]s it in the
/// same transaction. `expires_at` is not required to be in the future.
pub async fn create_from_canonical_descriptor(
    exec: &mut impl TenantExec,
    request: NewApproval,
) -> Result<ApprovalRequest, DbError> {
    let approval = ApprovalRequest {
        approval_id: request.approval_id.unwrap_or_else(ApprovalId::generate),
        status: ApprovalStatus::Pending,
        expires_at: request.expires_at,
        correlation_id: request.correlation_id,
        summary: request.summary,
        canonical_descriptor: request.canonical_descriptor,
    };
    create(exec, &approval).await
}

/// Input of [`create_from_canonical_descriptor`].
#[derive(Debug, Clone)]
pub struct NewApproval {
    /// `None`: generate `apr_<32 hex>`.
    pub approval_id: Option<ApprovalId>,
    /// Trace id.
    pub correlation_id: NonEmptyString,
    /// Expiry.
    pub expires_at: Timestamp,
    /// Summary shown to the approver.
    pub summary: ApprovalSummary,
    /// The request.
    pub canonical_descriptor: CanonicalRequestDescriptor,
}

/// The in-flight approval of the descriptor, the one that makes [`create`] a
/// `unique_violation`: `pending` and not past `expires_at` (wall clock), or `approved` and not yet
/// executed (whatever its `expires_at`); `None` when there is none. Check its `status`: a
/// pending one waits for a human's decision, an approved one is to be executed (consumed by
/// [`transition`] to `executed`). The descriptor's tenant must be the scope's.
pub async fn find_open(
    exec: &mut impl TenantExec,
    descriptor: &CanonicalRequestDescriptor,
) -> Result<Option<ApprovalRequest>, DbError> {
    descriptor.validate()?;
    descriptor.ids()?;
    same_tenant(exec, descriptor)?;
    let (hash, now) = (descriptor.sha256(), Timestamp::now());
    let d = descriptor;
    exec.op(REPO, "find_open")
        .query_opt(
            FIND_OPEN,
            &[&d.tenant_id, &d.workload_id, &d.integration_id, &hash, &now],
            from_snapshot,
        )
        .await
}

/// The approval, or `None` (also for another tenant's id).
pub async fn get_by_id(
    exec: &mut impl TenantExec,
    approval_id: &ApprovalId,
) -> Result<Option<ApprovalRequest>, DbError> {
    exec.op(REPO, "get_by_id")
        .query_opt(BY_ID, &[approval_id], from_snapshot)
        .await
}

/// The tenant's approvals, newest first (`created_at` desc, `approval_id` desc), optionally of
/// one status; `limit` 1..=200 (default 100). No cursor: only the newest `limit` are returned.
pub async fn list(
    exec: &mut impl TenantExec,
    status: Option<ApprovalStatus>,
    limit: Option<i64>,
) -> Result<Vec<ApprovalRequest>, DbError> {
    let limit = limit.unwrap_or(100);
    if !(1..=200).contains(&limit) {
        return Err(ValidationError::new("limit", "must be an integer from 1 to 200").into());
    }
    let tenant = exec.tenant_id().clone();
    let status = status.map(ApprovalStatus::as_str);
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&tenant];
    if let Some(s) = &status {
        params.push(s);
    }
    params.push(&limit);
    exec.op(REPO, "list")
        .query_all(list_sql(status.is_some()), &params, from_snapshot)
        .await
}

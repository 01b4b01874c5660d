//! Workloads: the services that call upstream APIs through the broker, each with a client
//! certificate SAN URI. Tenant scope, except the two lookups made before the tenant is known
//! (by SAN URI, and a workload's tenant), which run in the system scope.

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use crate::db::listing::ListStatements;
use crate::db::paging::{Page, PageRequest};
use crate::db::{DbError, SystemExec, TenantExec};
use crate::model::{
    IpAllowlist, TenantId, Timestamp, ValidationError, WorkloadId, trimmed_non_empty,
};

const REPO: &str = "workloads";
const INSERT: &str = "INSERT INTO workloads (workload_id, tenant_id, name, mtls_san_uri, enabled, ip_allowlist, enrollment_mode)
     VALUES ($1, $2, $3, $4, TRUE, $5, $6::text::workload_enrollment_mode)
     RETURNING workload_id, tenant_id, name, mtls_san_uri, enabled, ip_allowlist, created_at";
const BY_ID: &str = "SELECT workload_id, tenant_id, name, mtls_san_uri, enabled, ip_allowlist, created_at FROM workloads WHERE workload_id = $1";
const BY_SAN: &str = "SELECT workload_id, tenant_id, name, mtls_san_uri, enabled, ip_allowlist, created_at FROM workloads WHERE mtls_san_uri = $1";
const TENANT_OF: &str = "SELECT tenant_id FROM workloads WHERE workload_id = $1";
/// `$1` the tenant (also what row-level security allows; named so the planner's estimate is the
/// tenant's). The page reads its rows in index order and stops; the total counts at most the cap,
/// also in index order: unordered, a tenant holding most of the table would have it counted by a
/// sequential scan that stops at the cap, which is a full scan whenever fewer rows match.
const LIST: ListStatements = ListStatements {
    page: "SELECT p.*, t.n AS total
     FROM (SELECT workload_id, tenant_id, name, mtls_san_uri, enabled, ip_allowlist, created_at FROM workloads
            WHERE tenant_id = $1 ORDER BY created_at, workload_id LIMIT $2 OFFSET $3) p,
          (SELECT count(*) AS n FROM (SELECT 1 FROM workloads WHERE tenant_id = $1
                                      ORDER BY created_at, workload_id LIMIT $4) c) t
     ORDER BY p.created_at, p.workload_id",
    count: "SELECT count(*) FROM (SELECT 1 FROM workloads WHERE tenant_id = $1 \
            ORDER BY created_at, workload_id LIMIT $2) c",
    estimate: "EXPLAIN (FORMAT JSON) SELECT 1 FROM workloads WHERE tenant_id = $1",
};
const UPDATE: &str = "UPDATE workloads SET enabled = COALESCE($2, enabled), ip_allowlist = COALESCE($3, ip_allowlist)
     WHERE workload_id = $1
     RETURNING workload_id, tenant_id, name, mtls_san_uri, enabled, ip_allowlist, created_at";

pub use crate::model::EnrollmentMode;

/// `WorkloadCreateRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadCreateRequest {
    /// Unique per tenant.
    pub name: String,
    /// IPs or CIDRs; normalized (trimmed, unique, sorted).
    #[serde(default)]
    pub ip_allowlist: Option<Vec<String>>,
    /// Required.
    pub enrollment_mode: EnrollmentMode,
}

/// `WorkloadUpdateRequest`: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadUpdateRequest {
    /// New enabled flag.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// New allowlist (normalized).
    #[serde(default)]
    pub ip_allowlist: Option<Vec<String>>,
}

/// The Workload DTO (`enrollment_mode` is not exposed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// Business id.
    pub workload_id: WorkloadId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Name, unique per tenant.
    pub name: String,
    /// Client-certificate SAN URI, unique globally.
    pub mtls_san_uri: String,
    /// Enabled flag.
    pub enabled: bool,
    /// Normalized IP/CIDR allowlist.
    pub ip_allowlist: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
}

fn from_row(row: &Row) -> Result<Workload, DbError> {
    Ok(Workload {
        workload_id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
        name: row.try_get(2)?,
        mtls_san_uri: row.try_get(3)?,
        enabled: row.try_get(4)?,
        ip_allowlist: row.try_get(5)?,
        created_at: row.try_get(6)?,
    })
}

/// A SPIFFE SAN URI whose path starts with a `tenants` segment (the default layout,
/// `spiffe://<trust domain>/tenants/<tenant>/…`) must name `tenant` there. The scheme and the
/// `tenants` segment are compared case-insensitively, so a differently cased spelling is no way
/// around it; other SAN URIs are the operator's own layout and pass.
fn check_san_namespace(san: &str, tenant: &TenantId) -> Result<(), ValidationError> {
    let Some((scheme, rest)) = san.split_once("://") else {
        return Ok(());
    };
    if !scheme.eq_ignore_ascii_case("spiffe") {
        return Ok(());
    }
    let mut segments = rest.split('/').skip(1); // the trust domain comes first
    match segments.next() {
        Some(s) if s.eq_ignore_ascii_case("tenants") => {
            if segments.next() == Some(tenant.as_str()) {
                Ok(())
            } else {
                Err(ValidationError::new(
                    "mtls_san_uri",
                    "is in the spiffe://…/tenants/<tenant>/… layout but names another tenant",
                ))
            }
        }
        _ => Ok(()),
    }
}

fn allowlist(items: Option<&[String]>) -> Result<Option<Vec<String>>, ValidationError> {
    items
        .map(|items| IpAllowlist::parse(items.iter().map(String::as_str)).map(|l| l.to_strings()))
        .transpose()
}

/// Creates a workload of the scope's tenant, always enabled. `workload_id` defaults to
/// `w_<32 hex>`; `mtls_san_uri` (trimmed, non-empty) defaults to
/// `spiffe://broker/tenants/<tenant>/workloads/<workload>`. A given SAN URI in that layout must
/// name the scope's own tenant (`validation_error` otherwise), so no tenant can claim the SAN
/// URI another tenant's default would be and have the pre-tenant lookup resolve it to itself.
/// Duplicate id, SAN URI or name → `unique_violation` (naming the field; the same error whether
/// the other row is this tenant's or another's); unknown tenant → `integrity_violation`.
pub async fn create(
    exec: &mut impl TenantExec,
    request: &WorkloadCreateRequest,
    workload_id: Option<WorkloadId>,
    mtls_san_uri: Option<&str>,
) -> Result<Workload, DbError> {
    let ip_allowlist = allowlist(request.ip_allowlist.as_deref())?.unwrap_or_default();
    let workload_id = workload_id.unwrap_or_else(WorkloadId::generate);
    let tenant = exec.tenant_id().clone();
    let san = match mtls_san_uri {
        Some(given) => {
            let given = trimmed_non_empty("mtls_san_uri", given)?;
            check_san_namespace(given, &tenant)?;
            given.to_owned()
        }
        None => format!("spiffe://broker/tenants/{tenant}/workloads/{workload_id}"),
    };
    let mode = request.enrollment_mode.as_str();
    exec.op(REPO, "create")
        .query_one(
            INSERT,
            &[
                &workload_id,
                &tenant,
                &request.name,
                &san,
                &ip_allowlist,
                &mode,
            ],
            from_row,
        )
        .await
}

/// A workload of the executor's tenant, or `None` (also for another tenant's workload).
pub async fn get_by_id(
    exec: &mut impl TenantExec,
    workload_id: &WorkloadId,
) -> Result<Option<Workload>, DbError> {
    exec.op(REPO, "get_by_id")
        .query_opt(BY_ID, &[workload_id], from_row)
        .await
}

/// The workload presenting a client certificate with this SAN URI (trimmed; empty →
/// `validation_error`), or `None` (system scope: the certificate is checked before the tenant
/// is known).
pub async fn get_by_san_uri(
    exec: &mut impl SystemExec,
    san_uri: &str,
) -> Result<Option<Workload>, DbError> {
    let san = trimmed_non_empty("san_uri", san_uri)?;
    exec.op(REPO, "get_by_san_uri")
        .query_opt(BY_SAN, &[&san], from_row)
        .await
}

/// [`get_by_san_uri`] within the executor's tenant: another tenant's workload is `None`.
pub async fn get_own_by_san_uri(
    exec: &mut impl TenantExec,
    san_uri: &str,
) -> Result<Option<Workload>, DbError> {
    let san = trimmed_non_empty("san_uri", san_uri)?;
    exec.op(REPO, "get_own_by_san_uri")
        .query_opt(BY_SAN, &[&san], from_row)
        .await
}

/// The tenant owning a workload, or `None` (system scope: tenant resolution).
pub async fn resolve_tenant_by_workload(
    exec: &mut impl SystemExec,
    workload_id: &WorkloadId,
) -> Result<Option<TenantId>, DbError> {
    exec.op(REPO, "resolve_tenant")
        .query_opt(TENANT_OF, &[workload_id], |r| Ok(r.try_get(0)?))
        .await
}

/// The statements [`list_by_tenant`] sends (for plan guards and benchmarks): `$1` the tenant,
/// then the page's parameters as [`ListStatements`] says.
#[doc(hidden)]
pub fn list_statements() -> ListStatements {
    LIST
}

/// One page of the executor's workloads, oldest first (then by id). `PageRequest::default()`
/// is page 1 of 50; the maximum page size is 100.
pub async fn list_by_tenant(
    exec: &mut impl TenantExec,
    page: PageRequest,
) -> Result<Page<Workload>, DbError> {
    let tenant = exec.tenant_id().clone();
    exec.op(REPO, "list_by_tenant")
        .offset_page(&LIST, &[&tenant], page, from_row)
        .await
}

/// Changes the fields present in `request` (the allowlist is validated before any write).
/// Unknown (or another tenant's) workload → `not_found`.
pub async fn update(
    exec: &mut impl TenantExec,
    workload_id: &WorkloadId,
    request: &WorkloadUpdateRequest,
) -> Result<Workload, DbError> {
    let ip_allowlist = allowlist(request.ip_allowlist.as_deref())?;
    exec.op(REPO, "update")
        .query_found(
            "workload",
            UPDATE,
            &[workload_id, &request.enabled, &ip_allowlist],
            from_row,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &str =
        "workload_id, tenant_id, name, mtls_san_uri, enabled, ip_allowlist, created_at";

    #[test]
    fn column_list_matches_every_select() {
        for sql in [BY_ID, BY_SAN] {
            assert!(sql.contains(COLUMNS), "{sql}");
        }
    }
}

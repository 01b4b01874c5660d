//! Tenants. Tenants are global admin data: created and listed in the system
//! scope; a tenant reads its own row in its tenant scope.

use serde::Serialize;
use tokio_postgres::Row;

use crate::db::{DbError, SystemExec, TenantExec};
use crate::model::TenantId;

const REPO: &str = "tenants";
const INSERT: &str =
    "INSERT INTO tenants (tenant_id, name) VALUES ($1, $2) RETURNING tenant_id, name";
const SELECT_ONE: &str = "SELECT tenant_id, name FROM tenants WHERE tenant_id = $1";
const SELECT_OWN: &str = "SELECT tenant_id, name FROM tenants";
const SELECT_ALL: &str = "SELECT tenant_id, name FROM tenants ORDER BY created_at, tenant_id";

/// `{tenant_id, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantSummary {
    /// Business id.
    pub tenant_id: TenantId,
    /// Display name (any string).
    pub name: String,
}

fn from_row(row: &Row) -> Result<TenantSummary, DbError> {
    Ok(TenantSummary {
        tenant_id: row.try_get(0)?,
        name: row.try_get(1)?,
    })
}

/// Creates a tenant (system scope: a tenant cannot create itself). `tenant_id`: `None`
/// generates `t_<32 hex>`. Duplicate id → `unique_violation`.
pub async fn create(
    exec: &mut impl SystemExec,
    name: &str,
    tenant_id: Option<TenantId>,
) -> Result<TenantSummary, DbError> {
    let id = tenant_id.unwrap_or_else(TenantId::generate);
    exec.op(REPO, "create")
        .query_one(INSERT, &[&id, &name], from_row)
        .await
}

/// A tenant by id, or `None` (system scope: tenant resolution before a tenant scope exists).
pub async fn get_by_id(
    exec: &mut impl SystemExec,
    tenant_id: &TenantId,
) -> Result<Option<TenantSummary>, DbError> {
    exec.op(REPO, "get_by_id")
        .query_opt(SELECT_ONE, &[tenant_id], from_row)
        .await
}

/// The executor's own tenant (row-level security shows no other).
pub async fn get_own(exec: &mut impl TenantExec) -> Result<Option<TenantSummary>, DbError> {
    exec.op(REPO, "get_own")
        .query_opt(SELECT_OWN, &[], from_row)
        .await
}

/// Every tenant, oldest first (system scope: global admin listing).
pub async fn list(exec: &mut impl SystemExec) -> Result<Vec<TenantSummary>, DbError> {
    exec.op(REPO, "list")
        .query_all(SELECT_ALL, &[], from_row)
        .await
}

//! TenantRepository (spec §2). Tenants are global admin data: created and listed in the system
//! scope; a tenant reads its own row in its tenant scope.

use serde::Serialize;
use tokio_postgres::Row;

use crate::db::{DbError, SystemScope, TenantScope};
use crate::model::{TenantId, ValidationError, trim};

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

/// Creates a tenant (system scope: a tenant cannot create itself). `tenant_id`: `None` or `""`
/// generates `t_<32 hex>`; otherwise it is trimmed and must not be empty. Duplicate id →
/// `unique_violation`.
pub async fn create(
    system: &SystemScope<'_>,
    name: &str,
    tenant_id: Option<&str>,
) -> Result<TenantSummary, DbError> {
    let id = match tenant_id {
        None | Some("") => TenantId::generate(),
        Some(given) => TenantId::parse(given)?,
    };
    let rows = system
        .db()
        .observe(REPO, "create", system.query(INSERT, &[&id, &name]))
        .await?;
    rows.first()
        .map(from_row)
        .unwrap_or_else(|| Err(DbError::not_found("tenant")))
}

/// A tenant by id, or `None` (system scope: tenant resolution before a tenant scope exists).
pub async fn get_by_id(
    system: &SystemScope<'_>,
    tenant_id: &str,
) -> Result<Option<TenantSummary>, DbError> {
    if trim(tenant_id).is_empty() {
        return Err(ValidationError::new("tenant_id", "cannot be empty").into());
    }
    let id = TenantId::parse(tenant_id)?;
    system
        .db()
        .observe(REPO, "get_by_id", system.query_opt(SELECT_ONE, &[&id]))
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The scope's own tenant (row-level security shows no other).
pub async fn get_own(scope: &TenantScope<'_>) -> Result<Option<TenantSummary>, DbError> {
    scope
        .db()
        .observe(REPO, "get_own", scope.query_opt(SELECT_OWN, &[]))
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Every tenant, oldest first (system scope: global admin listing).
pub async fn list(system: &SystemScope<'_>) -> Result<Vec<TenantSummary>, DbError> {
    system
        .db()
        .observe(REPO, "list", system.query(SELECT_ALL, &[]))
        .await?
        .iter()
        .map(from_row)
        .collect()
}

//! Integrations of a tenant, their secret pointer, and the
//! template resolution used on the execute path. Tenant scope throughout.

mod execute;

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

pub use execute::{
    EXECUTE_LOOKUP_SQL, ExecuteLookup, ExecutionStatus, TemplateBinding, get_template_binding,
    get_template_for_execute, get_template_for_policy_evaluation,
};

use crate::db::listing::ListStatements;
use crate::db::paging::{Page, PageRequest};
use crate::db::{DbError, TenantExec};
use crate::model::{
    IntegrationId, SecretRef, SecretType, TemplateId, Timestamp, ValidationError, trimmed_non_empty,
};

const REPO: &str = "integrations";

macro_rules! cols {
    () => {
        "integration_id, tenant_id, provider, name, template_id, enabled, secret_ref, secret_version, last_rotated_at"
    };
}
const INSERT: &str = concat!(
    "INSERT INTO integrations (integration_id, tenant_id, provider, name, template_id, template_version, enabled, secret_ref, secret_version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
    cols!()
);
const BY_ID: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM integrations WHERE integration_id = $1"
);
/// `$1` the tenant (also what row-level security allows; named so the planner's estimate is the
/// tenant's). The page reads its rows in index order and stops; the total counts at most the cap,
/// in index order too (as the workloads list: never a sequential scan that stops at the cap).
const LIST: ListStatements = ListStatements {
    page: concat!(
        "SELECT p.",
        "integration_id, p.tenant_id, p.provider, p.name, p.template_id, p.enabled, p.secret_ref, p.secret_version, p.last_rotated_at",
        ", t.n AS total FROM (SELECT created_at, ",
        cols!(),
        " FROM integrations WHERE tenant_id = $1 ORDER BY created_at, integration_id LIMIT $2 OFFSET $3) p, \
         (SELECT count(*) AS n FROM (SELECT 1 FROM integrations WHERE tenant_id = $1 \
                                     ORDER BY created_at, integration_id LIMIT $4) c) t \
         ORDER BY p.created_at, p.integration_id"
    ),
    count: "SELECT count(*) FROM (SELECT 1 FROM integrations WHERE tenant_id = $1 \
            ORDER BY created_at, integration_id LIMIT $2) c",
    estimate: "EXPLAIN (FORMAT JSON) SELECT 1 FROM integrations WHERE tenant_id = $1",
};
const UPDATE: &str = concat!(
    "UPDATE integrations SET enabled = COALESCE($2, enabled), \
       template_id = COALESCE($3, template_id), \
       template_version = CASE WHEN $3::text IS NULL THEN template_version ELSE NULL END \
     WHERE integration_id = $1 RETURNING ",
    cols!()
);
const BIND: &str = concat!(
    "UPDATE integrations SET secret_ref = $2, secret_version = $3, last_rotated_at = $4 WHERE integration_id = $1 RETURNING ",
    cols!()
);

/// Secret material given on create: validated, never stored or logged here (secrets go through
/// the secret repository as envelopes).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretMaterial {
    /// `api_key` or `oauth_refresh_token`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The plaintext; never persisted.
    pub value: String,
}

impl std::fmt::Debug for SecretMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretMaterial")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// `IntegrationWrite`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationWrite {
    /// Upstream provider.
    pub provider: String,
    /// Unique per tenant.
    pub name: String,
    /// Template followed (latest active version unless pinned).
    pub template_id: TemplateId,
    /// Validated, not persisted.
    pub secret_material: SecretMaterial,
}

/// Optional parts of `create`.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Defaults to `int_<32 hex>`.
    pub integration_id: Option<IntegrationId>,
    /// Given together with `secret_version`.
    pub secret_ref: Option<String>,
    /// ≥ 1; given together with `secret_ref`.
    pub secret_version: Option<i32>,
    /// Pinned template version (≥ 1); `None` follows the latest active version.
    pub template_version: Option<i32>,
    /// Defaults to true.
    pub enabled: Option<bool>,
}

/// `IntegrationUpdateRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationUpdate {
    /// New enabled flag.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// New template (unpins the version).
    #[serde(default)]
    pub template_id: Option<TemplateId>,
}

/// The `Integration` DTO (`template_version` is not exposed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Integration {
    /// Business id.
    pub integration_id: IntegrationId,
    /// Owning tenant.
    pub tenant_id: crate::model::TenantId,
    /// Upstream provider.
    pub provider: String,
    /// Name, unique per tenant.
    pub name: String,
    /// Template followed.
    pub template_id: TemplateId,
    /// Enabled flag.
    pub enabled: bool,
    /// Secret pointer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<String>,
    /// Secret version pointer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_version: Option<i32>,
    /// Last rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rotated_at: Option<Timestamp>,
}

fn from_row(row: &Row) -> Result<Integration, DbError> {
    Ok(Integration {
        integration_id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
        provider: row.try_get(2)?,
        name: row.try_get(3)?,
        template_id: row.try_get(4)?,
        enabled: row.try_get(5)?,
        secret_ref: row
            .try_get::<_, Option<String>>(6)?
            .filter(|s| !s.is_empty()),
        secret_version: row.try_get(7)?,
        last_rotated_at: row.try_get(8)?,
    })
}

fn positive(field: &'static str, v: Option<i32>) -> Result<Option<i32>, ValidationError> {
    match v {
        Some(n) if n < 1 => Err(ValidationError::new(field, "must be an integer ≥ 1")),
        other => Ok(other),
    }
}

/// Creates an integration of the scope's tenant. `secret_ref`/`secret_version` come together
/// or not at all. Duplicate id, name or `secret_ref` → `unique_violation`; unknown tenant →
/// `integrity_violation`.
pub async fn create(
    exec: &mut impl TenantExec,
    payload: &IntegrationWrite,
    opts: &CreateOptions,
) -> Result<Integration, DbError> {
    SecretType::parse(&payload.secret_material.kind).map_err(|_| {
        ValidationError::new(
            "secret_material.type",
            "must be api_key or oauth_refresh_token",
        )
    })?;
    let template_version = positive("template_version", opts.template_version)?;
    let secret_version = positive("secret_version", opts.secret_version)?;
    let secret_ref = opts
        .secret_ref
        .as_deref()
        .map(|r| trimmed_non_empty("secret_ref", r))
        .transpose()?;
    if secret_ref.is_some() != secret_version.is_some() {
        return Err(ValidationError::new(
            "secret_ref",
            "secret_ref and secret_version go together",
        )
        .into());
    }
    let id = opts
        .integration_id
        .clone()
        .unwrap_or_else(IntegrationId::generate);
    let enabled = opts.enabled.unwrap_or(true);
    let tenant = exec.tenant_id().clone();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] = [
        &id,
        &tenant,
        &payload.provider,
        &payload.name,
        &payload.template_id,
        &template_version,
        &enabled,
        &secret_ref,
        &secret_version,
    ];
    exec.op(REPO, "create")
        .query_one(INSERT, &params, from_row)
        .await
}

/// An integration of the executor's tenant, or `None` (also for another tenant's).
pub async fn get_by_id(
    exec: &mut impl TenantExec,
    integration_id: &IntegrationId,
) -> Result<Option<Integration>, DbError> {
    exec.op(REPO, "get_by_id")
        .query_opt(BY_ID, &[integration_id], from_row)
        .await
}

/// The statements [`list_by_tenant`] sends (for plan guards and benchmarks): `$1` the tenant,
/// then the page's parameters as [`ListStatements`] says.
#[doc(hidden)]
pub fn list_statements() -> ListStatements {
    LIST
}

/// One page of the executor's integrations, oldest first. `PageRequest::default()` is page 1
/// of 50; the maximum page size is 100.
pub async fn list_by_tenant(
    exec: &mut impl TenantExec,
    page: PageRequest,
) -> Result<Page<Integration>, DbError> {
    let tenant = exec.tenant_id().clone();
    exec.op(REPO, "list_by_tenant")
        .offset_page(&LIST, &[&tenant], page, from_row)
        .await
}

/// Changes `enabled` and/or `template_id` (a new template unpins the version). Unknown →
/// `not_found`.
pub async fn update(
    exec: &mut impl TenantExec,
    integration_id: &IntegrationId,
    request: &IntegrationUpdate,
) -> Result<Integration, DbError> {
    exec.op(REPO, "update")
        .query_found(
            "integration",
            UPDATE,
            &[integration_id, &request.enabled, &request.template_id],
            from_row,
        )
        .await
}

/// Points the integration at a secret version (`last_rotated_at` defaults to now). The secret's
/// existence is not checked here. `secret_ref` of another integration → `unique_violation`;
/// unknown integration → `not_found`.
pub async fn bind_secret(
    exec: &mut impl TenantExec,
    integration_id: &IntegrationId,
    binding: &SecretBinding,
) -> Result<Integration, DbError> {
    let version = positive("secret_version", Some(binding.secret_version))?;
    let at = binding.last_rotated_at.unwrap_or_else(Timestamp::now);
    exec.op(REPO, "bind_secret")
        .query_found(
            "integration",
            BIND,
            &[integration_id, &binding.secret_ref, &version, &at],
            from_row,
        )
        .await
}

/// Which secret version [`bind_secret`] points an integration at.
#[derive(Debug, Clone)]
pub struct SecretBinding {
    /// The secret.
    pub secret_ref: SecretRef,
    /// Its version (≥ 1).
    pub secret_version: i32,
    /// When it was rotated; defaults to now.
    pub last_rotated_at: Option<Timestamp>,
}

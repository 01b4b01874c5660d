//! The execute-path lookup: workload, integration and resolved template in one statement.

use serde::{Deserialize, Serialize};

use super::REPO;
use crate::db::{DbError, TenantExec};
use crate::model::{IntegrationId, TemplateId, WorkloadId};
use crate::repo::templates::Template;

/// One row whatever exists: NULLs say what is missing. The template resolution rule: an
/// integration pinned to a version gets that version only if it is active (no fallback to
/// another), an unpinned one the highest active version.
const LOOKUP: &str = "SELECT w.enabled, i.enabled, t.template_json::text, t.template_id, t.version
     FROM (VALUES (1)) AS one(x)
     LEFT JOIN workloads w ON w.workload_id = $1
     LEFT JOIN integrations i ON i.integration_id = $2
     LEFT JOIN LATERAL (
         SELECT tv.template_json, tv.template_id, tv.version FROM template_versions tv
          WHERE tv.template_id = i.template_id AND tv.status = 'active'
            AND (i.template_version IS NULL OR tv.version = i.template_version)
          ORDER BY tv.version DESC LIMIT 1) t ON TRUE";
/// The statement [`get_template_for_execute`] sends (`$1` workload id, `$2` integration id), for
/// benchmarks that compare it with the same SQL sent raw.
pub const EXECUTE_LOOKUP_SQL: &str = LOOKUP;
const BINDING: &str = "SELECT i.enabled, t.template_id, t.version
     FROM integrations i
     JOIN LATERAL (
         SELECT tv.template_id, tv.version FROM template_versions tv
          WHERE tv.template_id = i.template_id AND tv.status = 'active'
            AND (i.template_version IS NULL OR tv.version = i.template_version)
          ORDER BY tv.version DESC LIMIT 1) t ON TRUE
     WHERE i.integration_id = $1";

/// Whether a call may run; a disabled workload wins over a disabled integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Both enabled.
    Executable,
    /// The workload is disabled.
    WorkloadDisabled,
    /// The integration is disabled (the workload is enabled).
    IntegrationDisabled,
}

/// What the execute path needs (serializes as its fields; the read cache stores it as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecuteLookup {
    /// Workload flag.
    pub workload_enabled: bool,
    /// Integration flag.
    pub integration_enabled: bool,
    /// Both enabled.
    pub executable: bool,
    /// Why (not) executable.
    pub execution_status: ExecutionStatus,
    /// The resolved template (stored snapshot, re-validated).
    pub template: Template,
    /// Its id.
    pub template_id: TemplateId,
    /// Its version.
    pub template_version: i32,
}

/// Gating and template for one call, in one round trip. Missing workload,
/// integration (another tenant's counts as missing) or resolvable template → `not_found`.
/// Disabled entities are not errors: see `executable`.
pub async fn get_template_for_execute(
    exec: &mut impl TenantExec,
    workload_id: &WorkloadId,
    integration_id: &IntegrationId,
) -> Result<ExecuteLookup, DbError> {
    exec.op(REPO, "execute_lookup")
        .query_one(LOOKUP, &[workload_id, integration_id], from_row)
        .await
}

fn from_row(row: &tokio_postgres::Row) -> Result<ExecuteLookup, DbError> {
    let workload_enabled: bool = row
        .try_get::<_, Option<bool>>(0)?
        .ok_or(DbError::not_found("workload"))?;
    let integration_enabled: bool = row
        .try_get::<_, Option<bool>>(1)?
        .ok_or(DbError::not_found("integration"))?;
    let json: &str = row
        .try_get::<_, Option<&str>>(2)?
        .ok_or(DbError::not_found("template"))?;
    let template = Template::from_json_str(json).map_err(|_| DbError::Unexpected {
        message: "stored template violates its contract".into(),
    })?;
    let execution_status = match (workload_enabled, integration_enabled) {
        (false, _) => ExecutionStatus::WorkloadDisabled,
        (true, false) => ExecutionStatus::IntegrationDisabled,
        (true, true) => ExecutionStatus::Executable,
    };
    Ok(ExecuteLookup {
        workload_enabled,
        integration_enabled,
        executable: execution_status == ExecutionStatus::Executable,
        execution_status,
        template,
        template_id: row.try_get(3)?,
        template_version: row.try_get(4)?,
    })
}

/// The same lookup for policy evaluation: `(integration_enabled, template)`.
pub async fn get_template_for_policy_evaluation(
    exec: &mut impl TenantExec,
    workload_id: &WorkloadId,
    integration_id: &IntegrationId,
) -> Result<(bool, Template), DbError> {
    let found = get_template_for_execute(exec, workload_id, integration_id).await?;
    Ok((found.integration_enabled, found.template))
}

/// `{tenant_id, integration_id, enabled, template_id, template_version}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateBinding {
    /// Tenant.
    pub tenant_id: crate::model::TenantId,
    /// Integration.
    pub integration_id: IntegrationId,
    /// Integration flag.
    pub enabled: bool,
    /// Resolved template id.
    pub template_id: TemplateId,
    /// Resolved version.
    pub template_version: i32,
}

/// The integration's resolved template binding, or `None` when the integration is missing or
/// its template is unresolvable (no workload involved).
pub async fn get_template_binding(
    exec: &mut impl TenantExec,
    integration_id: &IntegrationId,
) -> Result<Option<TemplateBinding>, DbError> {
    let tenant = exec.tenant_id().clone();
    exec.op(REPO, "template_binding")
        .query_opt(BINDING, &[integration_id], |r| {
            Ok(TemplateBinding {
                tenant_id: tenant.clone(),
                integration_id: integration_id.clone(),
                enabled: r.try_get(0)?,
                template_id: r.try_get(1)?,
                template_version: r.try_get(2)?,
            })
        })
        .await
}

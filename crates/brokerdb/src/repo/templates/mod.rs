//! Templates: immutable template versions of a tenant, and the
//! template-invalidation outbox write. Tenant scope throughout.
//!
//! Publishing takes a transaction-scoped advisory lock on `(tenant, template_id)` before reading
//! the latest version, so concurrent publishers cannot land a lower version after a higher one
//! (a weakness of the original): a loser sees the winner's version and gets `conflict`.

mod dto;
mod outbox;

use tokio_postgres::Row;

pub use dto::{BodyPolicy, NetworkSafety, PathGroup, RedirectPolicy, Template};
pub use outbox::{TemplateInvalidationSignal, persist_invalidation_outbox};

use crate::db::{DbError, Exec, TenantExec, TxOptions};
use crate::model::{TemplateId, ValidationError};

const REPO: &str = "templates";
const LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('brokerdb.template:' || $1 || ':' || $2, 0))";
const LATEST_ANY: &str = "SELECT version, provider FROM template_versions WHERE template_id = $1 ORDER BY version DESC LIMIT 1";
const INSERT: &str = "INSERT INTO template_versions (tenant_id, template_id, version, provider, status, template_json, published_by)
     VALUES ($1, $2, $3, $4, 'active', $5, $6) RETURNING template_json::text";
const ACTIVE_VERSION: &str = "SELECT template_json::text FROM template_versions WHERE template_id = $1 AND version = $2 AND status = 'active'";
const LATEST_ACTIVE: &str = "SELECT template_json::text FROM template_versions WHERE template_id = $1 AND status = 'active' ORDER BY version DESC LIMIT 1";
const ALL_VERSIONS: &str =
    "SELECT template_json::text FROM template_versions WHERE template_id = $1 ORDER BY version";
const LATEST_PER_TEMPLATE: &str =
    "SELECT DISTINCT ON (template_id) template_json::text FROM template_versions
     WHERE status = 'active' ORDER BY template_id, version DESC";

fn from_row(row: &Row) -> Result<Template, DbError> {
    Template::from_json_str(row.try_get(0)?).map_err(|_| DbError::Unexpected {
        message: "stored template violates its contract".into(),
    })
}

fn version(v: i32) -> Result<i32, ValidationError> {
    if v >= 1 {
        Ok(v)
    } else {
        Err(ValidationError::new("version", "must be an integer ≥ 1"))
    }
}

/// Publishes a new immutable version. The provider must equal the latest version's and the
/// version must be greater than every existing one (else `conflict`); unknown tenant →
/// `integrity_violation`. Returns the stored template.
pub async fn create_version(
    exec: &mut impl TenantExec,
    template: &Template,
    published_by: Option<&str>,
) -> Result<Template, DbError> {
    template.validate()?;
    let snapshot = serde_json::to_value(template)
        .map_err(|_| ValidationError::new("template", "cannot be serialized"))?;
    let (t, tenant, by) = (
        template.clone(),
        exec.tenant_id().clone(),
        published_by.map(str::to_owned),
    );
    exec.op(REPO, "create_version")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (t, tenant, by, snapshot) =
                (t.clone(), tenant.clone(), by.clone(), snapshot.clone());
            Box::pin(async move {
                tx.query(LOCK, &[&tenant.as_str(), &t.template_id.as_str()])
                    .await?;
                if let Some(latest) = tx.query_opt(LATEST_ANY, &[&t.template_id]).await? {
                    let (v, provider): (i32, String) = (latest.try_get(0)?, latest.try_get(1)?);
                    if provider != t.provider {
                        return Err(DbError::Conflict {
                            message: "a template's provider cannot change".into(),
                        });
                    }
                    if t.version <= v {
                        return Err(DbError::Conflict {
                            message: "a new template version must be greater than the latest"
                                .into(),
                        });
                    }
                }
                let rows = tx
                    .query(
                        INSERT,
                        &[
                            &tenant,
                            &t.template_id,
                            &t.version,
                            &t.provider,
                            &snapshot,
                            &by,
                        ],
                    )
                    .await?;
                rows.first()
                    .map(from_row)
                    .unwrap_or_else(|| Err(DbError::returned_nothing()))
            })
        })
        .await
}

/// An active version, or `None` (missing or disabled).
pub async fn get_version(
    exec: &mut impl TenantExec,
    template_id: &TemplateId,
    v: i32,
) -> Result<Option<Template>, DbError> {
    let v = version(v)?;
    exec.op(REPO, "get_version")
        .query_opt(ACTIVE_VERSION, &[template_id, &v], from_row)
        .await
}

/// The highest active version, or `None`.
pub async fn get_latest(
    exec: &mut impl TenantExec,
    template_id: &TemplateId,
) -> Result<Option<Template>, DbError> {
    exec.op(REPO, "get_latest")
        .query_opt(LATEST_ACTIVE, &[template_id], from_row)
        .await
}

/// Every version, active and disabled, by version ascending.
pub async fn list_versions(
    exec: &mut impl TenantExec,
    template_id: &TemplateId,
) -> Result<Vec<Template>, DbError> {
    exec.op(REPO, "list_versions")
        .query_all(ALL_VERSIONS, &[template_id], from_row)
        .await
}

/// For each template of the tenant its highest active version, by `template_id` ascending
/// (computed in SQL with `DISTINCT ON`). Templates without an active version are absent.
pub async fn list_latest(exec: &mut impl TenantExec) -> Result<Vec<Template>, DbError> {
    exec.op(REPO, "list_latest")
        .query_all(LATEST_PER_TEMPLATE, &[], from_row)
        .await
}

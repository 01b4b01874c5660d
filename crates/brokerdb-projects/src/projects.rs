//! Projects of a tenant: create, read, list (keyset), update, delete (cascading to artifacts and
//! webhook events), and the encrypted webhook secret. All in the tenant scope, under RLS.
//!
//! The webhook secret is encrypted before it leaves the process ([`SecretKey`]); no read returns
//! it ([`Project`] only says [`Project::has_webhook_secret`]) except [`webhook_secret`], which the
//! webhook verifier calls.

use brokerdb_core::db::paging::{KeysetPage, decode_cursor};
use brokerdb_core::db::{DbError, TenantExec};
use brokerdb_core::scalar::Timestamp;
use brokerdb_core::scalar::{TenantId, ValidationError};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio_postgres::Row;

use crate::error::ProjectsError;
use crate::ids::ProjectId;
use crate::model::bounded_text;
use crate::secret::{MAX_SECRET_LEN, SecretBytes, SecretKey};

const REPO: &str = "projects";
const SORT_TAG: &str = "projects:created_at_desc,project_id_desc";
/// Largest config accepted, in bytes of compact JSON.
pub const MAX_CONFIG_BYTES: usize = 16 * 1024;
/// Longest repository URL, in characters.
pub const MAX_REPO_URL_LEN: usize = 2000;

macro_rules! select {
    ($($tail:literal),*) => {
        concat!("SELECT project_id, tenant_id, name, repo_url, webhook_secret_ciphertext IS NOT NULL, \
                 config, last_seen_at, created_at, updated_at FROM projects ", $($tail),*)
    };
}
macro_rules! returning {
    () => {
        " RETURNING project_id, tenant_id, name, repo_url, webhook_secret_ciphertext IS NOT NULL, \
          config, last_seen_at, created_at, updated_at"
    };
}

const INSERT: &str = concat!(
    "INSERT INTO projects (project_id, tenant_id, name, repo_url, webhook_secret_ciphertext, config) \
     VALUES ($1, $2, $3, $4, $5, $6)",
    returning!()
);
const GET: &str = select!("WHERE project_id = $1");
const PAGE: &str = select!(
    "WHERE (created_at, project_id) < (COALESCE($1, 'infinity'::timestamptz), COALESCE($2, ''::text)) \
     ORDER BY created_at DESC, project_id DESC LIMIT $3"
);
const UPDATE: &str = concat!(
    "UPDATE projects SET name = COALESCE($2, name), repo_url = COALESCE($3, repo_url), \
     config = COALESCE($4, config), \
     webhook_secret_ciphertext = CASE WHEN $5 THEN $6 ELSE webhook_secret_ciphertext END \
     WHERE project_id = $1",
    returning!()
);
const DELETE: &str = "DELETE FROM projects WHERE project_id = $1";
const TOUCH: &str = "UPDATE projects SET last_seen_at = date_trunc('milliseconds', now()), \
     updated_at = updated_at WHERE project_id = $1";
const SECRET: &str = "SELECT webhook_secret_ciphertext FROM projects WHERE project_id = $1";

/// A stored project. It has no secret field: only whether a webhook secret is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    /// Its id (`prj_…`), unique across tenants.
    pub project_id: ProjectId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// 1..=200 characters.
    pub name: String,
    /// An `https://` URL of at most 2000 characters.
    pub repo_url: String,
    /// True when a webhook secret is stored (encrypted).
    pub has_webhook_secret: bool,
    /// A JSON object of at most 16 KiB.
    pub config: Map<String, Value>,
    /// When the project was last seen active ([`touch_last_seen`]).
    pub last_seen_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change (`last_seen_at` moves do not count).
    pub updated_at: Timestamp,
}

fn from_row(r: &Row) -> Result<Project, DbError> {
    let config = match r.try_get::<_, Value>(5)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Ok(Project {
        project_id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        name: r.try_get(2)?,
        repo_url: r.try_get(3)?,
        has_webhook_secret: r.try_get(4)?,
        config,
        last_seen_at: r.try_get(6)?,
        created_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
    })
}

/// What [`create`] stores (the tenant is the scope's; the id is generated).
#[derive(Debug, Clone)]
pub struct NewProject {
    /// 1..=200 characters after trimming.
    pub name: String,
    /// An `https://` URL with a host, at most 2000 characters.
    pub repo_url: String,
    /// Optional webhook secret, 1..=1024 bytes; stored encrypted.
    pub webhook_secret: Option<SecretBytes>,
    /// A JSON object of at most 16 KiB (compact); defaults to `{}`.
    pub config: Option<Map<String, Value>>,
}

/// What [`update`] changes; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct ProjectChanges {
    /// New name.
    pub name: Option<String>,
    /// New repository URL.
    pub repo_url: Option<String>,
    /// New config (replaces the whole object).
    pub config: Option<Map<String, Value>>,
    /// `Some(Some(secret))` rotates the secret, `Some(None)` removes it.
    pub webhook_secret: Option<Option<SecretBytes>>,
}

fn checked_name(name: &str) -> Result<String, ValidationError> {
    bounded_text("name", name, 200, "must be 1..200 characters")
}

fn checked_repo_url(url: &str) -> Result<String, ValidationError> {
    let bad = || {
        ValidationError::new(
            "repo_url",
            "must be an https URL of at most 2000 characters",
        )
    };
    let url = url.trim();
    if url.chars().count() > MAX_REPO_URL_LEN {
        return Err(bad());
    }
    let parsed = url::Url::parse(url).map_err(|_| bad())?;
    match parsed.scheme() == "https" && parsed.host_str().is_some_and(|h| !h.is_empty()) {
        true if url.starts_with("https://") => Ok(url.to_owned()),
        _ => Err(bad()),
    }
}

fn checked_config(config: Map<String, Value>) -> Result<Value, ValidationError> {
    let value = Value::Object(config);
    let size = serde_json::to_vec(&value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    match size <= MAX_CONFIG_BYTES {
        true => Ok(value),
        false => Err(ValidationError::new(
            "config",
            "must be at most 16 KiB of JSON",
        )),
    }
}

fn sealed(key: &SecretKey, secret: &SecretBytes) -> Result<Vec<u8>, ProjectsError> {
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        return Err(ValidationError::new("webhook_secret", "must be 1..1024 bytes").into());
    }
    Ok(key.seal(secret.expose())?)
}

/// Creates a project of the scope's tenant, encrypting its webhook secret under `key`.
/// Unknown tenant → `integrity_violation`.
pub async fn create(
    exec: &mut impl TenantExec,
    key: &SecretKey,
    input: &NewProject,
) -> Result<Project, ProjectsError> {
    let name = checked_name(&input.name)?;
    let repo_url = checked_repo_url(&input.repo_url)?;
    let config = checked_config(input.config.clone().unwrap_or_default())?;
    let envelope = match &input.webhook_secret {
        Some(secret) => Some(sealed(key, secret)?),
        None => None,
    };
    let id = ProjectId::generate();
    let tenant = exec.tenant_id().clone();
    Ok(exec
        .op(REPO, "create")
        .query_one(
            INSERT,
            &[&id, &tenant, &name, &repo_url, &envelope, &config],
            from_row,
        )
        .await?)
}

/// A project of the scope's tenant, or `None` (also for another tenant's project).
pub async fn get(
    exec: &mut impl TenantExec,
    project_id: &ProjectId,
) -> Result<Option<Project>, DbError> {
    exec.op(REPO, "get")
        .query_opt(GET, &[project_id], from_row)
        .await
}

/// The scope's projects, newest first (`created_at` desc, `project_id` desc); `limit` 1..=200
/// (default 100); `cursor` from the previous page (signed, bound to the tenant).
pub async fn list(
    exec: &mut impl TenantExec,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<KeysetPage<Project>, DbError> {
    let limit = checked_limit(limit)?;
    let key = exec.db().cursor_key().clone();
    let tenant = exec.tenant_id().as_str().to_owned();
    let (at, id) = cursor_position(decode_cursor(&key, &tenant, SORT_TAG, cursor)?)?;
    let fetch = limit + 1;
    let items = exec
        .op(REPO, "list")
        .query_all(PAGE, &[&at, &id, &fetch], from_row)
        .await?;
    Ok(KeysetPage::from_rows(
        &key,
        &tenant,
        SORT_TAG,
        items,
        limit,
        |p| vec![p.created_at.to_string(), p.project_id.to_string()],
    ))
}

/// Applies `changes` to a project of the scope's tenant (a new secret is encrypted under `key`).
/// Unknown (or another tenant's) project → `not_found`.
pub async fn update(
    exec: &mut impl TenantExec,
    key: &SecretKey,
    project_id: &ProjectId,
    changes: &ProjectChanges,
) -> Result<Project, ProjectsError> {
    let name = changes.name.as_deref().map(checked_name).transpose()?;
    let repo_url = changes
        .repo_url
        .as_deref()
        .map(checked_repo_url)
        .transpose()?;
    let config = changes.config.clone().map(checked_config).transpose()?;
    let (set_secret, envelope) = match &changes.webhook_secret {
        None => (false, None),
        Some(None) => (true, None),
        Some(Some(secret)) => (true, Some(sealed(key, secret)?)),
    };
    Ok(exec
        .op(REPO, "update")
        .query_found(
            "project",
            UPDATE,
            &[
                project_id,
                &name,
                &repo_url,
                &config,
                &set_secret,
                &envelope,
            ],
            from_row,
        )
        .await?)
}

/// Deletes a project of the scope's tenant with its artifacts and webhook events (foreign keys
/// `ON DELETE CASCADE`); its MCP audit log stays (append-only, no foreign key). Returns whether
/// a project was deleted (false also for another tenant's project).
pub async fn delete(exec: &mut impl TenantExec, project_id: &ProjectId) -> Result<bool, DbError> {
    let n = exec
        .op(REPO, "delete")
        .execute(DELETE, &[project_id])
        .await?;
    Ok(n > 0)
}

/// Records that the project was seen now (`last_seen_at`; `updated_at` is kept). Returns whether
/// the project exists in the scope's tenant.
pub async fn touch_last_seen(
    exec: &mut impl TenantExec,
    project_id: &ProjectId,
) -> Result<bool, DbError> {
    let n = exec
        .op(REPO, "touch_last_seen")
        .execute(TOUCH, &[project_id])
        .await?;
    Ok(n > 0)
}

/// The decrypted webhook secret of a project of the scope's tenant, for the webhook verifier
/// only; `None` when the project does not exist (in this tenant) or has no secret. A secret that
/// does not decrypt under `key` is [`ProjectsError::Secret`].
pub async fn webhook_secret(
    exec: &mut impl TenantExec,
    key: &SecretKey,
    project_id: &ProjectId,
) -> Result<Option<SecretBytes>, ProjectsError> {
    Ok(find_webhook_secret(exec, key, project_id).await?.flatten())
}

/// [`webhook_secret`] in one read that also tells an unknown project (`None`) from a project
/// without a secret (`Some(None)`): what the webhook intake needs to answer `not_found` or
/// refuse the delivery.
pub async fn find_webhook_secret(
    exec: &mut impl TenantExec,
    key: &SecretKey,
    project_id: &ProjectId,
) -> Result<Option<Option<SecretBytes>>, ProjectsError> {
    let envelope: Option<Option<Vec<u8>>> = exec
        .op(REPO, "webhook_secret")
        .query_opt(SECRET, &[project_id], |r| Ok(r.try_get(0)?))
        .await?;
    Ok(match envelope {
        None => None,
        Some(None) => Some(None),
        Some(Some(bytes)) => Some(Some(key.open(&bytes)?)),
    })
}

pub(crate) use brokerdb_core::db::paging::{checked_limit, timestamp_cursor as cursor_position};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_urls_must_be_https_with_a_host() {
        assert!(checked_repo_url("https://github.com/acme/app").is_ok());
        for bad in [
            "http://github.com/a",
            "https://",
            "ftp://x",
            "github.com/a",
            "",
        ] {
            assert!(checked_repo_url(bad).is_err(), "{bad}");
        }
        assert!(checked_repo_url(&format!("https://x.io/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn config_is_bounded() {
        let mut big = Map::new();
        big.insert("k".into(), Value::String("x".repeat(MAX_CONFIG_BYTES)));
        assert!(checked_config(big).is_err());
        assert!(checked_config(Map::new()).is_ok());
    }
}

//! A project's artifacts (PRDs, epics, stories, architecture notes), one per path: upserted with
//! a version that rises on each change, read, and listed by type and/or recency with keyset
//! paging. All in the tenant scope, under RLS.

use brokerdb_core::db::paging::{KeysetPage, decode_cursor};
use brokerdb_core::db::{DbError, TenantExec};
use brokerdb_core::scalar::Timestamp;
use brokerdb_core::scalar::{TenantId, ValidationError};
use serde::Serialize;
use tokio_postgres::Row;

use crate::ids::{ArtifactId, ProjectId};
use crate::model::{ArtifactType, bounded_text, is_sha256_hex, stored};
use crate::projects::{checked_limit, cursor_position};

const REPO: &str = "artifacts";
const SORT_TAG: &str = "artifacts:updated_at_desc,artifact_id_desc";
/// Most dependencies an artifact may list.
pub const MAX_DEPENDENCIES: usize = 100;

macro_rules! cols {
    () => {
        "artifact_id, tenant_id, project_id, path, name, type::text, version, dependencies, \
         content_hash, created_at, updated_at"
    };
}

/// Insert version 1, or (same tenant, project and path) update the fields and bump the version,
/// unless nothing changed: then the row, its version and `updated_at` stay as they are and the
/// statement returns the stored row through the second branch.
const UPSERT: &str = concat!(
    "WITH up AS (
       INSERT INTO artifacts AS a (artifact_id, tenant_id, project_id, path, name, type, dependencies, content_hash)
       VALUES ($1, $2, $3, $4, $5, $6::text::artifact_type, $7, $8)
       ON CONFLICT (tenant_id, project_id, path) DO UPDATE
         SET name = EXCLUDED.name, type = EXCLUDED.type, dependencies = EXCLUDED.dependencies,
             content_hash = EXCLUDED.content_hash, version = a.version + 1
         WHERE (a.name, a.type, a.dependencies, a.content_hash)
               IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.type, EXCLUDED.dependencies, EXCLUDED.content_hash)
       RETURNING ",
    cols!(),
    ")
     SELECT * FROM up
     UNION ALL
     SELECT ",
    cols!(),
    " FROM artifacts WHERE project_id = $3 AND path = $4 AND NOT EXISTS (SELECT 1 FROM up)"
);
const GET: &str = concat!("SELECT ", cols!(), " FROM artifacts WHERE artifact_id = $1");
const GET_BY_PATH: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM artifacts WHERE project_id = $1 AND path = $2"
);
const PAGE: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM artifacts WHERE project_id = $1
       AND ($2::text IS NULL OR type = $2::text::artifact_type)
       AND ($3::timestamptz IS NULL OR updated_at >= $3)
       AND (updated_at, artifact_id) < (COALESCE($4, 'infinity'::timestamptz), COALESCE($5, ''::text))
     ORDER BY updated_at DESC, artifact_id DESC LIMIT $6"
);

/// A stored artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// Its id.
    pub artifact_id: ArtifactId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Its project.
    pub project_id: ProjectId,
    /// Path in the repository, 1..=1000 characters; unique per project.
    pub path: String,
    /// Display name, 1..=200 characters.
    pub name: String,
    /// What it is.
    #[serde(rename = "type")]
    pub artifact_type: ArtifactType,
    /// 1 when created, +1 on each change.
    pub version: i32,
    /// Paths (or ids) it depends on, at most 100.
    pub dependencies: Vec<String>,
    /// SHA-256 of its content (64 lower-case hex), when known.
    pub content_hash: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

fn from_row(r: &Row) -> Result<Artifact, DbError> {
    Ok(Artifact {
        artifact_id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        project_id: r.try_get(2)?,
        path: r.try_get(3)?,
        name: r.try_get(4)?,
        artifact_type: stored(ArtifactType::parse, r.try_get(5)?)?,
        version: r.try_get(6)?,
        dependencies: r.try_get(7)?,
        content_hash: r.try_get(8)?,
        created_at: r.try_get(9)?,
        updated_at: r.try_get(10)?,
    })
}

/// What [`upsert`] stores for a path.
#[derive(Debug, Clone)]
pub struct ArtifactInput {
    /// Path, 1..=1000 characters after trimming; the key within the project.
    pub path: String,
    /// Name, 1..=200 characters after trimming.
    pub name: String,
    /// Type.
    pub artifact_type: ArtifactType,
    /// At most 100 entries of 1..=1000 characters.
    pub dependencies: Vec<String>,
    /// 64 lower-case hex digits, when known.
    pub content_hash: Option<String>,
}

/// Creates the artifact at `input.path` (version 1) or updates it (version + 1); when every
/// field equals the stored one, nothing changes and the stored artifact is returned. A project
/// that does not exist in the scope's tenant → `integrity_violation` on `project_id`.
pub async fn upsert(
    exec: &mut impl TenantExec,
    project_id: &ProjectId,
    input: &ArtifactInput,
) -> Result<Artifact, DbError> {
    let path = bounded_text("path", &input.path, 1000, "must be 1..1000 characters")?;
    let name = bounded_text("name", &input.name, 200, "must be 1..200 characters")?;
    if input.dependencies.len() > MAX_DEPENDENCIES {
        return Err(ValidationError::new("dependencies", "must list at most 100 entries").into());
    }
    let dependencies = input
        .dependencies
        .iter()
        .map(|d| {
            bounded_text(
                "dependencies",
                d,
                1000,
                "entries must be 1..1000 characters",
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(hash) = &input.content_hash
        && !is_sha256_hex(hash)
    {
        return Err(
            ValidationError::new("content_hash", "must be 64 lower-case hex digits").into(),
        );
    }
    let id = ArtifactId::generate();
    let tenant = exec.tenant_id().clone();
    exec.op(REPO, "upsert")
        .query_one(
            UPSERT,
            &[
                &id,
                &tenant,
                project_id,
                &path,
                &name,
                &input.artifact_type.as_str(),
                &dependencies,
                &input.content_hash,
            ],
            from_row,
        )
        .await
}

/// An artifact of the scope's tenant, or `None`.
pub async fn get(
    exec: &mut impl TenantExec,
    artifact_id: &ArtifactId,
) -> Result<Option<Artifact>, DbError> {
    exec.op(REPO, "get")
        .query_opt(GET, &[artifact_id], from_row)
        .await
}

/// The artifact at `path` in a project of the scope's tenant, or `None`.
pub async fn get_by_path(
    exec: &mut impl TenantExec,
    project_id: &ProjectId,
    path: &str,
) -> Result<Option<Artifact>, DbError> {
    exec.op(REPO, "get_by_path")
        .query_opt(GET_BY_PATH, &[project_id, &path], from_row)
        .await
}

/// Which artifacts [`list`] returns.
#[derive(Debug, Clone, Default)]
pub struct ArtifactFilter {
    /// Only this type.
    pub artifact_type: Option<ArtifactType>,
    /// Only those updated at or after this time.
    pub updated_since: Option<Timestamp>,
    /// Page size, 1..=200 (default 100).
    pub limit: Option<i64>,
    /// From the previous page.
    pub cursor: Option<String>,
}

/// A project's artifacts, most recently updated first (`updated_at` desc, `artifact_id` desc),
/// keyset-paged with a signed cursor bound to the tenant and the project.
pub async fn list(
    exec: &mut impl TenantExec,
    project_id: &ProjectId,
    filter: &ArtifactFilter,
) -> Result<KeysetPage<Artifact>, DbError> {
    let limit = checked_limit(filter.limit)?;
    let key = exec.db().cursor_key().clone();
    let bound = format!("{}/{}", exec.tenant_id().as_str(), project_id.as_str());
    let (at, id) = cursor_position(decode_cursor(
        &key,
        &bound,
        SORT_TAG,
        filter.cursor.as_deref(),
    )?)?;
    let fetch = limit + 1;
    let kind = filter.artifact_type.map(ArtifactType::as_str);
    let items = exec
        .op(REPO, "list")
        .query_all(
            PAGE,
            &[project_id, &kind, &filter.updated_since, &at, &id, &fetch],
            from_row,
        )
        .await?;
    Ok(KeysetPage::from_rows(
        &key,
        &bound,
        SORT_TAG,
        items,
        limit,
        |a| vec![a.updated_at.to_string(), a.artifact_id.to_string()],
    ))
}

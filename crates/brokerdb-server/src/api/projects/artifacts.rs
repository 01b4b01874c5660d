//! `/v1/projects/{projectId}/artifacts`: upsert an artifact by path (publishing
//! `artifact_updated` on the project's channel after the commit) and the filtered keyset list.

use axum::Json;
use axum::extract::State;
use brokerdb::db::TxOptions;
use brokerdb::model::Timestamp;
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_projects::ArtifactType;
use brokerdb_projects::artifacts::{self, Artifact, ArtifactFilter, ArtifactInput};
use brokerdb_projects::events::{ArtifactUpdated, ProjectEvents};
use brokerdb_projects::projects;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{checked_cursor, existing, project_id};
use crate::api::auth::Principal;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::request::current_request_id;
use crate::app::AppState;

/// An artifact of a project, one per path.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactOut {
    /// Its id (`art_…`).
    pub artifact_id: String,
    /// Its project.
    pub project_id: String,
    /// Its path in the repository, the key within the project.
    pub path: String,
    /// Display name.
    pub name: String,
    /// `prd`, `epic`, `story`, `architecture` or `other`.
    #[serde(rename = "type")]
    pub artifact_type: String,
    /// Version, from 1; it goes up when a field changes.
    pub version: i32,
    /// Paths of the artifacts it depends on.
    pub dependencies: Vec<String>,
    /// SHA-256 of its content (64 lower-case hex), when known.
    pub content_hash: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

impl From<Artifact> for ArtifactOut {
    fn from(a: Artifact) -> Self {
        Self {
            artifact_id: a.artifact_id.to_string(),
            project_id: a.project_id.to_string(),
            path: a.path,
            name: a.name,
            artifact_type: a.artifact_type.as_str().to_owned(),
            version: a.version,
            dependencies: a.dependencies,
            content_hash: a.content_hash,
            created_at: a.created_at.to_string(),
            updated_at: a.updated_at.to_string(),
        }
    }
}

/// An artifact to create or update, keyed by `path`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtifactIn {
    /// Path, 1..=1000 characters (trimmed).
    pub path: String,
    /// Display name, 1..=200 characters.
    pub name: String,
    /// `prd`, `epic`, `story`, `architecture` or `other`.
    #[serde(rename = "type")]
    pub artifact_type: String,
    /// Paths of the artifacts it depends on (at most 100; default none).
    pub dependencies: Option<Vec<String>>,
    /// SHA-256 of its content, 64 lower-case hex.
    pub content_hash: Option<String>,
}

/// A keyset page of artifacts, most recently updated first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactPageOut {
    /// This page's artifacts.
    pub items: Vec<ArtifactOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Query parameters of `GET /v1/projects/{projectId}/artifacts` (combined with AND).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ArtifactListQuery {
    /// Only artifacts of this type (`prd`, `epic`, `story`, `architecture`, `other`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub artifact_type: Option<String>,
    /// Only artifacts updated at or after this RFC 3339 date-time.
    pub updated_since: Option<String>,
    /// Artifacts per page, 1..=200 (default 100).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page (with the same filters).
    #[param(max_length = 1000)]
    pub cursor: Option<String>,
}

/// Creates the project's artifact at `path`, or updates it (a changed field bumps its version),
/// role `operator`. After the commit, a changed artifact is announced on the project's channel
/// (`artifact_updated`; a publish failure does not fail the request).
#[utoipa::path(
    put,
    path = "/v1/projects/{projectId}/artifacts",
    tag = "projects",
    params(("projectId" = String, Path, description = "The project's id")),
    request_body = ArtifactIn,
    responses(
        (status = 200, description = "The stored artifact", body = ArtifactOut),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such project in the tenant", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn upsert(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ArtifactIn>,
) -> Result<Json<ArtifactOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Operator)?.clone();
    let id = project_id(&id)?;
    let input = ArtifactInput {
        path: body.path,
        name: body.name,
        artifact_type: ArtifactType::parse(&body.artifact_type)?,
        dependencies: body.dependencies.unwrap_or_default(),
        content_hash: body.content_hash,
    };
    let (before, artifact) = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (id, input) = (id.clone(), input.clone());
            Box::pin(async move {
                if projects::get(tx, &id).await?.is_none() {
                    return Err(brokerdb::db::DbError::not_found("project"));
                }
                let before = artifacts::get_by_path(tx, &id, input.path.trim()).await?;
                let artifact = artifacts::upsert(tx, &id, &input).await?;
                Ok((before.map(|b| b.version), artifact))
            })
        })
        .await?;
    if before != Some(artifact.version) {
        let event = ArtifactUpdated {
            project_id: artifact.project_id.clone(),
            artifact_id: artifact.artifact_id.clone(),
            path: artifact.path.clone(),
            version: i64::from(artifact.version),
            timestamp: artifact.updated_at,
        };
        let events = ProjectEvents::new(state.redis.clone());
        if let Err(e) = events.publish_artifact_updated(&tenant, &event).await {
            tracing::warn!(request_id = %current_request_id(), error = %e, "artifact_updated not published");
        }
    }
    Ok(Json(artifact.into()))
}

/// The project's artifacts, most recently updated first, in keyset pages (role `auditor`).
#[utoipa::path(
    get,
    path = "/v1/projects/{projectId}/artifacts",
    tag = "projects",
    params(("projectId" = String, Path, description = "The project's id"), ArtifactListQuery),
    responses(
        (status = 200, description = "A page of artifacts", body = ArtifactPageOut),
        (status = 400, description = "A parameter is unknown or invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such project in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ArtifactListQuery>,
) -> Result<Json<ArtifactPageOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = project_id(&id)?;
    let filter = ArtifactFilter {
        artifact_type: query
            .artifact_type
            .as_deref()
            .map(ArtifactType::parse)
            .transpose()?,
        updated_since: query
            .updated_since
            .as_deref()
            .map(|t| Timestamp::parse(t).map_err(|e| ApiError::from(e.with_field("updatedSince"))))
            .transpose()?,
        limit: query.limit,
        cursor: checked_cursor(query.cursor)?,
    };
    existing(&state, tenant, &id).await?;
    let page = artifacts::list(&mut state.db.tenant(tenant), &id, &filter).await?;
    Ok(Json(ArtifactPageOut {
        items: page.items.into_iter().map(ArtifactOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

//! `/v1/projects` and `/v1/projects/{projectId}`: create, list (keyset), read, change, delete.
//! The webhook secret is write-only: no answer carries it, only `hasWebhookSecret`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_projects::SecretBytes;
use brokerdb_projects::projects::{self, NewProject, Project, ProjectChanges};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::{checked_cursor, existing, project_id};
use crate::api::auth::Principal;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::wire::created;
use crate::app::AppState;

/// A project of the tenant (its webhook secret is never returned).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectOut {
    /// Its id (`prj_…`).
    pub project_id: String,
    /// The tenant (the caller's).
    pub tenant_id: String,
    /// Name, 1..=200 characters.
    pub name: String,
    /// The repository's `https://` URL.
    pub repo_url: String,
    /// True when a webhook secret is set.
    pub has_webhook_secret: bool,
    /// The project's configuration, a JSON object.
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// When a webhook delivery last reached it (RFC 3339), if ever.
    pub last_seen_at: Option<String>,
    /// Creation time (RFC 3339, milliseconds, UTC).
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

impl From<Project> for ProjectOut {
    fn from(p: Project) -> Self {
        Self {
            project_id: p.project_id.to_string(),
            tenant_id: p.tenant_id.to_string(),
            name: p.name,
            repo_url: p.repo_url,
            has_webhook_secret: p.has_webhook_secret,
            config: p.config,
            last_seen_at: p.last_seen_at.map(|t| t.to_string()),
            created_at: p.created_at.to_string(),
            updated_at: p.updated_at.to_string(),
        }
    }
}

/// A keyset page of projects, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectPageOut {
    /// This page's projects.
    pub items: Vec<ProjectOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A new project.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateProjectIn {
    /// Name, 1..=200 characters (trimmed).
    pub name: String,
    /// The repository's `https://` URL (at most 2000 characters).
    pub repo_url: String,
    /// The secret webhook deliveries are signed with (1..=1024 bytes); stored encrypted and
    /// never returned. Without it the project refuses every delivery.
    #[schema(write_only)]
    pub webhook_secret: Option<String>,
    /// A JSON object of at most 16 KiB (default `{}`).
    #[schema(value_type = Option<Object>)]
    pub config: Option<Map<String, Value>>,
}

/// The fields of a project to change; at least one must be given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateProjectIn {
    /// New name.
    pub name: Option<String>,
    /// New repository URL.
    pub repo_url: Option<String>,
    /// New configuration (replaces the whole object).
    #[schema(value_type = Option<Object>)]
    pub config: Option<Map<String, Value>>,
    /// A new webhook secret (rotation); never returned.
    #[schema(write_only)]
    pub webhook_secret: Option<String>,
    /// `true` removes the webhook secret (the project then refuses deliveries); not with
    /// `webhookSecret`.
    pub remove_webhook_secret: Option<bool>,
}

/// Query parameters of `GET /v1/projects`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectListQuery {
    /// Projects per page, 1..=200 (default 100).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    #[param(max_length = 1000)]
    pub cursor: Option<String>,
}

fn secret(text: Option<String>) -> Option<SecretBytes> {
    text.map(String::into_bytes).map(SecretBytes::new)
}

/// Creates a project in the caller's tenant (role `admin`).
#[utoipa::path(
    post,
    path = "/v1/projects",
    tag = "projects",
    request_body = CreateProjectIn,
    responses(
        (status = 201, description = "Created", body = ProjectOut,
         headers(("location" = String, description = "The new project's URL"))),
        (status = 400, description = "The body is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 422, description = "The tenant does not exist", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateProjectIn>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?;
    let input = NewProject {
        name: body.name,
        repo_url: body.repo_url,
        webhook_secret: secret(body.webhook_secret),
        config: body.config,
    };
    let project = projects::create(
        &mut state.db.tenant(tenant),
        &state.projects.secret_key,
        &input,
    )
    .await?;
    Ok(created(
        &format!("/v1/projects/{}", project.project_id),
        ProjectOut::from(project),
    ))
}

/// The projects of the caller's tenant, newest first, in keyset pages (role `auditor`).
#[utoipa::path(
    get,
    path = "/v1/projects",
    tag = "projects",
    params(ProjectListQuery),
    responses(
        (status = 200, description = "A page of projects", body = ProjectPageOut),
        (status = 400, description = "A parameter is unknown or invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ProjectListQuery>,
) -> Result<Json<ProjectPageOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let cursor = checked_cursor(query.cursor)?;
    let page = projects::list(&mut state.db.tenant(tenant), query.limit, cursor.as_deref()).await?;
    Ok(Json(ProjectPageOut {
        items: page.items.into_iter().map(ProjectOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One project of the caller's tenant (role `auditor`; 404 for another tenant's).
#[utoipa::path(
    get,
    path = "/v1/projects/{projectId}",
    tag = "projects",
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The project", body = ProjectOut),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such project in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ProjectOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = project_id(&id)?;
    Ok(Json(existing(&state, tenant, &id).await?.into()))
}

/// Changes a project's name, repository URL, configuration or webhook secret (role `admin`).
#[utoipa::path(
    patch,
    path = "/v1/projects/{projectId}",
    tag = "projects",
    params(("projectId" = String, Path, description = "The project's id")),
    request_body = UpdateProjectIn,
    responses(
        (status = 200, description = "The changed project", body = ProjectOut),
        (status = 400, description = "The body or id is invalid, or changes nothing", body = ErrorEnvelope),
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
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateProjectIn>,
) -> Result<Json<ProjectOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?;
    let id = project_id(&id)?;
    let remove = body.remove_webhook_secret.unwrap_or(false);
    let webhook_secret = match (body.webhook_secret, remove) {
        (Some(_), true) => {
            return Err(ApiError::invalid(
                "removeWebhookSecret",
                "cannot be given with webhookSecret",
            ));
        }
        (Some(s), false) => Some(secret(Some(s))),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let changes = ProjectChanges {
        name: body.name,
        repo_url: body.repo_url,
        config: body.config,
        webhook_secret,
    };
    if changes.name.is_none()
        && changes.repo_url.is_none()
        && changes.config.is_none()
        && changes.webhook_secret.is_none()
    {
        return Err(ApiError::invalid(
            "body",
            "must give at least one of name, repoUrl, config, webhookSecret, removeWebhookSecret",
        ));
    }
    let project = projects::update(
        &mut state.db.tenant(tenant),
        &state.projects.secret_key,
        &id,
        &changes,
    )
    .await?;
    Ok(Json(project.into()))
}

/// Deletes a project with its artifacts and webhook events (role `admin`); its MCP audit log
/// stays.
#[utoipa::path(
    delete,
    path = "/v1/projects/{projectId}",
    tag = "projects",
    params(("projectId" = String, Path, description = "The project's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such project in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?;
    let id = project_id(&id)?;
    match projects::delete(&mut state.db.tenant(tenant), &id).await? {
        true => Ok(StatusCode::NO_CONTENT.into_response()),
        false => Err(ApiError::not_found("project")),
    }
}

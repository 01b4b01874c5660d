//! `/v1/projects/{projectId}/mcp-log`: the project's append-only MCP audit log — append one
//! tool call, query by actor, tool and time.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use brokerdb::model::Timestamp;
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_projects::McpResult;
use brokerdb_projects::mcp_log::{self, McpCall, McpLogEntry, McpLogQuery};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{checked_cursor, existing, project_id};
use crate::api::auth::Principal;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::app::AppState;

/// One logged MCP tool call (its arguments are kept only as a hash).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpLogOut {
    /// Its id.
    pub log_id: String,
    /// Its project.
    pub project_id: String,
    /// What kind of caller (`user`, `agent`, …).
    pub actor_type: String,
    /// Who called.
    pub actor_id: String,
    /// The tool.
    pub tool: String,
    /// The scope the call ran under.
    pub scope: String,
    /// SHA-256 of the canonical JSON of the arguments.
    pub args_hash: String,
    /// `success`, `error` or `denied`.
    pub result: String,
    /// The error code of a failed call.
    pub error_code: Option<String>,
    /// When it was logged (RFC 3339).
    pub timestamp: String,
    /// The caller's user agent.
    pub user_agent: Option<String>,
}

impl From<McpLogEntry> for McpLogOut {
    fn from(e: McpLogEntry) -> Self {
        Self {
            log_id: e.log_id.to_string(),
            project_id: e.project_id.to_string(),
            actor_type: e.actor_type,
            actor_id: e.actor_id,
            tool: e.tool,
            scope: e.scope,
            args_hash: e.args_hash,
            result: e.result.as_str().to_owned(),
            error_code: e.error_code,
            timestamp: e.timestamp.to_string(),
            user_agent: e.user_agent,
        }
    }
}

/// A tool call to log.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpCallIn {
    /// What kind of caller, 1..=50 characters.
    pub actor_type: String,
    /// Who called, 1..=200 characters.
    pub actor_id: String,
    /// The tool, 1..=100 characters.
    pub tool: String,
    /// The scope, 1..=200 characters.
    pub scope: String,
    /// The call's arguments: hashed, not stored.
    #[schema(value_type = Option<Object>)]
    pub args: Option<Value>,
    /// `success`, `error` or `denied`.
    pub result: String,
    /// The error code of a failed call, 1..=100 characters.
    pub error_code: Option<String>,
}

/// A keyset page of log rows, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpLogPageOut {
    /// This page's rows.
    pub items: Vec<McpLogOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Query parameters of `GET /v1/projects/{projectId}/mcp-log` (combined with AND).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct McpLogListQuery {
    /// Only this caller's calls.
    pub actor_id: Option<String>,
    /// Only this tool's calls.
    pub tool: Option<String>,
    /// From this RFC 3339 date-time (inclusive).
    pub from: Option<String>,
    /// Until this RFC 3339 date-time (exclusive); after `from`.
    pub to: Option<String>,
    /// Rows per page, 1..=200 (default 100).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page (with the same filters).
    #[param(max_length = 1000)]
    pub cursor: Option<String>,
}

fn time(field: &'static str, text: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    text.map(|t| Timestamp::parse(t).map_err(|e| ApiError::from(e.with_field(field))))
        .transpose()
}

/// Appends one MCP tool call to the project's log (role `operator`).
#[utoipa::path(
    post,
    path = "/v1/projects/{projectId}/mcp-log",
    tag = "projects",
    params(("projectId" = String, Path, description = "The project's id")),
    request_body = McpCallIn,
    responses(
        (status = 201, description = "Logged", body = McpLogOut),
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
pub async fn append(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<McpCallIn>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Operator)?;
    let id = project_id(&id)?;
    let call = McpCall {
        actor_type: body.actor_type,
        actor_id: body.actor_id,
        tool: body.tool,
        scope: body.scope,
        args: body.args.unwrap_or(Value::Null),
        result: McpResult::parse(&body.result)?,
        error_code: body.error_code,
        ip: None,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let entry = mcp_log::append(&mut state.db.tenant(tenant), &id, &call).await?;
    Ok((StatusCode::CREATED, Json(McpLogOut::from(entry))).into_response())
}

/// The project's logged MCP calls, newest first, in keyset pages (role `auditor`).
#[utoipa::path(
    get,
    path = "/v1/projects/{projectId}/mcp-log",
    tag = "projects",
    params(("projectId" = String, Path, description = "The project's id"), McpLogListQuery),
    responses(
        (status = 200, description = "A page of log rows", body = McpLogPageOut),
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
    ApiQuery(query): ApiQuery<McpLogListQuery>,
) -> Result<Json<McpLogPageOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = project_id(&id)?;
    let q = McpLogQuery {
        project_id: Some(id.clone()),
        actor_id: query.actor_id,
        tool: query.tool,
        from: time("from", query.from.as_deref())?,
        to: time("to", query.to.as_deref())?,
        limit: query.limit,
        cursor: checked_cursor(query.cursor)?,
    };
    existing(&state, tenant, &id).await?;
    let page = mcp_log::query(&mut state.db.tenant(tenant), &q).await?;
    Ok(Json(McpLogPageOut {
        items: page.items.into_iter().map(McpLogOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

//! The console's JSON routes under `/api/ops/db/repairs`. Each passes guards 1–3 first (so a
//! refused caller learns nothing from its body), then parses its input (422 naming the field),
//! then calls the shared operation of [`super::service`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::principal::ConsolePrincipal;
use super::service;
use super::wire::{
    ExecuteIn, ExecuteOut, PreviewIn, PreviewOut, RepairListOut, RunsOut, RunsQuery,
};
use crate::api::ApiError;
use crate::api::error::ErrorEnvelope;
use crate::api::extract::{ApiJson, ApiQuery};
use crate::api::request::current_request_id;
use crate::app::AppState;

/// A body that is JSON but not a valid request (a missing, unknown or mistyped field) is 422
/// naming the field; a body that is not a JSON object stays 400, a wrong content type 415 and
/// an oversize body 413.
fn body<T>(parsed: Result<ApiJson<T>, ApiError>) -> Result<T, ApiError> {
    parsed.map(|ApiJson(v)| v).map_err(|e| {
        if e.status() == StatusCode::BAD_REQUEST && e.field() != Some("body") {
            e.with_status(StatusCode::UNPROCESSABLE_ENTITY)
        } else {
            e
        }
    })
}

/// Every repair playbook, in registry order (guards: a principal, `BROKERDB_ENV` staging or
/// development, the principal in `BROKERDB_REPAIR_ADMINS`).
#[utoipa::path(
    get,
    path = "/api/ops/db/repairs",
    tag = "repairs",
    responses(
        (status = 200, description = "The playbooks", body = RepairListOut),
        (status = 401, description = "No principal (no valid token, no trusted proxy user)", body = ErrorEnvelope),
        (status = 403, description = "The principal is not in BROKERDB_REPAIR_ADMINS", body = ErrorEnvelope),
        (status = 409, description = "ENV_DISABLED: BROKERDB_ENV is not staging or development", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "No admin connection, or a backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ConsolePrincipal(principal): ConsolePrincipal,
) -> Result<Json<RepairListOut>, ApiError> {
    Ok(Json(service::list(&state.ops, principal.as_deref())?))
}

/// What executing a playbook would do: its plan and which of its required objects are missing
/// now. Writes nothing.
#[utoipa::path(
    post,
    path = "/api/ops/db/repairs/preview",
    tag = "repairs",
    request_body = PreviewIn,
    responses(
        (status = 200, description = "The preview", body = PreviewOut),
        (status = 400, description = "The body is not a JSON object", body = ErrorEnvelope),
        (status = 401, description = "No principal (no valid token, no trusted proxy user)", body = ErrorEnvelope),
        (status = 403, description = "The principal is not in BROKERDB_REPAIR_ADMINS", body = ErrorEnvelope),
        (status = 404, description = "No playbook has this id", body = ErrorEnvelope),
        (status = 409, description = "ENV_DISABLED: BROKERDB_ENV is not staging or development", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 422, description = "A field is missing, unknown or invalid", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "No admin connection, or a backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn preview(
    State(state): State<AppState>,
    ConsolePrincipal(principal): ConsolePrincipal,
    parsed: Result<ApiJson<PreviewIn>, ApiError>,
) -> Result<Json<PreviewOut>, ApiError> {
    let who = service::authorize(&state.ops, principal.as_deref())?;
    let input = body(parsed)?;
    Ok(Json(
        service::preview_as(&state.ops, &who, &input.repair_id).await?,
    ))
}

/// Executes a playbook confirmed by its hash: pre check, statements and post check in one
/// transaction under an advisory lock, then a row in the run ledger (executed by the principal,
/// with `BROKERDB_ENV` and the request id). A recorded run is 200 whether it succeeded or
/// failed (and rolled back).
#[utoipa::path(
    post,
    path = "/api/ops/db/repairs/execute",
    tag = "repairs",
    request_body = ExecuteIn,
    responses(
        (status = 200, description = "The run, recorded (SUCCESS or FAILED)", body = ExecuteOut),
        (status = 400, description = "The body is not a JSON object", body = ErrorEnvelope),
        (status = 401, description = "No principal (no valid token, no trusted proxy user)", body = ErrorEnvelope),
        (status = 403, description = "The principal is not in BROKERDB_REPAIR_ADMINS", body = ErrorEnvelope),
        (status = 404, description = "No playbook has this id", body = ErrorEnvelope),
        (status = 409, description = "ENV_DISABLED: BROKERDB_ENV is not staging or development; HASH_MISMATCH: the expected hash is not the playbook's", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 422, description = "A field is missing, unknown or invalid", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "No admin connection, or a backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn execute(
    State(state): State<AppState>,
    ConsolePrincipal(principal): ConsolePrincipal,
    parsed: Result<ApiJson<ExecuteIn>, ApiError>,
) -> Result<Json<ExecuteOut>, ApiError> {
    let who = service::authorize(&state.ops, principal.as_deref())?;
    let input = body(parsed)?;
    let outcome = service::execute_as(
        &state.ops,
        &who,
        &input.repair_id,
        &input.expected_hash,
        &current_request_id(),
    )
    .await?;
    Ok(Json(outcome))
}

/// The run ledger, newest first, in keyset pages: every execution with its principal,
/// environment, request id, hashes and result.
#[utoipa::path(
    get,
    path = "/api/ops/db/repairs/runs",
    tag = "repairs",
    params(RunsQuery),
    responses(
        (status = 200, description = "A page of runs", body = RunsOut),
        (status = 400, description = "A parameter is invalid (limit, cursor, unknown parameter)", body = ErrorEnvelope),
        (status = 401, description = "No principal (no valid token, no trusted proxy user)", body = ErrorEnvelope),
        (status = 403, description = "The principal is not in BROKERDB_REPAIR_ADMINS", body = ErrorEnvelope),
        (status = 409, description = "ENV_DISABLED: BROKERDB_ENV is not staging or development", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "No admin connection, or a backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn runs(
    State(state): State<AppState>,
    ConsolePrincipal(principal): ConsolePrincipal,
    query: Result<ApiQuery<RunsQuery>, ApiError>,
) -> Result<Json<RunsOut>, ApiError> {
    let who = service::authorize(&state.ops, principal.as_deref())?;
    let ApiQuery(query) = query?;
    let page = service::runs_as(
        &state.ops,
        &state.db,
        &who,
        query.limit,
        query.cursor.as_deref(),
    )
    .await?;
    Ok(Json(page))
}

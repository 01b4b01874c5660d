//! Workload sessions (bearer tokens bound to a client certificate): a workload's sessions as
//! metadata only — never a token or its hash — and revoking one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use brokerdb::audit;
use brokerdb::db::TxOptions;
use brokerdb::model::SessionId;
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::sessions::{self, SessionSummary};
use brokerdb::repo::workloads;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::actions::action_event;
use super::auth::Principal;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiPath, ApiQuery};
use super::workloads::workload_id;
use crate::app::AppState;

/// A session's metadata.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionOut {
    /// The session's id (a UUID).
    pub session_id: String,
    /// The workload it belongs to.
    pub workload_id: String,
    /// SHA-256 fingerprint of the bound client certificate.
    pub cert_fingerprint256: String,
    /// The DPoP key thumbprint, when the session is DPoP-bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpop_key_thumbprint: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Creation time (RFC 3339, milliseconds, UTC).
    pub created_at: String,
    /// Last valid instant (exclusive).
    pub expires_at: String,
    /// When it was revoked; absent while not revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl From<SessionSummary> for SessionOut {
    fn from(s: SessionSummary) -> Self {
        Self {
            session_id: s.session_id.to_string(),
            workload_id: s.workload_id.to_string(),
            cert_fingerprint256: s.cert_fingerprint256.as_str().to_owned(),
            dpop_key_thumbprint: s.dpop_key_thumbprint.map(|j| j.as_str().to_owned()),
            scopes: s.scopes,
            created_at: s.created_at.to_string(),
            expires_at: s.expires_at.to_string(),
            revoked_at: s.revoked_at.map(|t| t.to_string()),
        }
    }
}

/// A keyset page of sessions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSliceOut {
    /// This page's sessions, newest first.
    pub items: Vec<SessionOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Query parameters of `GET /v1/workloads/{workloadId}/sessions` (all optional; unknown ones
/// are refused).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionListQuery {
    /// Sessions per page, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    #[param(max_length = 1000)]
    pub cursor: Option<String>,
}

/// The sessions of a workload of the caller's tenant — revoked and expired ones included —
/// newest first, in keyset pages (role `auditor`; 404 for an unknown or another tenant's
/// workload).
#[utoipa::path(
    get,
    path = "/v1/workloads/{workloadId}/sessions",
    tag = "sessions",
    params(("workloadId" = String, Path, description = "The workload's id"), SessionListQuery),
    responses(
        (status = 200, description = "A page of sessions", body = SessionSliceOut),
        (status = 400, description = "A parameter or the id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such workload in the tenant", body = ErrorEnvelope),
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
    ApiQuery(query): ApiQuery<SessionListQuery>,
) -> Result<Json<SessionSliceOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = workload_id(&id)?;
    if query.cursor.as_ref().is_some_and(|c| c.len() > 1000) {
        return Err(ApiError::invalid(
            "cursor",
            "is not a valid cursor for this list",
        ));
    }
    let mut scope = state.db.tenant(tenant);
    if workloads::get_by_id(&mut scope, &id).await?.is_none() {
        return Err(ApiError::not_found("workload"));
    }
    let page = sessions::list_by_workload(
        &mut scope,
        &id,
        query.limit.unwrap_or(50),
        query.cursor.as_deref(),
    )
    .await?;
    Ok(Json(SessionSliceOut {
        items: page.items.into_iter().map(SessionOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revokes a session of the caller's tenant (role `operator`): its bearer token stops working
/// at once. Revoking a revoked session is accepted and keeps the first revocation time. A
/// `session.revoked` audit event naming the token's subject is written in the same
/// transaction.
#[utoipa::path(
    post,
    path = "/v1/sessions/{sessionId}/revoke",
    tag = "sessions",
    params(("sessionId" = String, Path, description = "The session's id (a UUID)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such session in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Operator)?.clone();
    let id = SessionId::parse(&id)
        .map_err(|_| ApiError::invalid("sessionId", "is not a valid session id"))?;
    let event = action_event(
        &principal,
        "session.revoked",
        [("session_id", id.as_str().into())],
    )?;
    state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (id, event) = (id.clone(), event.clone());
            Box::pin(async move {
                sessions::revoke_by_id(tx, &id).await?;
                audit::append(tx, &event).await?;
                Ok(())
            })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

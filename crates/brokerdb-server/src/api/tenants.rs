//! `/v1/tenants` and `/v1/tenant`: tenants are global metadata, listed, read and created by
//! system tokens (role admin) only; a tenant token reads its own tenant at `/v1/tenant`.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use brokerdb::audit;
use brokerdb::db::TxOptions;
use brokerdb::model::{NonEmptyString, TenantId};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::tenants::{self, TenantSummary};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::actions::system_action_event;
use super::auth::Principal;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath};
use super::wire::created;
use crate::app::AppState;

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantOut {
    /// Business id.
    pub tenant_id: String,
    /// Display name.
    pub name: String,
}

impl From<TenantSummary> for TenantOut {
    fn from(t: TenantSummary) -> Self {
        Self {
            tenant_id: t.tenant_id.to_string(),
            name: t.name,
        }
    }
}

/// Every tenant, oldest first (the list is not paged: tenants are few).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantListOut {
    /// The tenants.
    pub items: Vec<TenantOut>,
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenantIn {
    /// Business id (default: generated, `t_` + 32 hex digits).
    pub tenant_id: Option<String>,
    /// Display name (trimmed; must not be blank).
    pub name: String,
}

fn tenant_id(text: &str) -> Result<TenantId, ApiError> {
    TenantId::parse(text).map_err(|_| ApiError::invalid("tenantId", "is not a valid tenant id"))
}

/// Every tenant, oldest first (a system token with role `admin`).
#[utoipa::path(
    get,
    path = "/v1/tenants",
    tag = "tenants",
    responses(
        (status = 200, description = "Every tenant", body = TenantListOut),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<TenantListOut>, ApiError> {
    principal.require_system()?;
    let items = tenants::list(&mut state.db.system()).await?;
    Ok(Json(TenantListOut {
        items: items.into_iter().map(TenantOut::from).collect(),
    }))
}

/// One tenant (a system token with role `admin`).
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenantId}",
    tag = "tenants",
    params(("tenantId" = String, Path, description = "The tenant's id")),
    responses(
        (status = 200, description = "The tenant", body = TenantOut),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 404, description = "No such tenant", body = ErrorEnvelope),
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
) -> Result<Json<TenantOut>, ApiError> {
    principal.require_system()?;
    let id = tenant_id(&id)?;
    tenants::get_by_id(&mut state.db.system(), &id)
        .await?
        .map(|t| Json(t.into()))
        .ok_or_else(|| ApiError::not_found("tenant"))
}

/// Creates a tenant (a system token with role `admin`); a system audit event `tenant.created`
/// naming the token's subject is written in the same transaction.
#[utoipa::path(
    post,
    path = "/v1/tenants",
    tag = "tenants",
    request_body = CreateTenantIn,
    responses(
        (status = 201, description = "Created", body = TenantOut,
         headers(("location" = String, description = "The new tenant's URL"))),
        (status = 400, description = "The body is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 409, description = "The id is taken", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateTenantIn>,
) -> Result<Response, ApiError> {
    principal.require_system()?;
    let new_id = match body.tenant_id.as_deref() {
        Some(given) => tenant_id(given)?,
        None => TenantId::generate(),
    };
    let name = NonEmptyString::new("name", &body.name)?.into_inner();
    let event = system_action_event(
        &principal,
        "tenant.created",
        [("tenant_id", new_id.as_str().into())],
    )?;
    let tenant = state
        .db
        .system()
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (id, name, event) = (new_id.clone(), name.clone(), event.clone());
            Box::pin(async move {
                let tenant = tenants::create(tx, &name, Some(id)).await?;
                audit::append_system(tx, &event).await?;
                Ok(tenant)
            })
        })
        .await?;
    Ok(created(
        &format!("/v1/tenants/{}", tenant.tenant_id),
        TenantOut::from(tenant),
    ))
}

/// The caller's own tenant (any tenant token, role `auditor` or above; a system token has no
/// tenant: 403).
#[utoipa::path(
    get,
    path = "/v1/tenant",
    tag = "tenants",
    responses(
        (status = 200, description = "The token's tenant", body = TenantOut),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "A system token has no tenant", body = ErrorEnvelope),
        (status = 404, description = "The token's tenant no longer exists", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn get_own(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<TenantOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    tenants::get_own(&mut state.db.tenant(tenant))
        .await?
        .map(|t| Json(t.into()))
        .ok_or_else(|| ApiError::not_found("tenant"))
}

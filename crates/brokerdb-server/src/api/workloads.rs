//! `/v1/workloads`: the tenant's workloads (the services that call upstream APIs through the
//! broker) — the paged list, one workload, creating one, changing its enabled flag or IP
//! allowlist.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use brokerdb::audit;
use brokerdb::db::TxOptions;
use brokerdb::db::paging::PageRequest;
use brokerdb::model::{NonEmptyString, WorkloadId};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::workloads::{
    self, EnrollmentMode, Workload, WorkloadCreateRequest, WorkloadUpdateRequest,
};
use brokerdb_cache::Resource;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::actions::action_event;
use super::auth::Principal;
use super::cache::bust;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::wire::{bounded, created};
use crate::app::AppState;

/// The longest workload name accepted, in characters.
const MAX_NAME_CHARS: usize = 200;

/// A workload of the tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadOut {
    /// Business id.
    pub workload_id: String,
    /// The tenant (the caller's).
    pub tenant_id: String,
    /// Name, unique per tenant.
    pub name: String,
    /// The SAN URI of the workload's client certificate, unique across tenants.
    pub mtls_san_uri: String,
    /// Whether the workload may call through the broker.
    pub enabled: bool,
    /// Normalized IPs and CIDRs the workload may call from (empty: any).
    pub ip_allowlist: Vec<String>,
    /// Creation time (RFC 3339, milliseconds, UTC).
    pub created_at: String,
}

impl From<Workload> for WorkloadOut {
    fn from(w: Workload) -> Self {
        Self {
            workload_id: w.workload_id.to_string(),
            tenant_id: w.tenant_id.to_string(),
            name: w.name,
            mtls_san_uri: w.mtls_san_uri,
            enabled: w.enabled,
            ip_allowlist: w.ip_allowlist,
            created_at: w.created_at.to_string(),
        }
    }
}

/// An offset page of workloads.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadPageOut {
    /// This page's workloads, oldest first.
    pub items: Vec<WorkloadOut>,
    /// Page number, from 1.
    pub page: u32,
    /// Page size (1..=100).
    pub page_size: u32,
    /// Workloads of the tenant: exact up to the service's exact-total limit, the planner's
    /// estimate beyond it.
    pub total: u64,
    /// `ceil(total / pageSize)`.
    pub total_pages: u64,
    /// True when `total` is an estimate.
    pub total_is_estimate: bool,
}

/// Query parameters of `GET /v1/workloads` (all optional; unknown ones are refused).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkloadListQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// The workloads of the caller's tenant, oldest first, in offset pages (role `auditor`).
#[utoipa::path(
    get,
    path = "/v1/workloads",
    tag = "workloads",
    params(WorkloadListQuery),
    responses(
        (status = 200, description = "A page of workloads", body = WorkloadPageOut),
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
    ApiQuery(query): ApiQuery<WorkloadListQuery>,
) -> Result<Json<WorkloadPageOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let request = PageRequest::new(query.page.unwrap_or(1), query.page_size.unwrap_or(50))?;
    let page = workloads::list_by_tenant(&mut state.db.tenant(tenant), request).await?;
    Ok(Json(WorkloadPageOut {
        page: page.page,
        page_size: page.page_size,
        total: page.total,
        total_pages: page.total_pages,
        total_is_estimate: page.total_is_estimate,
        items: page.items.into_iter().map(WorkloadOut::from).collect(),
    }))
}

/// A workload id from the path (or a body), 400 naming `workloadId` when malformed.
pub(crate) fn workload_id(text: &str) -> Result<WorkloadId, ApiError> {
    WorkloadId::parse(text)
        .map_err(|_| ApiError::invalid("workloadId", "is not a valid workload id"))
}

/// One workload of the caller's tenant (role `auditor`; 404 for another tenant's).
#[utoipa::path(
    get,
    path = "/v1/workloads/{workloadId}",
    tag = "workloads",
    params(("workloadId" = String, Path, description = "The workload's id")),
    responses(
        (status = 200, description = "The workload", body = WorkloadOut),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such workload in the tenant", body = ErrorEnvelope),
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
) -> Result<Json<WorkloadOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = workload_id(&id)?;
    workloads::get_by_id(&mut state.db.tenant(tenant), &id)
        .await?
        .map(|w| Json(w.into()))
        .ok_or_else(|| ApiError::not_found("workload"))
}

/// How a workload gets its certificate.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentModeName {
    /// The broker's CA issues it (after an enrollment token).
    BrokerCa,
    /// An external CA issues it.
    ExternalCa,
}

impl EnrollmentModeName {
    fn model(self) -> EnrollmentMode {
        match self {
            Self::BrokerCa => EnrollmentMode::BrokerCa,
            Self::ExternalCa => EnrollmentMode::ExternalCa,
        }
    }
}

/// A new workload (created enabled).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWorkloadIn {
    /// Business id (default: generated, `w_` + 32 hex digits).
    pub workload_id: Option<String>,
    /// Name, unique per tenant, 1..=200 characters (trimmed).
    pub name: String,
    /// How the workload gets its certificate.
    pub enrollment_mode: EnrollmentModeName,
    /// The client certificate's SAN URI, unique across tenants (default:
    /// `spiffe://broker/tenants/<tenant>/workloads/<workloadId>`; a given URI in that layout
    /// must name the caller's tenant).
    pub mtls_san_uri: Option<String>,
    /// IPs or CIDRs the workload may call from (default: none, any address).
    pub ip_allowlist: Option<Vec<String>>,
}

/// The name, trimmed and 1..=200 characters (400 naming `name` otherwise).
fn workload_name(text: &str) -> Result<String, ApiError> {
    let name = NonEmptyString::new("name", text)?;
    Ok(bounded("name", name.as_str(), MAX_NAME_CHARS)?.to_owned())
}

/// Creates a workload in the caller's tenant (role `admin`); a `workload.created` audit event
/// naming the token's subject is written in the same transaction.
#[utoipa::path(
    post,
    path = "/v1/workloads",
    tag = "workloads",
    request_body = CreateWorkloadIn,
    responses(
        (status = 201, description = "Created", body = WorkloadOut,
         headers(("location" = String, description = "The new workload's URL"))),
        (status = 400, description = "The body is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 409, description = "The id, name or SAN URI is taken", body = ErrorEnvelope),
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
    ApiJson(body): ApiJson<CreateWorkloadIn>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let new_id = body
        .workload_id
        .as_deref()
        .map(workload_id)
        .transpose()?
        .unwrap_or_else(WorkloadId::generate);
    let request = WorkloadCreateRequest {
        name: workload_name(&body.name)?,
        ip_allowlist: body.ip_allowlist,
        enrollment_mode: body.enrollment_mode.model(),
    };
    let san = body.mtls_san_uri;
    let mut event = action_event(
        &principal,
        "workload.created",
        [("workload_id", new_id.as_str().into())],
    )?;
    event.workload_id = Some(new_id.clone());
    let workload = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (request, event, id, san) =
                (request.clone(), event.clone(), new_id.clone(), san.clone());
            Box::pin(async move {
                let workload = workloads::create(tx, &request, Some(id), san.as_deref()).await?;
                audit::append(tx, &event).await?;
                Ok(workload)
            })
        })
        .await?;
    // Committed: cached execute lookups of this workload (its existence, its flag) must go.
    bust(&state, &tenant, &[Resource::ExecuteLookup]).await;
    Ok(created(
        &format!("/v1/workloads/{}", workload.workload_id),
        WorkloadOut::from(workload),
    ))
}

/// The fields of a workload to change; at least one must be given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWorkloadIn {
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// New IP/CIDR allowlist, replacing the old one (empty: any address).
    pub ip_allowlist: Option<Vec<String>>,
}

/// Changes a workload's enabled flag and/or IP allowlist (role `admin`), with a
/// `workload.updated` audit event naming the token's subject and the changed fields in the
/// same transaction.
#[utoipa::path(
    patch,
    path = "/v1/workloads/{workloadId}",
    tag = "workloads",
    params(("workloadId" = String, Path, description = "The workload's id")),
    request_body = UpdateWorkloadIn,
    responses(
        (status = 200, description = "The changed workload", body = WorkloadOut),
        (status = 400, description = "The body or id is invalid, or changes nothing", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such workload in the tenant", body = ErrorEnvelope),
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
    ApiJson(body): ApiJson<UpdateWorkloadIn>,
) -> Result<Json<WorkloadOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let id = workload_id(&id)?;
    let mut fields = Vec::new();
    if body.enabled.is_some() {
        fields.push(Value::from("enabled"));
    }
    if body.ip_allowlist.is_some() {
        fields.push(Value::from("ipAllowlist"));
    }
    if fields.is_empty() {
        return Err(ApiError::invalid(
            "body",
            "must give at least one of enabled, ipAllowlist",
        ));
    }
    let request = WorkloadUpdateRequest {
        enabled: body.enabled,
        ip_allowlist: body.ip_allowlist,
    };
    let mut event = action_event(
        &principal,
        "workload.updated",
        [
            ("workload_id", id.as_str().into()),
            ("fields", Value::Array(fields)),
        ],
    )?;
    event.workload_id = Some(id.clone());
    let workload = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (request, event, id) = (request.clone(), event.clone(), id.clone());
            Box::pin(async move {
                let workload = workloads::update(tx, &id, &request).await?;
                audit::append(tx, &event).await?;
                Ok(workload)
            })
        })
        .await?;
    // Committed: cached execute lookups of this workload (its existence, its flag) must go.
    bust(&state, &tenant, &[Resource::ExecuteLookup]).await;
    Ok(Json(workload.into()))
}

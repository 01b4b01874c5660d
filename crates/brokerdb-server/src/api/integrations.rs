//! `/v1/integrations`: the tenant's integrations — the paged list, one integration, creating
//! and changing one, pointing one at a secret version, and the execute-path lookup (workload and
//! integration gating plus the resolved template).
//!
//! Secret material never crosses this API in plaintext: an integration names only the kind of
//! credential it uses; the credential itself is written as an encrypted envelope under
//! `/v1/secrets/{secretId}/versions` and then bound with `PUT …/secret`.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use brokerdb::audit;
use brokerdb::db::paging::PageRequest;
use brokerdb::db::{DbError, TenantExec, TxOptions};
use brokerdb::model::{IntegrationId, SecretRef, TemplateId, WorkloadId, trimmed_non_empty};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::integrations::{
    self, CreateOptions, ExecuteLookup, ExecutionStatus, Integration, IntegrationUpdate,
    IntegrationWrite, SecretBinding, SecretMaterial,
};
use brokerdb::repo::secrets::envelopes;
use brokerdb::repo::templates;
use brokerdb_cache::Resource;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::actions::action_event;
use super::auth::Principal;
use super::cache::bust;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::secrets::{SecretTypeName, secret_fields};
use super::templates::TemplateOut;
use crate::app::AppState;

/// An integration of the tenant: an upstream provider reached through a template, with a
/// pointer to its current secret version (never the secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationOut {
    /// Business id.
    pub integration_id: String,
    /// The tenant (the caller's).
    pub tenant_id: String,
    /// Upstream provider.
    pub provider: String,
    /// Name, unique per tenant.
    pub name: String,
    /// Template followed (its latest active version unless pinned at creation).
    pub template_id: String,
    /// Whether calls through the integration may run.
    pub enabled: bool,
    /// The bound secret, when bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// The bound secret version, when bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_version: Option<i32>,
    /// When the secret was last bound (RFC 3339, milliseconds, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rotated_at: Option<String>,
}

impl From<Integration> for IntegrationOut {
    fn from(i: Integration) -> Self {
        Self {
            integration_id: i.integration_id.to_string(),
            tenant_id: i.tenant_id.to_string(),
            provider: i.provider,
            name: i.name,
            template_id: i.template_id.to_string(),
            enabled: i.enabled,
            secret_id: i.secret_ref,
            secret_version: i.secret_version,
            last_rotated_at: i.last_rotated_at.map(|t| t.to_string()),
        }
    }
}

/// An offset page of integrations, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationPageOut {
    /// This page's integrations.
    pub items: Vec<IntegrationOut>,
    /// Page number, from 1.
    pub page: u32,
    /// Page size (1..=100).
    pub page_size: u32,
    /// Integrations of the tenant: exact up to the service's exact-total limit, the planner's
    /// estimate beyond it.
    pub total: u64,
    /// `ceil(total / pageSize)`.
    pub total_pages: u64,
    /// True when `total` is an estimate.
    pub total_is_estimate: bool,
}

/// Query parameters of `GET /v1/integrations` (all optional; unknown ones are refused).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IntegrationListQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// The integrations of the caller's tenant, oldest first, an offset page with its total.
#[utoipa::path(
    get,
    path = "/v1/integrations",
    tag = "integrations",
    params(IntegrationListQuery),
    responses(
        (status = 200, description = "A page of integrations", body = IntegrationPageOut),
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
    ApiQuery(query): ApiQuery<IntegrationListQuery>,
) -> Result<Json<IntegrationPageOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let request = PageRequest::new(query.page.unwrap_or(1), query.page_size.unwrap_or(50))?;
    let page = integrations::list_by_tenant(&mut state.db.tenant(tenant), request).await?;
    Ok(Json(IntegrationPageOut {
        page: page.page,
        page_size: page.page_size,
        total: page.total,
        total_pages: page.total_pages,
        total_is_estimate: page.total_is_estimate,
        items: page.items.into_iter().map(IntegrationOut::from).collect(),
    }))
}

fn integration_id(text: &str) -> Result<IntegrationId, ApiError> {
    IntegrationId::parse(text)
        .map_err(|_| ApiError::invalid("integrationId", "is not a valid integration id"))
}

/// One integration of the caller's tenant (404 for another tenant's).
#[utoipa::path(
    get,
    path = "/v1/integrations/{integrationId}",
    tag = "integrations",
    params(("integrationId" = String, Path, description = "The integration's id")),
    responses(
        (status = 200, description = "The integration", body = IntegrationOut),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such integration in the tenant", body = ErrorEnvelope),
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
) -> Result<Json<IntegrationOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = integration_id(&id)?;
    integrations::get_by_id(&mut state.db.tenant(tenant), &id)
        .await?
        .map(|i| Json(i.into()))
        .ok_or_else(|| ApiError::not_found("integration"))
}

/// A new integration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateIntegrationIn {
    /// Business id (default: generated, `int_` + 32 hex digits).
    pub integration_id: Option<String>,
    /// Upstream provider (trimmed, non-empty).
    pub provider: String,
    /// Name, unique per tenant (trimmed, non-empty).
    pub name: String,
    /// The template to follow; it must have an active version in the tenant.
    pub template_id: String,
    /// Pin this version of the template (it must be active); absent: follow the latest active
    /// version.
    pub template_version: Option<i32>,
    /// Default true.
    pub enabled: Option<bool>,
    /// The kind of credential the integration uses. Only the kind: the credential itself is
    /// written encrypted under `/v1/secrets/{secretId}/versions`, never sent here.
    pub secret_type: SecretTypeName,
}

/// Refuses (422 on `field`) a template that has no active version (or not the pinned one) in
/// the executor's tenant: an integration never points at nothing.
async fn template_exists(
    exec: &mut impl TenantExec,
    template_id: &TemplateId,
    pinned: Option<i32>,
) -> Result<(), DbError> {
    let found = match pinned {
        Some(v) if v >= 1 => templates::get_version(exec, template_id, v)
            .await?
            .map(|_| ()),
        // An invalid pin is the library's validation error, raised by `create`.
        Some(_) => Some(()),
        None => templates::get_latest(exec, template_id).await?.map(|_| ()),
    };
    found.ok_or_else(|| DbError::IntegrityViolation {
        field: if pinned.is_some() {
            "template_version"
        } else {
            "template_id"
        }
        .into(),
    })
}

/// Creates an integration in the caller's tenant (role `admin`), with an `admin_action` audit
/// event naming the token's subject in the same transaction.
#[utoipa::path(
    post,
    path = "/v1/integrations",
    tag = "integrations",
    request_body = CreateIntegrationIn,
    responses(
        (status = 201, description = "Created", body = IntegrationOut,
         headers(("location" = String, description = "The new integration's URL"))),
        (status = 400, description = "The body is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 409, description = "The id or name is taken", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 422, description = "The template (version) does not exist in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateIntegrationIn>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let template_id = TemplateId::parse(&body.template_id)
        .map_err(|_| ApiError::invalid("templateId", "is not a valid template id"))?;
    let new_id = match body.integration_id.as_deref() {
        Some(id) => integration_id(id)?,
        None => IntegrationId::generate(),
    };
    let write = IntegrationWrite {
        provider: trimmed_non_empty("provider", &body.provider)?.to_owned(),
        name: trimmed_non_empty("name", &body.name)?.to_owned(),
        template_id: template_id.clone(),
        secret_material: SecretMaterial {
            kind: body.secret_type.model().as_str().to_owned(),
            // The library checks only the kind and never stores the value; no plaintext is
            // accepted here.
            value: String::new(),
        },
    };
    let opts = CreateOptions {
        integration_id: Some(new_id.clone()),
        secret_ref: None,
        secret_version: None,
        template_version: body.template_version,
        enabled: body.enabled,
    };
    let event = action_event(
        &principal,
        "integration.created",
        [("integration_id", new_id.as_str().into())],
    )?;
    let created = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (write, opts, event) = (write.clone(), opts.clone(), event.clone());
            Box::pin(async move {
                template_exists(tx, &write.template_id, opts.template_version).await?;
                let created = integrations::create(tx, &write, &opts).await?;
                audit::append(tx, &event).await?;
                Ok(created)
            })
        })
        .await?;
    // Committed: a cached "no such integration" must go.
    bust(&state, &tenant, &[Resource::ExecuteLookup]).await;
    Ok(super::wire::created(
        &format!("/v1/integrations/{}", created.integration_id),
        IntegrationOut::from(created),
    ))
}

/// Changes to an integration: at least one field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateIntegrationIn {
    /// New enabled flag.
    pub enabled: Option<bool>,
    /// New template to follow (its latest active version: a pinned version is dropped); it must
    /// have an active version in the tenant.
    pub template_id: Option<String>,
}

/// Changes an integration's enabled flag and/or template (role `admin`), with an audit event
/// naming the token's subject in the same transaction.
#[utoipa::path(
    patch,
    path = "/v1/integrations/{integrationId}",
    tag = "integrations",
    params(("integrationId" = String, Path, description = "The integration's id")),
    request_body = UpdateIntegrationIn,
    responses(
        (status = 200, description = "The changed integration", body = IntegrationOut),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such integration in the tenant", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 422, description = "The template does not exist in the tenant", body = ErrorEnvelope),
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
    ApiJson(body): ApiJson<UpdateIntegrationIn>,
) -> Result<Json<IntegrationOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let id = integration_id(&id)?;
    let change = IntegrationUpdate {
        enabled: body.enabled,
        template_id: body
            .template_id
            .as_deref()
            .map(|t| {
                TemplateId::parse(t)
                    .map_err(|_| ApiError::invalid("templateId", "is not a valid template id"))
            })
            .transpose()?,
    };
    if change.enabled.is_none() && change.template_id.is_none() {
        return Err(ApiError::invalid(
            "body",
            "must change at least one of enabled, templateId",
        ));
    }
    let mut details = vec![("integration_id", id.as_str().into())];
    if let Some(enabled) = change.enabled {
        details.push(("enabled", enabled.into()));
    }
    if let Some(t) = &change.template_id {
        details.push(("template_id", t.as_str().into()));
    }
    let event = action_event(&principal, "integration.updated", details)?;
    let updated = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (id, change, event) = (id.clone(), change.clone(), event.clone());
            Box::pin(async move {
                // A missing integration is 404 before any template check (422).
                if integrations::get_by_id(tx, &id).await?.is_none() {
                    return Err(DbError::not_found("integration"));
                }
                if let Some(t) = &change.template_id {
                    template_exists(tx, t, None).await?;
                }
                let updated = integrations::update(tx, &id, &change).await?;
                audit::append(tx, &event).await?;
                Ok(updated)
            })
        })
        .await?;
    bust(&state, &tenant, &[Resource::ExecuteLookup]).await;
    Ok(Json(updated.into()))
}

/// The secret version an integration uses from now on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindSecretIn {
    /// The secret: one of this integration's (written under `/v1/secrets/{secretId}/versions`).
    pub secret_id: String,
    /// An existing version of it (≥ 1).
    pub secret_version: i32,
}

/// Points an integration at an existing version of its own secret (role `admin`) and records
/// the rotation time; an audit event naming the token's subject is written in the same
/// transaction. A secret or version that does not exist in the tenant is 422; a secret of
/// another integration is 409.
#[utoipa::path(
    put,
    path = "/v1/integrations/{integrationId}/secret",
    tag = "integrations",
    params(("integrationId" = String, Path, description = "The integration's id")),
    request_body = BindSecretIn,
    responses(
        (status = 200, description = "The integration with its new secret pointer", body = IntegrationOut),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such integration in the tenant", body = ErrorEnvelope),
        (status = 409, description = "The secret belongs to another integration", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 422, description = "No such secret version in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn bind_secret(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<BindSecretIn>,
) -> Result<Json<IntegrationOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let id = integration_id(&id)?;
    let secret_ref = SecretRef::parse(&body.secret_id)
        .map_err(|_| ApiError::invalid("secretId", "is not a valid secret id"))?;
    if body.secret_version < 1 {
        return Err(ApiError::invalid("secretVersion", "must be an integer ≥ 1"));
    }
    let binding = SecretBinding {
        secret_ref: secret_ref.clone(),
        secret_version: body.secret_version,
        last_rotated_at: None,
    };
    let event = action_event(
        &principal,
        "integration.secret_bound",
        [
            ("integration_id", id.as_str().into()),
            ("secret_ref", secret_ref.as_str().into()),
            ("secret_version", body.secret_version.into()),
        ],
    )?;
    let bound = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (id, binding, event) = (id.clone(), binding.clone(), event.clone());
            Box::pin(async move {
                if integrations::get_by_id(tx, &id).await?.is_none() {
                    return Err(DbError::not_found("integration"));
                }
                let version =
                    envelopes::get_version(tx, &binding.secret_ref, binding.secret_version)
                        .await?
                        .ok_or_else(|| DbError::IntegrityViolation {
                            field: "secret_version".into(),
                        })?;
                if version.integration_id != id {
                    return Err(DbError::Conflict {
                        message: "the secret belongs to another integration".into(),
                    });
                }
                let bound = integrations::bind_secret(tx, &id, &binding).await?;
                audit::append(tx, &event).await?;
                Ok(bound)
            })
        })
        .await
        .map_err(secret_fields)?;
    bust(&state, &tenant, &[Resource::ExecuteLookup]).await;
    Ok(Json(bound.into()))
}

/// Why a call may (not) run.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatusName {
    /// Workload and integration are enabled.
    Executable,
    /// The workload is disabled.
    WorkloadDisabled,
    /// The integration is disabled (the workload is enabled).
    IntegrationDisabled,
}

/// What the execute path needs for one call: both gates and the resolved template.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteLookupOut {
    /// The workload's flag.
    pub workload_enabled: bool,
    /// The integration's flag.
    pub integration_enabled: bool,
    /// Both enabled.
    pub executable: bool,
    /// Why (not) executable; a disabled workload wins over a disabled integration.
    pub execution_status: ExecutionStatusName,
    /// The resolved template's id.
    pub template_id: String,
    /// The resolved template's version (the pinned one, else the latest active).
    pub template_version: i32,
    /// The resolved template.
    pub template: TemplateOut,
}

impl From<ExecuteLookup> for ExecuteLookupOut {
    fn from(l: ExecuteLookup) -> Self {
        Self {
            workload_enabled: l.workload_enabled,
            integration_enabled: l.integration_enabled,
            executable: l.executable,
            execution_status: match l.execution_status {
                ExecutionStatus::Executable => ExecutionStatusName::Executable,
                ExecutionStatus::WorkloadDisabled => ExecutionStatusName::WorkloadDisabled,
                ExecutionStatus::IntegrationDisabled => ExecutionStatusName::IntegrationDisabled,
            },
            template_id: l.template_id.to_string(),
            template_version: l.template_version,
            template: l.template.into(),
        }
    }
}

/// Query parameters of the execute lookup.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExecuteLookupQuery {
    /// The calling workload.
    pub workload_id: String,
}

/// Gating and template for one call of `workloadId` through the integration (role
/// `operator`): disabled entities are not errors (see `executable`); a missing workload,
/// integration or resolvable template (another tenant's counts as missing) is 404.
#[utoipa::path(
    get,
    path = "/v1/integrations/{integrationId}/execute-lookup",
    tag = "integrations",
    params(
        ("integrationId" = String, Path, description = "The integration's id"),
        ExecuteLookupQuery,
    ),
    responses(
        (status = 200, description = "The gates and the resolved template", body = ExecuteLookupOut),
        (status = 400, description = "An id is missing or malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such workload, integration or resolvable template in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn execute_lookup(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ExecuteLookupQuery>,
) -> Result<Json<ExecuteLookupOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Operator)?;
    let id = integration_id(&id)?;
    let workload = WorkloadId::parse(&query.workload_id)
        .map_err(|_| ApiError::invalid("workloadId", "is not a valid workload id"))?;
    let found = state
        .api
        .cache
        .execute_lookup(tenant, &workload, &id)
        .await?;
    // The cached answer is shared: the response takes a copy.
    Ok(Json(std::sync::Arc::unwrap_or_clone(found).into()))
}

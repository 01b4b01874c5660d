//! `/v1/templates`: the tenant's templates — the latest active version of each, every version of
//! one, one version, and publishing a new immutable version.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use brokerdb::audit;
use brokerdb::db::{TenantExec, TxOptions};
use brokerdb::model::{HttpMethod, TemplateId, Timestamp, trimmed_non_empty};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::templates::{
    self, BodyPolicy, NetworkSafety, PathGroup, RedirectPolicy, Template,
    TemplateInvalidationSignal,
};
use brokerdb_cache::Resource;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::actions::action_event;
use super::auth::Principal;
use super::cache::bust;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath};
use super::wire::created;
use crate::app::AppState;

/// An HTTP method a path group allows.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum MethodName {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl MethodName {
    fn of(m: HttpMethod) -> Self {
        match m {
            HttpMethod::Get => Self::Get,
            HttpMethod::Post => Self::Post,
            HttpMethod::Put => Self::Put,
            HttpMethod::Patch => Self::Patch,
            HttpMethod::Delete => Self::Delete,
        }
    }

    fn model(self) -> HttpMethod {
        match self {
            Self::Get => HttpMethod::Get,
            Self::Post => HttpMethod::Post,
            Self::Put => HttpMethod::Put,
            Self::Patch => HttpMethod::Patch,
            Self::Delete => HttpMethod::Delete,
        }
    }
}

/// How redirects are handled: `{mode: "deny", maxHops?: 0..5}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedirectPolicySpec {
    /// Only `deny`.
    pub mode: String,
    /// 0..=5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hops: Option<u8>,
}

/// Body limits of a path group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BodyPolicySpec {
    /// Largest body accepted, in bytes.
    pub max_bytes: u64,
    /// Accepted content types.
    pub content_types: Vec<String>,
}

/// One group of paths sharing risk and approval rules.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PathGroupSpec {
    /// Group id (a policy rule's `actionGroup`).
    pub group_id: String,
    /// `low`, `medium` or `high`.
    pub risk_tier: String,
    /// `none` or `required`.
    pub approval_mode: String,
    /// At least one method.
    pub methods: Vec<MethodName>,
    /// At least one non-empty path pattern.
    pub path_patterns: Vec<String>,
    /// Query keys passed through.
    pub query_allowlist: Vec<String>,
    /// Headers forwarded.
    pub header_forward_allowlist: Vec<String>,
    /// Body limits.
    pub body_policy: BodyPolicySpec,
    /// Free-form extra constraints (a JSON object, kept as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub constraints: Option<Map<String, Value>>,
}

/// Network protections, all required.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSafetySpec {
    /// Refuse private ranges.
    pub deny_private_ip_ranges: bool,
    /// Refuse link-local.
    pub deny_link_local: bool,
    /// Refuse loopback.
    pub deny_loopback: bool,
    /// Refuse cloud metadata ranges.
    pub deny_metadata_ranges: bool,
    /// Require DNS resolution before connecting.
    pub dns_resolution_required: bool,
}

/// One template version: which upstream hosts, paths and methods an integration may reach.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateOut {
    /// `tpl_[a-z0-9_]+`.
    pub template_id: String,
    /// The version, from 1.
    pub version: i32,
    /// Upstream provider (the same in every version).
    pub provider: String,
    /// Free text, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Allowed schemes (`https`).
    pub allowed_schemes: Vec<String>,
    /// Allowed ports (443).
    pub allowed_ports: Vec<u16>,
    /// Allowed hosts.
    pub allowed_hosts: Vec<String>,
    /// Redirect handling.
    pub redirect_policy: RedirectPolicySpec,
    /// Path groups.
    pub path_groups: Vec<PathGroupSpec>,
    /// SSRF protections.
    pub network_safety: NetworkSafetySpec,
}

impl From<Template> for TemplateOut {
    fn from(t: Template) -> Self {
        Self {
            template_id: t.template_id.to_string(),
            version: t.version,
            provider: t.provider,
            description: t.description,
            allowed_schemes: t.allowed_schemes,
            allowed_ports: t.allowed_ports,
            allowed_hosts: t.allowed_hosts,
            redirect_policy: RedirectPolicySpec {
                mode: t.redirect_policy.mode,
                max_hops: t.redirect_policy.max_hops,
            },
            path_groups: t
                .path_groups
                .into_iter()
                .map(|g| PathGroupSpec {
                    group_id: g.group_id,
                    risk_tier: g.risk_tier,
                    approval_mode: g.approval_mode,
                    methods: g.methods.into_iter().map(MethodName::of).collect(),
                    path_patterns: g.path_patterns,
                    query_allowlist: g.query_allowlist,
                    header_forward_allowlist: g.header_forward_allowlist,
                    body_policy: BodyPolicySpec {
                        max_bytes: g.body_policy.max_bytes,
                        content_types: g.body_policy.content_types,
                    },
                    constraints: g.constraints,
                })
                .collect(),
            network_safety: NetworkSafetySpec {
                deny_private_ip_ranges: t.network_safety.deny_private_ip_ranges,
                deny_link_local: t.network_safety.deny_link_local,
                deny_loopback: t.network_safety.deny_loopback,
                deny_metadata_ranges: t.network_safety.deny_metadata_ranges,
                dns_resolution_required: t.network_safety.dns_resolution_required,
            },
        }
    }
}

/// Template versions (no paging: a tenant has few templates and few versions of each).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateListOut {
    /// The templates, by `templateId` (or by version) ascending.
    pub items: Vec<TemplateOut>,
}

/// `templateId` from the path: 400 naming it when malformed.
pub(crate) fn template_id(text: &str) -> Result<TemplateId, ApiError> {
    TemplateId::parse(text)
        .map_err(|_| ApiError::invalid("templateId", "is not a valid template id"))
}

/// The latest active version of each template of the caller's tenant, by `templateId`.
#[utoipa::path(
    get,
    path = "/v1/templates",
    tag = "templates",
    responses(
        (status = 200, description = "The latest version of each template", body = TemplateListOut),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list_latest(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<TemplateListOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let items = templates::list_latest(&mut state.db.tenant(tenant)).await?;
    Ok(Json(TemplateListOut {
        items: items.into_iter().map(TemplateOut::from).collect(),
    }))
}

/// Every version of one template (active and disabled), by version ascending; 404 when the
/// tenant has no such template.
#[utoipa::path(
    get,
    path = "/v1/templates/{templateId}/versions",
    tag = "templates",
    params(("templateId" = String, Path, description = "The template's id, `tpl_[a-z0-9_]+`")),
    responses(
        (status = 200, description = "The template's versions", body = TemplateListOut),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such template in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list_versions(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TemplateListOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = template_id(&id)?;
    let items = templates::list_versions(&mut state.db.tenant(tenant), &id).await?;
    if items.is_empty() {
        return Err(ApiError::not_found("template"));
    }
    Ok(Json(TemplateListOut {
        items: items.into_iter().map(TemplateOut::from).collect(),
    }))
}

/// `version` from the path: a positive integer, else 400 naming it.
fn version_param(text: &str) -> Result<i32, ApiError> {
    text.parse::<i32>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| ApiError::invalid("version", "must be an integer ≥ 1"))
}

/// One active version of a template (404 when missing, disabled or another tenant's).
#[utoipa::path(
    get,
    path = "/v1/templates/{templateId}/versions/{version}",
    tag = "templates",
    params(
        ("templateId" = String, Path, description = "The template's id, `tpl_[a-z0-9_]+`"),
        ("version" = i32, Path, description = "The version, from 1"),
    ),
    responses(
        (status = 200, description = "The template version", body = TemplateOut),
        (status = 400, description = "The id or version is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such active version in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn get_version(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((id, version)): ApiPath<(String, String)>,
) -> Result<Json<TemplateOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = template_id(&id)?;
    let version = version_param(&version)?;
    state
        .api
        .cache
        .template_version(tenant, &id, version)
        .await?
        .map(|t| Json(std::sync::Arc::unwrap_or_clone(t).into()))
        .ok_or_else(|| ApiError::not_found("template version"))
}

/// A new template version (the template's id is the path's).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishTemplateVersionIn {
    /// Greater than every existing version of the template.
    pub version: i32,
    /// Upstream provider (non-empty); must equal the previous versions'.
    pub provider: String,
    /// Free text.
    pub description: Option<String>,
    /// At least one; only `https`.
    pub allowed_schemes: Vec<String>,
    /// At least one; only 443.
    pub allowed_ports: Vec<u16>,
    /// At least one non-empty host.
    pub allowed_hosts: Vec<String>,
    /// Redirects are denied.
    pub redirect_policy: RedirectPolicySpec,
    /// At least one.
    pub path_groups: Vec<PathGroupSpec>,
    /// SSRF protections.
    pub network_safety: NetworkSafetySpec,
}

impl PublishTemplateVersionIn {
    fn model(self, template_id: TemplateId) -> Template {
        Template {
            template_id,
            version: self.version,
            provider: self.provider,
            description: self.description,
            allowed_schemes: self.allowed_schemes,
            allowed_ports: self.allowed_ports,
            allowed_hosts: self.allowed_hosts,
            redirect_policy: RedirectPolicy {
                mode: self.redirect_policy.mode,
                max_hops: self.redirect_policy.max_hops,
            },
            path_groups: self
                .path_groups
                .into_iter()
                .map(|g| PathGroup {
                    group_id: g.group_id,
                    risk_tier: g.risk_tier,
                    approval_mode: g.approval_mode,
                    methods: g.methods.into_iter().map(MethodName::model).collect(),
                    path_patterns: g.path_patterns,
                    query_allowlist: g.query_allowlist,
                    header_forward_allowlist: g.header_forward_allowlist,
                    body_policy: BodyPolicy {
                        max_bytes: g.body_policy.max_bytes,
                        content_types: g.body_policy.content_types,
                    },
                    constraints: g.constraints,
                })
                .collect(),
            network_safety: NetworkSafety {
                deny_private_ip_ranges: self.network_safety.deny_private_ip_ranges,
                deny_link_local: self.network_safety.deny_link_local,
                deny_loopback: self.network_safety.deny_loopback,
                deny_metadata_ranges: self.network_safety.deny_metadata_ranges,
                dns_resolution_required: self.network_safety.dns_resolution_required,
            },
        }
    }
}

/// Publishes a new immutable version of a template (role `admin`), active at once; the first
/// version creates the template. An `admin_action` audit event naming the token's subject and
/// the template-invalidation outbox row (which the outbox relay publishes to the broker's
/// caches) are written in the same transaction.
#[utoipa::path(
    post,
    path = "/v1/templates/{templateId}/versions",
    tag = "templates",
    params(("templateId" = String, Path, description = "The template's id, `tpl_[a-z0-9_]+`")),
    request_body = PublishTemplateVersionIn,
    responses(
        (status = 201, description = "Published", body = TemplateOut,
         headers(("location" = String, description = "The new version's URL"))),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 409, description = "The version is not above the latest, or the provider differs", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn publish_version(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PublishTemplateVersionIn>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let id = template_id(&id)?;
    trimmed_non_empty("provider", &body.provider)?;
    let template = body.model(id.clone());
    template.validate()?;
    let event = action_event(
        &principal,
        "template.version_published",
        [
            ("template_id", id.as_str().into()),
            ("version", template.version.into()),
        ],
    )?;
    let by = principal.subject.as_str().to_owned();
    let stored = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (template, event, by) = (template.clone(), event.clone(), by.clone());
            Box::pin(async move {
                let stored = templates::create_version(tx, &template, Some(&by)).await?;
                let signal = TemplateInvalidationSignal {
                    template_id: stored.template_id.as_str().to_owned(),
                    version: stored.version,
                    tenant_id: tx.tenant_id().as_str().to_owned(),
                    updated_at: Timestamp::now().to_string(),
                };
                templates::persist_invalidation_outbox(tx, &signal).await?;
                audit::append(tx, &event).await?;
                Ok(stored)
            })
        })
        .await?;
    // Committed: a cached "no such version", and execute lookups resolving the template's
    // latest version, must go.
    bust(
        &state,
        &tenant,
        &[Resource::TemplateVersions, Resource::ExecuteLookup],
    )
    .await;
    Ok(created(
        &format!(
            "/v1/templates/{}/versions/{}",
            stored.template_id, stored.version
        ),
        TemplateOut::from(stored),
    ))
}

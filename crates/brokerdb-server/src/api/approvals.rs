//! `/v1/approvals`: the tenant's approval requests — asking a human to approve one exact
//! upstream request (its canonical request descriptor), listing and reading them, and moving
//! them through the state table of [`brokerdb::repo::approvals`].
//!
//! **Create.** The descriptor's tenant is the token's (the body cannot name one); the summary a
//! human sees (integration, destination host, method, path) is derived from the descriptor, so
//! it cannot describe a different request than the one approved. At most one approval per
//! (workload, integration, descriptor) is in flight (`pending`, or `approved` until executed): a
//! second create is `409 unique_violation` on `descriptor`, nothing written. That answer carries
//! `Location: /v1/approvals/{id}` of the in-flight approval when the library's `find_open` still
//! finds it after the refused create (it may have been decided in between; then there is no
//! `Location`). It names nothing the caller could not read: creating needs `operator`, which
//! reads every approval of its tenant, and the key includes the tenant.
//!
//! **Transition.** Exactly one caller changes an approval: the library's conditional update lets
//! one of any number of concurrent callers win. Over HTTP the winner gets 200 and every other
//! caller 409 `state_transition_invalid` — also one that asked for the status the winner set
//! (the library's `changed: false`), since a 200 would tell two executors of an approved
//! approval that each may carry out the request. The winner's `approval_decided` audit event is
//! written in the same transaction; after commit the Redis approve-once cache entry of the
//! descriptor (default key prefix) is removed, best effort.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use brokerdb::audit;
use brokerdb::db::{DbError, TxOptions};
use brokerdb::model::{
    ApprovalId, ApprovalStatus, AuditEventType, CanonicalRequestDescriptor, NonEmptyString,
    NormalizedHeader, RiskTier, Timestamp,
};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::approvals::{self, ApprovalRequest, ApprovalSummary, NewApproval};
use brokerdb_redis::canonicalizer::{CanonicalizerCache, CanonicalizerOptions};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::actions::action_event;
use super::auth::Principal;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::request::current_request_id;
use super::wire::bounded;
use crate::app::AppState;

/// Longest `reason` of a transition, in characters.
const MAX_REASON_CHARS: usize = 500;

/// An approval's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatusName {
    /// Waiting for a decision.
    Pending,
    /// Approved; may be executed once.
    Approved,
    /// Refused (terminal).
    Denied,
    /// Not decided in time (terminal).
    Expired,
    /// Approved and carried out (terminal).
    Executed,
    /// Withdrawn (terminal).
    Canceled,
}

impl ApprovalStatusName {
    fn of(s: ApprovalStatus) -> Self {
        match s {
            ApprovalStatus::Pending => Self::Pending,
            ApprovalStatus::Approved => Self::Approved,
            ApprovalStatus::Denied => Self::Denied,
            ApprovalStatus::Expired => Self::Expired,
            ApprovalStatus::Executed => Self::Executed,
            ApprovalStatus::Canceled => Self::Canceled,
        }
    }

    fn model(self) -> ApprovalStatus {
        match self {
            Self::Pending => ApprovalStatus::Pending,
            Self::Approved => ApprovalStatus::Approved,
            Self::Denied => ApprovalStatus::Denied,
            Self::Expired => ApprovalStatus::Expired,
            Self::Executed => ApprovalStatus::Executed,
            Self::Canceled => ApprovalStatus::Canceled,
        }
    }
}

/// Risk of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskTierName {
    /// Low risk.
    Low,
    /// Medium risk.
    Medium,
    /// High risk.
    High,
}

impl RiskTierName {
    /// The wire name of a model risk tier.
    pub fn of(r: RiskTier) -> Self {
        match r {
            RiskTier::Low => Self::Low,
            RiskTier::Medium => Self::Medium,
            RiskTier::High => Self::High,
        }
    }

    fn model(self) -> RiskTier {
        match self {
            Self::Low => RiskTier::Low,
            Self::Medium => RiskTier::Medium,
            Self::High => RiskTier::High,
        }
    }
}

/// One forwarded header of a descriptor.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderWire {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// A property that is there, possibly `null` (an absent one takes the `default`, `None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The upstream request to approve: the canonical request descriptor without its tenant (the
/// token's). Strings are kept exactly as given: the descriptor is hashed byte for byte, and
/// `queryFingerprintBase64`/`bodySha256Base64` absent and `null` are different requests.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DescriptorIn {
    /// Calling workload.
    pub workload_id: String,
    /// Integration used.
    pub integration_id: String,
    /// Template followed.
    pub template_id: String,
    /// Template version (≥ 1).
    pub template_version: i32,
    /// Exactly `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Absolute URL of the upstream request.
    pub canonical_url: String,
    /// The template path group the URL matched.
    pub matched_path_group_id: String,
    /// Forwarded headers.
    pub normalized_headers: Vec<HeaderWire>,
    /// Query parameter names.
    pub query_keys: Vec<String>,
    /// Fingerprint of the query values (absent and `null` differ).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub query_fingerprint_base64: Option<Option<String>>,
    /// SHA-256 of the body (absent and `null` differ).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub body_sha256_base64: Option<Option<String>>,
}

impl DescriptorIn {
    fn into_model(self, tenant: &str) -> CanonicalRequestDescriptor {
        CanonicalRequestDescriptor {
            tenant_id: tenant.to_owned(),
            workload_id: self.workload_id,
            integration_id: self.integration_id,
            template_id: self.template_id,
            template_version: self.template_version,
            method: self.method,
            canonical_url: self.canonical_url,
            matched_path_group_id: self.matched_path_group_id,
            normalized_headers: self
                .normalized_headers
                .into_iter()
                .map(|h| NormalizedHeader {
                    name: h.name,
                    value: h.value,
                })
                .collect(),
            query_keys: self.query_keys,
            query_fingerprint_base64: self.query_fingerprint_base64,
            body_sha256_base64: self.body_sha256_base64,
        }
    }
}

/// A stored canonical request descriptor (its tenant is the enclosing resource's).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescriptorOut {
    /// Calling workload.
    pub workload_id: String,
    /// Integration used.
    pub integration_id: String,
    /// Template followed.
    pub template_id: String,
    /// Template version.
    pub template_version: i32,
    /// HTTP method.
    pub method: String,
    /// Absolute URL of the upstream request.
    pub canonical_url: String,
    /// The template path group the URL matched.
    pub matched_path_group_id: String,
    /// Forwarded headers.
    pub normalized_headers: Vec<HeaderWire>,
    /// Query parameter names.
    pub query_keys: Vec<String>,
    /// Fingerprint of the query values: absent when it was absent, possibly `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub query_fingerprint_base64: Option<Option<String>>,
    /// SHA-256 of the body: absent when it was absent, possibly `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub body_sha256_base64: Option<Option<String>>,
}

impl From<CanonicalRequestDescriptor> for DescriptorOut {
    fn from(d: CanonicalRequestDescriptor) -> Self {
        Self {
            workload_id: d.workload_id,
            integration_id: d.integration_id,
            template_id: d.template_id,
            template_version: d.template_version,
            method: d.method,
            canonical_url: d.canonical_url,
            matched_path_group_id: d.matched_path_group_id,
            normalized_headers: d
                .normalized_headers
                .into_iter()
                .map(|h| HeaderWire {
                    name: h.name,
                    value: h.value,
                })
                .collect(),
            query_keys: d.query_keys,
            query_fingerprint_base64: d.query_fingerprint_base64,
            body_sha256_base64: d.body_sha256_base64,
        }
    }
}

/// What the approver is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalSummaryOut {
    /// The descriptor's integration.
    pub integration_id: String,
    /// The template path group.
    pub action_group: String,
    /// Risk of the action.
    pub risk_tier: RiskTierName,
    /// Destination host (from the descriptor's URL).
    pub destination_host: String,
    /// HTTP method (the descriptor's).
    pub method: String,
    /// Request path (from the descriptor's URL).
    pub path: String,
}

/// An approval request of the tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalOut {
    /// Business id (`apr_` + 32 hex digits).
    pub approval_id: String,
    /// The tenant (the caller's).
    pub tenant_id: String,
    /// Lifecycle state.
    pub status: ApprovalStatusName,
    /// After this instant a pending approval no longer counts (RFC 3339, milliseconds, UTC).
    pub expires_at: String,
    /// Trace id of the request that created it (its `x-request-id`).
    pub correlation_id: String,
    /// What the approver is shown.
    pub summary: ApprovalSummaryOut,
    /// The request being approved.
    pub descriptor: DescriptorOut,
    /// Lower-case hex SHA-256 of the canonical descriptor: the dedupe key.
    pub descriptor_sha256: String,
}

impl From<ApprovalRequest> for ApprovalOut {
    fn from(a: ApprovalRequest) -> Self {
        let d = a.canonical_descriptor;
        Self {
            approval_id: a.approval_id.into_inner(),
            tenant_id: d.tenant_id.clone(),
            status: ApprovalStatusName::of(a.status),
            expires_at: a.expires_at.to_string(),
            correlation_id: a.correlation_id.as_str().to_owned(),
            summary: ApprovalSummaryOut {
                integration_id: a.summary.integration_id,
                action_group: a.summary.action_group,
                risk_tier: RiskTierName::of(a.summary.risk_tier),
                destination_host: a.summary.destination_host,
                method: a.summary.method,
                path: a.summary.path,
            },
            descriptor_sha256: d.sha256(),
            descriptor: d.into(),
        }
    }
}

/// The list of approvals (no cursor: the library returns the newest `limit`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalListOut {
    /// Newest first.
    pub items: Vec<ApprovalOut>,
}

/// Query parameters of `GET /v1/approvals` (all optional; unknown ones are refused).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApprovalListQuery {
    /// Only approvals in this status.
    pub status: Option<ApprovalStatusName>,
    /// How many of the newest, 1..=200 (default 100).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

fn approval_id(text: &str) -> Result<ApprovalId, ApiError> {
    ApprovalId::parse(text)
        .map_err(|_| ApiError::invalid("approvalId", "is not a valid approval id"))
}

fn location(id: &ApprovalId) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("/v1/approvals/{id}")).ok()
}

/// The approvals of the caller's tenant, newest first, optionally of one status.
#[utoipa::path(
    get,
    path = "/v1/approvals",
    tag = "approvals",
    params(ApprovalListQuery),
    responses(
        (status = 200, description = "The newest approvals", body = ApprovalListOut),
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
    ApiQuery(query): ApiQuery<ApprovalListQuery>,
) -> Result<Json<ApprovalListOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let items = approvals::list(
        &mut state.db.tenant(tenant),
        query.status.map(ApprovalStatusName::model),
        query.limit,
    )
    .await?;
    Ok(Json(ApprovalListOut {
        items: items.into_iter().map(ApprovalOut::from).collect(),
    }))
}

/// One approval of the caller's tenant (404 for another tenant's).
#[utoipa::path(
    get,
    path = "/v1/approvals/{approvalId}",
    tag = "approvals",
    params(("approvalId" = String, Path, description = "The approval's id")),
    responses(
        (status = 200, description = "The approval", body = ApprovalOut),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such approval in the tenant", body = ErrorEnvelope),
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
) -> Result<Json<ApprovalOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = approval_id(&id)?;
    approvals::get_by_id(&mut state.db.tenant(tenant), &id)
        .await?
        .map(|a| Json(a.into()))
        .ok_or_else(|| ApiError::not_found("approval"))
}

/// A new approval request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApprovalIn {
    /// The request to approve.
    pub descriptor: DescriptorIn,
    /// The template path group shown to the approver.
    pub action_group: String,
    /// Risk of the action.
    pub risk_tier: RiskTierName,
    /// When the pending approval lapses: an RFC 3339 date-time in the future.
    pub expires_at: String,
}

/// The summary shown to the approver, derived from the descriptor (which must be valid).
fn summary_of(
    d: &CanonicalRequestDescriptor,
    action_group: String,
    risk_tier: RiskTier,
) -> Result<ApprovalSummary, ApiError> {
    let (method, host) = d.policy_scope()?;
    let path = url::Url::parse(&d.canonical_url)
        .map(|u| u.path().to_owned())
        .map_err(|_| ApiError::invalid("descriptor.canonicalUrl", "must be an absolute URL"))?;
    Ok(ApprovalSummary {
        integration_id: d.integration_id.clone(),
        action_group,
        risk_tier,
        destination_host: host.as_str().to_owned(),
        method: method.as_str().to_owned(),
        path,
    })
}

/// Asks for a human's approval of one upstream request in the caller's tenant (role
/// `operator`); an `approval_created` audit event naming the token's subject is written in the
/// same transaction. A second request for a descriptor whose approval is still in flight is 409
/// `unique_violation` (field `descriptor`), with `Location` of the in-flight approval when it is
/// still found.
#[utoipa::path(
    post,
    path = "/v1/approvals",
    tag = "approvals",
    request_body = CreateApprovalIn,
    responses(
        (status = 201, description = "Created, pending", body = ApprovalOut,
         headers(("location" = String, description = "The new approval's URL"))),
        (status = 400, description = "The body is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 409, description = "An approval of this descriptor is in flight", body = ErrorEnvelope,
         headers(("location" = String, description = "The in-flight approval's URL, when still found"))),
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
    ApiJson(body): ApiJson<CreateApprovalIn>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Operator)?.clone();
    let descriptor = body.descriptor.into_model(tenant.as_str());
    descriptor.validate()?;
    let (_, workload, integration) = descriptor.ids()?;
    let action_group = NonEmptyString::new("actionGroup", &body.action_group)?;
    let expires_at = Timestamp::parse(&body.expires_at)
        .map_err(|e| ApiError::from(e.with_field("expiresAt")))?;
    if expires_at <= Timestamp::now() {
        return Err(ApiError::invalid("expiresAt", "must be in the future"));
    }
    let risk_tier = body.risk_tier.model();
    let summary = summary_of(&descriptor, action_group.as_str().to_owned(), risk_tier)?;
    let id = ApprovalId::generate();
    let mut event = action_event(
        &principal,
        "approval.created",
        [("approval_id", id.as_str().into())],
    )?;
    event.event_type = AuditEventType::ApprovalCreated;
    event.workload_id = Some(workload);
    event.integration_id = Some(integration);
    event.action_group = Some(action_group.as_str().to_owned());
    event.risk_tier = Some(risk_tier);
    let input = NewApproval {
        approval_id: Some(id),
        correlation_id: NonEmptyString::new("correlation_id", &current_request_id())?,
        expires_at,
        summary,
        canonical_descriptor: descriptor.clone(),
    };
    let created = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (input, event) = (input.clone(), event.clone());
            Box::pin(async move {
                let approval = approvals::create_from_canonical_descriptor(tx, input).await?;
                audit::append(tx, &event).await?;
                Ok(approval)
            })
        })
        .await;
    match created {
        Ok(approval) => {
            let mut response = (
                StatusCode::CREATED,
                Json(ApprovalOut::from(approval.clone())),
            )
                .into_response();
            if let Some(v) = location(&approval.approval_id) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            Ok(response)
        }
        Err(e @ DbError::UniqueViolation { .. }) => {
            let in_flight =
                matches!(&e, DbError::UniqueViolation { field } if field == "descriptor");
            let mut response = ApiError::from(e).into_response();
            if in_flight {
                // Read after the refused create rolled back: the approval may be decided by now.
                // The 409 stands whatever this read gives; a failure only loses the hint.
                match approvals::find_open(&mut state.db.tenant(&tenant), &descriptor).await {
                    Ok(open) => {
                        if let Some(v) = open.as_ref().and_then(|a| location(&a.approval_id)) {
                            response.headers_mut().insert(header::LOCATION, v);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(request_id = %current_request_id(), error = %e, "cannot read the in-flight approval");
                    }
                }
            }
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

/// Where an approval may be moved (nothing returns to `pending`).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransitionTarget {
    /// From `pending`: the request may be executed once.
    Approved,
    /// From `pending`: refused.
    Denied,
    /// From `pending`: not decided in time.
    Expired,
    /// From `pending`: withdrawn.
    Canceled,
    /// From `approved`: consumed; the caller that gets 200 may carry out the request.
    Executed,
}

impl TransitionTarget {
    fn model(self) -> ApprovalStatus {
        match self {
            Self::Approved => ApprovalStatus::Approved,
            Self::Denied => ApprovalStatus::Denied,
            Self::Expired => ApprovalStatus::Expired,
            Self::Canceled => ApprovalStatus::Canceled,
            Self::Executed => ApprovalStatus::Executed,
        }
    }
}

/// A decision on an approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransitionIn {
    /// The new status: `approved`, `denied`, `expired` or `canceled` from `pending`;
    /// `executed` from `approved`.
    pub to: TransitionTarget,
    /// Why (at most 500 characters), recorded in the audit event only.
    pub reason: Option<String>,
}

/// Moves an approval of the caller's tenant to a new status (role `operator`). Of concurrent
/// callers exactly one gets 200, with an `approval_decided` audit event naming the token's
/// subject in the same transaction; every other one gets 409 `state_transition_invalid`, as
/// does a move the state table does not allow or one to the status the approval already has.
#[utoipa::path(
    post,
    path = "/v1/approvals/{approvalId}/transition",
    tag = "approvals",
    params(("approvalId" = String, Path, description = "The approval's id")),
    request_body = TransitionIn,
    responses(
        (status = 200, description = "The approval in its new status", body = ApprovalOut),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such approval in the tenant", body = ErrorEnvelope),
        (status = 409, description = "The move is not allowed from the approval's status", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn transition(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TransitionIn>,
) -> Result<Json<ApprovalOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Operator)?.clone();
    let id = approval_id(&id)?;
    let to = body.to.model();
    if let Some(reason) = &body.reason {
        bounded("reason", reason, MAX_REASON_CHARS)?;
    }
    let mut details = vec![
        ("approval_id", id.as_str().into()),
        ("to", to.as_str().into()),
    ];
    if let Some(reason) = &body.reason {
        details.push(("reason", reason.as_str().into()));
    }
    let mut event = action_event(&principal, &format!("approval.{to}"), details)?;
    event.event_type = AuditEventType::ApprovalDecided;
    let approval = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (id, mut event) = (id.clone(), event.clone());
            Box::pin(async move {
                let done = approvals::transition(tx, &id, to, None).await?;
                if !done.changed {
                    return Err(DbError::StateTransitionInvalid {
                        message: format!("the approval is already {to}").into(),
                    });
                }
                let a = &done.approval;
                let (_, workload, integration) = a.canonical_descriptor.ids()?;
                event.workload_id = Some(workload);
                event.integration_id = Some(integration);
                event.action_group = Some(a.summary.action_group.clone());
                event.risk_tier = Some(a.summary.risk_tier);
                audit::append(tx, &event).await?;
                Ok(done.approval)
            })
        })
        .await?;
    bust_approval_once(&state, &approval.canonical_descriptor).await;
    Ok(Json(approval.into()))
}

/// Removes the descriptor's approve-once cache entry after a committed decision. A failure is
/// logged, not returned: the decision stands, and a retry would be refused as a no-op.
async fn bust_approval_once(state: &AppState, descriptor: &CanonicalRequestDescriptor) {
    let busted = match CanonicalizerCache::new(state.redis.clone(), CanonicalizerOptions::default())
    {
        Ok(cache) => cache.invalidate_approval_once_cache(descriptor).await,
        Err(e) => Err(e),
    };
    if let Err(e) = busted {
        tracing::warn!(request_id = %current_request_id(), error = %e, "cannot remove an approve-once cache entry");
    }
}

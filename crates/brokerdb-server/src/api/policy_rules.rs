//! `/v1/policy-rules`: the tenant's policy rules — creating one (normalized), reading an
//! enabled one, disabling one, and the rules matching a canonical request descriptor (what the
//! policy engine runs per request).
//!
//! The rule's and the descriptor's tenant is the token's: neither body names a tenant.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use brokerdb::audit;
use brokerdb::db::TxOptions;
use brokerdb::model::{CanonicalRequestDescriptor, NormalizedHeader, PolicyId};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::policy_rules::{
    self, PolicyConstraints, PolicyRule, PolicyRuleType, PolicyScope, RateLimit,
};
use brokerdb_cache::Resource;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::actions::action_event;
use super::auth::Principal;
use super::cache::bust;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath};
use crate::app::AppState;

/// What a rule does.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleTypeName {
    /// Allows matching requests.
    Allow,
    /// Denies matching requests.
    Deny,
    /// Requires a human approval.
    ApprovalRequired,
    /// Rate-limits matching requests (`rateLimit` required).
    RateLimit,
}

impl RuleTypeName {
    fn of(t: PolicyRuleType) -> Self {
        match t {
            PolicyRuleType::Allow => Self::Allow,
            PolicyRuleType::Deny => Self::Deny,
            PolicyRuleType::ApprovalRequired => Self::ApprovalRequired,
            PolicyRuleType::RateLimit => Self::RateLimit,
        }
    }

    fn model(self) -> PolicyRuleType {
        match self {
            Self::Allow => PolicyRuleType::Allow,
            Self::Deny => PolicyRuleType::Deny,
            Self::ApprovalRequired => PolicyRuleType::ApprovalRequired,
            Self::RateLimit => PolicyRuleType::RateLimit,
        }
    }
}

/// Extra conditions of a rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyConstraintsSpec {
    /// Allowed recipient e-mail addresses (≤ 128, each ≤ 320 characters); stored unique and
    /// sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_allowlist: Option<Vec<String>>,
    /// Allowed recipient domains (≤ 128, each 1..253 characters of `[A-Za-z0-9.-]`); stored
    /// lower-cased, unique and sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_domain_allowlist: Option<Vec<String>>,
    /// Require MFA on approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_mfa_approval: Option<bool>,
    /// Largest body, 0..10 485 760 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<i64>,
    /// Allowed query keys (≤ 64, each 1..64 characters of `[A-Za-z0-9._-]`); stored unique and
    /// sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_query_keys: Option<Vec<String>>,
}

impl From<PolicyConstraints> for PolicyConstraintsSpec {
    fn from(c: PolicyConstraints) -> Self {
        Self {
            recipient_allowlist: c.recipient_allowlist,
            recipient_domain_allowlist: c.recipient_domain_allowlist,
            require_mfa_approval: c.require_mfa_approval,
            max_body_bytes: c.max_body_bytes,
            allowed_query_keys: c.allowed_query_keys,
        }
    }
}

impl From<PolicyConstraintsSpec> for PolicyConstraints {
    fn from(c: PolicyConstraintsSpec) -> Self {
        Self {
            recipient_allowlist: c.recipient_allowlist,
            recipient_domain_allowlist: c.recipient_domain_allowlist,
            require_mfa_approval: c.require_mfa_approval,
            max_body_bytes: c.max_body_bytes,
            allowed_query_keys: c.allowed_query_keys,
        }
    }
}

/// `maxRequests` per `intervalSeconds` (both ≥ 1).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitSpec {
    /// Requests allowed per interval.
    pub max_requests: i32,
    /// Interval length, in seconds.
    pub interval_seconds: i32,
}

/// Where a new rule applies (the tenant is the token's). Optional keys narrow the rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyScopeIn {
    /// Only this workload (absent or empty: any).
    pub workload_id: Option<String>,
    /// The integration.
    pub integration_id: String,
    /// Only this template (absent or empty: any).
    pub template_id: Option<String>,
    /// Only this template version (absent: any).
    pub template_version: Option<i32>,
    /// The template path group (`groupId`).
    pub action_group: String,
    /// HTTP method (stored upper-case).
    pub method: String,
    /// Destination host (stored lower-case, IDN as punycode, port dropped).
    pub host: String,
    /// Exact set of query keys (absent: any; `[]`: none).
    pub query_keys: Option<Vec<String>>,
}

/// A new policy rule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePolicyRuleIn {
    /// Business id (default: generated, `pol_` + 32 hex digits).
    pub policy_id: Option<String>,
    /// What the rule does.
    pub rule_type: RuleTypeName,
    /// Where it applies.
    pub scope: PolicyScopeIn,
    /// Extra conditions.
    pub constraints: Option<PolicyConstraintsSpec>,
    /// Required for `rate_limit` rules, absent for the others.
    pub rate_limit: Option<RateLimitSpec>,
}

/// Where a stored rule applies.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyScopeOut {
    /// The tenant (the caller's).
    pub tenant_id: String,
    /// Only this workload, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_id: Option<String>,
    /// The integration.
    pub integration_id: String,
    /// Only this template, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Only this template version, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_version: Option<i32>,
    /// The template path group.
    pub action_group: String,
    /// HTTP method, upper-case.
    pub method: String,
    /// Destination host under the policy-host rule.
    pub host: String,
    /// Exact set of query keys, sorted, when the rule tests them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_keys: Option<Vec<String>>,
}

/// A stored (normalized) policy rule.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRuleOut {
    /// Business id.
    pub policy_id: String,
    /// What the rule does.
    pub rule_type: RuleTypeName,
    /// Where it applies.
    pub scope: PolicyScopeOut,
    /// Extra conditions, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<PolicyConstraintsSpec>,
    /// The rate limit of a `rate_limit` rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
}

impl From<PolicyRule> for PolicyRuleOut {
    fn from(r: PolicyRule) -> Self {
        let s = r.scope;
        Self {
            policy_id: r.policy_id.unwrap_or_default(),
            rule_type: RuleTypeName::of(r.rule_type),
            scope: PolicyScopeOut {
                tenant_id: s.tenant_id,
                workload_id: s.workload_id,
                integration_id: s.integration_id,
                template_id: s.template_id,
                template_version: s.template_version,
                action_group: s.action_group,
                method: s.method,
                host: s.host,
                query_keys: s.query_keys,
            },
            constraints: r.constraints.map(Into::into),
            rate_limit: r.rate_limit.map(|l| RateLimitSpec {
                max_requests: l.max_requests,
                interval_seconds: l.interval_seconds,
            }),
        }
    }
}

/// Rules, most specific first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRuleListOut {
    /// The rules.
    pub items: Vec<PolicyRuleOut>,
}

/// Creates a rule in the caller's tenant (role `admin`), normalized and enabled, with an
/// `admin_action` audit event naming the token's subject in the same transaction.
#[utoipa::path(
    post,
    path = "/v1/policy-rules",
    tag = "policy-rules",
    request_body = CreatePolicyRuleIn,
    responses(
        (status = 201, description = "Created (normalized)", body = PolicyRuleOut,
         headers(("location" = String, description = "The new rule's URL"))),
        (status = 400, description = "The body is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
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
    ApiJson(body): ApiJson<CreatePolicyRuleIn>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let s = body.scope;
    let rule = PolicyRule {
        policy_id: Some(
            body.policy_id
                .unwrap_or_else(|| PolicyId::generate().into_inner()),
        ),
        rule_type: body.rule_type.model(),
        scope: PolicyScope {
            tenant_id: tenant.as_str().to_owned(),
            workload_id: s.workload_id,
            integration_id: s.integration_id,
            template_id: s.template_id,
            template_version: s.template_version,
            action_group: s.action_group,
            method: s.method,
            host: s.host,
            query_keys: s.query_keys,
        },
        constraints: body.constraints.map(Into::into),
        rate_limit: body.rate_limit.map(|l| RateLimit {
            max_requests: l.max_requests,
            interval_seconds: l.interval_seconds,
        }),
    }
    // Normalized here too, so the audit event names the final id (normalizing is idempotent).
    .normalized()?;
    let id = rule.policy_id.clone().unwrap_or_default();
    let event = action_event(
        &principal,
        "policy_rule.created",
        [("policy_id", id.as_str().into())],
    )?;
    let by = principal.subject.as_str().to_owned();
    let created = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (rule, event, by) = (rule.clone(), event.clone(), by.clone());
            Box::pin(async move {
                let created = policy_rules::create(tx, &rule, Some(&by)).await?;
                audit::append(tx, &event).await?;
                Ok(created)
            })
        })
        .await?;
    bust(&state, &tenant, &[Resource::PolicyRules]).await;
    Ok(super::wire::created(
        &format!("/v1/policy-rules/{id}"),
        PolicyRuleOut::from(created),
    ))
}

fn policy_id(text: &str) -> Result<PolicyId, ApiError> {
    PolicyId::parse(text).map_err(|_| ApiError::invalid("policyId", "is not a valid policy id"))
}

/// One enabled rule of the caller's tenant (404 when missing, disabled or another tenant's).
#[utoipa::path(
    get,
    path = "/v1/policy-rules/{policyId}",
    tag = "policy-rules",
    params(("policyId" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "The rule", body = PolicyRuleOut),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such enabled rule in the tenant", body = ErrorEnvelope),
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
) -> Result<Json<PolicyRuleOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = policy_id(&id)?;
    policy_rules::get(&mut state.db.tenant(tenant), &id)
        .await?
        .map(|r| Json(r.into()))
        .ok_or_else(|| ApiError::not_found("policy rule"))
}

/// Disables a rule (role `admin`; idempotent, there is no re-enable), with an audit event
/// naming the token's subject in the same transaction.
#[utoipa::path(
    post,
    path = "/v1/policy-rules/{policyId}/disable",
    tag = "policy-rules",
    params(("policyId" = String, Path, description = "The rule's id")),
    responses(
        (status = 204, description = "Disabled"),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such rule in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn disable(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let id = policy_id(&id)?;
    let event = action_event(
        &principal,
        "policy_rule.disabled",
        [("policy_id", id.as_str().into())],
    )?;
    state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (id, event) = (id.clone(), event.clone());
            Box::pin(async move {
                policy_rules::disable(tx, &id).await?;
                audit::append(tx, &event).await?;
                Ok(())
            })
        })
        .await?;
    bust(&state, &tenant, &[Resource::PolicyRules]).await;
    Ok(StatusCode::NO_CONTENT)
}

/// One forwarded header.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderSpec {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// A canonical request descriptor: what a workload asks the broker to send (the tenant is the
/// token's).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestDescriptorIn {
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
    pub normalized_headers: Vec<HeaderSpec>,
    /// Query parameter names.
    pub query_keys: Vec<String>,
    /// Fingerprint of the query values, when given.
    pub query_fingerprint_base64: Option<String>,
    /// SHA-256 of the body, when given.
    pub body_sha256_base64: Option<String>,
}

/// The request to match rules against.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchPolicyRulesIn {
    /// The canonical request descriptor.
    pub descriptor: RequestDescriptorIn,
}

/// The enabled rules of the caller's tenant matching a canonical request descriptor (role
/// `operator`), most specific first, ties by `policyId`.
#[utoipa::path(
    post,
    path = "/v1/policy-rules/match",
    tag = "policy-rules",
    request_body = MatchPolicyRulesIn,
    responses(
        (status = 200, description = "The matching rules", body = PolicyRuleListOut),
        (status = 400, description = "The descriptor is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn matching(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<MatchPolicyRulesIn>,
) -> Result<Json<PolicyRuleListOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Operator)?;
    let d = body.descriptor;
    let descriptor = CanonicalRequestDescriptor {
        tenant_id: tenant.as_str().to_owned(),
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
            .map(|h| NormalizedHeader {
                name: h.name,
                value: h.value,
            })
            .collect(),
        query_keys: d.query_keys,
        query_fingerprint_base64: d.query_fingerprint_base64.map(Some),
        body_sha256_base64: d.body_sha256_base64.map(Some),
    };
    let rules = state
        .api
        .cache
        .policy_rules_for_descriptor(tenant, &descriptor)
        .await?;
    Ok(Json(PolicyRuleListOut {
        items: rules.iter().cloned().map(PolicyRuleOut::from).collect(),
    }))
}

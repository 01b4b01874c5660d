//! `/v1/audit`: the caller's tenant's audit trail — the filtered, keyset-paged event query and
//! the verification of the tenant's hash chain. Both are reads: they write no audit event.

use axum::Json;
use axum::extract::State;
use brokerdb::audit::{self as trail, AuditEvent, BreakKind, ChainReport, VerifyOptions};
use brokerdb::model::{
    AuditDecision, AuditEventType, IntegrationId, NonEmptyString, PolicyRuleType, Timestamp,
    WorkloadId,
};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::audit_events::{self, AuditQueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::approvals::{DescriptorOut, RiskTierName};
use super::auth::Principal;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::ApiQuery;
use crate::app::AppState;

/// What an audit event records.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventTypeName {
    /// A workload session was issued.
    SessionIssued,
    /// An upstream call was executed.
    Execute,
    /// A policy decision.
    PolicyDecision,
    /// An approval was requested.
    ApprovalCreated,
    /// An approval was decided.
    ApprovalDecided,
    /// A violation.
    Violation,
    /// A throttled request.
    Throttle,
    /// A sandbox alert.
    SandboxAlert,
    /// An administrative change.
    AdminAction,
}

impl EventTypeName {
    fn of(t: AuditEventType) -> Self {
        match t {
            AuditEventType::SessionIssued => Self::SessionIssued,
            AuditEventType::Execute => Self::Execute,
            AuditEventType::PolicyDecision => Self::PolicyDecision,
            AuditEventType::ApprovalCreated => Self::ApprovalCreated,
            AuditEventType::ApprovalDecided => Self::ApprovalDecided,
            AuditEventType::Violation => Self::Violation,
            AuditEventType::Throttle => Self::Throttle,
            AuditEventType::SandboxAlert => Self::SandboxAlert,
            AuditEventType::AdminAction => Self::AdminAction,
        }
    }
}

/// A policy outcome.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionName {
    /// The request may proceed.
    Allowed,
    /// The request is refused.
    Denied,
    /// A human must approve first.
    ApprovalRequired,
    /// Rate-limited.
    Throttled,
}

impl DecisionName {
    fn of(d: AuditDecision) -> Self {
        match d {
            AuditDecision::Allowed => Self::Allowed,
            AuditDecision::Denied => Self::Denied,
            AuditDecision::ApprovalRequired => Self::ApprovalRequired,
            AuditDecision::Throttled => Self::Throttled,
        }
    }

    fn model(self) -> AuditDecision {
        match self {
            Self::Allowed => AuditDecision::Allowed,
            Self::Denied => AuditDecision::Denied,
            Self::ApprovalRequired => AuditDecision::ApprovalRequired,
            Self::Throttled => AuditDecision::Throttled,
        }
    }
}

/// A policy rule's type.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleTypeName {
    /// Allows matching requests.
    Allow,
    /// Denies matching requests.
    Deny,
    /// Requires a human approval.
    ApprovalRequired,
    /// Rate-limits matching requests.
    RateLimit,
}

impl RuleTypeName {
    fn of(r: PolicyRuleType) -> Self {
        match r {
            PolicyRuleType::Allow => Self::Allow,
            PolicyRuleType::Deny => Self::Deny,
            PolicyRuleType::ApprovalRequired => Self::ApprovalRequired,
            PolicyRuleType::RateLimit => Self::RateLimit,
        }
    }
}

/// Where a request went.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationOut {
    /// URL scheme.
    pub scheme: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Template path group.
    pub path_group: String,
}

/// The policy rule behind a decision.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRefOut {
    /// The matching rule's id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Its type.
    pub rule_type: RuleTypeName,
    /// The approval involved, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
}

/// One audit event of the caller's tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventOut {
    /// Unique id.
    pub event_id: String,
    /// When it happened (RFC 3339, milliseconds, UTC).
    pub timestamp: String,
    /// The tenant (the caller's).
    pub tenant_id: String,
    /// Trace id.
    pub correlation_id: String,
    /// Kind.
    pub event_type: EventTypeName,
    /// Workload involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_id: Option<String>,
    /// Integration involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<String>,
    /// Template path group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_group: Option<String>,
    /// Outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionName>,
    /// Risk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_tier: Option<RiskTierName>,
    /// Destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<DestinationOut>,
    /// Upstream latency in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<i32>,
    /// Upstream status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_status_code: Option<i32>,
    /// The request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canonical_descriptor: Option<DescriptorOut>,
    /// The rule behind the decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyRefOut>,
    /// Human-readable text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Free-form details as recorded (never secrets), e.g. `actor` and `action` of a change
    /// made through this API.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
}

impl From<AuditEvent> for AuditEventOut {
    fn from(e: AuditEvent) -> Self {
        Self {
            event_id: e.event_id.into_inner(),
            timestamp: e.timestamp.to_string(),
            tenant_id: e.tenant_id.into_inner(),
            correlation_id: e.correlation_id.as_str().to_owned(),
            event_type: EventTypeName::of(e.event_type),
            workload_id: e.workload_id.map(WorkloadId::into_inner),
            integration_id: e.integration_id.map(IntegrationId::into_inner),
            action_group: e.action_group,
            decision: e.decision.map(DecisionName::of),
            risk_tier: e.risk_tier.map(RiskTierName::of),
            destination: e.destination.map(|d| DestinationOut {
                scheme: d.scheme,
                host: d.host,
                port: d.port,
                path_group: d.path_group,
            }),
            latency_ms: e.latency_ms,
            upstream_status_code: e.upstream_status_code,
            canonical_descriptor: e.canonical_descriptor.map(DescriptorOut::from),
            policy: e.policy.map(|p| PolicyRefOut {
                rule_id: p.rule_id,
                rule_type: RuleTypeName::of(p.rule_type),
                approval_id: p.approval_id,
            }),
            message: e.message,
            metadata: e.metadata,
        }
    }
}

/// A keyset page of audit events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventPageOut {
    /// Newest first (`timestamp`, then `eventId`, descending).
    pub items: Vec<AuditEventOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Query parameters of `GET /v1/audit/events` (all optional, combined with AND; unknown ones
/// are refused).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditEventQuery {
    /// Events at or after this RFC 3339 date-time.
    pub time_min: Option<String>,
    /// Events at or before this RFC 3339 date-time.
    pub time_max: Option<String>,
    /// Only this workload's events.
    pub workload_id: Option<String>,
    /// Only this integration's events.
    pub integration_id: Option<String>,
    /// Only this template path group's events.
    pub action_group: Option<String>,
    /// Only events with this outcome.
    pub decision: Option<DecisionName>,
    /// Events per page, 1..=200 (default 100).
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

impl AuditEventQuery {
    fn filter(self) -> Result<AuditQueryFilter, ApiError> {
        let time_min = time("timeMin", self.time_min.as_deref())?;
        let time_max = time("timeMax", self.time_max.as_deref())?;
        if let (Some(min), Some(max)) = (time_min, time_max)
            && min > max
        {
            return Err(ApiError::invalid("timeMin", "must not be after timeMax"));
        }
        if self.cursor.as_ref().is_some_and(|c| c.len() > 1000) {
            return Err(ApiError::invalid("cursor", "is not a valid cursor"));
        }
        Ok(AuditQueryFilter {
            time_min,
            time_max,
            tenant_id: None,
            workload_id: self
                .workload_id
                .as_deref()
                .map(|w| WorkloadId::parse(w).map_err(|e| e.with_field("workloadId")))
                .transpose()?,
            integration_id: self
                .integration_id
                .as_deref()
                .map(|i| IntegrationId::parse(i).map_err(|e| e.with_field("integrationId")))
                .transpose()?,
            action_group: self
                .action_group
                .as_deref()
                .map(|a| NonEmptyString::new("actionGroup", a))
                .transpose()?,
            decision: self.decision.map(DecisionName::model),
            limit: self.limit,
            cursor: self.cursor,
        })
    }
}

/// The caller's tenant's audit events, newest first, filtered and keyset-paged (role
/// `auditor`). Writes no audit event.
#[utoipa::path(
    get,
    path = "/v1/audit/events",
    tag = "audit",
    params(AuditEventQuery),
    responses(
        (status = 200, description = "A page of events", body = AuditEventPageOut),
        (status = 400, description = "A parameter or the cursor is unknown or invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AuditEventQuery>,
) -> Result<Json<AuditEventPageOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let filter = query.filter()?;
    let page = audit_events::query(&mut state.db.tenant(tenant), &filter).await?;
    Ok(Json(AuditEventPageOut {
        items: page.items.into_iter().map(AuditEventOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// What is wrong where a chain stops being valid.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakKindName {
    /// A seal was deleted.
    SealMissing,
    /// The chain was rewritten.
    PrevHashMismatch,
    /// A sealed audit row was deleted.
    RowMissing,
    /// A sealed audit row was modified.
    RowModified,
    /// The chain differs from a signed checkpoint.
    CheckpointMismatch,
    /// The chain is shorter than a signed checkpoint.
    ShorterThanCheckpoint,
    /// A row is still unsealed after the maximum merge delay.
    SealOverdue,
    /// A row is unsealed although the sealer has passed it.
    PassedOver,
    /// A problem this version of the service has no name for (see `reason`).
    Other,
}

impl BreakKindName {
    fn of(k: BreakKind) -> Self {
        match k {
            BreakKind::SealMissing => Self::SealMissing,
            BreakKind::PrevHashMismatch => Self::PrevHashMismatch,
            BreakKind::RowMissing => Self::RowMissing,
            BreakKind::RowModified => Self::RowModified,
            BreakKind::CheckpointMismatch => Self::CheckpointMismatch,
            BreakKind::ShorterThanCheckpoint => Self::ShorterThanCheckpoint,
            BreakKind::SealOverdue => Self::SealOverdue,
            BreakKind::PassedOver => Self::PassedOver,
            _ => Self::Other,
        }
    }
}

/// The first place the chain stops being valid.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokenLinkOut {
    /// What is wrong.
    pub kind: BreakKindName,
    /// What that means, in words.
    pub reason: String,
    /// The chain position at fault, when the problem has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_seq: Option<i64>,
    /// The event where the problem was seen, when one is left to show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// The verification report of the caller's tenant's audit chain.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainReportOut {
    /// The tenant whose chain was walked (the caller's).
    pub tenant_id: String,
    /// True when every link and row checks out.
    pub intact: bool,
    /// Links checked: all of them when intact, those before the problem otherwise.
    pub links: u64,
    /// Signed checkpoints the walk matched (the service holds none: always 0).
    pub checkpoints: usize,
    /// The first problem; absent when intact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<BrokenLinkOut>,
}

impl ChainReportOut {
    fn of(tenant: &str, r: ChainReport) -> Self {
        Self {
            tenant_id: tenant.to_owned(),
            intact: r.is_valid(),
            links: r.links,
            checkpoints: r.checkpoints,
            first_broken: r.first_broken.map(|b| BrokenLinkOut {
                kind: BreakKindName::of(b.kind),
                reason: b.reason().to_owned(),
                chain_seq: b.chain_seq,
                event_id: b.event_id,
            }),
        }
    }
}

/// Chain walks `GET /v1/audit/verify` runs at once in one process (each reads a whole chain).
pub const VERIFY_AT_ONCE: usize = 2;

static VERIFYING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(VERIFY_AT_ONCE);

/// `GET /v1/audit/verify` takes no parameters: the chain is always the token's tenant's, so a
/// parameter (e.g. naming another tenant) is refused.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {}

/// Verifies the caller's tenant's audit chain, as `brokerdb audit verify --tenant` does (role
/// `auditor`): every link recomputed, every row sealed or unsealed for less than the maximum
/// merge delay (1 s). Without signed checkpoints: internal consistency only. Answers 200 with
/// the report whether or not the chain is intact. Writes no audit event. At most
/// [`VERIFY_AT_ONCE`] walks run at once per process; beyond, 503.
#[utoipa::path(
    get,
    path = "/v1/audit/verify",
    tag = "audit",
    responses(
        (status = 200, description = "The report: intact, or the first problem", body = ChainReportOut),
        (status = 400, description = "A query parameter was given", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(_query): ApiQuery<VerifyQuery>,
) -> Result<Json<ChainReportOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    // A walk reads the whole chain and is not cut off by the request timeout: at most
    // VERIFY_AT_ONCE run in this process, more are refused at once.
    let _walking = VERIFYING.try_acquire().map_err(|_| {
        ApiError::unavailable(
            "as many chain verifications as the service allows are running; retry later",
        )
    })?;
    // The system scope reads the seals, which the tenant role cannot; only the token's tenant
    // is walked.
    let report =
        trail::verify_tenant_chain(&state.db.system(), tenant, &VerifyOptions::default()).await?;
    Ok(Json(ChainReportOut::of(tenant.as_str(), report)))
}

//! `AuditEvent` (data-model §4.5), as the audit query cache stores it.

use brokerdb::model::{Timestamp, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{AuditDecision, CanonicalRequestDescriptor, RiskTier};
use crate::policy::PolicyRuleType;

/// `AuditEventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEventKind {
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

/// `{scheme, host, port, path_group}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditDestination {
    /// URL scheme.
    pub scheme: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i64,
    /// Path group.
    pub path_group: String,
}

/// `{rule_id?, rule_type, approval_id?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPolicyRef {
    /// Rule that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Its type.
    pub rule_type: PolicyRuleType,
    /// Approval involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
}

/// One audit event. Optional fields may be absent or `null` on input; both read as `None` and
/// are written absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Event id.
    pub event_id: String,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Tenant.
    pub tenant_id: String,
    /// Request trace id.
    pub correlation_id: String,
    /// Kind.
    pub event_type: AuditEventKind,
    /// Workload involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_id: Option<String>,
    /// Integration involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<String>,
    /// Action group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_group: Option<String>,
    /// Decision taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<AuditDecision>,
    /// Risk tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_tier: Option<RiskTier>,
    /// Upstream destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<AuditDestination>,
    /// Latency (≥ 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Upstream status (100..599).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_status_code: Option<u16>,
    /// The request's descriptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_descriptor: Option<CanonicalRequestDescriptor>,
    /// Policy that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<AuditPolicyRef>,
    /// Summary text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Free-form details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl AuditEvent {
    /// The value rules serde's shape cannot express.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self
            .upstream_status_code
            .is_some_and(|s| !(100..=599).contains(&s))
        {
            return Err(ValidationError::new(
                "upstream_status_code",
                "must be 100..599",
            ));
        }
        if let Some(d) = &self.canonical_descriptor {
            d.validate()
                .map_err(|e| e.with_field("canonical_descriptor"))?;
        }
        Ok(())
    }
}

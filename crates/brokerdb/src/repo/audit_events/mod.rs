//! AuditEventRepository: policy-decision events (appended with [`crate::audit::append`], the one
//! way into the audit trail), the SSRF decision projection, the keyset query and redaction
//! profiles. Tenant executors throughout.
//!
//! An append given a caller's transaction commits or rolls back with it, and its failure is
//! returned (never logged and ignored), so a change and its audit row are all or nothing.

mod query;
mod redaction;
mod ssrf;

pub use query::{AuditQueryFilter, QUERY_BY_WORKLOAD_SQL, query};
pub use redaction::{
    AuditRedactionProfile, AuditRedactionRules, RedactionAction, get_redaction_profile,
    upsert_redaction_profile,
};
pub use ssrf::{SsrfGuardDecisionProjection, append_ssrf_guard_decision};

pub(crate) use query::{checked_limit, cursor_position};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::audit::{self, AuditEvent, AuditPolicyRef};
use crate::db::{DbError, TenantExec};
use crate::model::{
    AuditDecision, AuditEventType, CanonicalRequestDescriptor, EventId, NonEmptyString,
    PolicyRuleType, RiskTier, Timestamp, ValidationError,
};

const REPO: &str = "audit_events";

/// The policy engine's verdict on one descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDecision {
    /// Outcome.
    pub decision: AuditDecision,
    /// Why (a stable code).
    pub reason_code: String,
    /// Template path group.
    pub action_group: String,
    /// Risk of the action.
    pub risk_tier: RiskTier,
    /// The matching rule, if any.
    pub policy_match: Option<PolicyMatch>,
    /// How the engine got there (free-form, no secrets).
    pub trace: Value,
}

/// The rule a decision matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyMatch {
    /// Its id.
    pub policy_id: Option<String>,
    /// Its type; without it the event records no policy.
    pub rule_type: Option<PolicyRuleType>,
}

/// Input of [`append_policy_decision`].
#[derive(Debug, Clone)]
pub struct PolicyDecisionEvent {
    /// The evaluated request; its tenant must be the scope's.
    pub descriptor: CanonicalRequestDescriptor,
    /// The verdict.
    pub decision: PolicyDecision,
    /// Trace id.
    pub correlation_id: NonEmptyString,
    /// When it was decided.
    pub timestamp: Timestamp,
    /// Unique event id.
    pub event_id: EventId,
}

impl PolicyDecisionEvent {
    /// The `policy_decision` audit event (the descriptor must be valid), as
    /// [`append_policy_decision`] describes it.
    pub fn to_event(&self) -> Result<AuditEvent, ValidationError> {
        let d = &self.descriptor;
        d.validate()?;
        let (tenant, workload, integration) = d.ids()?;
        let mut e = AuditEvent::new(
            self.event_id.clone(),
            self.timestamp,
            tenant,
            self.correlation_id.clone(),
            AuditEventType::PolicyDecision,
        );
        e.workload_id = Some(workload);
        e.integration_id = Some(integration);
        e.decision = Some(self.decision.decision);
        e.action_group = Some(self.decision.action_group.clone());
        e.risk_tier = Some(self.decision.risk_tier);
        e.canonical_descriptor = Some(d.clone());
        e.policy = self.decision.policy_match.as_ref().and_then(|m| {
            m.rule_type.map(|rule_type| AuditPolicyRef {
                rule_id: m.policy_id.clone(),
                rule_type,
                approval_id: None,
            })
        });
        let mut metadata = Map::new();
        metadata.insert(
            "reason_code".into(),
            self.decision.reason_code.clone().into(),
        );
        metadata.insert("trace".into(), self.decision.trace.clone());
        e.metadata = Some(metadata);
        Ok(e)
    }
}

/// Appends the `policy_decision` event for `input`: tenant, workload and
/// integration from the descriptor; decision, action group and risk from the verdict; the rule
/// as `policy` when the match names a rule type; `metadata = {reason_code, trace}`; appended
/// with [`audit::append`].
pub async fn append_policy_decision(
    exec: &mut impl TenantExec,
    input: &PolicyDecisionEvent,
) -> Result<(), DbError> {
    audit::append(exec, &input.to_event()?).await
}

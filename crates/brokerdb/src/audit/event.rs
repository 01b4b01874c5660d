//! The `AuditEvent` contract, what `audit_events.event_json` holds.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::model::{
    AuditDecision, AuditEventType, CanonicalRequestDescriptor, EventId, IntegrationId,
    NonEmptyString, PolicyRuleType, RiskTier, TenantId, Timestamp, ValidationError, WorkloadId,
};

/// Where a request went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditDestination {
    /// URL scheme.
    pub scheme: String,
    /// Host.
    pub host: String,
    /// Port.
    #[serde(deserialize_with = "crate::model::json_integer")]
    pub port: i32,
    /// Template path group.
    pub path_group: String,
}

/// The policy rule behind a decision. `rule_id` and `approval_id` are written as `null` when
/// absent (the shape of the `policy_decision` event other services read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPolicyRef {
    /// The matching rule's id.
    #[serde(default)]
    pub rule_id: Option<String>,
    /// Its type.
    pub rule_type: PolicyRuleType,
    /// The approval involved.
    #[serde(default)]
    pub approval_id: Option<String>,
}

/// One tenant audit event. Optional fields that are absent or `null` are stored absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Unique across all tenants; a repeat is `unique_violation` (appends are not idempotent).
    pub event_id: EventId,
    /// When it happened (caller-supplied).
    pub timestamp: Timestamp,
    /// Must be the scope's tenant.
    pub tenant_id: TenantId,
    /// Trace id.
    pub correlation_id: NonEmptyString,
    /// Kind.
    pub event_type: AuditEventType,
    /// Workload involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_id: Option<WorkloadId>,
    /// Integration involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<IntegrationId>,
    /// Template path group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_group: Option<String>,
    /// Outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<AuditDecision>,
    /// Risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_tier: Option<RiskTier>,
    /// Destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<AuditDestination>,
    /// Upstream latency, ≥ 0.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_integer"
    )]
    pub latency_ms: Option<i32>,
    /// Upstream status, 100..=599.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_integer"
    )]
    pub upstream_status_code: Option<i32>,
    /// The request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_descriptor: Option<CanonicalRequestDescriptor>,
    /// The rule behind the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<AuditPolicyRef>,
    /// Human-readable text (no secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Free-form details (no secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

fn opt_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    #[derive(Deserialize)]
    struct Int(#[serde(deserialize_with = "crate::model::json_integer")] i32);
    Ok(Option::<Int>::deserialize(d)?.map(|i| i.0))
}

impl AuditEvent {
    /// An event with only the required fields.
    pub fn new(
        event_id: EventId,
        timestamp: Timestamp,
        tenant_id: TenantId,
        correlation_id: NonEmptyString,
        event_type: AuditEventType,
    ) -> Self {
        Self {
            event_id,
            timestamp,
            tenant_id,
            correlation_id,
            event_type,
            workload_id: None,
            integration_id: None,
            action_group: None,
            decision: None,
            risk_tier: None,
            destination: None,
            latency_ms: None,
            upstream_status_code: None,
            canonical_descriptor: None,
            policy: None,
            message: None,
            metadata: None,
        }
    }

    /// An event of `event_type` for `tenant_id` happening now, with a generated id
    /// (`evt_<32 hex>`) and no details: what a repository writes about its own changes.
    pub fn generated(
        tenant_id: TenantId,
        event_type: AuditEventType,
        correlation_id: NonEmptyString,
    ) -> Self {
        Self::new(
            EventId::generate(),
            Timestamp::now(),
            tenant_id,
            correlation_id,
            event_type,
        )
    }

    /// Parses a strict event from JSON and checks its rules.
    pub fn from_json(value: Value) -> Result<Self, ValidationError> {
        let e: Self = serde_json::from_value(value)
            .map_err(|_| ValidationError::new("event", "does not match the AuditEvent contract"))?;
        e.validate()?;
        Ok(e)
    }

    /// The rules the types cannot express.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.latency_ms.is_some_and(|l| l < 0) {
            return Err(ValidationError::new("latency_ms", "must be an integer ≥ 0"));
        }
        if self
            .upstream_status_code
            .is_some_and(|c| !(100..=599).contains(&c))
        {
            return Err(ValidationError::new(
                "upstream_status_code",
                "must be an integer from 100 to 599",
            ));
        }
        if let Some(d) = &self.canonical_descriptor {
            d.validate()?;
        }
        Ok(())
    }

    /// The snapshot stored in `event_json`.
    pub fn to_json(&self) -> Result<Value, ValidationError> {
        serde_json::to_value(self)
            .map_err(|_| ValidationError::new("event", "cannot be serialized"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({"event_id": "evt_1", "timestamp": "2026-01-02T01:00:00+01:00", "tenant_id": "t_1",
            "correlation_id": "c", "event_type": "execute"})
    }

    #[test]
    fn nulls_and_absent_fields_are_stored_absent() -> Result<(), ValidationError> {
        let mut v = minimal();
        v["workload_id"] = json!(null);
        v["latency_ms"] = json!(12.0);
        let e = AuditEvent::from_json(v)?;
        assert_eq!(
            e.to_json()?,
            json!({"event_id": "evt_1", "timestamp": "2026-01-02T00:00:00.000Z", "tenant_id": "t_1",
                "correlation_id": "c", "event_type": "execute", "latency_ms": 12})
        );
        Ok(())
    }

    #[test]
    fn out_of_contract_events_are_rejected() {
        for (key, value) in [
            ("latency_ms", json!(-1)),
            ("upstream_status_code", json!(600)),
            ("upstream_status_code", json!(99)),
            ("event_type", json!("login")),
            ("decision", json!("maybe")),
            ("destination", json!({"scheme": "https"})),
            ("policy", json!({"rule_id": "p"})),
            ("unknown", json!(1)),
            ("timestamp", json!("yesterday")),
            ("event_id", json!(" ")),
        ] {
            let mut v = minimal();
            v[key] = value.clone();
            assert!(AuditEvent::from_json(v).is_err(), "{key} = {value}");
        }
    }
}

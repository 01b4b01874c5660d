//! The SSRF guard decision projection: idempotent by `event_id`.
//!
//! Insert-if-absent (`ON CONFLICT (event_id) DO NOTHING`) followed by a read and a compare,
//! so a repeat never raises inside the caller's transaction (the original inserted and caught
//! the unique violation, which aborts a PostgreSQL transaction).

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::REPO;
use crate::db::{DbError, TenantExec};
use crate::model::{
    AuditDecision, EventId, IpOrCidr, SsrfReasonCode, TenantId, Timestamp, ValidationError,
};

macro_rules! cols {
    () => {
        "event_id, \"timestamp\", tenant_id, workload_id, integration_id, template_id, template_version, \
         destination_host, destination_port, resolved_ips, decision::text, reason_code, correlation_id"
    };
}
const INSERT: &str = concat!(
    "INSERT INTO ssrf_guard_decisions (event_id, \"timestamp\", tenant_id, workload_id, integration_id, \
     template_id, template_version, destination_host, destination_port, resolved_ips, decision, reason_code, \
     correlation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::audit_decision, $12, $13) \
     ON CONFLICT (event_id) DO NOTHING RETURNING ",
    cols!()
);
const BY_EVENT: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM ssrf_guard_decisions WHERE event_id = $1"
);

/// One SSRF guard decision, projected for security analytics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsrfGuardDecisionProjection {
    /// Idempotency key.
    pub event_id: EventId,
    /// When it was decided.
    pub timestamp: Timestamp,
    /// Must be the scope's tenant.
    pub tenant_id: TenantId,
    /// Non-empty.
    pub workload_id: String,
    /// Non-empty.
    pub integration_id: String,
    /// Non-empty.
    pub template_id: String,
    /// ≥ 1.
    #[serde(deserialize_with = "crate::model::json_integer")]
    pub template_version: i32,
    /// Non-empty; stored as given.
    pub destination_host: String,
    /// 1..=65535.
    #[serde(deserialize_with = "crate::model::json_integer")]
    pub destination_port: i32,
    /// 1..=32 IP literals, trimmed; order matters for idempotency.
    pub resolved_ips: Vec<String>,
    /// `allowed` or `denied`.
    pub decision: AuditDecision,
    /// One of the 18 SSRF reason codes.
    pub reason_code: SsrfReasonCode,
    /// Non-empty.
    pub correlation_id: String,
}

fn non_empty(field: &'static str, s: &str) -> Result<(), ValidationError> {
    if s.is_empty() {
        Err(ValidationError::new(field, "cannot be empty"))
    } else {
        Ok(())
    }
}

impl SsrfGuardDecisionProjection {
    /// Checks the contract and returns the projection with its IPs trimmed.
    pub fn validated(&self) -> Result<Self, ValidationError> {
        for (field, value) in [
            ("workload_id", &self.workload_id),
            ("integration_id", &self.integration_id),
            ("template_id", &self.template_id),
            ("destination_host", &self.destination_host),
            ("correlation_id", &self.correlation_id),
        ] {
            non_empty(field, value)?;
        }
        if self.template_version < 1 {
            return Err(ValidationError::new(
                "template_version",
                "must be an integer ≥ 1",
            ));
        }
        if !(1..=65535).contains(&self.destination_port) {
            return Err(ValidationError::new(
                "destination_port",
                "must be an integer from 1 to 65535",
            ));
        }
        if !matches!(
            self.decision,
            AuditDecision::Allowed | AuditDecision::Denied
        ) {
            return Err(ValidationError::new(
                "decision",
                "must be allowed or denied",
            ));
        }
        if !(1..=32).contains(&self.resolved_ips.len()) {
            return Err(ValidationError::new(
                "resolved_ips",
                "must hold 1 to 32 addresses",
            ));
        }
        let resolved_ips = self
            .resolved_ips
            .iter()
            .enumerate()
            .map(|(i, ip)| match IpOrCidr::parse(ip) {
                Ok(parsed) if parsed.prefix().is_none() => Ok(parsed.as_str().to_owned()),
                _ => Err(ValidationError::new(
                    format!("resolved_ips[{i}]"),
                    "must be an IP address",
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            resolved_ips,
            ..self.clone()
        })
    }
}

fn from_row(row: &Row) -> Result<SsrfGuardDecisionProjection, DbError> {
    let unexpected = || DbError::Unexpected {
        message: "stored SSRF decision violates its contract".into(),
    };
    let decision: String = row.try_get(10)?;
    let reason: String = row.try_get(11)?;
    Ok(SsrfGuardDecisionProjection {
        event_id: row.try_get(0)?,
        timestamp: row.try_get(1)?,
        tenant_id: row.try_get(2)?,
        workload_id: row.try_get(3)?,
        integration_id: row.try_get(4)?,
        template_id: row.try_get(5)?,
        template_version: row.try_get(6)?,
        destination_host: row.try_get(7)?,
        destination_port: row.try_get(8)?,
        resolved_ips: row.try_get(9)?,
        decision: AuditDecision::parse(&decision).map_err(|_| unexpected())?,
        reason_code: SsrfReasonCode::parse(&reason).map_err(|_| unexpected())?,
        correlation_id: row.try_get(12)?,
    })
}

/// Records `projection` once per `event_id` and returns the stored row.
///
/// A repeat with identical content (every field; `timestamp` as an instant; `resolved_ips`
/// element-wise in order) returns the stored projection; different content → `conflict`. An
/// `event_id` already used by another tenant is also `conflict` (the original reported
/// `unexpected_error`: under row-level security that row is invisible, and it cannot be the
/// same projection). Unknown tenant → `integrity_violation`. Never aborts the caller's
/// transaction on a repeat (insert-if-absent, then read).
pub async fn append_ssrf_guard_decision(
    exec: &mut impl TenantExec,
    projection: &SsrfGuardDecisionProjection,
) -> Result<SsrfGuardDecisionProjection, DbError> {
    let p = projection.validated()?;
    if p.tenant_id != *exec.tenant_id() {
        return Err(ValidationError::new("tenant_id", "does not match the tenant scope").into());
    }
    let (decision, reason) = (p.decision.as_str(), p.reason_code.as_str());
    let inserted = exec
        .op(REPO, "append_ssrf_guard_decision")
        .query_opt(
            INSERT,
            &[
                &p.event_id,
                &p.timestamp,
                &p.tenant_id,
                &p.workload_id,
                &p.integration_id,
                &p.template_id,
                &p.template_version,
                &p.destination_host,
                &p.destination_port,
                &p.resolved_ips,
                &decision,
                &reason,
                &p.correlation_id,
            ],
            from_row,
        )
        .await?;
    if let Some(stored) = inserted {
        return Ok(stored);
    }
    // A repeat: the stored row decides between "the same decision" and a conflict.
    let stored = exec
        .op(REPO, "get_ssrf_guard_decision")
        .query_opt(BY_EVENT, &[&p.event_id], from_row)
        .await?;
    match stored {
        Some(stored) if stored == p => Ok(stored),
        _ => Err(DbError::Conflict {
            message: "an SSRF decision with this event_id but different content exists".into(),
        }),
    }
}

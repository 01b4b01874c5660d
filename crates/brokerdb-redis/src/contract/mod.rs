//! JSON contracts the adapters store or validate (data-model §4) that the `brokerdb` crate does
//! not define yet: the canonical request descriptor and its hash, audit events, and the small
//! enums they use. Strict: unknown fields are rejected.
//!
//! The approvals and audit repositories (issue 6) define their own descriptor and audit event
//! types; once they land, these should become re-exports of those.

mod audit_event;
mod descriptor;

use serde::{Deserialize, Serialize};

pub use audit_event::{AuditDestination, AuditEvent, AuditEventKind, AuditPolicyRef};
pub use descriptor::{CanonicalRequestDescriptor, NormalizedHeader};

/// `ApprovalStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved, not yet executed.
    Approved,
    /// Denied.
    Denied,
    /// Expired before a decision.
    Expired,
    /// Approved and executed.
    Executed,
    /// Withdrawn.
    Canceled,
}

/// `RiskTier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskTier {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

/// `AuditDecision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditDecision {
    /// Allowed.
    Allowed,
    /// Denied.
    Denied,
    /// Needs approval.
    ApprovalRequired,
    /// Rate-limited.
    Throttled,
}

impl AuditDecision {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::ApprovalRequired => "approval_required",
            Self::Throttled => "throttled",
        }
    }
}

/// Accepts a present JSON value (including `null`) as `Some(..)`; with `#[serde(default)]` an
/// absent field stays `None`. Keeps "absent" and "null" apart where a hash depends on it.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

//! The `ApprovalRequest` contract and its value rules.

use serde::{Deserialize, Serialize};

use crate::db::DbError;
use crate::model::{
    ApprovalId, ApprovalStatus, CanonicalRequestDescriptor, HttpMethod, NonEmptyString, PolicyHost,
    RiskTier, Timestamp, ValidationError,
};

/// What a human is asked to approve, as shown to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSummary {
    /// Must equal the descriptor's integration.
    pub integration_id: String,
    /// The template path group.
    pub action_group: String,
    /// Risk of the action.
    pub risk_tier: RiskTier,
    /// Destination host (stored normalized in the `destination_host` column).
    pub destination_host: String,
    /// HTTP method (stored normalized in the `method` column).
    pub method: String,
    /// Request path.
    pub path: String,
}

/// One approval request. Reads come from its stored snapshot, whose `status` is kept in sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// Business id (`apr_<32 hex>` when generated).
    pub approval_id: ApprovalId,
    /// Lifecycle state.
    pub status: ApprovalStatus,
    /// After this instant a pending approval no longer counts as open.
    pub expires_at: Timestamp,
    /// Trace id of the request that asked.
    pub correlation_id: NonEmptyString,
    /// Human-readable summary.
    pub summary: ApprovalSummary,
    /// The request being approved; its hash is the dedupe key.
    pub canonical_descriptor: CanonicalRequestDescriptor,
}

/// The normalized column values a valid approval is stored with.
pub(super) struct Columns {
    pub hash: String,
    pub host: PolicyHost,
    pub method: HttpMethod,
    pub snapshot: serde_json::Value,
}

impl ApprovalRequest {
    /// Parses a strict approval from JSON and checks its rules.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ValidationError> {
        let a: Self = serde_json::from_value(value).map_err(|_| {
            ValidationError::new("approval", "does not match the ApprovalRequest contract")
        })?;
        a.columns()?;
        Ok(a)
    }

    /// Checks the rules and derives the stored columns: descriptor valid, summary integration =
    /// descriptor integration, host and method normalizable.
    pub(super) fn columns(&self) -> Result<Columns, ValidationError> {
        let d = &self.canonical_descriptor;
        d.validate()?;
        d.ids()?;
        if self.summary.integration_id != d.integration_id.as_str() {
            return Err(ValidationError::new(
                "summary.integration_id",
                "must equal canonical_descriptor.integration_id",
            ));
        }
        let host = PolicyHost::parse(&self.summary.destination_host)
            .map_err(|e| e.with_field("summary.destination_host"))?;
        let method =
            HttpMethod::parse(&self.summary.method).map_err(|e| e.with_field("summary.method"))?;
        let snapshot = serde_json::to_value(self)
            .map_err(|_| ValidationError::new("approval", "cannot be serialized"))?;
        Ok(Columns {
            hash: d.sha256(),
            host,
            method,
            snapshot,
        })
    }
}

/// Maps a stored snapshot back, failing `unexpected_error` if it breaks the contract.
pub(super) fn from_snapshot(row: &tokio_postgres::Row) -> Result<ApprovalRequest, DbError> {
    let json: serde_json::Value = row.try_get(0)?;
    serde_json::from_value::<ApprovalRequest>(json)
        .ok()
        .filter(|a| a.canonical_descriptor.validate().is_ok())
        .ok_or(DbError::Unexpected {
            message: "stored approval violates its contract".into(),
        })
}

//! The idempotency record and the outcomes of its operations.

use brokerdb::model::{Timestamp, trim};
use serde::{Deserialize, Serialize};

/// Largest `response_bytes` accepted: the server-side update re-encodes numbers with 14
/// significant digits, so larger values would lose precision.
pub const MAX_RESPONSE_BYTES: u64 = 99_999_999_999_999;

/// Where a record is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdempotencyState {
    /// Created; the request is running.
    InProgress,
    /// Finished with an upstream response.
    Completed,
    /// Finished with an error.
    Failed,
}

/// The stored record (readers never depend on its JSON key order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyRecord {
    /// Current state.
    pub state: IdempotencyState,
    /// Fingerprint of the request (trimmed, ≥ 32 characters).
    pub request_fingerprint_sha256: String,
    /// Trace id of the creating request (≥ 1 character).
    pub correlation_id: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// `expires_at` in epoch ms (≥ 1), used to re-derive a lost TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_epoch_ms: Option<i64>,
    /// Completed: the upstream status (100..599).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_status_code: Option<u16>,
    /// Completed: response size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_bytes: Option<u64>,
    /// Failed: why (≥ 1 character).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

impl IdempotencyRecord {
    pub(super) fn is_valid(&self) -> bool {
        trim(&self.request_fingerprint_sha256).chars().count() >= 32
            && !self.correlation_id.is_empty()
            && self.expires_at_epoch_ms.is_none_or(|ms| ms >= 1)
            && self
                .upstream_status_code
                .is_none_or(|s| (100..=599).contains(&s))
            && self
                .error_code
                .as_deref()
                .is_none_or(|e| !trim(e).is_empty())
    }

    pub(super) fn parse(raw: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(raw)
            .ok()
            .filter(Self::is_valid)
    }
}

/// Why a create did not create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdempotencyConflict {
    /// A record for this request exists already (any state).
    KeyExists,
    /// A record exists for a different request under the same idempotency key.
    FingerprintMismatch,
}

/// The outcome of a create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotencyCreate {
    /// This caller created the record and should run the request.
    Created,
    /// Someone else did (read it with `get_idempotency_record`).
    Conflict(IdempotencyConflict),
}

impl IdempotencyCreate {
    /// True for [`IdempotencyCreate::Created`].
    pub fn created(self) -> bool {
        self == Self::Created
    }
}

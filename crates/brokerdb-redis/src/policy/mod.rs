//! Policy-engine adapters: the rate-limit store (spec §3) and the invalidation bus (spec §4).
//!
//! Keys (prefix default `broker:pe:`): `rl:v1:<key>`; channel `invalidation:v1`.

mod invalidation;
mod rate_limit;

use serde::{Deserialize, Serialize};

pub use invalidation::{PolicyEntityType, PolicyInvalidationBus, PolicyInvalidationEvent};
pub use rate_limit::{PolicyRateLimitStore, RateLimit, RateLimitRule};

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "broker:pe:";

/// `PolicyRuleType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyRuleType {
    /// Allow the request.
    Allow,
    /// Deny the request.
    Deny,
    /// Ask a human first.
    ApprovalRequired,
    /// Count the request against a limit.
    RateLimit,
}

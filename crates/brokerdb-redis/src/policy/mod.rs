//! Policy-engine adapters: the rate-limit store and the invalidation bus.
//!
//! Keys (prefix default `broker:pe:`): `rl:v2:<key>` (the caller's key percent-encoded as one
//! part, crate docs); channel `invalidation:v1`.

mod invalidation;
pub(crate) mod rate_limit;

/// The rule type a [`RateLimitRule`] carries (the `brokerdb` model enum, re-exported).
pub use brokerdb::model::PolicyRuleType;
pub use invalidation::{PolicyEntityType, PolicyInvalidationBus, PolicyInvalidationEvent};
pub use rate_limit::{PolicyRateLimitStore, RateLimit, RateLimitRule};

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "broker:pe:";

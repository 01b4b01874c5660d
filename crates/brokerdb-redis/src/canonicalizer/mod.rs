//! Canonicalizer caches: template versions, approve-once decisions, and per-route rate
//! limits.
//!
//! Keys (prefix default `broker:canon:`; every part percent-encoded, the tenant a hash tag —
//! crate docs): `template:v2:{<tenant>}:<template>:<version>`,
//! `approval-once:v2:{<tenant>}:<workload>:<integration>:<descriptor_hash>`,
//! `route-rl:v2:{<tenant>}:<workload>:<integration>:<action_group>:<METHOD>:<host>`. Every cache
//! key is fully determined by what an invalidation carries, so busting is one DEL
//! ([`CanonicalizerCache::invalidate_template_cache`],
//! [`CanonicalizerCache::invalidate_approval_once_cache`]): no SCAN and no generation counter.

pub(crate) mod approval_once;
pub(crate) mod rate_limit;
pub(crate) mod template;

use crate::support::{Clock, normalize_prefix, system_clock};
use crate::{AdapterError, RedisConn};

pub use approval_once::ApprovalOnceEntry;
pub use rate_limit::RouteRateLimit;

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "broker:canon:";
/// Default template cache TTL (seconds).
pub const DEFAULT_TEMPLATE_TTL_SECONDS: u64 = 300;

/// Options of [`CanonicalizerCache::new`].
#[derive(Clone)]
pub struct CanonicalizerOptions {
    /// Key prefix (trimmed; empty → `broker:canon:`; `:` appended).
    pub key_prefix: Option<String>,
    /// TTL of cached templates in seconds (≥ 1; default 300).
    pub template_cache_ttl_seconds: u64,
    /// Clock for rate-limit `reset_at` (default: wall clock; the reference could not inject it).
    pub now: Option<Clock>,
}

impl Default for CanonicalizerOptions {
    fn default() -> Self {
        Self {
            key_prefix: None,
            template_cache_ttl_seconds: DEFAULT_TEMPLATE_TTL_SECONDS,
            now: None,
        }
    }
}

/// The canonicalizer's Redis caches.
#[derive(Clone)]
pub struct CanonicalizerCache {
    conn: RedisConn,
    prefix: String,
    template_ttl: u64,
    now: Clock,
}

impl CanonicalizerCache {
    /// Caches over `conn`; a template TTL of 0 → `validation_error`.
    pub fn new(conn: RedisConn, options: CanonicalizerOptions) -> Result<Self, AdapterError> {
        if options.template_cache_ttl_seconds == 0 {
            return Err(AdapterError::invalid(
                "template_cache_ttl_seconds",
                "must be a positive integer",
            ));
        }
        Ok(Self {
            prefix: normalize_prefix(options.key_prefix.as_deref(), DEFAULT_PREFIX),
            template_ttl: options.template_cache_ttl_seconds,
            now: options.now.unwrap_or_else(system_clock),
            conn,
        })
    }
}

//! Audit query cache (spec §7): cached `queryAuditEvents` results per tenant and filter, and
//! generic JSON helpers.
//!
//! Keys (prefix default empty): `<p>audit:{<tenant>}:gen` holds the tenant's cache generation
//! (random); entries live at `<p>audit:{<tenant>}:query:<generation>:<sha256(filter)>`. Busting a
//! tenant replaces the generation — one SET, O(1), where the reference SCANned the whole
//! keyspace — and the old entries expire on their own. The braces are a hash tag: the reading
//! script touches the generation and the entry, which must share a cluster slot.

mod filter;
mod query;
mod raw;

use brokerdb::model::trimmed_non_empty;

use crate::support::normalize_prefix;
use crate::{AdapterError, RedisConn};

pub use filter::AuditCacheFilter;

/// Default cache TTL (seconds).
pub const DEFAULT_TTL_SECONDS: u64 = 30;
/// Default TTL jitter (seconds).
pub const DEFAULT_JITTER_SECONDS: u64 = 5;
/// Default SCAN batch of `delete_by_prefix`.
pub const DEFAULT_SCAN_COUNT: u64 = 100;

/// Options of [`AuditCache::new`].
#[derive(Debug, Clone)]
pub struct AuditCacheOptions {
    /// Key prefix (trimmed; `:` appended; default none).
    pub key_prefix: Option<String>,
    /// Base TTL of cached queries (≥ 1; checked when used).
    pub cache_ttl_seconds: u64,
    /// Up to this many seconds are added at random to each TTL, spreading expiries.
    pub ttl_jitter_seconds: u64,
    /// Keys per SCAN step of `delete_by_prefix` (≥ 1; checked when used).
    pub scan_count: u64,
}

impl Default for AuditCacheOptions {
    fn default() -> Self {
        Self {
            key_prefix: None,
            cache_ttl_seconds: DEFAULT_TTL_SECONDS,
            ttl_jitter_seconds: DEFAULT_JITTER_SECONDS,
            scan_count: DEFAULT_SCAN_COUNT,
        }
    }
}

/// The audit query cache.
#[derive(Clone)]
pub struct AuditCache {
    conn: RedisConn,
    prefix: String,
    options: AuditCacheOptions,
}

impl AuditCache {
    /// A cache over `conn`.
    pub fn new(conn: RedisConn, options: AuditCacheOptions) -> Self {
        Self {
            prefix: normalize_prefix(options.key_prefix.as_deref(), ""),
            conn,
            options,
        }
    }

    fn tenant_base(&self, tenant_id: &str) -> Result<String, AdapterError> {
        let tenant = trimmed_non_empty("tenant_id", tenant_id)?;
        Ok(format!("{}audit:{{{tenant}}}:", self.prefix))
    }

    fn generation_key(&self, tenant_id: &str) -> Result<String, AdapterError> {
        Ok(format!("{}gen", self.tenant_base(tenant_id)?))
    }

    /// The prefix of every entry of `tenant_id` (`<p>audit:{<tenant>}:query:`).
    pub fn tenant_prefix(&self, tenant_id: &str) -> Result<String, AdapterError> {
        Ok(format!("{}query:", self.tenant_base(tenant_id)?))
    }

    /// The key of one cached query under `generation`.
    pub fn query_key(
        &self,
        tenant_id: &str,
        generation: &str,
        filter: &AuditCacheFilter,
    ) -> Result<String, AdapterError> {
        Ok(format!(
            "{}{generation}:{}",
            self.tenant_prefix(tenant_id)?,
            filter.query_hash()
        ))
    }

    fn ttl(&self, ttl_seconds: Option<u64>) -> Result<u64, AdapterError> {
        let base = ttl_seconds.unwrap_or(self.options.cache_ttl_seconds);
        if base == 0 {
            return Err(AdapterError::invalid(
                "ttl_seconds",
                "must be a positive integer",
            ));
        }
        let jitter = match self.options.ttl_jitter_seconds {
            0 => 0,
            j => rand::random_range(0..=j),
        };
        Ok(base.saturating_add(jitter))
    }
}

fn fresh_generation() -> String {
    format!("{:016x}", rand::random::<u64>())
}

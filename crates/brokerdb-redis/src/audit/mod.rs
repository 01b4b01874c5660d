//! Audit query cache: cached results of the audit query (`brokerdb::repo::audit_events::query`)
//! per tenant and filter, and generic JSON helpers.
//!
//! Keys (prefix default empty; the tenant percent-encoded, crate docs):
//! `<p>audit-gen:v2:{<tenant>}` holds the tenant's cache generation (16 random lower-case hex
//! digits); entries live at
//! `<p>audit-query:v2:{<tenant>}:<generation>:<sha256(filter)>`. Busting a tenant replaces the
//! generation — one SET, O(1), where the reference SCANned the whole keyspace — and the old
//! entries expire on their own. The braces are a hash tag: the reading script touches the
//! generation and the entry, which must share a cluster slot (a slot depends only on the text
//! between the braces, which both keys share).

mod filter;
mod query;
mod raw;

use brokerdb::model::TenantId;

use crate::keys::layouts::{AUDIT_GENERATION, AUDIT_QUERY};
use crate::support::normalize_prefix;
use crate::{AdapterError, RedisConn};

pub use filter::AuditCacheFilter;

/// Default cache TTL (seconds).
pub const DEFAULT_TTL_SECONDS: u64 = 30;
/// Default TTL jitter (seconds).
pub const DEFAULT_JITTER_SECONDS: u64 = 5;
/// Default SCAN batch of `delete_by_prefix`.
pub const DEFAULT_SCAN_COUNT: u64 = 100;

/// `<p>audit-gen:v2:{<tenant>}`; the tenant by its id rule, else `validation_error`.
pub(crate) fn generation_key(prefix: &str, tenant_id: &str) -> Result<String, AdapterError> {
    let tenant = TenantId::parse(tenant_id)?;
    Ok(AUDIT_GENERATION.key(prefix, [tenant.as_str()]))
}

/// `<p>audit-query:v2:{<tenant>}:`, what every entry key of the tenant starts with.
pub(crate) fn tenant_prefix(prefix: &str, tenant_id: &str) -> Result<String, AdapterError> {
    let tenant = TenantId::parse(tenant_id)?;
    Ok(AUDIT_QUERY.tenant_prefix(prefix, tenant.as_str()))
}

/// `<p>audit-query:v2:{<tenant>}:<generation>:<filter hash>`. The generation scripts read from
/// Redis and append to [`tenant_prefix`] is the crate's own lower-case hex, which encodes to
/// itself, so this is the key they address.
pub(crate) fn query_key(
    prefix: &str,
    tenant_id: &str,
    generation: &str,
    filter: &AuditCacheFilter,
) -> Result<String, AdapterError> {
    let tenant = TenantId::parse(tenant_id)?;
    Ok(AUDIT_QUERY.key(prefix, [tenant.as_str(), generation, &filter.query_hash()]))
}

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

    fn generation_key(&self, tenant_id: &str) -> Result<String, AdapterError> {
        generation_key(&self.prefix, tenant_id)
    }

    /// The prefix of every entry of `tenant_id` (`<p>audit-query:v2:{<tenant>}:`); the tenant
    /// by its id rule (trimmed, 1..128 of `[A-Za-z0-9._-]`), else `validation_error`.
    pub fn tenant_prefix(&self, tenant_id: &str) -> Result<String, AdapterError> {
        tenant_prefix(&self.prefix, tenant_id)
    }

    /// The key of one cached query under `generation`
    /// (`<p>audit-query:v2:{<tenant>}:<generation>:<filter hash>`, parts percent-encoded).
    pub fn query_key(
        &self,
        tenant_id: &str,
        generation: &str,
        filter: &AuditCacheFilter,
    ) -> Result<String, AdapterError> {
        query_key(&self.prefix, tenant_id, generation, filter)
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

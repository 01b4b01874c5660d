//! SSRF guard adapters: the DNS resolution cache with compare-and-set, the DNS
//! rebinding history, and the template invalidation signal.
//!
//! Keys (prefix default `broker:ssrf:`): `dns:v2:<host>`, `dns-history:v2:<host>`; channel
//! `invalidation:v1`. Hosts are SSRF-normalized first, then percent-encoded (crate docs; an IPv6
//! literal's `:` becomes `%3A`).

mod dns;
mod history;
mod host;
mod signal;

use crate::keys::Layout;
use crate::keys::layouts::{DNS, DNS_HISTORY};
use crate::support::normalize_prefix;
use crate::{AdapterError, RedisConn};

pub use dns::{DnsCacheUpsert, DnsResolutionCacheEntry, DnsUpsertOutcome};
pub use history::DnsRebindingObservation;
pub use host::{denylist_class, normalize_host};

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "broker:ssrf:";
/// Default TTL of the rebinding history (seconds), refreshed on every append.
pub const DEFAULT_HISTORY_TTL_SECONDS: u64 = 86_400;
/// Default number of observations kept per host.
pub const DEFAULT_HISTORY_MAX_ENTRIES: u64 = 100;

/// `<prefix>dns:v2:<host>`, the host SSRF-normalized (invalid → `validation_error`).
pub(crate) fn dns_key(prefix: &str, host: &str) -> Result<String, AdapterError> {
    host_key(DNS, prefix, host)
}

/// `<prefix>dns-history:v2:<host>`, the host SSRF-normalized (invalid → `validation_error`).
pub(crate) fn history_key(prefix: &str, host: &str) -> Result<String, AdapterError> {
    host_key(DNS_HISTORY, prefix, host)
}

fn host_key(layout: Layout<1>, prefix: &str, host: &str) -> Result<String, AdapterError> {
    Ok(layout.key(prefix, [&normalize_host(host)?]))
}

/// Options of [`SsrfGuardStore::new`].
#[derive(Debug, Clone)]
pub struct SsrfGuardOptions {
    /// Key prefix (trimmed; empty → `broker:ssrf:`; `:` appended).
    pub key_prefix: Option<String>,
    /// History TTL in seconds (≥ 1).
    pub dns_history_ttl_seconds: u64,
    /// Observations kept per host (≥ 1); the oldest go first.
    pub dns_history_max_entries: u64,
}

impl Default for SsrfGuardOptions {
    fn default() -> Self {
        Self {
            key_prefix: None,
            dns_history_ttl_seconds: DEFAULT_HISTORY_TTL_SECONDS,
            dns_history_max_entries: DEFAULT_HISTORY_MAX_ENTRIES,
        }
    }
}

/// The SSRF guard's Redis state.
#[derive(Clone)]
pub struct SsrfGuardStore {
    conn: RedisConn,
    prefix: String,
    history_ttl: u64,
    history_max: u64,
}

impl SsrfGuardStore {
    /// A store over `conn`; a zero history TTL or size → `validation_error`.
    pub fn new(conn: RedisConn, options: SsrfGuardOptions) -> Result<Self, AdapterError> {
        if options.dns_history_ttl_seconds == 0 {
            return Err(AdapterError::invalid(
                "dns_history_ttl_seconds",
                "must be a positive integer",
            ));
        }
        if options.dns_history_max_entries == 0 {
            return Err(AdapterError::invalid(
                "dns_history_max_entries",
                "must be a positive integer",
            ));
        }
        Ok(Self {
            conn,
            prefix: normalize_prefix(options.key_prefix.as_deref(), DEFAULT_PREFIX),
            history_ttl: options.dns_history_ttl_seconds,
            history_max: options.dns_history_max_entries,
        })
    }
}

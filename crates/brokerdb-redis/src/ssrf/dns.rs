//! DNS resolution cache: `dns:v2:<host>`, written by compare-and-set on the resolution time.

use std::net::IpAddr;

use brokerdb::model::{ValidationError, trim};
use serde::{Deserialize, Serialize};

use super::host::denylist_class;
use super::{SsrfGuardStore, dns_key};
use crate::scripts::DNS_COMPARE_AND_SET;
use crate::support::to_json;
use crate::{AdapterError, cache};

/// A cached resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsResolutionCacheEntry {
    /// At least one IP literal (trimmed), none denylisted.
    pub resolved_ips: Vec<String>,
    /// When resolved (epoch ms, ≥ 0).
    pub resolved_at_epoch_ms: i64,
    /// Seconds to keep it (1..60).
    pub ttl_seconds: u64,
}

impl DnsResolutionCacheEntry {
    /// The entry's rules; a denylisted address is a `validation_error` naming its class.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.resolved_ips.is_empty() {
            return Err(ValidationError::new("resolved_ips", "must not be empty"));
        }
        for ip in &self.resolved_ips {
            let addr: IpAddr = trim(ip)
                .parse()
                .map_err(|_| ValidationError::new("resolved_ips", "must be IP literals"))?;
            if let Some(class) = denylist_class(addr) {
                return Err(ValidationError::new(
                    "resolved_ips",
                    format!("contains a denylisted ({class}) address"),
                ));
            }
        }
        if self.resolved_at_epoch_ms < 0 {
            return Err(ValidationError::new("resolved_at_epoch_ms", "must be ≥ 0"));
        }
        if !(1..=60).contains(&self.ttl_seconds) {
            return Err(ValidationError::new("ttl_seconds", "must be 1..60"));
        }
        Ok(())
    }
}

/// Whether an upsert was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsUpsertOutcome {
    /// Written (nothing newer was stored).
    Applied,
    /// A newer resolution was stored; left untouched (value and TTL).
    SkippedStale,
}

/// The result of [`SsrfGuardStore::upsert_dns_resolution_cache`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCacheUpsert {
    /// What happened.
    pub outcome: DnsUpsertOutcome,
    /// `outcome == Applied`.
    pub applied: bool,
    /// The entry offered.
    pub entry: DnsResolutionCacheEntry,
}

impl SsrfGuardStore {
    /// The cached resolution of `host`, or `None` (miss, unreachable, or invalid — including a
    /// denylisted address — which is deleted).
    pub async fn read_dns_resolution_cache(
        &self,
        host: &str,
    ) -> Result<Option<DnsResolutionCacheEntry>, AdapterError> {
        let key = dns_key(&self.prefix, host)?;
        cache::read(&self.conn, "ssrf_dns", &key, |raw| {
            serde_json::from_slice::<DnsResolutionCacheEntry>(raw)
                .ok()
                .filter(|e| e.validate().is_ok())
        })
        .await
    }

    /// Stores `entry` for `host` for `entry.ttl_seconds` unless a newer resolution (larger
    /// `resolved_at_epoch_ms`) is stored: one atomic compare-and-set. An unparsable stored
    /// value, or one without a numeric time, is overwritten.
    pub async fn upsert_dns_resolution_cache(
        &self,
        host: &str,
        entry: &DnsResolutionCacheEntry,
    ) -> Result<DnsCacheUpsert, AdapterError> {
        let key = dns_key(&self.prefix, host)?;
        entry.validate()?;
        let applied: i64 = self
            .conn
            .invoke(
                DNS_COMPARE_AND_SET
                    .key(key)
                    .arg(to_json(entry)?)
                    .arg(entry.resolved_at_epoch_ms)
                    .arg(entry.ttl_seconds),
            )
            .await?;
        let outcome = match applied {
            1 => DnsUpsertOutcome::Applied,
            0 => DnsUpsertOutcome::SkippedStale,
            _ => {
                return Err(AdapterError::unexpected(
                    "DNS cache script returned an unexpected reply",
                ));
            }
        };
        Ok(DnsCacheUpsert {
            outcome,
            applied: outcome == DnsUpsertOutcome::Applied,
            entry: entry.clone(),
        })
    }
}

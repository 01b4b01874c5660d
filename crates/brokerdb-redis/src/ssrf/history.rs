//! DNS rebinding history: `dns-history:v2:<host>`, a bounded JSON array, oldest first.

use std::net::IpAddr;

use brokerdb::model::{ValidationError, trim};
use serde::{Deserialize, Serialize};

use super::{SsrfGuardStore, history_key};
use crate::scripts::DNS_HISTORY_APPEND;
use crate::support::to_json;
use crate::{AdapterError, cache};

/// One observed resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRebindingObservation {
    /// Hash of the address set (trimmed, non-empty).
    pub ip_set_hash: String,
    /// At least one IP literal (trimmed; not checked against the denylist: this is telemetry).
    pub resolved_ips: Vec<String>,
    /// When observed (epoch ms, ≥ 0).
    pub observed_at_epoch_ms: i64,
}

impl DnsRebindingObservation {
    /// The observation's rules.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if trim(&self.ip_set_hash).is_empty() {
            return Err(ValidationError::new("ip_set_hash", "cannot be empty"));
        }
        let literal = |ip: &String| trim(ip).parse::<IpAddr>().is_ok();
        if self.resolved_ips.is_empty() || !self.resolved_ips.iter().all(literal) {
            return Err(ValidationError::new(
                "resolved_ips",
                "must be one or more IP literals",
            ));
        }
        if self.observed_at_epoch_ms < 0 {
            return Err(ValidationError::new("observed_at_epoch_ms", "must be ≥ 0"));
        }
        Ok(())
    }
}

impl SsrfGuardStore {
    /// Appends `observation` to the history of `host`, dropping the oldest beyond the
    /// configured size and refreshing the TTL; returns the new size. One atomic script, so
    /// concurrent appends are never lost.
    pub async fn append_dns_rebinding_observation(
        &self,
        host: &str,
        observation: &DnsRebindingObservation,
    ) -> Result<u64, AdapterError> {
        let key = history_key(&self.prefix, host)?;
        observation.validate()?;
        let size: i64 = self
            .conn
            .invoke(
                DNS_HISTORY_APPEND
                    .key(key)
                    .arg(to_json(observation)?)
                    .arg(self.history_max)
                    .arg(self.history_ttl),
            )
            .await?;
        u64::try_from(size)
            .map_err(|_| AdapterError::unexpected("history script returned a negative size"))
    }

    /// The history of `host`, oldest first; empty when missing or invalid (an invalid history
    /// is deleted). Redis unreachable is an error: a guard must not mistake "unknown" for "no
    /// rebinding seen".
    pub async fn read_dns_rebinding_history(
        &self,
        host: &str,
    ) -> Result<Vec<DnsRebindingObservation>, AdapterError> {
        let key = history_key(&self.prefix, host)?;
        let history = cache::read_strict(&self.conn, "ssrf_dns_history", &key, |raw| {
            serde_json::from_slice::<Vec<DnsRebindingObservation>>(raw)
                .ok()
                .filter(|h| h.iter().all(|o| o.validate().is_ok()))
        })
        .await?;
        Ok(history.unwrap_or_default())
    }
}

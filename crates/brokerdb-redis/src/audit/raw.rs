//! Generic JSON helpers on raw keys (no adapter prefix applied).

use serde_json::Value;

use super::AuditCache;
use crate::scan::{delete_matching, prefix_pattern};
use crate::support::to_json;
use crate::{AdapterError, cache};

const CACHE: &str = "audit_json";

impl AuditCache {
    /// The JSON at `key`, or `None` (miss, unreachable, or unparsable → deleted).
    pub async fn get_json(&self, key: &str) -> Result<Option<Value>, AdapterError> {
        cache::read(&self.conn, CACHE, key, |raw| {
            serde_json::from_slice(raw).ok()
        })
        .await
    }

    /// Stores `value` as JSON at `key` for `ttl_seconds` (≥ 1).
    pub async fn set_json(
        &self,
        key: &str,
        value: &Value,
        ttl_seconds: u64,
    ) -> Result<(), AdapterError> {
        if ttl_seconds == 0 {
            return Err(AdapterError::invalid(
                "ttl_seconds",
                "must be a positive integer",
            ));
        }
        cache::write(&self.conn, key, &to_json(value)?, ttl_seconds).await
    }

    /// Deletes every key starting with `prefix` (glob characters in it are matched literally)
    /// and returns how many. O(keyspace): a maintenance helper, not for hot paths.
    pub async fn delete_by_prefix(&self, prefix: &str) -> Result<u64, AdapterError> {
        if self.options.scan_count == 0 {
            return Err(AdapterError::invalid(
                "scan_count",
                "must be a positive integer",
            ));
        }
        delete_matching(&self.conn, &prefix_pattern(prefix), self.options.scan_count).await
    }
}

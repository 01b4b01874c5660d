//! Small shared rules: key prefixes, the injectable clock, TTLs from expiry instants, length
//! checks, hashing, JSON encoding and the reply checks every adapter uses.

use std::time::Duration;

use brokerdb::db::warn::RateLimited;
use brokerdb::model::{Timestamp, ValidationError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::AdapterError;

pub use brokerdb_core::redis::{Clock, normalize_prefix, system_clock};

/// Milliseconds from `now` to `at` (negative when past).
pub(crate) fn millis_until(at: Timestamp, now: Timestamp) -> i64 {
    at.unix_millis().saturating_sub(now.unix_millis())
}

/// `ceil((expires_at − now) / 1 s)`, at least 1; an expiry not after `now` is rejected.
pub(crate) fn ttl_seconds_until(
    field: &'static str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<u64, ValidationError> {
    let ms = millis_until(expires_at, now);
    if ms <= 0 {
        return Err(ValidationError::new(field, "must be in the future"));
    }
    Ok(u64::try_from(ms).unwrap_or(u64::MAX).div_ceil(1000).max(1))
}

/// Length in UTF-16 code units, as the reference (JavaScript) counts characters.
pub(crate) fn js_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// `s` must be `min..=max` characters (UTF-16 code units) long.
pub(crate) fn check_len(
    field: &'static str,
    s: &str,
    min: usize,
    max: usize,
    message: &'static str,
) -> Result<(), ValidationError> {
    match (min..=max).contains(&js_len(s)) {
        true => Ok(()),
        false => Err(ValidationError::new(field, message)),
    }
}

/// At least one character, untrimmed (the reference's `min(1)`).
pub(crate) fn non_empty(field: &'static str, s: &str) -> Result<(), ValidationError> {
    check_len(field, s, 1, usize::MAX, "cannot be empty")
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Compact JSON of a value the adapter built itself.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, AdapterError> {
    serde_json::to_string(value).map_err(|_| AdapterError::unexpected("value cannot be encoded"))
}

/// A plain SET must answer OK; anything else is `unexpected_error`.
pub(crate) fn expect_ok(reply: Option<String>) -> Result<(), AdapterError> {
    match reply.as_deref() {
        Some("OK") => Ok(()),
        _ => Err(AdapterError::unexpected("redis did not acknowledge SET")),
    }
}

static FAIL_OPEN_WARNING: RateLimited = RateLimited::new(Duration::from_secs(60));

/// Counts a cache outcome (`hit`, `miss`, `bust`, `corrupt`, `unavailable`) in
/// `brokerdb_cache_events_total{cache, outcome}`.
pub(crate) fn count_cache(cache: &'static str, outcome: &'static str) {
    metrics::counter!("brokerdb_cache_events_total", "cache" => cache, "outcome" => outcome)
        .increment(1);
}

/// A cache read that could not reach Redis becomes a miss (the caller goes to PostgreSQL);
/// other errors pass through. Warns at most once a minute.
pub(crate) fn fail_open<T>(
    cache: &'static str,
    result: Result<Option<T>, AdapterError>,
) -> Result<Option<T>, AdapterError> {
    match result {
        Err(AdapterError::Unavailable { .. }) => {
            count_cache(cache, "unavailable");
            if let Some(suppressed) = FAIL_OPEN_WARNING.check() {
                tracing::warn!(
                    cache,
                    suppressed,
                    "redis unavailable: cache read treated as a miss"
                );
            }
            Ok(None)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_trimmed_defaulted_and_colon_terminated() {
        assert_eq!(normalize_prefix(None, "broker:auth:"), "broker:auth:");
        assert_eq!(normalize_prefix(Some("  "), "broker:auth:"), "broker:auth:");
        assert_eq!(normalize_prefix(Some(" app "), "broker:auth:"), "app:");
        assert_eq!(normalize_prefix(Some("app:"), "x:"), "app:");
        assert_eq!(normalize_prefix(None, ""), "");
    }

    #[test]
    fn ttl_rounds_up_and_rejects_the_past() -> Result<(), ValidationError> {
        let now = Timestamp::from_unix_millis(1_000_000)?;
        let at = |ms| Timestamp::from_unix_millis(ms);
        assert_eq!(ttl_seconds_until("expires_at", at(1_000_001)?, now)?, 1);
        assert_eq!(ttl_seconds_until("expires_at", at(1_002_000)?, now)?, 2);
        assert_eq!(ttl_seconds_until("expires_at", at(1_002_001)?, now)?, 3);
        assert!(ttl_seconds_until("expires_at", now, now).is_err());
        Ok(())
    }

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(js_len("é😀"), 3);
        assert!(check_len("jti", "😀", 1, 1, "bad").is_err());
    }
}

//! The fixed-window rate-limit step shared by the policy engine and the canonicalizer.

use brokerdb::model::Timestamp;
use serde::Serialize;

use crate::scripts::FIXED_WINDOW;
use crate::{AdapterError, RedisConn};

/// What a rate-limit check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimitDecision {
    /// `count ≤ max_requests`.
    pub allowed: bool,
    /// `max(0, max_requests − count)`.
    pub remaining: u64,
    /// When the window ends: `now + remaining TTL`.
    pub reset_at: Timestamp,
}

/// Counts one hit in the window at `key` (`interval_seconds` long, started by its first hit)
/// and decides against `max_requests`. Denied hits count too.
pub(crate) async fn hit(
    conn: &RedisConn,
    key: &str,
    max_requests: u64,
    interval_seconds: u64,
    now: Timestamp,
) -> Result<RateLimitDecision, AdapterError> {
    let (count, reset_at) = count_hits(conn, key, 1, interval_seconds, now).await?;
    Ok(RateLimitDecision {
        allowed: count <= max_requests,
        remaining: max_requests.saturating_sub(count),
        reset_at,
    })
}

/// What a lease (`PolicyRateLimitStore::lease`) granted: up to the hits asked for, all of them
/// within the limit, usable until the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimitLease {
    /// Hits granted (0 when the window's limit is spent).
    pub granted: u64,
    /// When the window ends: `now + remaining TTL`.
    pub reset_at: Timestamp,
}

/// Reserves up to `want` hits of the window at `key` in one round trip: `granted` is what is
/// left of `max_requests` before this call, at most `want`. Leases of concurrent callers never
/// grant more than `max_requests` in a window together (each reservation is one atomic
/// increment); hits leased and not used are lost for the window.
pub(crate) async fn lease(
    conn: &RedisConn,
    key: &str,
    want: u64,
    max_requests: u64,
    interval_seconds: u64,
    now: Timestamp,
) -> Result<RateLimitLease, AdapterError> {
    let (count, reset_at) = count_hits(conn, key, want, interval_seconds, now).await?;
    let before = count.saturating_sub(want);
    Ok(RateLimitLease {
        granted: max_requests.saturating_sub(before).min(want),
        reset_at,
    })
}

/// Adds `hits` to the window at `key`; returns the count after them and the window's end.
async fn count_hits(
    conn: &RedisConn,
    key: &str,
    hits: u64,
    interval_seconds: u64,
    now: Timestamp,
) -> Result<(u64, Timestamp), AdapterError> {
    let window_ms = interval_seconds.saturating_mul(1000);
    let reply: Vec<redis::Value> = conn
        .invoke(FIXED_WINDOW.key(key).arg(window_ms).arg(hits))
        .await?;
    let number = |v: Option<&redis::Value>| match v {
        Some(redis::Value::Int(n)) => Some(*n),
        _ => None,
    };
    let (Some(count), Some(ttl_ms), 2) = (number(reply.first()), number(reply.get(1)), reply.len())
    else {
        return Err(AdapterError::unexpected(
            "rate-limit script returned an unexpected reply",
        ));
    };
    let count = u64::try_from(count).unwrap_or(0);
    let ttl = std::time::Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
    Ok((count, now.checked_add(ttl).unwrap_or(now)))
}

//! The cache's metrics:
//!
//! - `brokerdb_cache_requests_total{cache, tier, result}`: one per request per tier asked;
//!   `tier` is `l1` or `l2`, `result` `hit`, `miss`, `stale` (L1 held an entry an invalidation
//!   had made stale; L2 held a value that did not decode) or `error` (Redis failed: the read
//!   went to PostgreSQL).
//! - `brokerdb_cache_loads_total{cache}` and `brokerdb_cache_load_duration_seconds{cache}`:
//!   database loads and their duration.
//! - `brokerdb_cache_entries{cache}`: entries in L1.

use std::time::Duration;

use crate::Resource;

/// A tier.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tier {
    L1,
    L2,
}

/// A request's result at one tier.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Hit,
    Miss,
    Stale,
    Error,
}

pub(crate) fn count(resource: Resource, tier: Tier, outcome: Outcome) {
    let tier = match tier {
        Tier::L1 => "l1",
        Tier::L2 => "l2",
    };
    let result = match outcome {
        Outcome::Hit => "hit",
        Outcome::Miss => "miss",
        Outcome::Stale => "stale",
        Outcome::Error => "error",
    };
    metrics::counter!(
        "brokerdb_cache_requests_total",
        "cache" => resource.label(),
        "tier" => tier,
        "result" => result
    )
    .increment(1);
}

pub(crate) fn load(resource: Resource, took: Duration) {
    metrics::counter!("brokerdb_cache_loads_total", "cache" => resource.label()).increment(1);
    metrics::histogram!("brokerdb_cache_load_duration_seconds", "cache" => resource.label())
        .record(took.as_secs_f64());
}

pub(crate) fn entries(resource: Resource, n: i64) {
    metrics::gauge!("brokerdb_cache_entries", "cache" => resource.label()).set(n.max(0) as f64);
}

//! Per-route rate limit: `rl:<tenant>:<workload>:<integration>:<action_group>:<METHOD>:<host>`.

use brokerdb::model::{HttpMethod, PolicyHost, trim};

use super::CanonicalizerCache;
use crate::AdapterError;
use crate::fixed_window::{self, RateLimitDecision};
use crate::support::non_empty;

/// What [`CanonicalizerCache::increment_rate_limit_counter`] counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRateLimit<'a> {
    /// Used as given (≥ 1 character).
    pub tenant_id: &'a str,
    /// Used as given (≥ 1 character).
    pub workload_id: &'a str,
    /// Used as given (≥ 1 character).
    pub integration_id: &'a str,
    /// Trimmed (≥ 1 character).
    pub action_group: &'a str,
    /// Normalized to the upper-case verb.
    pub method: &'a str,
    /// Policy-host normalized.
    pub host: &'a str,
    /// Window length in seconds (≥ 1).
    pub interval_seconds: i64,
    /// Hits allowed per window (≥ 1).
    pub max_requests: i64,
}

impl CanonicalizerCache {
    /// Counts one hit on the route and decides (same atomic fixed window as the policy
    /// engine's). Any Redis failure is an error (fail closed).
    pub async fn increment_rate_limit_counter(
        &self,
        route: &RouteRateLimit<'_>,
    ) -> Result<RateLimitDecision, AdapterError> {
        non_empty("tenant_id", route.tenant_id)?;
        non_empty("workload_id", route.workload_id)?;
        non_empty("integration_id", route.integration_id)?;
        non_empty("action_group", route.action_group)?;
        non_empty("method", route.method)?;
        non_empty("host", route.host)?;
        let positive = |n: i64, field| {
            u64::try_from(n)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or(AdapterError::invalid(field, "must be an integer ≥ 1"))
        };
        let interval = positive(route.interval_seconds, "interval_seconds")?;
        let max_requests = positive(route.max_requests, "max_requests")?;
        let method = HttpMethod::parse(route.method)?;
        let host = PolicyHost::parse(route.host)?;
        let key = format!(
            "{}rl:{}:{}:{}:{}:{}:{}",
            self.prefix,
            route.tenant_id,
            route.workload_id,
            route.integration_id,
            trim(route.action_group),
            method.as_str(),
            host.as_str()
        );
        fixed_window::hit(&self.conn, &key, max_requests, interval, (self.now)()).await
    }
}

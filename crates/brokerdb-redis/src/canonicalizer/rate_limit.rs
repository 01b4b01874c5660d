//! Per-route rate limit:
//! `route-rl:v2:{<tenant>}:<workload>:<integration>:<action_group>:<METHOD>:<host>`.

use brokerdb::model::{
    HttpMethod, IntegrationId, PolicyHost, TenantId, WorkloadId, trimmed_non_empty,
};

use super::CanonicalizerCache;
use crate::AdapterError;
use crate::fixed_window::{self, RateLimitDecision};
use crate::keys::layouts::ROUTE_RATE_LIMIT;
use crate::support::non_empty;

/// What [`CanonicalizerCache::increment_rate_limit_counter`] counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRateLimit<'a> {
    /// By its id rule: trimmed, 1..128 characters of `[A-Za-z0-9._-]`.
    pub tenant_id: &'a str,
    /// By its id rule: trimmed, 1..128 characters of `[A-Za-z0-9._-]`.
    pub workload_id: &'a str,
    /// By its id rule: trimmed, 1..128 characters of `[A-Za-z0-9._-]`.
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

/// The counter key of `route`:
/// `<prefix>route-rl:v2:{<tenant>}:<workload>:<integration>:<action_group>:<METHOD>:<host>`,
/// with the parts validated and normalized as [`RouteRateLimit`] says (else `validation_error`).
pub(crate) fn route_key(prefix: &str, route: &RouteRateLimit<'_>) -> Result<String, AdapterError> {
    let tenant = TenantId::parse(route.tenant_id)?;
    let workload = WorkloadId::parse(route.workload_id)?;
    let integration = IntegrationId::parse(route.integration_id)?;
    let action_group = trimmed_non_empty("action_group", route.action_group)?;
    non_empty("method", route.method)?;
    non_empty("host", route.host)?;
    let method = HttpMethod::parse(route.method)?;
    let host = PolicyHost::parse(route.host)?;
    Ok(ROUTE_RATE_LIMIT.key(
        prefix,
        [
            tenant.as_str(),
            workload.as_str(),
            integration.as_str(),
            action_group,
            method.as_str(),
            host.as_str(),
        ],
    ))
}

impl CanonicalizerCache {
    /// Counts one hit on the route and decides (same atomic fixed window as the policy
    /// engine's). Any Redis failure is an error (fail closed).
    pub async fn increment_rate_limit_counter(
        &self,
        route: &RouteRateLimit<'_>,
    ) -> Result<RateLimitDecision, AdapterError> {
        let key = route_key(&self.prefix, route)?;
        let positive = |n: i64, field| {
            u64::try_from(n)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or(AdapterError::invalid(field, "must be an integer ≥ 1"))
        };
        let interval = positive(route.interval_seconds, "interval_seconds")?;
        let max_requests = positive(route.max_requests, "max_requests")?;
        fixed_window::hit(&self.conn, &key, max_requests, interval, (self.now)()).await
    }
}

//! Policy-engine rate limit: `rl:v2:<encoded key>`, a fixed window per
//! caller-supplied key.

use brokerdb::model::Timestamp;
use brokerdb::repo::policy_rules::PolicyRule;
pub use brokerdb::repo::policy_rules::RateLimit;
use serde::{Deserialize, Serialize};

use super::{DEFAULT_PREFIX, PolicyRuleType};
use crate::fixed_window::{self, RateLimitDecision, RateLimitLease};
use crate::keys::layouts::POLICY_RATE_LIMIT;
use crate::support::{check_len, normalize_prefix};
use crate::{AdapterError, RedisConn};

/// Longest key accepted (the reference had no bound).
pub const MAX_KEY_LEN: usize = 1024;

/// `<prefix>rl:v2:<key>` with `key` (1..1024 characters, else `validation_error`) percent-encoded
/// as one part: whatever separators the caller put in it stay inside that part.
pub(crate) fn counter_key(prefix: &str, key: &str) -> Result<String, AdapterError> {
    check_len("key", key, 1, MAX_KEY_LEN, "must be 1..1024 characters")?;
    Ok(POLICY_RATE_LIMIT.key(prefix, [key]))
}

/// The parts of a `PolicyRule` the check reads: its type and its limit. Deserializes from a
/// whole PolicyRule JSON (other fields ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitRule {
    /// Must be `rate_limit`.
    pub rule_type: PolicyRuleType,
    /// Must be present.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
}

impl From<&PolicyRule> for RateLimitRule {
    /// The rule as the repository returns it: no copying of fields by hand between the two crates.
    fn from(rule: &PolicyRule) -> Self {
        Self {
            rule_type: rule.rule_type,
            rate_limit: rule.rate_limit,
        }
    }
}

impl RateLimitRule {
    fn limits(&self) -> Result<(u64, u64), AdapterError> {
        if self.rule_type != PolicyRuleType::RateLimit {
            return Err(AdapterError::invalid(
                "rule.rule_type",
                "must be rate_limit",
            ));
        }
        let Some(limit) = self.rate_limit else {
            return Err(AdapterError::invalid("rule.rate_limit", "is required"));
        };
        let positive = |n: i32, field| {
            u64::try_from(n)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or(AdapterError::invalid(field, "must be an integer ≥ 1"))
        };
        Ok((
            positive(limit.max_requests, "rule.rate_limit.max_requests")?,
            positive(limit.interval_seconds, "rule.rate_limit.interval_seconds")?,
        ))
    }
}

/// Rate limits of the policy engine.
#[derive(Clone)]
pub struct PolicyRateLimitStore {
    conn: RedisConn,
    prefix: String,
}

impl PolicyRateLimitStore {
    /// A store over `conn` (prefix default `broker:pe:`).
    pub fn new(conn: RedisConn, key_prefix: Option<&str>) -> Self {
        Self {
            conn,
            prefix: normalize_prefix(key_prefix, DEFAULT_PREFIX),
        }
    }

    /// Counts one hit for `key` (1..1024 characters, any text: it is encoded as one key part, so
    /// two different keys never share a counter) under `rule` and decides.
    /// Atomic: of N concurrent hits on a limit L exactly min(N, L) are allowed. `reset_at` is
    /// `now` plus the window's remaining TTL. Any Redis failure is an error (fail closed). (The
    /// reference's `descriptor` argument, which it never read, is not taken.)
    pub async fn check_and_consume(
        &self,
        key: &str,
        rule: &RateLimitRule,
        now: Timestamp,
    ) -> Result<RateLimitDecision, AdapterError> {
        let redis_key = counter_key(&self.prefix, key)?;
        let (max_requests, interval_seconds) = rule.limits()?;
        fixed_window::hit(&self.conn, &redis_key, max_requests, interval_seconds, now).await
    }

    /// Reserves up to `want` (≥ 1) hits of `key`'s window under `rule` in one round trip, for a
    /// caller that then admits them locally (the HTTP service leases its tokens' budgets this way,
    /// so a request costs no Redis call while its lease lasts). Of all leases in a window at most
    /// the limit is granted in total, so the limit is never exceeded; hits leased and not used
    /// are lost for that window. `granted` 0 means the window is spent until `reset_at`. Any Redis
    /// failure is an error (fail closed).
    pub async fn lease(
        &self,
        key: &str,
        want: u64,
        rule: &RateLimitRule,
        now: Timestamp,
    ) -> Result<RateLimitLease, AdapterError> {
        if want == 0 {
            return Err(AdapterError::invalid("want", "must be at least 1"));
        }
        let redis_key = counter_key(&self.prefix, key)?;
        let (max_requests, interval_seconds) = rule.limits()?;
        fixed_window::lease(
            &self.conn,
            &redis_key,
            want,
            max_requests,
            interval_seconds,
            now,
        )
        .await
    }
}

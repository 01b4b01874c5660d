//! Bearer-token authentication, role checks and the per-token rate limit.
//!
//! A request's tenant comes from its token, never from the URL or the body. Tokens are checked
//! against the database through a small in-process cache: a verdict (valid or not) is reused
//! for at most the cache's lifetime (`API_TOKEN_CACHE_TTL`, 5 s by default), so a revoked or
//! expired token is refused within that time. Each request then counts against its token's
//! rate limit, a fixed window counted in Redis and leased in chunks ([`TokenRateLimit`]; 429 with
//! `Retry-After` beyond it; Redis unreachable when a new lease is needed → 503, failing closed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use brokerdb::db::Db;
use brokerdb::model::{NonEmptyString, PolicyRuleType, TenantId, Timestamp};
use brokerdb::repo::api_tokens::{self, ApiTokenRole};
use brokerdb_redis::policy::{PolicyRateLimitStore, RateLimit, RateLimitRule};

use super::error::ApiError;
use super::request::{current_request_id, set_principal};
use crate::app::AppState;

/// The most cache entries kept; when full, the cache starts over (bounds memory under a flood
/// of made-up tokens).
const CACHE_CAPACITY: usize = 10_000;

/// Who is calling: an active API token's id, tenant (none for a system token), role and
/// subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's public id.
    pub token_id: String,
    /// The tenant the token acts in; `None` for a system token.
    pub tenant: Option<TenantId>,
    /// What it may do.
    pub role: ApiTokenRole,
    /// The principal's name, recorded as actor in audit events.
    pub subject: NonEmptyString,
}

impl Principal {
    /// The tenant of a tenant token; a system token is refused (403): tenant data is reached
    /// with a token of that tenant.
    pub fn tenant(&self) -> Result<&TenantId, ApiError> {
        self.tenant.as_ref().ok_or_else(|| {
            ApiError::forbidden("a system token cannot act in a tenant; use a token of the tenant")
        })
    }

    /// The tenant, if the token's role allows what `needed` allows (else 403).
    pub fn tenant_as(&self, needed: ApiTokenRole) -> Result<&TenantId, ApiError> {
        let tenant = self.tenant()?;
        self.require(needed)?;
        Ok(tenant)
    }

    /// Refuses (403) unless the token's role allows what `needed` allows.
    pub fn require(&self, needed: ApiTokenRole) -> Result<(), ApiError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs a token with role {needed} or above"
            )))
        }
    }

    /// Refuses (403) unless this is a system token with role `admin`.
    pub fn require_system(&self) -> Result<(), ApiError> {
        if self.tenant.is_none() && self.role == ApiTokenRole::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "this needs a system token with role admin",
            ))
        }
    }
}

/// A verdict (the principal, or none for a refused token) and when it was reached, by the
/// token's SHA-256.
type Verdicts = HashMap<[u8; 32], (Option<Principal>, Instant)>;

/// Token verdicts kept for a short time, keyed by the token's SHA-256.
#[derive(Debug, Clone)]
pub struct TokenCache {
    ttl: Duration,
    entries: Arc<Mutex<Verdicts>>,
}

impl TokenCache {
    /// A cache whose verdicts live `ttl` (zero: every request asks the database).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Option<Principal>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(p, _)| p.clone())
    }

    fn remember(&self, key: [u8; 32], verdict: Option<Principal>) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
            entries.insert(key, (verdict, Instant::now()));
        }
    }

    /// The principal of `presented`, from the cache or the database (which then records the
    /// token's use).
    pub async fn authenticate(
        &self,
        db: &Db,
        presented: &str,
    ) -> Result<Option<Principal>, ApiError> {
        let key = api_tokens::token_hash(presented);
        if let Some(verdict) = self.cached(&key) {
            return Ok(verdict);
        }
        let token = api_tokens::authenticate(&mut db.system(), presented).await?;
        let verdict = match token {
            None => None,
            Some(t) => {
                if let Err(e) = api_tokens::touch(&mut db.system(), &t.token_id).await {
                    tracing::warn!(request_id = %current_request_id(), error = %e, "cannot record a token's last use");
                }
                Some(Principal {
                    subject: NonEmptyString::new("subject", &t.subject)?,
                    token_id: t.token_id,
                    tenant: t.tenant_id,
                    role: t.role,
                })
            }
        };
        self.remember(key, verdict.clone());
        Ok(verdict)
    }
}

/// The per-token request limit: `max_requests` per `interval_seconds` window (none when
/// `max_requests` is 0), counted in Redis. The service leases a token's budget in chunks
/// ([`lease_size`]) and admits requests against its lease locally, so most requests cost no Redis
/// round trip. The limit holds across instances (leases never grant more than it in a window); a
/// chunk an instance leased and did not use is lost for that window.
#[derive(Clone)]
pub struct TokenRateLimit {
    store: PolicyRateLimitStore,
    rule: Option<RateLimitRule>,
    chunk: u64,
    leases: Arc<Mutex<HashMap<String, Lease>>>,
}

/// What is left of a token's lease, and until when it (or a spent window) holds.
#[derive(Debug, Clone, Copy)]
struct Lease {
    remaining: u64,
    /// Redis granted nothing: the window's limit is spent.
    spent: bool,
    until: Instant,
}

/// The hits leased at a time: 2 % of the limit, at least 1 and at most 100 (a limit of 50 or
/// less is counted in Redis request by request).
pub fn lease_size(max_requests: u32) -> u64 {
    (u64::from(max_requests) / 50).clamp(1, 100)
}

impl TokenRateLimit {
    /// Counts in `store`; `max_requests` 0 switches the limit off.
    pub fn new(store: PolicyRateLimitStore, max_requests: u32, interval_seconds: u32) -> Self {
        let rule = (max_requests > 0).then(|| RateLimitRule {
            rule_type: PolicyRuleType::RateLimit,
            rate_limit: Some(RateLimit {
                max_requests: i32::try_from(max_requests).unwrap_or(i32::MAX),
                interval_seconds: i32::try_from(interval_seconds.max(1)).unwrap_or(i32::MAX),
            }),
        });
        Self {
            store,
            rule,
            chunk: lease_size(max_requests),
            leases: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Admits one request of `token_id` from its lease: `Some(Ok)` admitted, `Some(Err)` the
    /// window is spent, `None` no hit is left in the lease (ask Redis for another).
    fn admit_leased(&self, token_id: &str) -> Option<Result<(), ApiError>> {
        let mut leases = self.leases.lock().ok()?;
        let lease = leases.get_mut(token_id)?;
        let now = Instant::now();
        if now >= lease.until {
            return None;
        }
        if lease.remaining > 0 {
            lease.remaining -= 1;
            return Some(Ok(()));
        }
        if !lease.spent {
            return None;
        }
        Some(Err(ApiError::rate_limited(
            lease
                .until
                .saturating_duration_since(now)
                .as_secs()
                .saturating_add(1),
        )))
    }

    /// Counts one request of `token_id`: 429 beyond the limit, 503 when Redis cannot lease
    /// more (fails closed).
    pub async fn check(&self, token_id: &str) -> Result<(), ApiError> {
        let Some(rule) = &self.rule else {
            return Ok(());
        };
        if let Some(verdict) = self.admit_leased(token_id) {
            return verdict;
        }
        let now = Timestamp::now();
        let lease = self
            .store
            .lease(&format!("http-token:{token_id}"), self.chunk, rule, now)
            .await?;
        let wait_ms = lease
            .reset_at
            .unix_millis()
            .saturating_sub(now.unix_millis());
        let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
        if let Ok(mut leases) = self.leases.lock() {
            if leases.len() >= CACHE_CAPACITY {
                leases.clear();
            }
            leases.insert(
                token_id.to_owned(),
                Lease {
                    remaining: lease.granted.saturating_sub(1),
                    spent: lease.granted == 0,
                    until: Instant::now() + wait,
                },
            );
        }
        if lease.granted > 0 {
            Ok(())
        } else {
            Err(ApiError::rate_limited(
                wait.as_millis()
                    .div_ceil(1000)
                    .try_into()
                    .unwrap_or(u64::MAX),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::unauthenticated(
                "an Authorization: Bearer <token> header is required",
            ))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::unauthenticated(
                "the Authorization header must be `Bearer <token>`",
            ))?;
        let principal = state
            .api
            .tokens
            .authenticate(&state.db, token)
            .await?
            .ok_or(ApiError::unauthenticated(
                "the token is unknown, expired or revoked",
            ))?;
        set_principal(&principal.token_id);
        state.api.rate_limit.check(&principal.token_id).await?;
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::lease_size;

    #[test]
    fn leases_are_two_percent_of_the_limit_between_one_and_a_hundred() {
        assert_eq!(lease_size(3), 1);
        assert_eq!(lease_size(100), 2);
        assert_eq!(lease_size(6000), 100);
        assert_eq!(lease_size(u32::MAX), 100);
    }
}

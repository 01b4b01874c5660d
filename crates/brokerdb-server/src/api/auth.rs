//! Bearer-token authentication, role checks and the per-token rate limit.
//!
//! A request's tenant comes from its token, never from the URL or the body. Tokens are checked
//! against the database through a small in-process cache: a verdict (valid or not) is reused
//! for at most the cache's lifetime (`API_TOKEN_CACHE_TTL`, 5 s by default), so a revoked or
//! expired token is refused within that time. Each request then counts against its token's
//! rate limit in Redis (a fixed window; 429 with `Retry-After` beyond it; Redis unreachable →
//! 503, failing closed).

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
/// `max_requests` is 0).
#[derive(Clone)]
pub struct TokenRateLimit {
    store: PolicyRateLimitStore,
    rule: Option<RateLimitRule>,
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
        Self { store, rule }
    }

    async fn check(&self, token_id: &str) -> Result<(), ApiError> {
        let Some(rule) = &self.rule else {
            return Ok(());
        };
        let now = Timestamp::now();
        let decision = self
            .store
            .check_and_consume(&format!("http-token:{token_id}"), rule, now)
            .await?;
        if decision.allowed {
            Ok(())
        } else {
            let wait = decision
                .reset_at
                .unix_millis()
                .saturating_sub(now.unix_millis());
            Err(ApiError::rate_limited(
                u64::try_from(wait).unwrap_or(0).div_ceil(1000),
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

//! The `/v1` management API: bearer-token authentication ([`auth`]), one error envelope
//! ([`error`]), strict request parsing ([`extract`]), the request wrapper ([`request`]) and
//! one module per aggregate. The OpenAPI document is generated from the handlers and served at
//! `GET /openapi.json`.

pub mod actions;
pub mod admin;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod enrollment;
pub mod error;
pub mod extract;
pub mod integrations;
pub mod keys;
pub mod policy_rules;
pub mod projects;
pub mod request;
pub mod secrets;
pub mod sessions;
pub mod templates;
pub mod tenants;
pub mod users;
pub mod wire;
pub mod workloads;

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use brokerdb::db::Db;
use brokerdb_cache::{CacheError, CacheSettings, CachedReads};
use brokerdb_redis::RedisConn;
use brokerdb_redis::policy::PolicyRateLimitStore;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
pub use auth::{Principal, TokenCache, TokenRateLimit};
pub use error::ApiError;
pub use request::HttpLimits;

/// Settings of the API: token cache, per-token rate limit, concurrency and timeout.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// How long a token verdict is reused (a revoke takes effect within it).
    pub token_cache_ttl: Duration,
    /// Requests per token and window (0: no limit).
    pub rate_limit_requests: u32,
    /// The rate-limit window, in seconds.
    pub rate_limit_window_seconds: u32,
    /// Requests served at once (503 beyond).
    pub max_concurrent_requests: usize,
    /// Time a request may take (504 beyond).
    pub request_timeout: Duration,
    /// Largest request body, in bytes (413 beyond).
    pub body_limit: usize,
    /// The read cache of the hot reads (users, execute lookups, template versions, policy
    /// matches, the manifest keyset).
    pub cache: CacheSettings,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            token_cache_ttl: Duration::from_secs(5),
            rate_limit_requests: 6000,
            rate_limit_window_seconds: 60,
            max_concurrent_requests: 512,
            request_timeout: Duration::from_secs(30),
            body_limit: 1024 * 1024,
            cache: CacheSettings::default(),
        }
    }
}

/// What the API's handlers share, built from [`ApiSettings`].
#[derive(Clone)]
pub struct ApiState {
    /// Token verdicts.
    pub tokens: TokenCache,
    /// The per-token rate limit.
    pub rate_limit: TokenRateLimit,
    /// Concurrency limit and timeout.
    pub limits: HttpLimits,
    /// Largest request body.
    pub body_limit: usize,
    /// Cached reads of the hot routes; write routes bust it after they commit
    /// ([`cache::bust`]).
    pub cache: CachedReads,
}

impl ApiState {
    /// The API's state over `db` and `redis` (the rate-limit counters, the read cache's L2).
    /// No I/O: the cache's invalidation listener is started separately
    /// ([`cache::spawn_listener`]); until it runs, the cache does not use its in-process tier.
    /// Invalid cache settings → error.
    pub fn new(settings: &ApiSettings, db: Db, redis: RedisConn) -> Result<Self, CacheError> {
        Ok(Self {
            cache: CachedReads::new(db, redis.clone(), settings.cache.clone())?,
            tokens: TokenCache::new(settings.token_cache_ttl),
            rate_limit: TokenRateLimit::new(
                PolicyRateLimitStore::new(redis, Some("brokerdb:http:")),
                settings.rate_limit_requests,
                settings.rate_limit_window_seconds,
            ),
            limits: HttpLimits::new(settings.max_concurrent_requests, settings.request_timeout),
            body_limit: settings.body_limit,
        })
    }
}

/// The routes of the API with the OpenAPI document they make.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(base_document())
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get))
        .routes(routes!(users::replace_roles))
        .routes(routes!(workloads::list, workloads::create))
        .routes(routes!(workloads::get, workloads::update))
        .routes(routes!(enrollment::issue))
        .routes(routes!(enrollment::consume))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::revoke))
        .routes(routes!(tenants::list, tenants::create))
        .routes(routes!(tenants::get))
        .routes(routes!(tenants::get_own))
        .routes(routes!(admin::list_identities, admin::create_identity))
        .routes(routes!(admin::get_identity))
        .routes(routes!(admin::update_identity_status))
        .routes(routes!(admin::update_identity_bindings))
        .routes(routes!(
            admin::list_access_requests,
            admin::create_access_request
        ))
        .routes(routes!(admin::transition_access_request))
        .routes(routes!(integrations::list, integrations::create))
        .routes(routes!(integrations::get, integrations::update))
        .routes(routes!(integrations::bind_secret))
        .routes(routes!(integrations::execute_lookup))
        .routes(routes!(secrets::list_versions, secrets::create_version))
        .routes(routes!(secrets::set_active_version))
        .routes(routes!(templates::list_latest))
        .routes(routes!(
            templates::list_versions,
            templates::publish_version
        ))
        .routes(routes!(templates::get_version))
        .routes(routes!(policy_rules::create))
        .routes(routes!(policy_rules::matching))
        .routes(routes!(policy_rules::get))
        .routes(routes!(policy_rules::disable))
        .routes(routes!(approvals::list, approvals::create))
        .routes(routes!(approvals::get))
        .routes(routes!(approvals::transition))
        .routes(routes!(audit::events))
        .routes(routes!(audit::verify))
        .routes(routes!(keys::manifest))
        .routes(routes!(projects::crud::list, projects::crud::create))
        .routes(routes!(
            projects::crud::get,
            projects::crud::update,
            projects::crud::delete
        ))
        .routes(routes!(
            projects::artifacts::list,
            projects::artifacts::upsert
        ))
        .routes(routes!(projects::webhooks::receive))
        .routes(routes!(projects::mcp_log::list, projects::mcp_log::append))
        .routes(routes!(crate::ops::api::list))
        .routes(routes!(crate::ops::api::preview))
        .routes(routes!(crate::ops::api::execute))
        .routes(routes!(crate::ops::api::runs))
}

/// The document's header and its bearer security scheme.
fn base_document() -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("brokerdb management API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The state of a multi-tenant API credential broker. Every request carries \
                     `Authorization: Bearer <token>` (see `brokerdb token create`); the tenant \
                     comes from the token. Errors use one envelope: \
                     `{\"error\": {code, message, field?, requestId}}`.",
                ))
                .build(),
        )
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    doc
}

/// The OpenAPI 3.1 document of every `/v1` route.
pub fn openapi() -> OpenApi {
    router().split_for_parts().1
}

/// `GET /openapi.json`.
pub async fn openapi_json(State(state): State<AppState>) -> Json<OpenApi> {
    Json(state.openapi.as_ref().clone())
}

/// Any route that does not exist: 404 in the envelope.
pub async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

/// A route that exists, called with a method it does not have: 405 in the envelope.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "the route does not accept this method",
    )
}

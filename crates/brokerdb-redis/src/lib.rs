//! brokerdb's Redis adapters: hot-path, expiring state next to PostgreSQL (spec
//! `redis-adapters.md`), one module per adapter family:
//!
//! | module | what |
//! |---|---|
//! | [`auth`] | workload sessions, one-time enrollment tokens, DPoP replay markers; workload lookup by SAN URI (PostgreSQL) |
//! | [`policy`] | policy-engine rate limit; policy invalidation bus (pub/sub) |
//! | [`crypto`] | manifest-key rotation lock |
//! | [`canonicalizer`] | template, approve-once and per-route rate-limit caches |
//! | [`audit`] | audit query cache (generation-keyed), generic JSON helpers |
//! | [`forwarder`] | execution locks and idempotency records |
//! | [`ssrf`] | DNS cache with compare-and-set, rebinding history, template invalidation signal |
//!
//! The JSON contracts the adapters key by or store are the `brokerdb` crate's own types, so a
//! value crosses PostgreSQL and Redis unconverted: [`brokerdb::model::CanonicalRequestDescriptor`]
//! (its [`sha256`](brokerdb::model::CanonicalRequestDescriptor::sha256) names the approve-once
//! key), [`brokerdb::audit::AuditEvent`] (the audit query cache), and the label enums
//! ([`brokerdb::model::ApprovalStatus`], [`brokerdb::model::AuditDecision`],
//! [`brokerdb::model::PolicyRuleType`]).
//!
//! # Connections
//! The application builds its Redis clients and hands them in as a [`RedisConn`]: standalone
//! ([`RedisConn::standalone`], a small round-robin pool of reconnecting multiplexed connections)
//! or Redis Cluster ([`RedisConn::cluster`]). The same adapter code runs on both. The crate never
//! reads the environment. [`open_client`] and [`open_cluster`] build the clients from URLs:
//! `rediss://` is TLS (rustls), checked against a given CA file or the system roots.
//!
//! **Client and pool size.** redis-rs (already in the workspace; reloads scripts on NOSCRIPT,
//! pipelines requests from many tasks onto one multiplexed connection, supports Redis Cluster).
//! `brokerdb bench --only redis` measured the adapters at 0.76–1.04 of the same EVALSHAs sent
//! from a raw redis-rs client and, for the rate-limit check at 16 callers, 1.3–1.7× of
//! `redis-benchmark` (which is itself CPU-bound on a small machine). On a loaded 2-core machine a
//! pool of 4 beat a single connection only at 64 callers for the two-command operations, and lost
//! at 16; the default stays a small pool of 4 (spreading head-of-line blocking and connection
//! loss) and is a setting (`ConnSettings::pool_size`).
//!
//! Needs Redis 6.2 or later (GETDEL, `SET … GET`); tested with 7.0.
//!
//! # Guarantees
//! - **Atomic**: every read-modify-write is one Lua script (`src/lua/*.lua`, run with EVALSHA,
//!   loaded again on NOSCRIPT) or one command: consume-once (GETDEL), rate-limit
//!   check-and-consume, lock release by owner token, idempotency create/complete/fail, DNS
//!   compare-and-set, bounded history append.
//! - **Cluster-ready**: every script touches one key, except the audit cache's generation read
//!   and write, whose two keys share a hash tag.
//! - **Bounded failures**: every call ends within the command timeout; Redis down or slow →
//!   [`AdapterError::Unavailable`]. Connections come back by themselves when Redis does.
//! - **Fail open / fail closed**: cache reads (templates, approve-once, audit queries, DNS
//!   cache, generic JSON) treat an unreachable Redis as a miss, so the caller goes to
//!   PostgreSQL; security state (sessions, enrollment, replay, rate limits, locks, idempotency,
//!   rebinding history) returns the error.
//! - **No secrets in keys or logs**: keys hold token hashes; values are never logged, and
//!   errors carry fixed text only.
//!
//! # Deviations from the reference layouts and behaviour
//! Key layouts, value encodings and channel names are the reference's, so TypeScript services
//! can share a Redis during a migration, except:
//! 1. **Audit query cache keys** are `<p>audit:{<tenant>}:query:<generation>:<hash>` plus a
//!    generation key `<p>audit:{<tenant>}:gen` (reference: `<p>audit:<tenant>:query:<hash>`).
//!    The generation makes a tenant bust O(1) instead of a keyspace SCAN; the braces are the hash
//!    tag the two-key script needs on a cluster. A TypeScript service would neither see nor bust
//!    these entries.
//! 2. **Session upsert** deletes the record of the session's previous token hash (the reference
//!    left it readable until it expired).
//! 3. **Enrollment consume** reads and deletes with one GETDEL (the reference: GET, then DEL),
//!    still under the reference's lock so mixed consumers stay exclusive; a corrupt entry is
//!    therefore deleted as well as reported.
//! 4. **Locks**: acquire returns `Some(token)` only when acquired (the reference returned a
//!    useless token on failure too); the forwarder release requires a UUID token (the reference
//!    accepted any string).
//! 5. **Pub/sub subscribe** resolves once the subscription is confirmed and returns a handle
//!    whose `unsubscribe` is synchronous (dropping it unsubscribes too); a failed subscription is
//!    an error rather than a silently detached handler. Subscriptions re-subscribe after a
//!    connection loss.
//! 6. **Bounds the reference lacked**: the policy rate-limit key is 1..1024 characters;
//!    `response_bytes` ≤ 99 999 999 999 999 (the update script re-encodes numbers with 14
//!    digits); `enrollment_consume_lock_seconds` ≥ 1.
//! 7. **SSRF denylist** adds the ranges the reference missed (unspecified, multicast, broadcast,
//!    documentation, special-purpose, NAT64-embedded, IPv4-compatible): such entries are
//!    rejected on write and healed on read.
//! 8. **Self-healing deletes** remove a corrupt value only if it is still that value
//!    (compare-and-delete), so a good value written meanwhile survives; `delete_by_prefix`
//!    escapes glob metacharacters.
//! 9. The canonicalizer's rate-limit `reset_at` uses the injectable clock; the rebinding-history
//!    read fails closed.
//!
//! Key components are still joined with `:` as the reference does (an id containing `:` can
//! alias another scope's key); changing that would break the shared layouts.

pub mod audit;
pub mod auth;
mod cache;
pub mod canonicalizer;
mod conn;
pub mod crypto;
mod error;
mod fixed_window;
pub mod forwarder;
mod owner_lock;
pub mod policy;
mod pubsub;
mod scan;
pub mod scripts;
pub mod ssrf;
mod support;

pub use conn::{
    ClientError, ConnSettings, DEFAULT_COMMAND_TIMEOUT, DEFAULT_POOL_SIZE, MAX_POOL_SIZE,
    RedisConn, open_client, open_cluster,
};
pub use error::AdapterError;
pub use fixed_window::RateLimitDecision;
pub use pubsub::Subscription;
pub use support::{Clock, normalize_prefix, system_clock};

//! brokerdb's Redis adapters: hot-path, expiring state next to PostgreSQL, one module per
//! adapter family:
//!
//! | module | what |
//! |---|---|
//! | [`auth`] | workload sessions, one-time enrollment tokens, DPoP replay markers |
//! | [`policy`] | policy-engine rate limit; policy invalidation bus (pub/sub) |
//! | [`crypto`] | manifest-key rotation lock |
//! | [`canonicalizer`] | template, approve-once and per-route rate-limit caches |
//! | [`audit`] | audit query cache (generation-keyed), generic JSON helpers |
//! | [`forwarder`] | execution locks and idempotency records |
//! | [`outbox`] | the outbox relay's publisher (template invalidations onto both channels) |
//! | [`ssrf`] | DNS cache with compare-and-set, rebinding history, template invalidation signal |
//! | [`pubsub`] | publish and subscribe on a channel (what the adapters' buses are built on) |
//! | [`read_cache`] | generation-keyed entries, bumps and invalidation channel of the tiered read cache (`brokerdb-cache`) |
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
//! - **No colliding keys**: every key is built by one encoding (below), so two different inputs
//!   never address the same Redis key, whatever characters they contain.
//!
//! # Key layouts
//! Every key is `<prefix><family>:<part>:…:<part>`, built in one place (`src/keys`):
//!
//! - **Every caller-supplied part is percent-encoded**: bytes of `[A-Za-z0-9._-]` stay as they
//!   are, every other byte of the part's UTF-8 becomes `%XX` (upper-case hex: `:` → `%3A`,
//!   `{` → `%7B`, `}` → `%7D`, `%` → `%25`, space → `%20`). An encoded part never contains `:`
//!   or braces, each family has a fixed name (with its layout version) and a fixed number of
//!   parts, and no two families share a name: so a key determines its family and every part
//!   exactly, and distinct inputs never build the same key (unit-tested by decoding every built
//!   key back, and by property tests of every adapter's key builder). Business ids
//!   (`[A-Za-z0-9._-]`, 1..128 — the `brokerdb` model rule) encode to themselves, so keys stay
//!   readable.
//! - **Tenant-scoped keys carry the tenant as a hash tag** `{<tenant>}` right after the family:
//!   on Redis Cluster all keys of one tenant share a slot (what the audit cache's two-key scripts
//!   need). A prefix should contain no braces, or its own braces pick the slot instead.
//! - Digests (DPoP markers) hash the percent-encoded parts joined by `:`.
//!
//! | adapter (default prefix) | family | layout |
//! |---|---|---|
//! | auth (`broker:auth:`) | session by token hash | `sess:token:<tokenHash>` |
//! | | token hash by session id | `sess:id:<sessionId>` |
//! | | enrollment token | `enroll:<tokenHash>` |
//! | | enrollment consume lock | `enroll:lock:<tokenHash>` |
//! | | DPoP replay marker | `dpop:v2:<sha256hex(enc(replayScope) ":" enc(jti))>` |
//! | forwarder (`broker:fw:`) | execution lock | `lock:v2:{<tenant>}:<workload>:<integration>:<actionGroup>:<idempotencyKey>` |
//! | | idempotency record | `idem:v2:{<tenant>}:<workload>:<integration>:<actionGroup>:<idempotencyKey>` |
//! | policy (`broker:pe:`) | rate-limit counter | `rl:v2:<key>` |
//! | canonicalizer (`broker:canon:`) | template | `template:v2:{<tenant>}:<templateId>:<version>` |
//! | | approve-once | `approval-once:v2:{<tenant>}:<workload>:<integration>:<descriptorSha256>` |
//! | | route rate-limit counter | `route-rl:v2:{<tenant>}:<workload>:<integration>:<actionGroup>:<METHOD>:<host>` |
//! | crypto (`broker:crypto:`) | rotation lock | `rotation-lock:v2:<lockName>` |
//! | ssrf (`broker:ssrf:`) | DNS cache | `dns:v2:<host>` |
//! | | rebinding history | `dns-history:v2:<host>` |
//! | audit (none) | tenant cache generation | `audit-gen:v2:{<tenant>}` |
//! | | cached query | `audit-query:v2:{<tenant>}:<generation>:<filterSha256>` |
//! | read cache (`broker:cache:`, built by `brokerdb-cache` with [`read_cache::encode_key_part`]) | generation | `{<tenant>}:<resource>:@:gen` (system scope: tenant `@system`, unencoded) |
//! | | entry | `{<tenant>}:<resource>:<id>:g<generation>` |
//!
//! Pub/sub channels (`<prefix>invalidation:v1`) are unchanged; the audit cache's generic JSON
//! helpers (`get_json`, `set_json`, `delete_by_prefix`) take raw keys and apply no encoding.
//!
//! **Layout changed from v1.** v1 joined raw parts with `:` (and DPoP hashed `scope|jti`), so
//! tenant `acme`, workload `w1`, key `k1:z` and tenant `acme:w1`, key `z` shared an idempotency
//! record, and a second tenant could read the first one's stored upstream response. Every family
//! whose parts can carry caller text moved to a `v2` name: `lock:…`/`idem:…` → `lock:v2:…`/
//! `idem:v2:…`, `rl:v1:` → `rl:v2:`, `template:`/`approval:once:`/`rl:` (canonicalizer) →
//! `template:v2:`/`approval-once:v2:`/`route-rl:v2:`, `rotation-lock:v1:` → `rotation-lock:v2:`,
//! `dns:v1:`/`dns-history:v1:` → `dns:v2:`/`dns-history:v2:`, `audit:{t}:gen`/`audit:{t}:query:…` →
//! `audit-gen:v2:{t}`/`audit-query:v2:{t}:…`, `dpop:<sha256(scope|jti)>` → `dpop:v2:<digest>`.
//! Sessions and enrollment tokens keep their v1 layout: their parts are a validated 64-hex token
//! hash or UUID, which encode to themselves, so moving them would only have signed every
//! workload out and voided every outstanding enrollment token. Consequences of upgrading: v1
//! entries are neither read nor deleted; they expire by their TTL, except the audit cache's v1
//! generation keys (`<p>audit:{<tenant>}:gen`, no TTL, 16 bytes each), which
//! `AuditCache::delete_by_prefix("<p>audit:")` removes (no v2 key starts with `audit:`; with the
//! default empty prefix, only if nothing else in that Redis uses it). Caches start cold, rate-limit
//! windows and DNS rebinding histories start empty, and DPoP markers set before the upgrade are
//! not seen (a proof replayed across the upgrade within its lifetime is accepted once more).
//! v1 and v2 instances do not see each other's forwarder locks and idempotency records or
//! rotation locks: do not run both against one Redis (stop v1 instances, then start v2), or a
//! request retried across the switch can run twice. TypeScript services of the reference no
//! longer share the changed families.
//!
//! # Deviations from the reference layouts and behaviour
//! "The reference" is the TypeScript implementation of these adapters that brokerdb replaces.
//!
//! Value encodings and channel names are the reference's, and so are the session and enrollment
//! key layouts, so TypeScript services can share those during a migration, except:
//! 1. **Key layouts** of every family that carries caller text are the encoded `v2` layouts
//!    above (the reference joined raw parts with `:`, which let keys of different tenants
//!    collide). The audit query cache also keys by a per-tenant generation
//!    (`audit-query:v2:{<tenant>}:<generation>:<hash>` plus `audit-gen:v2:{<tenant>}`; reference:
//!    `<p>audit:<tenant>:query:<hash>`), which makes a tenant bust O(1) instead of a keyspace
//!    SCAN. A TypeScript service would neither see nor bust these entries.
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
//! 6. **Bounds the reference lacked**: the policy rate-limit key is 1..1024 characters; ids
//!    (tenant, workload, integration) follow the `brokerdb` id rule, `[A-Za-z0-9._-]`, 1..128;
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

pub mod audit;
pub mod auth;
mod cache;
pub mod canonicalizer;
pub mod crypto;
mod fixed_window;
pub mod forwarder;
mod keys;
pub mod outbox;
mod owner_lock;
pub mod policy;
pub mod read_cache;
mod scan;
pub mod scripts;
pub mod ssrf;
mod support;

pub use brokerdb_core::redis::{
    AdapterError, ClientError, ConnSettings, DEFAULT_COMMAND_TIMEOUT, DEFAULT_POOL_SIZE,
    MAX_POOL_SIZE, RedisConn, Subscription, open_client, open_cluster, pubsub,
};
pub use fixed_window::{RateLimitDecision, RateLimitLease};
pub use support::{Clock, normalize_prefix, system_clock};

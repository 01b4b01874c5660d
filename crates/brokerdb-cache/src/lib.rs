//! A two-tier read-through cache for brokerdb's hot reads: an in-process L1 (moka) over a
//! Redis L2, over the library's PostgreSQL reads.
//!
//! [`CachedReads`] answers exactly what the library call it wraps answers — values, `None`,
//! `not_found` and every other error:
//!
//! | method | library call | resource |
//! |---|---|---|
//! | [`CachedReads::execute_lookup`] | `repo::integrations::get_template_for_execute` | [`Resource::ExecuteLookup`] |
//! | [`CachedReads::policy_rules_for_descriptor`] | `repo::policy_rules::list_for_descriptor` | [`Resource::PolicyRules`] |
//! | [`CachedReads::template_version`] | `repo::templates::get_version` | [`Resource::TemplateVersions`] |
//! | [`CachedReads::user`] | `repo::users::get_by_id` | [`Resource::Users`] |
//! | [`CachedReads::manifest_keyset`] | `repo::secrets::keyset::list_verification_keys` (global) | [`Resource::ManifestKeyset`] |
//!
//! # Tiers
//! - **L1**, per process: a `moka` cache bounded by entries and by bytes (each entry weighs its
//!   JSON size plus key, at least `max_bytes / max_entries`, against a capacity of `max_bytes`),
//!   with a per-entry TTL ([`CacheSettings::l1_ttl`], shorter than L2's). Concurrent misses of
//!   one key on one instance make **one** load (moka's `try_get_with` coalesces them).
//! - **L2**, Redis: the answer as JSON under `<prefix>{<tenant>}:<resource>:<id>:g<generation>`
//!   ([`CacheSettings::l2_ttl`]); the resource's generation key and the entry are read in one
//!   round trip (one Lua script). Keys come from one builder; every caller-supplied part is
//!   percent-encoded as in brokerdb-redis, so no two inputs share a key.
//! - **Negative caching**: `None` and the library's `not_found` are cached too, for
//!   [`CacheSettings::negative_ttl`].
//! - Every TTL is cut by a random 0–10 % per entry (jitter).
//!
//! # Busting after commit
//! A writer calls [`CachedReads::invalidate`]`(tenant, resource)` **after its transaction
//! committed** (never before, never inside: a read between the bump and the commit would cache
//! the old value under the new generation). It
//! 1. bumps this process's local generation of (tenant, resource): its L1 entries are stale;
//! 2. replaces the resource's generation in Redis: older L2 entries are unreachable;
//! 3. bumps the local generation again (a read that began in between may have read the old
//!    generation) and publishes `{tenant_id, resource, generation}` on `<prefix>invalidate:v1`.
//!
//! Every instance that [listens](CachedReads::listen) bumps its local generation when the
//! message arrives. An L1 entry remembers the local generation read *before* its load began, so
//! a load that started before a bump and finishes after it is stale at once and never served
//! as fresh. A read that began after a bump never joins a load that began before it.
//!
//! Listening also subscribes to the policy invalidation bus
//! (`brokerdb_redis::policy::PolicyInvalidationBus`, which the outbox relay publishes): a
//! policy rule event drops the tenant's policy-rule entries, a template binding event its
//! execute lookups, a template version event its template versions and execute lookups (L1
//! only; idempotent, so redelivered events are harmless).
//!
//! **Staleness bound.** On the instance that wrote: none. Elsewhere: the message's delivery
//! time; if a message is lost, at most [`CacheSettings::l1_ttl`] (the entry expires; L2 is
//! always generation-checked). When a lost subscription is re-established, every L1 entry is
//! dropped (messages may have been missed). If `invalidate` cannot reach Redis it returns the
//! error; other instances may then serve the old value for up to the L2 TTL.
//!
//! # Fail open
//! Redis unreachable: reads go to PostgreSQL (correct answers), counted as
//! `result="error"` at tier `l2`; such answers are kept in neither tier (they have no
//! generation). L1 is used only while the invalidation subscriptions are up ([`CachedReads::listen`]
//! succeeded): without them no entry could be busted.
//!
//! # Metrics
//! `brokerdb_cache_requests_total{cache,tier,result}` (result `hit`, `miss`, `stale`,
//! `error`), `brokerdb_cache_loads_total{cache}`, `brokerdb_cache_load_duration_seconds{cache}`,
//! `brokerdb_cache_entries{cache}` (L1). `cache` is the resource's label
//! ([`Resource::label`]).

mod epochs;
mod error;
mod invalidation;
mod keys;
mod metrics;
mod reads;
mod settings;
mod stored;
mod tier;

pub use error::CacheError;
pub use keys::Resource;
pub use reads::CachedReads;
pub use settings::{
    CacheSettings, DEFAULT_KEY_PREFIX, DEFAULT_L1_MAX_BYTES, DEFAULT_L1_MAX_ENTRIES,
    DEFAULT_L1_TTL, DEFAULT_L2_TTL, DEFAULT_NEGATIVE_TTL, MIN_L1_MAX_BYTES,
};

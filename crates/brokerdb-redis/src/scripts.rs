//! The Lua scripts, one file each under `src/lua/`. A [`Script`] knows its SHA-1 from the start;
//! calls go out as EVALSHA, and a NOSCRIPT reply (a restarted server, `SCRIPT FLUSH`, a new
//! cluster node) makes the client load the script (on every node of a cluster) and retry once.

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($(#[$doc:meta])* $name:ident = $file:literal) => {
        $(#[$doc])*
        pub(crate) static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(include_str!(concat!("lua/", $file))));
    };
}

script!(
    /// INCR + window TTL: `{count, ttl_ms}`.
    FIXED_WINDOW = "fixed_window.lua"
);
script!(
    /// Delete only if the value is still the expected one.
    DELETE_IF_EQUAL = "delete_if_equal.lua"
);
script!(
    /// Set if absent, else return the existing value.
    IDEMPOTENCY_CREATE = "idempotency_create.lua"
);
script!(
    /// Replace a corrupt (or vanished) record, never a valid one.
    IDEMPOTENCY_REPLACE = "idempotency_replace.lua"
);
script!(
    /// Guarded `in_progress → completed | failed`.
    IDEMPOTENCY_FINISH = "idempotency_finish.lua"
);
script!(
    /// DNS cache compare-and-set on `resolved_at_epoch_ms`.
    DNS_COMPARE_AND_SET = "dns_compare_and_set.lua"
);
script!(
    /// Bounded rebinding-history append.
    DNS_HISTORY_APPEND = "dns_history_append.lua"
);
script!(
    /// Generation-keyed cache read.
    GENERATION_GET = "generation_get.lua"
);
script!(
    /// Generation-keyed cache write.
    GENERATION_SET = "generation_set.lua"
);
script!(
    /// Generation-keyed read of the tiered read cache.
    CACHE_READ = "cache_read.lua"
);

/// A script's name (its file stem), source and SHA-1, for raw comparisons in the bench.
#[derive(Debug, Clone, Copy)]
pub struct ScriptInfo {
    /// File stem under `src/lua/`.
    pub name: &'static str,
    /// The Lua source.
    pub source: &'static str,
    /// Its SHA-1 (what EVALSHA names).
    pub sha1: &'static str,
}

/// Every script.
pub fn all() -> Vec<ScriptInfo> {
    [
        (
            "fixed_window",
            &FIXED_WINDOW,
            include_str!("lua/fixed_window.lua"),
        ),
        (
            "delete_if_equal",
            &DELETE_IF_EQUAL,
            include_str!("lua/delete_if_equal.lua"),
        ),
        (
            "idempotency_create",
            &IDEMPOTENCY_CREATE,
            include_str!("lua/idempotency_create.lua"),
        ),
        (
            "idempotency_replace",
            &IDEMPOTENCY_REPLACE,
            include_str!("lua/idempotency_replace.lua"),
        ),
        (
            "idempotency_finish",
            &IDEMPOTENCY_FINISH,
            include_str!("lua/idempotency_finish.lua"),
        ),
        (
            "dns_compare_and_set",
            &DNS_COMPARE_AND_SET,
            include_str!("lua/dns_compare_and_set.lua"),
        ),
        (
            "dns_history_append",
            &DNS_HISTORY_APPEND,
            include_str!("lua/dns_history_append.lua"),
        ),
        (
            "generation_get",
            &GENERATION_GET,
            include_str!("lua/generation_get.lua"),
        ),
        (
            "generation_set",
            &GENERATION_SET,
            include_str!("lua/generation_set.lua"),
        ),
        (
            "cache_read",
            &CACHE_READ,
            include_str!("lua/cache_read.lua"),
        ),
    ]
    .into_iter()
    .map(|(name, script, source)| ScriptInfo {
        name,
        source,
        sha1: script.get_hash(),
    })
    .collect()
}

/// The script named `name` (file stem), if any.
pub fn by_name(name: &str) -> Option<ScriptInfo> {
    all().into_iter().find(|s| s.name == name)
}

//! The cache's tunables and their defaults.

use std::time::Duration;

use crate::CacheError;

/// Default of [`CacheSettings::l1_max_entries`].
pub const DEFAULT_L1_MAX_ENTRIES: u64 = 10_000;
/// Default of [`CacheSettings::l1_max_bytes`]: 64 MiB.
pub const DEFAULT_L1_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Default of [`CacheSettings::l1_ttl`]: also the staleness bound when an invalidation message
/// is lost.
pub const DEFAULT_L1_TTL: Duration = Duration::from_secs(5);
/// Default of [`CacheSettings::l2_ttl`].
pub const DEFAULT_L2_TTL: Duration = Duration::from_secs(60);
/// Default of [`CacheSettings::negative_ttl`].
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(2);
/// Default of [`CacheSettings::key_prefix`].
pub const DEFAULT_KEY_PREFIX: &str = "broker:cache:";
/// Smallest accepted [`CacheSettings::l1_max_bytes`].
pub const MIN_L1_MAX_BYTES: u64 = 64 * 1024;

/// How the cache behaves. Every TTL is shortened by a random 0–10 % per entry (jitter), so
/// entries loaded together do not expire together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Whether the in-process tier (L1) is used. Off: every read asks Redis (L2) and, on a
    /// miss, PostgreSQL; concurrent misses are then not coalesced.
    pub l1_enabled: bool,
    /// L1 holds at most this many entries.
    pub l1_max_entries: u64,
    /// L1 holds at most about this many bytes of values (their JSON size plus key).
    pub l1_max_bytes: u64,
    /// Lifetime of an L1 entry; must be shorter than `l2_ttl`. The bound on staleness when an
    /// invalidation message is lost.
    pub l1_ttl: Duration,
    /// Lifetime of an L2 (Redis) entry.
    pub l2_ttl: Duration,
    /// Lifetime of a cached "not found" in L2 (in L1 the shorter of this and `l1_ttl`).
    pub negative_ttl: Duration,
    /// Prefix of every Redis key and of the invalidation channel (trimmed; `:` appended).
    pub key_prefix: String,
    /// Prefix of the policy invalidation bus the cache listens to (`None`: the bus's default,
    /// `broker:pe:`).
    pub policy_bus_prefix: Option<String>,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            l1_enabled: true,
            l1_max_entries: DEFAULT_L1_MAX_ENTRIES,
            l1_max_bytes: DEFAULT_L1_MAX_BYTES,
            l1_ttl: DEFAULT_L1_TTL,
            l2_ttl: DEFAULT_L2_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            policy_bus_prefix: None,
        }
    }
}

impl CacheSettings {
    /// Checks the settings: positive TTLs, `l1_ttl < l2_ttl`, at least one entry and
    /// [`MIN_L1_MAX_BYTES`].
    pub fn validate(&self) -> Result<(), CacheError> {
        let bad = |what: &'static str| Err(CacheError::Settings { what });
        if self.l1_ttl.is_zero() || self.l2_ttl.is_zero() || self.negative_ttl.is_zero() {
            return bad("every TTL must be positive");
        }
        if self.l1_ttl >= self.l2_ttl {
            return bad("the L1 TTL must be shorter than the L2 TTL");
        }
        if self.l1_max_entries == 0 {
            return bad("L1 must hold at least one entry");
        }
        if self.l1_max_bytes < MIN_L1_MAX_BYTES {
            return bad("L1 must hold at least 64 KiB");
        }
        Ok(())
    }
}

/// `ttl` shortened by a random 0–10 %, never below 1 ms.
pub(crate) fn jittered(ttl: Duration) -> Duration {
    let cut = rand::random::<f64>() * 0.1;
    ttl.mul_f64(1.0 - cut).max(Duration::from_millis(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_refused() {
        assert!(CacheSettings::default().validate().is_ok());
        let equal = CacheSettings {
            l1_ttl: DEFAULT_L2_TTL,
            ..CacheSettings::default()
        };
        assert!(equal.validate().is_err());
        let empty = CacheSettings {
            l1_max_entries: 0,
            ..CacheSettings::default()
        };
        assert!(empty.validate().is_err());
        let zero = CacheSettings {
            negative_ttl: Duration::ZERO,
            ..CacheSettings::default()
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn jitter_only_shortens_by_up_to_a_tenth() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(10));
            assert!(
                d <= Duration::from_secs(10) && d >= Duration::from_secs(9),
                "{d:?}"
            );
        }
    }
}

//! The MCP tool-call rate limit: one token bucket per (client, tool) in Redis.
//!
//! A bucket holds up to `capacity` tokens and gains `refill_per_second` tokens a second (a
//! fraction accumulates; the level never exceeds the capacity). Every call takes one token or is
//! denied with the wait until one is there. A bucket nobody used is full.
//!
//! **One script, atomic.** Refill (elapsed × rate, capped) and take run in one Lua script
//! (`src/lua/token_bucket.lua`, sent with EVALSHA through [`RedisConn::invoke`], loaded again
//! on NOSCRIPT): concurrent callers on any number of instances never take more tokens than the
//! bucket had. The level is stored as a double in a hash (`tokens`, `ts`), so fractions of a
//! token are kept between calls.
//!
//! **Key** `<prefix>rate_limit:mcp:{<clientId>}:<tool>` (default prefix `broker:projects:`):
//! both parts percent-encoded with the core's one key encoding
//! ([`brokerdb_core::redis::encode_key_part`]: `[A-Za-z0-9._-]` stay, every other byte
//! becomes `%XX`), so an encoded part never holds `:` or braces and two (client, tool) pairs
//! never share a key. The client id is the Redis Cluster hash tag: all buckets of one client live
//! on one slot. The key expires once the bucket would be full again plus [`TTL_MARGIN`], so idle
//! buckets disappear by themselves (and come back full, as they would be).
//!
//! **Time.** By default the script reads the Redis server's clock (`TIME`), so instances with
//! skewed clocks share one notion of time. A caller may pass `now_ms` instead (tests, or a
//! caller with its own trusted clock); a clock that goes backwards refills nothing.
//!
//! **Failure.** A Redis failure is returned (`unavailable` / `unexpected_error`): the caller
//! decides; a rate limit is security state and should fail closed.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use brokerdb_core::redis::push_encoded_key_part;
use brokerdb_core::redis::{AdapterError, RedisConn, normalize_prefix};
use brokerdb_core::scalar::ValidationError;
use redis::Script;

/// The key prefix used when none is given.
pub const DEFAULT_PREFIX: &str = "broker:projects:";
/// Added to a bucket key's TTL beyond the time it takes to refill fully.
pub const TTL_MARGIN: Duration = Duration::from_secs(1);
/// The longest client id, in bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 256;
/// The longest tool name, in bytes.
pub const MAX_TOOL_BYTES: usize = 128;
/// The largest bucket capacity.
pub const MAX_CAPACITY: u64 = 1_000_000_000;
/// The fastest refill rate, in tokens per second.
pub const MAX_REFILL_PER_SECOND: f64 = 1_000_000_000.0;

/// The token-bucket script's Lua source (`src/lua/token_bucket.lua`), which
/// [`McpRateLimiter::try_acquire`] sends with EVALSHA: `KEYS[1]` the bucket, `ARGV` capacity,
/// refill per second, now in ms (`''` for the server's clock) and the TTL margin in ms. For
/// callers that run the same script themselves (the bench's raw side).
pub const TOKEN_BUCKET_SOURCE: &str = include_str!("lua/token_bucket.lua");

static TOKEN_BUCKET: LazyLock<Script> = LazyLock::new(|| Script::new(TOKEN_BUCKET_SOURCE));

/// One bucket's size and pace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketRate {
    /// The most tokens the bucket holds (a burst), 1..=[`MAX_CAPACITY`].
    pub capacity: u64,
    /// Tokens gained per second, finite and in (0, [`MAX_REFILL_PER_SECOND`]].
    pub refill_per_second: f64,
}

impl BucketRate {
    /// A bucket of `capacity` tokens refilled at `refill_per_second`.
    pub fn new(capacity: u64, refill_per_second: f64) -> Self {
        Self {
            capacity,
            refill_per_second,
        }
    }

    fn validate(&self, field: &'static str) -> Result<(), ValidationError> {
        if !(1..=MAX_CAPACITY).contains(&self.capacity) {
            return Err(ValidationError::new(
                field,
                "capacity must be an integer from 1 to 1000000000",
            ));
        }
        let rate = self.refill_per_second;
        if !(rate.is_finite() && rate > 0.0 && rate <= MAX_REFILL_PER_SECOND) {
            return Err(ValidationError::new(
                field,
                "refill_per_second must be a number above 0 and at most 1000000000",
            ));
        }
        Ok(())
    }
}

/// The buckets of every tool: one rate per tool named in `per_tool`, `default` for the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketSettings {
    /// Tool name → its bucket.
    pub per_tool: HashMap<String, BucketRate>,
    /// The bucket of a tool not in `per_tool`.
    pub default: BucketRate,
}

impl BucketSettings {
    /// Every tool gets `default`.
    pub fn new(default: BucketRate) -> Self {
        Self {
            per_tool: HashMap::new(),
            default,
        }
    }

    /// `tool` gets `rate`.
    #[must_use]
    pub fn with_tool(mut self, tool: impl Into<String>, rate: BucketRate) -> Self {
        self.per_tool.insert(tool.into(), rate);
        self
    }

    /// The bucket of `tool`.
    pub fn rate_for(&self, tool: &str) -> BucketRate {
        self.per_tool.get(tool).copied().unwrap_or(self.default)
    }

    fn validate(&self) -> Result<(), ValidationError> {
        self.default.validate("default")?;
        for (tool, rate) in &self.per_tool {
            check_part("per_tool", tool, MAX_TOOL_BYTES)?;
            rate.validate("per_tool")?;
        }
        Ok(())
    }
}

/// What [`McpRateLimiter::try_acquire`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// True when a token was taken: the call may go ahead.
    pub allowed: bool,
    /// Whole tokens left after this call.
    pub remaining: u64,
    /// When denied: milliseconds until a token is there (0 when allowed).
    pub retry_after_ms: u64,
}

/// Token buckets for MCP tool calls (module docs).
#[derive(Debug, Clone)]
pub struct McpRateLimiter {
    conn: RedisConn,
    settings: BucketSettings,
    prefix: String,
}

impl McpRateLimiter {
    /// A limiter over `conn` with [`DEFAULT_PREFIX`]. Settings out of range → `validation_error`
    /// (field `default` or `per_tool`).
    pub fn new(conn: RedisConn, settings: BucketSettings) -> Result<Self, AdapterError> {
        settings.validate()?;
        Ok(Self {
            conn,
            settings,
            prefix: DEFAULT_PREFIX.to_owned(),
        })
    }

    /// The same limiter with key prefix `prefix` (trimmed; empty → [`DEFAULT_PREFIX`]; a `:` is
    /// appended unless present). A prefix should hold no braces, or they pick the cluster slot.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = normalize_prefix(Some(prefix), DEFAULT_PREFIX);
        self
    }

    /// The settings in force.
    pub fn settings(&self) -> &BucketSettings {
        &self.settings
    }

    /// The Redis key of the bucket of (`client_id`, `tool`):
    /// `<prefix>rate_limit:mcp:{<enc clientId>}:<enc tool>`. Inputs are checked as in
    /// [`Self::try_acquire`].
    pub fn key(&self, client_id: &str, tool: &str) -> Result<String, AdapterError> {
        check_part("client_id", client_id, MAX_CLIENT_ID_BYTES)?;
        check_part("tool", tool, MAX_TOOL_BYTES)?;
        let mut key = String::with_capacity(self.prefix.len() + client_id.len() + tool.len() + 24);
        key.push_str(&self.prefix);
        key.push_str("rate_limit:mcp:{");
        push_encoded_key_part(&mut key, client_id);
        key.push_str("}:");
        push_encoded_key_part(&mut key, tool);
        Ok(key)
    }

    /// Takes one token from the bucket of (`client_id`, `tool`), refilled first for the time
    /// since its last use, in one atomic script. `now_ms` (milliseconds since the epoch) replaces
    /// the Redis server's clock when given. An empty client id or tool, or one longer than
    /// [`MAX_CLIENT_ID_BYTES`] / [`MAX_TOOL_BYTES`] bytes, or a negative `now_ms` →
    /// `validation_error` before any I/O.
    pub async fn try_acquire(
        &self,
        client_id: &str,
        tool: &str,
        now_ms: Option<i64>,
    ) -> Result<Decision, AdapterError> {
        let key = self.key(client_id, tool)?;
        let now = match now_ms {
            None => String::new(),
            Some(ms) if ms >= 0 => ms.to_string(),
            Some(_) => {
                return Err(ValidationError::new("now_ms", "must not be negative").into());
            }
        };
        let rate = self.settings.rate_for(tool);
        let margin = u64::try_from(TTL_MARGIN.as_millis()).unwrap_or(u64::MAX);
        let reply: Vec<i64> = self
            .conn
            .invoke(
                TOKEN_BUCKET
                    .key(key)
                    .arg(rate.capacity)
                    // `{:?}` of an f64 round-trips exactly (Lua's tonumber reads it).
                    .arg(format!("{:?}", rate.refill_per_second))
                    .arg(now)
                    .arg(margin),
            )
            .await?;
        match reply.as_slice() {
            &[allowed, remaining, retry_after] if (0..=1).contains(&allowed) => Ok(Decision {
                allowed: allowed == 1,
                remaining: u64::try_from(remaining).unwrap_or(0),
                retry_after_ms: u64::try_from(retry_after).unwrap_or(0),
            }),
            _ => Err(AdapterError::Unexpected {
                message: "token-bucket script returned an unexpected reply".into(),
            }),
        }
    }
}

/// `part` must be 1..=`max` bytes and hold no control character.
fn check_part(field: &'static str, part: &str, max: usize) -> Result<(), ValidationError> {
    if part.is_empty() {
        return Err(ValidationError::new(field, "cannot be empty"));
    }
    if part.len() > max {
        return Err(ValidationError::new(field, "is too long"));
    }
    if part.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_out_of_range_are_refused() {
        for bad in [
            BucketRate::new(0, 1.0),
            BucketRate::new(MAX_CAPACITY + 1, 1.0),
            BucketRate::new(1, 0.0),
            BucketRate::new(1, -1.0),
            BucketRate::new(1, f64::NAN),
            BucketRate::new(1, f64::INFINITY),
        ] {
            assert!(bad.validate("default").is_err(), "{bad:?}");
        }
        assert!(BucketRate::new(1, 0.001).validate("default").is_ok());
    }

    #[test]
    fn parts_are_checked() {
        assert!(check_part("tool", "", 8).is_err());
        assert!(check_part("tool", "123456789", 8).is_err());
        assert!(check_part("tool", "a\nb", 8).is_err());
        assert!(check_part("tool", "a:b{c}", 8).is_ok());
    }

    #[test]
    fn rates_are_sent_in_a_form_lua_reads() {
        assert_eq!(format!("{:?}", 10.0_f64), "10.0");
        assert_eq!(format!("{:?}", 0.001_f64), "0.001");
        assert_eq!(format!("{:?}", 1e9_f64), "1000000000.0");
    }
}

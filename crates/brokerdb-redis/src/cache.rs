//! Cache reads and writes shared by the canonicalizer, audit and SSRF adapters.
//!
//! Reads self-heal: a value that does not parse or breaks its contract is deleted (only if it is
//! still that value, so a good value written meanwhile survives) and reported as a miss. Reads
//! fail open: Redis unreachable is a miss, and the caller goes to PostgreSQL.

use redis::cmd;

use crate::support::{count_cache, expect_ok, fail_open};
use crate::{AdapterError, RedisConn, owner_lock};

/// GET `key` and `parse` it; see the module doc for misses, corrupt values and failures.
pub(crate) async fn read<T>(
    conn: &RedisConn,
    cache: &'static str,
    key: &str,
    parse: impl FnOnce(&[u8]) -> Option<T>,
) -> Result<Option<T>, AdapterError> {
    fail_open(cache, read_strict(conn, cache, key, parse).await)
}

/// Like [`read`] but a Redis failure is an error (for security-relevant readers).
pub(crate) async fn read_strict<T>(
    conn: &RedisConn,
    cache: &'static str,
    key: &str,
    parse: impl FnOnce(&[u8]) -> Option<T>,
) -> Result<Option<T>, AdapterError> {
    let raw: Option<Vec<u8>> = conn.query(cmd("GET").arg(key)).await?;
    let Some(raw) = raw else {
        count_cache(cache, "miss");
        return Ok(None);
    };
    match parse(&raw) {
        Some(value) => {
            count_cache(cache, "hit");
            Ok(Some(value))
        }
        None => {
            count_cache(cache, "corrupt");
            owner_lock::delete_if_equal(conn, key, &raw).await?;
            Ok(None)
        }
    }
}

/// SET `key` to `value` with a TTL in seconds (not acknowledged → `unexpected_error`).
pub(crate) async fn write(
    conn: &RedisConn,
    key: &str,
    value: &str,
    ttl_seconds: u64,
) -> Result<(), AdapterError> {
    expect_ok(
        conn.query(cmd("SET").arg(key).arg(value).arg("EX").arg(ttl_seconds))
            .await?,
    )
}

/// DEL `key` (an O(1) bust of one entry).
pub(crate) async fn delete(conn: &RedisConn, key: &str) -> Result<(), AdapterError> {
    let _: i64 = conn.query(cmd("DEL").arg(key)).await?;
    Ok(())
}

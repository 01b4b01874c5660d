//! Owner-token locks shared by the crypto rotation lock and the forwarder execution lock: SET
//! NX PX with a fresh v4 UUID, released by an atomic compare-and-delete on that token.

use redis::cmd;

use crate::scripts::DELETE_IF_EQUAL;
use crate::{AdapterError, RedisConn};

/// Takes the lock at `key` for `ttl_ms`: `Some(owner token)` when acquired, `None` when held.
pub(crate) async fn acquire(
    conn: &RedisConn,
    key: &str,
    ttl_ms: u64,
) -> Result<Option<String>, AdapterError> {
    let token = uuid::Uuid::new_v4().to_string();
    let reply: Option<String> = conn
        .query(
            cmd("SET")
                .arg(key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms),
        )
        .await?;
    Ok(reply.is_some().then_some(token))
}

/// Deletes `key` only if it still holds `token`; false for a wrong token or an expired lock.
pub(crate) async fn release(
    conn: &RedisConn,
    key: &str,
    token: &str,
) -> Result<bool, AdapterError> {
    delete_if_equal(conn, key, token.as_bytes()).await
}

/// Atomic compare-and-delete.
pub(crate) async fn delete_if_equal(
    conn: &RedisConn,
    key: &str,
    expected: &[u8],
) -> Result<bool, AdapterError> {
    let deleted: i64 = conn.invoke(DELETE_IF_EQUAL.key(key).arg(expected)).await?;
    Ok(deleted == 1)
}

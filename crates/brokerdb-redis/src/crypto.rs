//! Crypto rotation lock: `<prefix>rotation-lock:v2:<lock_name>` (the name
//! percent-encoded, crate docs) holds the owner's token (a v4 UUID) for at most `ttl_ms`; only
//! that token releases it.

use brokerdb::model::{is_uuid, trim};

use crate::keys::layouts::ROTATION_LOCK;
use crate::support::normalize_prefix;
use crate::{AdapterError, RedisConn, owner_lock};

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "broker:crypto:";
/// Longest lock hold accepted (15 minutes).
pub const MAX_TTL_MS: u64 = 900_000;

/// `<prefix>rotation-lock:v2:<lock_name>`: the name trimmed, 1..128 characters of
/// `[A-Za-z0-9:_-]` (else `validation_error`), then encoded as one part.
pub(crate) fn lock_key(prefix: &str, lock_name: &str) -> Result<String, AdapterError> {
    let name = trim(lock_name);
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-');
    if name.is_empty() || name.len() > 128 || !name.chars().all(allowed) {
        return Err(AdapterError::invalid(
            "lock_name",
            "must be 1..128 characters of [A-Za-z0-9:_-]",
        ));
    }
    Ok(ROTATION_LOCK.key(prefix, [name]))
}

/// Manifest-key rotation locks.
#[derive(Clone)]
pub struct CryptoRotationLock {
    conn: RedisConn,
    prefix: String,
}

impl CryptoRotationLock {
    /// Locks over `conn` (prefix default `broker:crypto:`).
    pub fn new(conn: RedisConn, key_prefix: Option<&str>) -> Self {
        Self {
            conn,
            prefix: normalize_prefix(key_prefix, DEFAULT_PREFIX),
        }
    }

    fn key(&self, lock_name: &str) -> Result<String, AdapterError> {
        lock_key(&self.prefix, lock_name)
    }

    /// Takes lock `lock_name` (trimmed, 1..128 of `[A-Za-z0-9:_-]`) for `ttl_ms` (1..900 000):
    /// `Some(owner token)` when acquired, `None` while someone else holds it. (The reference
    /// returned a useless fresh token on failure too.) There is no renewal: choose a TTL that
    /// covers the rotation.
    pub async fn acquire(
        &self,
        lock_name: &str,
        ttl_ms: u64,
    ) -> Result<Option<String>, AdapterError> {
        let key = self.key(lock_name)?;
        if !(1..=MAX_TTL_MS).contains(&ttl_ms) {
            return Err(AdapterError::invalid("ttl_ms", "must be 1..900000"));
        }
        owner_lock::acquire(&self.conn, &key, ttl_ms).await
    }

    /// Releases lock `lock_name` if `token` (a UUID, else `validation_error`) still owns it:
    /// true when released, false for a wrong token or an expired or absent lock. Atomic.
    pub async fn release(&self, lock_name: &str, token: &str) -> Result<bool, AdapterError> {
        let key = self.key(lock_name)?;
        if !is_uuid(token) {
            return Err(AdapterError::invalid("token", "must be a UUID"));
        }
        owner_lock::release(&self.conn, &key, token).await
    }
}

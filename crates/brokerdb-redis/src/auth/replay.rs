//! DPoP replay store: one marker per (replay scope, `jti`) until the proof expires, so a proof
//! is accepted at most once.

use std::sync::Arc;

use brokerdb::model::Timestamp;
use redis::cmd;

use super::Shared;
use crate::AdapterError;
use crate::keys::{self, layouts::DPOP};
use crate::support::{check_len, ttl_seconds_until};

/// `<prefix>dpop:v2:<digest>`, the digest being SHA-256 of the percent-encoded scope and jti
/// joined by `:` (v1 hashed `scope|jti`, so scope `a|b` + jti `c` and scope `a` + jti `b|c`
/// shared a marker). `replay_scope` 1..256 and `jti` 1..512 characters, else
/// `validation_error`.
pub(crate) fn marker_key(
    prefix: &str,
    replay_scope: &str,
    jti: &str,
) -> Result<String, AdapterError> {
    check_len(
        "replayScope",
        replay_scope,
        1,
        256,
        "must be 1..256 characters",
    )?;
    check_len("jti", jti, 1, 512, "must be 1..512 characters")?;
    Ok(DPOP.key(prefix, [&keys::digest(&[replay_scope, jti])]))
}

/// DPoP `jti` markers (`dpop:v2:<sha256hex(enc(replayScope):enc(jti))>`).
#[derive(Clone)]
pub struct ReplayStore {
    shared: Arc<Shared>,
}

impl ReplayStore {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Reserves `jti` in `replay_scope` until `expires_at`: true the first time, false for a
    /// replay. `replay_scope` 1..256 and `jti` 1..512 characters, `expires_at` in the future,
    /// else `validation_error`. One SET NX: of concurrent reservations exactly one wins.
    pub async fn reserve_dpop_jti(
        &self,
        replay_scope: &str,
        jti: &str,
        expires_at: Timestamp,
    ) -> Result<bool, AdapterError> {
        let key = marker_key(&self.shared.prefix, replay_scope, jti)?;
        let ttl = ttl_seconds_until("expiresAt", expires_at, (self.shared.now)())?;
        let set: Option<String> = self
            .shared
            .conn
            .query(cmd("SET").arg(key).arg("1").arg("NX").arg("EX").arg(ttl))
            .await?;
        Ok(set.is_some())
    }
}

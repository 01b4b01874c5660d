//! DPoP replay store (spec §1.3).

use std::sync::Arc;

use brokerdb::model::Timestamp;
use redis::cmd;

use super::Shared;
use crate::AdapterError;
use crate::support::{check_len, sha256_hex, ttl_seconds_until};

/// DPoP `jti` markers (`dpop:<sha256hex(replayScope|jti)>`).
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
        check_len(
            "replayScope",
            replay_scope,
            1,
            256,
            "must be 1..256 characters",
        )?;
        check_len("jti", jti, 1, 512, "must be 1..512 characters")?;
        let ttl = ttl_seconds_until("expiresAt", expires_at, (self.shared.now)())?;
        let digest = sha256_hex(format!("{replay_scope}|{jti}").as_bytes());
        let key = self.shared.key(&["dpop:", &digest]);
        let set: Option<String> = self
            .shared
            .conn
            .query(cmd("SET").arg(key).arg("1").arg("NX").arg("EX").arg(ttl))
            .await?;
        Ok(set.is_some())
    }
}

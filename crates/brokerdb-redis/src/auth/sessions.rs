//! Session store: the session record under its token hash, and the token hash
//! under the session id so a session can be revoked by id.

use std::sync::Arc;

use brokerdb::model::{SessionId, TokenHash, ValidationError};
use brokerdb::repo::sessions::SessionRecord;
use redis::cmd;

use super::Shared;
use crate::AdapterError;
use crate::keys::layouts::{SESSION_ID, SESSION_TOKEN};
use crate::support::{expect_ok, to_json, ttl_seconds_until};

/// `<prefix>sess:token:<hash>` (the hash is 64 lower-case hex, so the v1 layout is unchanged).
pub(crate) fn token_key(prefix: &str, hash: &str) -> String {
    SESSION_TOKEN.key(prefix, [hash])
}

/// `<prefix>sess:id:<uuid>` (lower-case UUID, so the v1 layout is unchanged).
pub(crate) fn id_key(prefix: &str, id: &SessionId) -> String {
    SESSION_ID.key(prefix, [id.as_str()])
}

/// Workload sessions (`sess:token:<hash>`, `sess:id:<uuid>`).
#[derive(Clone)]
pub struct SessionStore {
    shared: Arc<Shared>,
}

impl SessionStore {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn token_key(&self, hash: &str) -> String {
        token_key(&self.shared.prefix, hash)
    }

    fn id_key(&self, id: &SessionId) -> String {
        id_key(&self.shared.prefix, id)
    }

    /// Stores `session` until its `expiresAt` (TTL rounded up to whole seconds; an expiry not
    /// in the future → `validation_error`): the record under the token hash, then the token
    /// hash under the session id. Re-upserting a session with a new token hash deletes the old
    /// token's record (the reference left it usable until it expired).
    pub async fn upsert_session(&self, session: &SessionRecord) -> Result<(), AdapterError> {
        let ttl = ttl_seconds_until("expiresAt", session.expires_at, (self.shared.now)())?;
        let hash = session.token_hash.as_str();
        let json = to_json(session)?;
        let conn = &self.shared.conn;
        let token_key = self.token_key(hash);
        expect_ok(
            conn.query(cmd("SET").arg(&token_key).arg(&json).arg("EX").arg(ttl))
                .await?,
        )?;
        // Bytes, not a String: a corrupt index value (not UTF-8, not a token hash) names no
        // record to delete, and must not fail the upsert that has just replaced it.
        let previous: Option<Vec<u8>> = conn
            .query(
                cmd("SET")
                    .arg(self.id_key(&session.session_id))
                    .arg(hash)
                    .arg("EX")
                    .arg(ttl)
                    .arg("GET"),
            )
            .await?;
        if let Some(old) = previous
            .as_deref()
            .and_then(stored_token_hash)
            .filter(|old| old.as_str() != hash)
        {
            let _: i64 = conn
                .query(cmd("DEL").arg(self.token_key(old.as_str())))
                .await?;
        }
        Ok(())
    }

    /// The live session for a token hash (64 lower-case hex, else `validation_error`), or
    /// `None`. A stored value that is not a valid session record is a `validation_error` (kept for
    /// inspection, as the original did, rather than healed). An expired record is deleted
    /// together with its id index.
    pub async fn get_session_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<SessionRecord>, AdapterError> {
        let hash = TokenHash::parse(token_hash)?;
        let conn = &self.shared.conn;
        let token_key = self.token_key(hash.as_str());
        // Bytes, not a String: a stored value that is not UTF-8 is a corrupt record too.
        let Some(raw): Option<Vec<u8>> = conn.query(cmd("GET").arg(&token_key)).await? else {
            return Ok(None);
        };
        let record: SessionRecord = serde_json::from_slice(&raw).map_err(|_| {
            ValidationError::new("session", "stored session record violates its contract")
        })?;
        if record.expires_at <= (self.shared.now)() {
            let _: i64 = conn
                .query(
                    cmd("DEL")
                        .arg(&token_key)
                        .arg(self.id_key(&record.session_id)),
                )
                .await?;
            return Ok(None);
        }
        Ok(Some(record))
    }

    /// Revokes a session by id (a UUID, else `validation_error`): deletes the id index and the
    /// token record it points to. Idempotent.
    pub async fn revoke_session_by_id(&self, session_id: &str) -> Result<(), AdapterError> {
        let id = SessionId::parse(session_id)?;
        let conn = &self.shared.conn;
        let id_key = self.id_key(&id);
        // Bytes, not a String: a corrupt index value is deleted with nothing else.
        let hash: Option<Vec<u8>> = conn.query(cmd("GET").arg(&id_key)).await?;
        let mut del = cmd("DEL");
        del.arg(&id_key);
        if let Some(hash) = hash.as_deref().and_then(stored_token_hash) {
            del.arg(self.token_key(hash.as_str()));
        }
        // One DEL; on a cluster the client splits it per slot.
        let _: i64 = conn.query(&del).await?;
        Ok(())
    }
}

/// A session-id index value as a token hash, or `None` when it is not one (not UTF-8, not 64
/// lower-case hex digits): such a value names no record the adapter wrote.
fn stored_token_hash(raw: &[u8]) -> Option<TokenHash> {
    std::str::from_utf8(raw)
        .ok()
        .and_then(|text| TokenHash::parse(text).ok())
}

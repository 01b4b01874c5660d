//! Enrollment-token store: one-time tokens, consumed at most once.

use std::sync::Arc;

use brokerdb::model::{Timestamp, TokenHash, ValidationError, WorkloadId};
use redis::cmd;
use serde::{Deserialize, Serialize};

use super::Shared;
use crate::AdapterError;
use crate::keys::layouts::{ENROLLMENT, ENROLLMENT_LOCK};
use crate::support::{to_json, ttl_seconds_until};

/// `<prefix>enroll:<hash>` (64 lower-case hex, so the v1 layout is unchanged).
pub(crate) fn entry_key(prefix: &str, hash: &TokenHash) -> String {
    ENROLLMENT.key(prefix, [hash.as_str()])
}

/// `<prefix>enroll:lock:<hash>` (v1 layout unchanged).
pub(crate) fn lock_key(prefix: &str, hash: &TokenHash) -> String {
    ENROLLMENT_LOCK.key(prefix, [hash.as_str()])
}

/// The stored enrollment token (camelCase on the wire: `{tokenHash, workloadId, expiresAt}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollmentTokenEntry {
    /// SHA-256 hex of the token.
    pub token_hash: TokenHash,
    /// The workload it enrols.
    pub workload_id: WorkloadId,
    /// Last instant it can be consumed (exclusive).
    pub expires_at: Timestamp,
}

/// One-time enrollment tokens (`enroll:<hash>`, consume lock `enroll:lock:<hash>`).
#[derive(Clone)]
pub struct EnrollmentTokenStore {
    shared: Arc<Shared>,
}

impl EnrollmentTokenStore {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Stores a token until its expiry (in the past → `validation_error`); a token already
    /// stored under that hash → `conflict`.
    pub async fn issue_enrollment_token(
        &self,
        record: &EnrollmentTokenEntry,
    ) -> Result<(), AdapterError> {
        let ttl = ttl_seconds_until("expiresAt", record.expires_at, (self.shared.now)())?;
        let key = entry_key(&self.shared.prefix, &record.token_hash);
        let set: Option<String> = self
            .shared
            .conn
            .query(
                cmd("SET")
                    .arg(key)
                    .arg(to_json(record)?)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl),
            )
            .await?;
        match set {
            Some(_) => Ok(()),
            None => Err(AdapterError::Conflict {
                message: "an enrollment token with this hash is already issued".into(),
            }),
        }
    }

    /// Consumes a token: the record once, `None` afterwards, when unknown or expired, or while
    /// another consumer holds the token's lock. The read-and-delete is one GETDEL, so two
    /// consumers can never both get the record; the lock is kept for consumers that share the
    /// Redis and still use the reference's lock-then-GET-then-DEL. A stored value that is not a
    /// valid entry → `validation_error` (it is gone: the token is unusable either way).
    pub async fn consume_enrollment_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<EnrollmentTokenEntry>, AdapterError> {
        let hash = TokenHash::parse(token_hash)?;
        let conn = &self.shared.conn;
        let lock = lock_key(&self.shared.prefix, &hash);
        let locked: Option<String> = conn
            .query(
                cmd("SET")
                    .arg(&lock)
                    .arg("1")
                    .arg("NX")
                    .arg("EX")
                    .arg(self.shared.consume_lock_seconds),
            )
            .await?;
        if locked.is_none() {
            return Ok(None);
        }
        let outcome = self.take(&hash).await;
        let released: Result<i64, _> = conn.query(cmd("DEL").arg(&lock)).await;
        let entry = outcome?;
        released?;
        Ok(entry)
    }

    async fn take(&self, hash: &TokenHash) -> Result<Option<EnrollmentTokenEntry>, AdapterError> {
        let key = entry_key(&self.shared.prefix, hash);
        // Bytes, not a String: a stored value that is not UTF-8 is a corrupt entry too.
        let Some(raw): Option<Vec<u8>> = self.shared.conn.query(cmd("GETDEL").arg(key)).await?
        else {
            return Ok(None);
        };
        let entry: EnrollmentTokenEntry = serde_json::from_slice(&raw).map_err(|_| {
            ValidationError::new("enrollment_token", "stored entry violates its contract")
        })?;
        Ok((entry.expires_at > (self.shared.now)()).then_some(entry))
    }
}

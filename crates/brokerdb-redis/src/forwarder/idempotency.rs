//! Idempotency operations: `in_progress → completed | failed`, each step one script.

use brokerdb::model::{Timestamp, ValidationError, trim};
use redis::Value;

use super::record::{
    IdempotencyConflict, IdempotencyCreate, IdempotencyRecord, IdempotencyState, MAX_RESPONSE_BYTES,
};
use super::{ForwarderScope, ForwarderStore};
use crate::scripts::{IDEMPOTENCY_CREATE, IDEMPOTENCY_FINISH, IDEMPOTENCY_REPLACE};
use crate::support::{non_empty, to_json, ttl_seconds_until};
use crate::{AdapterError, cache};

const MIN_TTL_S: u64 = 60;
const MAX_TTL_S: u64 = 86_400;

fn fingerprint(s: &str) -> Result<&str, ValidationError> {
    let t = trim(s);
    match t.chars().count() >= 32 {
        true => Ok(t),
        false => Err(ValidationError::new(
            "request_fingerprint_sha256",
            "must be at least 32 characters",
        )),
    }
}

impl ForwarderStore {
    /// Creates the `in_progress` record of `scope`, expiring at `expires_at` (60 s..24 h from
    /// now, else `validation_error`). Never overwrites a valid record: of concurrent creators
    /// exactly one gets `Created`; the others get `KeyExists` (same fingerprint) or
    /// `FingerprintMismatch`. A corrupt stored value is replaced (atomically: only if it is
    /// still that value).
    pub async fn create_idempotency_record(
        &self,
        scope: &ForwarderScope,
        request_fingerprint_sha256: &str,
        correlation_id: &str,
        expires_at: Timestamp,
    ) -> Result<IdempotencyCreate, AdapterError> {
        let fp = fingerprint(request_fingerprint_sha256)?;
        non_empty("correlation_id", correlation_id)?;
        let now = (self.now)();
        let ttl = ttl_seconds_until("expires_at", expires_at, now)?;
        if !(MIN_TTL_S..=MAX_TTL_S).contains(&ttl) {
            return Err(AdapterError::invalid(
                "expires_at",
                "must be 60 seconds to 24 hours ahead",
            ));
        }
        let record = to_json(&IdempotencyRecord {
            state: IdempotencyState::InProgress,
            request_fingerprint_sha256: fp.to_owned(),
            correlation_id: correlation_id.to_owned(),
            created_at: now,
            expires_at,
            expires_at_epoch_ms: Some(expires_at.unix_millis()),
            upstream_status_code: None,
            response_bytes: None,
            error_code: None,
        })?;
        let key = self.idempotency_key(scope);
        let reply: Vec<Value> = self
            .conn
            .invoke(IDEMPOTENCY_CREATE.key(&key).arg(&record).arg(ttl))
            .await?;
        let existing = match reply.as_slice() {
            [Value::Int(1)] => return Ok(IdempotencyCreate::Created),
            [Value::Int(0), Value::BulkString(existing)] => existing,
            _ => {
                return Err(AdapterError::unexpected(
                    "create script returned an unexpected reply",
                ));
            }
        };
        match IdempotencyRecord::parse(existing) {
            Some(r) if trim(&r.request_fingerprint_sha256) != fp => Ok(
                IdempotencyCreate::Conflict(IdempotencyConflict::FingerprintMismatch),
            ),
            Some(_) => Ok(IdempotencyCreate::Conflict(IdempotencyConflict::KeyExists)),
            None => {
                let replaced: i64 = self
                    .conn
                    .invoke(
                        IDEMPOTENCY_REPLACE
                            .key(&key)
                            .arg(existing.as_slice())
                            .arg(&record)
                            .arg(ttl),
                    )
                    .await?;
                Ok(match replaced {
                    1 => IdempotencyCreate::Created,
                    _ => IdempotencyCreate::Conflict(IdempotencyConflict::KeyExists),
                })
            }
        }
    }

    /// The record of `scope`, or `None` (missing, or corrupt → deleted). A Redis failure is an
    /// error: idempotency is security state.
    pub async fn get_idempotency_record(
        &self,
        scope: &ForwarderScope,
    ) -> Result<Option<IdempotencyRecord>, AdapterError> {
        let key = self.idempotency_key(scope);
        cache::read_strict(
            &self.conn,
            "forwarder_idempotency",
            &key,
            IdempotencyRecord::parse,
        )
        .await
    }

    /// `in_progress → completed` with the upstream status (100..599) and response size, if the
    /// record exists, is in progress and was created with `correlation_id`. Returns whether it
    /// was updated. Keeps the remaining TTL.
    pub async fn complete_idempotency_record(
        &self,
        scope: &ForwarderScope,
        correlation_id: &str,
        upstream_status_code: u16,
        response_bytes: u64,
    ) -> Result<bool, AdapterError> {
        non_empty("correlation_id", correlation_id)?;
        if !(100..=599).contains(&upstream_status_code) {
            return Err(AdapterError::invalid(
                "upstream_status_code",
                "must be 100..599",
            ));
        }
        if response_bytes > MAX_RESPONSE_BYTES {
            return Err(AdapterError::invalid(
                "response_bytes",
                "must be 0..99999999999999",
            ));
        }
        self.finish(
            scope,
            correlation_id,
            "completed",
            upstream_status_code,
            response_bytes,
            "",
        )
        .await
    }

    /// `in_progress → failed` with `error_code` (trimmed, non-empty), under the same guard as
    /// [`Self::complete_idempotency_record`].
    pub async fn fail_idempotency_record(
        &self,
        scope: &ForwarderScope,
        correlation_id: &str,
        error_code: &str,
    ) -> Result<bool, AdapterError> {
        non_empty("correlation_id", correlation_id)?;
        let code = brokerdb::model::trimmed_non_empty("error_code", error_code)?;
        self.finish(scope, correlation_id, "failed", 0, 0, code)
            .await
    }

    async fn finish(
        &self,
        scope: &ForwarderScope,
        correlation_id: &str,
        state: &str,
        status: u16,
        bytes: u64,
        error_code: &str,
    ) -> Result<bool, AdapterError> {
        let key = self.idempotency_key(scope);
        let updated: i64 = self
            .conn
            .invoke(
                IDEMPOTENCY_FINISH
                    .key(key)
                    .arg(correlation_id)
                    .arg(state)
                    .arg(status)
                    .arg(bytes)
                    .arg(error_code),
            )
            .await?;
        Ok(updated == 1)
    }
}

//! Forwarder execution locks and idempotency records (spec §8).
//!
//! Keys (prefix default `broker:fw:`):
//! `lock:<tenant>:<workload>:<integration>:<action_group>:<idempotency_key>` (owner token) and
//! `idem:<tenant>:<workload>:<integration>:<action_group>:<idempotency_key>` (JSON record).
//! Security state: every Redis failure is an error (fail closed).

mod idempotency;
mod lock;
mod record;

use brokerdb::model::trimmed_non_empty;

use crate::support::{Clock, normalize_prefix, system_clock};
use crate::{AdapterError, RedisConn};

pub use record::{
    IdempotencyConflict, IdempotencyCreate, IdempotencyRecord, IdempotencyState, MAX_RESPONSE_BYTES,
};

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "broker:fw:";

/// Which request an idempotency key belongs to; every part trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderScope {
    suffix: String,
}

impl ForwarderScope {
    /// Validates the parts: ids and `action_group` trimmed and non-empty, `idempotency_key`
    /// trimmed and `^[A-Za-z0-9._:-]{1,128}$`.
    pub fn new(
        tenant_id: &str,
        workload_id: &str,
        integration_id: &str,
        action_group: &str,
        idempotency_key: &str,
    ) -> Result<Self, AdapterError> {
        let parts = [
            trimmed_non_empty("tenant_id", tenant_id)?,
            trimmed_non_empty("workload_id", workload_id)?,
            trimmed_non_empty("integration_id", integration_id)?,
            trimmed_non_empty("action_group", action_group)?,
        ];
        let key = brokerdb::model::trim(idempotency_key);
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if key.is_empty() || key.len() > 128 || !key.chars().all(allowed) {
            return Err(AdapterError::invalid(
                "idempotency_key",
                "must be 1..128 characters of [A-Za-z0-9._:-]",
            ));
        }
        Ok(Self {
            suffix: format!("{}:{key}", parts.join(":")),
        })
    }
}

/// Options of [`ForwarderStore::new`].
#[derive(Clone, Default)]
pub struct ForwarderOptions {
    /// Key prefix (trimmed; empty → `broker:fw:`; `:` appended).
    pub key_prefix: Option<String>,
    /// Clock for `created_at` and TTLs (default: wall clock).
    pub now: Option<Clock>,
}

/// Execution locks and idempotency records of the forwarder.
#[derive(Clone)]
pub struct ForwarderStore {
    conn: RedisConn,
    prefix: String,
    now: Clock,
}

impl ForwarderStore {
    /// A store over `conn`.
    pub fn new(conn: RedisConn, options: ForwarderOptions) -> Self {
        Self {
            conn,
            prefix: normalize_prefix(options.key_prefix.as_deref(), DEFAULT_PREFIX),
            now: options.now.unwrap_or_else(system_clock),
        }
    }

    fn key(&self, kind: &str, scope: &ForwarderScope) -> String {
        format!("{}{kind}:{}", self.prefix, scope.suffix)
    }
}

//! Forwarder execution locks and idempotency records.
//!
//! Keys (prefix default `broker:fw:`; every part percent-encoded, the tenant a hash tag — crate
//! docs): `lock:v2:{<tenant>}:<workload>:<integration>:<action_group>:<idempotency_key>` (owner
//! token) and `idem:v2:{<tenant>}:<workload>:<integration>:<action_group>:<idempotency_key>`
//! (JSON record). Security state: every Redis failure is an error (fail closed).

mod idempotency;
mod lock;
mod record;

use brokerdb::model::{IntegrationId, TenantId, WorkloadId, trimmed_non_empty};

use crate::keys::Layout;
use crate::keys::layouts::{FORWARDER_IDEMPOTENCY, FORWARDER_LOCK};
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
    tenant_id: TenantId,
    workload_id: WorkloadId,
    integration_id: IntegrationId,
    action_group: String,
    idempotency_key: String,
}

/// The five parts of a forwarder call as received (headers, path), named so they cannot be
/// swapped: what [`ForwarderScope::new`] validates.
#[derive(Debug, Clone, Copy)]
pub struct ForwarderCall<'a> {
    /// The calling workload's tenant.
    pub tenant_id: &'a str,
    /// The calling workload.
    pub workload_id: &'a str,
    /// The integration called.
    pub integration_id: &'a str,
    /// The template path group.
    pub action_group: &'a str,
    /// The caller's idempotency key.
    pub idempotency_key: &'a str,
}

impl ForwarderScope {
    /// Validates the parts: the ids by their model rule (trimmed, 1..128 of `[A-Za-z0-9._-]`),
    /// `action_group` trimmed and non-empty, `idempotency_key` trimmed and
    /// `^[A-Za-z0-9._:-]{1,128}$`. Anything else → `validation_error`.
    pub fn new(call: &ForwarderCall<'_>) -> Result<Self, AdapterError> {
        let ForwarderCall {
            tenant_id,
            workload_id,
            integration_id,
            action_group,
            idempotency_key,
        } = *call;
        let tenant_id = TenantId::parse(tenant_id)?;
        let workload_id = WorkloadId::parse(workload_id)?;
        let integration_id = IntegrationId::parse(integration_id)?;
        let action_group = trimmed_non_empty("action_group", action_group)?.to_owned();
        let key = brokerdb::model::trim(idempotency_key);
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
        if key.is_empty() || key.len() > 128 || !key.chars().all(allowed) {
            return Err(AdapterError::invalid(
                "idempotency_key",
                "must be 1..128 characters of [A-Za-z0-9._:-]",
            ));
        }
        Ok(Self {
            tenant_id,
            workload_id,
            integration_id,
            action_group,
            idempotency_key: key.to_owned(),
        })
    }

    /// The key of this scope in `layout`.
    fn key(&self, layout: Layout<5>, prefix: &str) -> String {
        layout.key(
            prefix,
            [
                self.tenant_id.as_str(),
                self.workload_id.as_str(),
                self.integration_id.as_str(),
                &self.action_group,
                &self.idempotency_key,
            ],
        )
    }
}

/// `<prefix>lock:v2:{<tenant>}:<workload>:<integration>:<action_group>:<idempotency_key>`.
pub(crate) fn lock_key(prefix: &str, scope: &ForwarderScope) -> String {
    scope.key(FORWARDER_LOCK, prefix)
}

/// `<prefix>idem:v2:{<tenant>}:<workload>:<integration>:<action_group>:<idempotency_key>`.
pub(crate) fn idempotency_key(prefix: &str, scope: &ForwarderScope) -> String {
    scope.key(FORWARDER_IDEMPOTENCY, prefix)
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

    fn lock_key(&self, scope: &ForwarderScope) -> String {
        lock_key(&self.prefix, scope)
    }

    fn idempotency_key(&self, scope: &ForwarderScope) -> String {
        idempotency_key(&self.prefix, scope)
    }
}

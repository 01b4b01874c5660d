//! Execution lock: one forwarder at a time per idempotency scope.

use brokerdb::model::{is_uuid, trim};

use super::{ForwarderScope, ForwarderStore};
use crate::{AdapterError, owner_lock};

impl ForwarderStore {
    /// Takes the execution lock of `scope` for `ttl_ms` (1 000..60 000): `Some(owner token)`
    /// when acquired, `None` while another caller holds it. Of concurrent callers exactly one
    /// gets a token.
    pub async fn acquire_execution_lock(
        &self,
        scope: &ForwarderScope,
        ttl_ms: u64,
    ) -> Result<Option<String>, AdapterError> {
        if !(1_000..=60_000).contains(&ttl_ms) {
            return Err(AdapterError::invalid("ttl_ms", "must be 1000..60000"));
        }
        owner_lock::acquire(&self.conn, &self.lock_key(scope), ttl_ms).await
    }

    /// Releases the lock if `lock_token` (trimmed; must be a UUID, as every token this store
    /// issues is) still owns it: true when released, false for a wrong token or an expired
    /// lock. Atomic.
    pub async fn release_execution_lock(
        &self,
        scope: &ForwarderScope,
        lock_token: &str,
    ) -> Result<bool, AdapterError> {
        let token = trim(lock_token);
        if !is_uuid(token) {
            return Err(AdapterError::invalid("lock_token", "must be a UUID"));
        }
        owner_lock::release(&self.conn, &self.lock_key(scope), token).await
    }
}

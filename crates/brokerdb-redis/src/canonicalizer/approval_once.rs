//! Approve-once cache: the approval that covers one exact request (by descriptor hash).

use brokerdb::model::{
    ApprovalStatus, CanonicalRequestDescriptor, IntegrationId, TenantId, Timestamp,
    ValidationError, WorkloadId,
};
use serde::{Deserialize, Serialize};

use super::CanonicalizerCache;
use crate::keys::layouts::APPROVAL_ONCE;
use crate::support::{non_empty, to_json};
use crate::{AdapterError, cache};

const CACHE: &str = "canonicalizer_approval_once";

/// `<prefix>approval-once:v2:{<tenant>}:<workload>:<integration>:<descriptor sha256>`. The
/// descriptor is validated first ([`CanonicalRequestDescriptor::validate`]) and its ids by their
/// model rule (under `descriptor.<field>`); the hash is
/// [`CanonicalRequestDescriptor::sha256`], the one approval dedupe stores.
pub(crate) fn approval_key(
    prefix: &str,
    d: &CanonicalRequestDescriptor,
) -> Result<String, AdapterError> {
    d.validate()?;
    let tenant = TenantId::parse(&d.tenant_id).map_err(|e| e.with_field("descriptor.tenant_id"))?;
    let workload =
        WorkloadId::parse(&d.workload_id).map_err(|e| e.with_field("descriptor.workload_id"))?;
    let integration = IntegrationId::parse(&d.integration_id)
        .map_err(|e| e.with_field("descriptor.integration_id"))?;
    Ok(APPROVAL_ONCE.key(
        prefix,
        [
            tenant.as_str(),
            workload.as_str(),
            integration.as_str(),
            &d.sha256(),
        ],
    ))
}

/// `{approval_id, status, expires_at, template_id, template_version}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalOnceEntry {
    /// At least one character.
    pub approval_id: String,
    /// Its status.
    pub status: ApprovalStatus,
    /// When it expires.
    pub expires_at: Timestamp,
    /// At least one character.
    pub template_id: String,
    /// ≥ 1.
    pub template_version: i64,
}

impl ApprovalOnceEntry {
    /// The rules serde's shape cannot express.
    pub fn validate(&self) -> Result<(), ValidationError> {
        non_empty("approval_id", &self.approval_id)?;
        non_empty("template_id", &self.template_id)?;
        if self.template_version < 1 {
            return Err(ValidationError::new(
                "template_version",
                "must be an integer ≥ 1",
            ));
        }
        Ok(())
    }
}

impl CanonicalizerCache {
    fn approval_key(&self, d: &CanonicalRequestDescriptor) -> Result<String, AdapterError> {
        approval_key(&self.prefix, d)
    }

    /// The cached approval for this exact request, or `None` (miss, unreachable, corrupt →
    /// deleted). An invalid descriptor → `validation_error`.
    pub async fn get_approval_once_cache(
        &self,
        descriptor: &CanonicalRequestDescriptor,
    ) -> Result<Option<ApprovalOnceEntry>, AdapterError> {
        let key = self.approval_key(descriptor)?;
        cache::read(&self.conn, CACHE, &key, |raw| {
            serde_json::from_slice::<ApprovalOnceEntry>(raw)
                .ok()
                .filter(|e| e.validate().is_ok())
        })
        .await
    }

    /// Caches `value` for this request for `ttl_seconds` (≥ 1).
    pub async fn set_approval_once_cache(
        &self,
        descriptor: &CanonicalRequestDescriptor,
        value: &ApprovalOnceEntry,
        ttl_seconds: u64,
    ) -> Result<(), AdapterError> {
        let key = self.approval_key(descriptor)?;
        value.validate()?;
        if ttl_seconds == 0 {
            return Err(AdapterError::invalid(
                "ttl_seconds",
                "must be a positive integer",
            ));
        }
        cache::write(&self.conn, &key, &to_json(value)?, ttl_seconds).await
    }

    /// Removes the cached approval for this request (e.g. when it is decided or used).
    pub async fn invalidate_approval_once_cache(
        &self,
        descriptor: &CanonicalRequestDescriptor,
    ) -> Result<(), AdapterError> {
        let key = self.approval_key(descriptor)?;
        crate::support::count_cache(CACHE, "bust");
        cache::delete(&self.conn, &key).await
    }
}

//! The template-invalidation outbox write (idempotent by signal).

use serde::{Deserialize, Serialize};

use super::REPO;
use crate::db::{DbError, Exec, TenantExec, TxOptions};
use crate::model::{Timestamp, ValidationError, trimmed_non_empty};

const INSERT: &str = "INSERT INTO template_invalidation_outbox (tenant_id, template_id, version, updated_at_signal, payload_json)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT ON CONSTRAINT uq_template_invalidation_outbox_signal DO NOTHING";
const STORED: &str = "SELECT payload_json FROM template_invalidation_outbox
     WHERE template_id = $1 AND version = $2 AND updated_at_signal = $3";

/// `TemplateInvalidationSignal`, kept exactly as received (offset spelling included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateInvalidationSignal {
    /// Template id (non-empty).
    pub template_id: String,
    /// ≥ 1.
    pub version: i32,
    /// Must be the scope's tenant.
    pub tenant_id: String,
    /// A datetime with zone.
    pub updated_at: String,
}

/// Records a signal once: keyed by `(tenant, template_id, version, instant of updated_at)`; a
/// repeat changes nothing. The stored payload must describe the same signal (the instant may be
/// spelled with another offset), else `conflict`. Unknown tenant → `integrity_violation`.
/// Insert-if-absent then compare, so it never aborts a caller's transaction.
pub async fn persist_invalidation_outbox(
    exec: &mut impl TenantExec,
    signal: &TemplateInvalidationSignal,
) -> Result<(), DbError> {
    let template_id = trimmed_non_empty("template_id", &signal.template_id)?.to_owned();
    if signal.version < 1 {
        return Err(ValidationError::new("version", "must be an integer ≥ 1").into());
    }
    if trimmed_non_empty("tenant_id", &signal.tenant_id)? != exec.tenant_id().as_str() {
        return Err(ValidationError::new("tenant_id", "does not match the tenant scope").into());
    }
    let at = Timestamp::parse(&signal.updated_at).map_err(|e| e.with_field("updated_at"))?;
    let payload = serde_json::to_value(signal)
        .map_err(|_| ValidationError::new("signal", "cannot be serialized"))?;
    let (tenant, version, wanted) = (exec.tenant_id().clone(), signal.version, signal.clone());
    exec.op(REPO, "persist_invalidation_outbox")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (tenant, template_id, payload, wanted) = (
                tenant.clone(),
                template_id.clone(),
                payload.clone(),
                wanted.clone(),
            );
            Box::pin(async move {
                tx.execute(INSERT, &[&tenant, &template_id, &version, &at, &payload])
                    .await?;
                let row = tx
                    .query_opt(STORED, &[&template_id, &version, &at])
                    .await?
                    .ok_or(DbError::not_found("outbox signal"))?;
                let stored: serde_json::Value = row.try_get(0)?;
                let stored: TemplateInvalidationSignal =
                    serde_json::from_value(stored).map_err(|_| DbError::Unexpected {
                        message: "stored outbox payload violates its contract".into(),
                    })?;
                let same_instant = Timestamp::parse(&stored.updated_at).is_ok_and(|t| t == at);
                if stored.tenant_id == wanted.tenant_id
                    && stored.template_id.trim() == template_id
                    && stored.version == wanted.version
                    && same_instant
                {
                    Ok(())
                } else {
                    Err(DbError::Conflict {
                        message: "the outbox already holds a different signal for this key".into(),
                    })
                }
            })
        })
        .await
}

//! Template invalidation signal: best-effort fan-out on `<prefix>invalidation:v1` (the durable
//! counterpart is the PostgreSQL outbox).

use std::sync::Arc;

use brokerdb::model::{Timestamp, ValidationError, trimmed_non_empty};
use brokerdb::repo::templates::TemplateInvalidationSignal;

use super::SsrfGuardStore;
use crate::AdapterError;
use crate::pubsub::{self, Subscription};
use crate::support::to_json;

/// The signal with its strings trimmed, or the first rule it breaks.
fn normalized(
    s: &TemplateInvalidationSignal,
) -> Result<TemplateInvalidationSignal, ValidationError> {
    let updated_at = trimmed_non_empty("updated_at", &s.updated_at)?;
    Timestamp::parse(updated_at).map_err(|e| e.with_field("updated_at"))?;
    if s.version < 1 {
        return Err(ValidationError::new("version", "must be an integer ≥ 1"));
    }
    Ok(TemplateInvalidationSignal {
        template_id: trimmed_non_empty("template_id", &s.template_id)?.to_owned(),
        version: s.version,
        tenant_id: trimmed_non_empty("tenant_id", &s.tenant_id)?.to_owned(),
        updated_at: updated_at.to_owned(),
    })
}

fn decode(payload: &[u8]) -> Option<TemplateInvalidationSignal> {
    let signal = serde_json::from_slice(payload).ok()?;
    normalized(&signal).ok()
}

impl SsrfGuardStore {
    /// The channel name (`<prefix>invalidation:v1`).
    pub fn channel(&self) -> String {
        format!("{}invalidation:v1", self.prefix)
    }

    /// Publishes `signal` (strings trimmed; invalid → `validation_error`) as compact JSON
    /// `{template_id, version, tenant_id, updated_at}`.
    pub async fn publish_template_invalidation_signal(
        &self,
        signal: &TemplateInvalidationSignal,
    ) -> Result<(), AdapterError> {
        let signal = normalized(signal)?;
        pubsub::publish(&self.conn, &self.channel(), &to_json(&signal)?).await?;
        Ok(())
    }

    /// Calls `on_signal` with every valid signal published from now on (invalid messages are
    /// dropped). Resolves once subscribed; the returned handle unsubscribes.
    pub async fn subscribe_template_invalidation_signal(
        &self,
        on_signal: impl Fn(TemplateInvalidationSignal) + Send + Sync + 'static,
    ) -> Result<Subscription, AdapterError> {
        pubsub::subscribe(&self.conn, self.channel(), decode, Arc::new(on_signal)).await
    }
}

//! The outbox relay's Redis publisher: a delivered template-invalidation row becomes one message
//! on each invalidation channel.
//!
//! - The signal as stored, on the SSRF guard's template-invalidation channel
//!   (`<prefix>invalidation:v1`, see [`SsrfGuardStore::publish_template_invalidation_signal`]):
//!   the outbox is that best-effort signal's durable counterpart.
//! - A [`PolicyInvalidationEvent`] (`entity_type: template_version`, `entity_id`: the template
//!   id, `updated_at`: the signal's instant) on the policy invalidation bus, which the policy
//!   engine's caches listen to.
//!
//! Both are published for every delivery, and the relay delivers at least once, so a consumer
//! may see a message more than once; invalidations are idempotent by nature.

use brokerdb::model::Timestamp;
use brokerdb::outbox::{OutboxMessage, OutboxPublisher, PublishError};

use crate::policy::{PolicyEntityType, PolicyInvalidationBus, PolicyInvalidationEvent};
use crate::ssrf::SsrfGuardStore;

/// Publishes outbox rows on the template-invalidation signal channel and the policy
/// invalidation bus (module doc).
#[derive(Clone)]
pub struct OutboxRedisPublisher {
    policy: PolicyInvalidationBus,
    signals: SsrfGuardStore,
}

impl OutboxRedisPublisher {
    /// A publisher over the two adapters (their prefixes decide the channels).
    pub fn new(policy: PolicyInvalidationBus, signals: SsrfGuardStore) -> Self {
        Self { policy, signals }
    }
}

impl OutboxPublisher for OutboxRedisPublisher {
    async fn publish(&self, message: &OutboxMessage) -> Result<(), PublishError> {
        let signal = &message.signal;
        let updated_at = Timestamp::parse(&signal.updated_at)
            .map_err(|_| PublishError::new("stored signal has an invalid updated_at"))?;
        self.signals
            .publish_template_invalidation_signal(signal)
            .await
            .map_err(|e| PublishError::new(e.to_string()))?;
        let event = PolicyInvalidationEvent {
            tenant_id: message.tenant_id.as_str().to_owned(),
            entity_type: PolicyEntityType::TemplateVersion,
            entity_id: signal.template_id.clone(),
            updated_at,
        };
        self.policy
            .publish(&event)
            .await
            .map_err(|e| PublishError::new(e.to_string()))
    }
}

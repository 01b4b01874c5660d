//! Policy-engine invalidation bus: `PolicyInvalidationEvent`s on
//! `<prefix>invalidation:v1`.

use std::sync::Arc;

use brokerdb::model::Timestamp;
use serde::{Deserialize, Serialize};

use super::DEFAULT_PREFIX;
use crate::pubsub::{self, Subscription};
use crate::support::{non_empty, normalize_prefix, to_json};
use crate::{AdapterError, RedisConn};

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyEntityType {
    /// A policy rule.
    PolicyRule,
    /// An integration's template binding.
    TemplateBinding,
    /// A template version.
    TemplateVersion,
}

/// `PolicyInvalidationEvent` (compact JSON, fields in this order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInvalidationEvent {
    /// At least one character.
    pub tenant_id: String,
    /// Kind of entity.
    pub entity_type: PolicyEntityType,
    /// At least one character.
    pub entity_id: String,
    /// When it changed.
    pub updated_at: Timestamp,
}

impl PolicyInvalidationEvent {
    /// The string rules serde cannot express.
    pub fn validate(&self) -> Result<(), AdapterError> {
        non_empty("tenant_id", &self.tenant_id)?;
        non_empty("entity_id", &self.entity_id)?;
        Ok(())
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(payload)
            .ok()
            .filter(|e| e.validate().is_ok())
    }
}

/// Publishes and subscribes to policy invalidations.
#[derive(Clone)]
pub struct PolicyInvalidationBus {
    conn: RedisConn,
    channel: String,
}

impl PolicyInvalidationBus {
    /// A bus over `conn` (prefix default `broker:pe:`; channel `<prefix>invalidation:v1`).
    pub fn new(conn: RedisConn, key_prefix: Option<&str>) -> Self {
        Self {
            channel: format!(
                "{}invalidation:v1",
                normalize_prefix(key_prefix, DEFAULT_PREFIX)
            ),
            conn,
        }
    }

    /// The channel name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Publishes `event` (invalid → `validation_error`, before any I/O).
    pub async fn publish(&self, event: &PolicyInvalidationEvent) -> Result<(), AdapterError> {
        event.validate()?;
        pubsub::publish(&self.conn, &self.channel, &to_json(event)?).await?;
        Ok(())
    }

    /// Calls `on_event` with every valid event published from now on (invalid messages are
    /// dropped). Resolves once subscribed; the returned handle unsubscribes.
    pub async fn subscribe(
        &self,
        on_event: impl Fn(PolicyInvalidationEvent) + Send + Sync + 'static,
    ) -> Result<Subscription, AdapterError> {
        pubsub::subscribe(
            &self.conn,
            self.channel.clone(),
            PolicyInvalidationEvent::decode,
            Arc::new(on_event),
        )
        .await
    }
}

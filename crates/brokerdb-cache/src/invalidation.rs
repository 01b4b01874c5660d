//! Busting: generation bumps, the invalidation channel, and the policy invalidation bus.
//!
//! A message on `<prefix>invalidate:v1` is compact JSON
//! `{"tenant_id": "<id>" | null, "resource": "<cache label>", "generation": "<new generation>"}`
//! (`null` tenant: the global keyset). Receiving one bumps the local generation of that
//! (tenant, resource): L1 entries loaded before are stale. Messages are idempotent (a repeat
//! only costs a reload); unparsable ones are dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use brokerdb::db::warn::RateLimited;
use brokerdb::model::TenantId;
use brokerdb_redis::AdapterError;
use brokerdb_redis::policy::{PolicyEntityType, PolicyInvalidationBus, PolicyInvalidationEvent};
use serde::{Deserialize, Serialize};

use crate::CacheError;
use crate::epochs::Epochs;
use crate::keys::{self, Resource, Scope, Variant};
use crate::reads::Inner;

static INVALIDATE_WARNING: RateLimited = RateLimited::new(Duration::from_secs(60));

/// The channel's message.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    tenant_id: Option<String>,
    resource: String,
    generation: String,
}

/// See [`crate::CachedReads::invalidate`].
pub(crate) async fn invalidate(
    inner: &Inner,
    scope: Scope<'_>,
    resource: Resource,
) -> Result<(), CacheError> {
    let epochs = &inner.tiers.epochs;
    epochs.bump(scope, resource);
    let prefix = &inner.tiers.settings.key_prefix;
    let generation_key = keys::key(prefix, scope, resource, Variant::Generation);
    let result = async {
        let store = inner.tiers.store();
        let generation = store.bump(&generation_key).await?;
        // Again after the bump: a read that began between the first bump and this one may have
        // read the old generation (and so an old L2 value) under the new local generation.
        epochs.bump(scope, resource);
        let message = Message {
            tenant_id: match scope {
                Scope::Tenant(t) => Some(t.to_owned()),
                Scope::System => None,
            },
            resource: resource.label().to_owned(),
            generation,
        };
        let payload = serde_json::to_string(&message).map_err(|_| AdapterError::Unexpected {
            message: "invalidation message cannot be encoded".into(),
        })?;
        store.publish(&inner.channel, &payload).await?;
        Ok::<_, AdapterError>(())
    }
    .await;
    if let Err(e) = &result
        && let Some(suppressed) = INVALIDATE_WARNING.check()
    {
        tracing::warn!(
            cache = resource.label(),
            error = %e,
            suppressed,
            "cache invalidation did not reach redis: other instances may serve the old value until their TTLs"
        );
    }
    Ok(result?)
}

/// See [`crate::CachedReads::listen`].
pub(crate) async fn listen(inner: &Inner) -> Result<(), CacheError> {
    let mut subscriptions = inner.subscriptions.lock().await;
    if !subscriptions.is_empty() {
        return Ok(());
    }
    let epochs = inner.tiers.epochs.clone();
    let on_message = {
        let epochs = epochs.clone();
        move |payload: Vec<u8>| on_message(&epochs, &payload)
    };
    let on_resubscribed = {
        let epochs = epochs.clone();
        // Messages sent while the subscription was lost were missed: drop everything.
        move || epochs.bump_all()
    };
    let own = inner
        .tiers
        .store()
        .subscribe(&inner.channel, on_message, on_resubscribed)
        .await?;
    let bus = PolicyInvalidationBus::new(
        inner.redis.clone(),
        inner.tiers.settings.policy_bus_prefix.as_deref(),
    );
    let policy = {
        let epochs = epochs.clone();
        bus.subscribe(move |event| on_policy_event(&epochs, &event))
            .await?
    };
    subscriptions.push(own);
    subscriptions.push(policy);
    // Nothing loaded before now was covered by the subscriptions.
    epochs.bump_all();
    inner.tiers.listening.store(true, Ordering::Release);
    Ok(())
}

/// A message of the channel: bump the local generation it names.
fn on_message(epochs: &Arc<Epochs>, payload: &[u8]) {
    let Ok(message) = serde_json::from_slice::<Message>(payload) else {
        return;
    };
    let Some(resource) = Resource::from_label(&message.resource) else {
        return;
    };
    match (resource, message.tenant_id) {
        (Resource::ManifestKeyset, _) => epochs.bump(Scope::System, resource),
        (_, Some(tenant)) => {
            if let Ok(tenant) = TenantId::parse(&tenant) {
                epochs.bump(Scope::Tenant(tenant.as_str()), resource);
            }
        }
        (_, None) => {}
    }
}

/// A policy invalidation (the outbox's event): drop the tenant's L1 entries of what the
/// entity feeds. Idempotent: a redelivered event only costs a reload.
fn on_policy_event(epochs: &Arc<Epochs>, event: &PolicyInvalidationEvent) {
    let Ok(tenant) = TenantId::parse(&event.tenant_id) else {
        return;
    };
    let scope = Scope::Tenant(tenant.as_str());
    let resources: &[Resource] = match event.entity_type {
        PolicyEntityType::PolicyRule => &[Resource::PolicyRules],
        PolicyEntityType::TemplateBinding => &[Resource::ExecuteLookup],
        PolicyEntityType::TemplateVersion => &[Resource::TemplateVersions, Resource::ExecuteLookup],
    };
    for resource in resources {
        epochs.bump(scope, *resource);
    }
}

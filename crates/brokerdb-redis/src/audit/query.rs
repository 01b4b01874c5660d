//! Cached audit queries: read, write, cache-aside and the per-tenant bust.

use brokerdb::audit::AuditEvent;
use redis::cmd;
use serde::{Deserialize, Serialize};

use super::{AuditCache, AuditCacheFilter, fresh_generation};
use crate::scripts::{GENERATION_GET, GENERATION_SET};
use crate::support::{count_cache, expect_ok, fail_open, to_json};
use crate::{AdapterError, owner_lock};

const CACHE: &str = "audit_query";

/// The stored value: exactly `{"events": [...]}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cached {
    events: Vec<AuditEvent>,
}

fn validate(events: &[AuditEvent]) -> Result<(), AdapterError> {
    events.iter().try_for_each(AuditEvent::validate)?;
    Ok(())
}

impl AuditCache {
    /// The cached events of this tenant and filter (an empty list is a hit), or `None`: a
    /// miss, Redis unreachable (fail open), or a corrupt entry (deleted).
    pub async fn get_cached_audit_query(
        &self,
        tenant_id: &str,
        filter: &AuditCacheFilter,
    ) -> Result<Option<Vec<AuditEvent>>, AdapterError> {
        let found = fail_open(CACHE, self.lookup(tenant_id, filter).await.map(Some))?;
        Ok(found.and_then(|(_, events)| events))
    }

    /// One script call: the tenant's generation and the entry stored under it.
    async fn lookup(
        &self,
        tenant_id: &str,
        filter: &AuditCacheFilter,
    ) -> Result<(String, Option<Vec<AuditEvent>>), AdapterError> {
        let prefix = self.tenant_prefix(tenant_id)?;
        let reply: Vec<Vec<u8>> = self
            .conn
            .invoke(
                GENERATION_GET
                    .key(self.generation_key(tenant_id)?)
                    .key(&prefix)
                    .arg(filter.query_hash())
                    .arg(fresh_generation()),
            )
            .await?;
        let generation = match reply.first() {
            Some(g) => String::from_utf8_lossy(g).into_owned(),
            None => return Err(AdapterError::unexpected("cache script returned nothing")),
        };
        let Some(raw) = reply.get(1) else {
            count_cache(CACHE, "miss");
            return Ok((generation, None));
        };
        let parsed = serde_json::from_slice::<Cached>(raw)
            .ok()
            .filter(|c| validate(&c.events).is_ok());
        match parsed {
            Some(cached) => {
                count_cache(CACHE, "hit");
                Ok((generation, Some(cached.events)))
            }
            None => {
                count_cache(CACHE, "corrupt");
                let key = self.query_key(tenant_id, &generation, filter)?;
                owner_lock::delete_if_equal(&self.conn, &key, raw).await?;
                Ok((generation, None))
            }
        }
    }

    /// Caches `events` (each validated) under the tenant's current generation for `ttl_seconds`
    /// (default: the configured TTL) plus jitter. Prefer [`Self::get_or_set_audit_query`]: it
    /// writes under the generation it read, so a bust between the read and the write is never
    /// overwritten with stale events.
    pub async fn set_cached_audit_query(
        &self,
        tenant_id: &str,
        filter: &AuditCacheFilter,
        events: &[AuditEvent],
        ttl_seconds: Option<u64>,
    ) -> Result<(), AdapterError> {
        validate(events)?;
        let ttl = self.ttl(ttl_seconds)?;
        let value = to_json(&Cached {
            events: events.to_vec(),
        })?;
        let _: String = self
            .conn
            .invoke(
                GENERATION_SET
                    .key(self.generation_key(tenant_id)?)
                    .key(self.tenant_prefix(tenant_id)?)
                    .arg(filter.query_hash())
                    .arg(fresh_generation())
                    .arg(value)
                    .arg(ttl),
            )
            .await?;
        Ok(())
    }

    /// Cache-aside: the cached events on a hit; otherwise `loader()` once, its events validated
    /// (invalid → `validation_error`), written best-effort (a failed write is only logged), and
    /// returned. Loader errors propagate. Redis unreachable → straight to the loader.
    pub async fn get_or_set_audit_query<F, Fut, E>(
        &self,
        tenant_id: &str,
        filter: &AuditCacheFilter,
        ttl_seconds: Option<u64>,
        loader: F,
    ) -> Result<Vec<AuditEvent>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<AuditEvent>, E>>,
        E: From<AdapterError>,
    {
        let ttl = self.ttl(ttl_seconds)?;
        let read = fail_open(CACHE, self.lookup(tenant_id, filter).await.map(Some))?;
        let generation = match read {
            Some((_, Some(events))) => return Ok(events),
            Some((generation, None)) => Some(generation),
            None => None,
        };
        let events = loader().await?;
        validate(&events)?;
        if let Some(generation) = generation {
            let written = self
                .write(tenant_id, &generation, filter, &events, ttl)
                .await;
            if let Err(e) = written {
                tracing::debug!(code = %e.code(), "audit cache write failed (ignored)");
            }
        }
        Ok(events)
    }

    async fn write(
        &self,
        tenant_id: &str,
        generation: &str,
        filter: &AuditCacheFilter,
        events: &[AuditEvent],
        ttl: u64,
    ) -> Result<(), AdapterError> {
        let key = self.query_key(tenant_id, generation, filter)?;
        let value = to_json(&Cached {
            events: events.to_vec(),
        })?;
        expect_ok(
            self.conn
                .query(cmd("SET").arg(key).arg(value).arg("EX").arg(ttl))
                .await?,
        )
    }

    /// Makes every cached query of `tenant_id` unreachable (a new generation: one SET, no
    /// SCAN); other tenants are untouched. Old entries expire with their TTL.
    pub async fn invalidate_audit_query_cache_by_tenant(
        &self,
        tenant_id: &str,
    ) -> Result<(), AdapterError> {
        let key = self.generation_key(tenant_id)?;
        count_cache(CACHE, "bust");
        expect_ok(
            self.conn
                .query(cmd("SET").arg(key).arg(fresh_generation()))
                .await?,
        )
    }
}

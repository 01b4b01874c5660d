//! [`CachedReads`]: the cached forms of the library's hot reads.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use brokerdb::db::{Db, DbError};
use brokerdb::model::{
    CanonicalRequestDescriptor, IntegrationId, TemplateId, TenantId, UserId, WorkloadId,
    normalize_unique_list,
};
use brokerdb::repo::integrations::{self, ExecuteLookup};
use brokerdb::repo::policy_rules::{self, PolicyRule};
use brokerdb::repo::secrets::{VerificationKeyset, keyset};
use brokerdb::repo::templates::{self, Template};
use brokerdb::repo::users::{self, HumanUser};
use brokerdb_redis::RedisConn;
use brokerdb_redis::read_cache::ReadCacheStore;
use brokerdb_redis::{Subscription, normalize_prefix};

use crate::keys::{self, Resource, Scope};
use crate::settings::{CacheSettings, DEFAULT_KEY_PREFIX};
use crate::stored::Stored;
use crate::tier::Tiers;
use crate::{CacheError, invalidation};

/// The id of the one keyset entry.
const KEYSET_ID: &str = "manifest_signing";

/// Cached reads over a [`Db`]: each method answers exactly what the library call it names
/// answers (values, `None`, errors), from L1, L2 or PostgreSQL. Values come shared (an
/// [`Arc`]): an L1 hit copies nothing. Cheap to clone (shared state).
///
/// Writers call [`CachedReads::invalidate`] **after** their transaction committed (crate docs).
#[derive(Clone)]
pub struct CachedReads {
    db: Db,
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) tiers: Tiers,
    pub(crate) redis: RedisConn,
    pub(crate) channel: String,
    pub(crate) subscriptions: tokio::sync::Mutex<Vec<Subscription>>,
}

impl std::fmt::Debug for CachedReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedReads")
            .field("settings", &self.inner.tiers.settings)
            .field("listening", &self.is_listening())
            .finish()
    }
}

impl CachedReads {
    /// The cache over `db` and `redis` (no I/O). L1 is used only once [`Self::listen`] has
    /// succeeded; until then every read asks Redis (and, on a miss, PostgreSQL).
    pub fn new(db: Db, redis: RedisConn, settings: CacheSettings) -> Result<Self, CacheError> {
        settings.validate()?;
        let settings = CacheSettings {
            key_prefix: normalize_prefix(Some(&settings.key_prefix), DEFAULT_KEY_PREFIX),
            ..settings
        };
        Ok(Self {
            db,
            inner: Arc::new(Inner {
                channel: keys::channel(&settings.key_prefix),
                tiers: Tiers::new(ReadCacheStore::new(redis.clone()), settings),
                redis,
                subscriptions: tokio::sync::Mutex::new(Vec::new()),
            }),
        })
    }

    /// The data layer the loads use.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The settings in force (prefix normalized).
    pub fn settings(&self) -> &CacheSettings {
        &self.inner.tiers.settings
    }

    /// The invalidation channel (`<prefix>invalidate:v1`).
    pub fn channel(&self) -> &str {
        &self.inner.channel
    }

    /// Whether the invalidation subscriptions are up (and so L1 is in use, when enabled).
    pub fn is_listening(&self) -> bool {
        self.inner.tiers.listening.load(Ordering::Acquire)
    }

    /// Database loads of `resource` by this instance since it was built (also exported as
    /// `brokerdb_cache_loads_total{cache}`).
    pub fn loads(&self, resource: Resource) -> u64 {
        self.inner.tiers.loads(resource)
    }

    /// Entries of `resource` in L1 (also exported as `brokerdb_cache_entries{cache}`).
    pub fn l1_entries(&self, resource: Resource) -> i64 {
        self.inner.tiers.entries(resource)
    }

    /// Runs L1's pending maintenance (expirations, evictions, the entry gauge) now.
    pub async fn run_pending_tasks(&self) {
        self.inner.tiers.run_pending_tasks().await;
    }

    /// [`integrations::get_template_for_execute`], cached (a missing workload, integration or
    /// template is cached as that `not_found`, for the negative TTL).
    pub async fn execute_lookup(
        &self,
        tenant: &TenantId,
        workload_id: &WorkloadId,
        integration_id: &IntegrationId,
    ) -> Result<Arc<ExecuteLookup>, DbError> {
        let db = &self.db;
        let id = [workload_id.as_str(), integration_id.as_str()];
        let stored = self
            .inner
            .tiers
            .get(
                Resource::ExecuteLookup,
                Scope::Tenant(tenant.as_str()),
                &id,
                || async move {
                    Stored::from_result(
                        integrations::get_template_for_execute(
                            &mut db.tenant(tenant),
                            workload_id,
                            integration_id,
                        )
                        .await,
                    )
                },
            )
            .await?;
        stored.answer()?.ok_or_else(|| DbError::Unexpected {
            message: "cached execute lookup is empty".into(),
        })
    }

    /// [`policy_rules::list_for_descriptor`], cached by the descriptor's policy scope
    /// (integration, path group, method, host, workload, template, version, normalized query
    /// keys). A descriptor the library would refuse, or whose query keys do not normalize, is
    /// passed to the library uncached (its answer depends on more than the scope).
    pub async fn policy_rules_for_descriptor(
        &self,
        tenant: &TenantId,
        descriptor: &CanonicalRequestDescriptor,
    ) -> Result<Arc<Vec<PolicyRule>>, DbError> {
        let db = &self.db;
        let uncached = || async move {
            policy_rules::list_for_descriptor(&mut db.tenant(tenant), descriptor).await
        };
        let Ok((method, host)) = descriptor.policy_scope() else {
            return uncached().await.map(Arc::new);
        };
        if descriptor.tenant_id != tenant.as_str() {
            return uncached().await.map(Arc::new);
        }
        let Ok(query_keys) = normalize_unique_list("descriptor.query_keys", &descriptor.query_keys)
        else {
            return uncached().await.map(Arc::new);
        };
        let version = descriptor.template_version.to_string();
        let query_keys = keys::list_part(&query_keys);
        let id = [
            descriptor.integration_id.as_str(),
            descriptor.matched_path_group_id.as_str(),
            method.as_str(),
            host.as_str(),
            descriptor.workload_id.as_str(),
            descriptor.template_id.as_str(),
            version.as_str(),
            query_keys.as_str(),
        ];
        let stored = self
            .inner
            .tiers
            .get(
                Resource::PolicyRules,
                Scope::Tenant(tenant.as_str()),
                &id,
                || async move { Stored::from_result(uncached().await) },
            )
            .await?;
        Ok(stored.answer()?.unwrap_or_default())
    }

    /// [`templates::get_version`], cached (a missing or disabled version is cached as `None`,
    /// for the negative TTL). A version below 1 goes to the library (which refuses it).
    pub async fn template_version(
        &self,
        tenant: &TenantId,
        template_id: &TemplateId,
        version: i32,
    ) -> Result<Option<Arc<Template>>, DbError> {
        let db = &self.db;
        let load = || async move {
            templates::get_version(&mut db.tenant(tenant), template_id, version).await
        };
        if version < 1 {
            return load().await.map(|t| t.map(Arc::new));
        }
        let v = version.to_string();
        let id = [template_id.as_str(), v.as_str()];
        let stored = self
            .inner
            .tiers
            .get(
                Resource::TemplateVersions,
                Scope::Tenant(tenant.as_str()),
                &id,
                || async move { Stored::from_option(load().await) },
            )
            .await?;
        stored.answer()
    }

    /// [`users::get_by_id`], cached (an unknown user is cached as `None`, for the negative
    /// TTL).
    pub async fn user(
        &self,
        tenant: &TenantId,
        user_id: &UserId,
    ) -> Result<Option<Arc<HumanUser>>, DbError> {
        let db = &self.db;
        let id = [user_id.as_str()];
        let stored = self
            .inner
            .tiers
            .get(
                Resource::Users,
                Scope::Tenant(tenant.as_str()),
                &id,
                || async move {
                    Stored::from_option(users::get_by_id(&mut db.tenant(tenant), user_id).await)
                },
            )
            .await?;
        stored.answer()
    }

    /// [`keyset::list_verification_keys`] (system scope: the keyset is global), cached.
    pub async fn manifest_keyset(&self) -> Result<Option<Arc<VerificationKeyset>>, DbError> {
        let db = &self.db;
        let stored = self
            .inner
            .tiers
            .get(
                Resource::ManifestKeyset,
                Scope::System,
                &[KEYSET_ID],
                || async move {
                    Stored::from_option(keyset::list_verification_keys(&mut db.system()).await)
                },
            )
            .await?;
        stored.answer()
    }

    /// Busts `resource` of `tenant` (for [`Resource::ManifestKeyset`], which is global, the
    /// tenant is ignored) on every instance. Call it **after** the transaction that changed the
    /// data committed — never before, never inside it — or a reader can cache the old value
    /// under the new generation.
    ///
    /// Drops this instance's L1 entries at once, replaces the resource's generation in Redis
    /// (older L2 entries become unreachable) and publishes on [`Self::channel`], so other
    /// instances drop their L1 entries when the message arrives. A Redis failure is returned:
    /// this instance is still busted, the others may serve the old value until their L1 TTL
    /// and — the generation unchanged — the L2 TTL.
    pub async fn invalidate(
        &self,
        tenant: &TenantId,
        resource: Resource,
    ) -> Result<(), CacheError> {
        let scope = match resource {
            Resource::ManifestKeyset => Scope::System,
            _ => Scope::Tenant(tenant.as_str()),
        };
        invalidation::invalidate(&self.inner, scope, resource).await
    }

    /// Busts the manifest keyset on every instance (as [`Self::invalidate`]).
    pub async fn invalidate_manifest_keyset(&self) -> Result<(), CacheError> {
        invalidation::invalidate(&self.inner, Scope::System, Resource::ManifestKeyset).await
    }

    /// Subscribes to the invalidation channel and the policy invalidation bus; from then on L1
    /// is used (when enabled). Idempotent. Redis unreachable → error, and L1 stays unused.
    pub async fn listen(&self) -> Result<(), CacheError> {
        invalidation::listen(&self.inner).await
    }
}

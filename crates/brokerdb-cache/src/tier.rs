//! The read path through both tiers: L1 (moka, in process) over L2 (Redis, generation-keyed)
//! over the database load.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use brokerdb::db::DbError;
use brokerdb::db::warn::RateLimited;
use brokerdb_redis::read_cache::{GenerationRead, ReadCacheStore};
use moka::Expiry;
use moka::future::Cache;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::epochs::Epochs;
use crate::keys::{self, Resource, Scope, Variant};
use crate::metrics::{self, Outcome, Tier};
use crate::settings::{CacheSettings, jittered};
use crate::stored::Stored;

/// How often a read retries L1 when invalidations keep overtaking its loads before it reads
/// without L1.
const L1_ATTEMPTS: usize = 3;

static REDIS_WARNING: RateLimited = RateLimited::new(Duration::from_secs(60));

type AnyValue = Arc<dyn Any + Send + Sync>;

/// An L1 entry: the decoded answer and the local generation its load started under.
#[derive(Clone)]
struct L1Entry {
    value: AnyValue,
    resource: Resource,
    epoch: u64,
    weight: u32,
    ttl: Duration,
}

/// Per-entry TTL (positive and negative answers differ, each jittered).
struct EntryExpiry;

impl Expiry<String, L1Entry> for EntryExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &L1Entry,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Why a load did not give an L1 entry.
enum LoadFailure {
    /// The library's error (not cached).
    Db(DbError),
    /// Redis failed: the answer came from PostgreSQL under no generation, so it is returned
    /// but kept nowhere.
    Uncached(AnyValue),
}

/// Both tiers and their bookkeeping.
pub(crate) struct Tiers {
    l1: Option<Cache<String, L1Entry>>,
    store: ReadCacheStore,
    pub(crate) epochs: Arc<Epochs>,
    pub(crate) settings: CacheSettings,
    pub(crate) listening: AtomicBool,
    loads: [AtomicU64; 5],
    entries: Arc<[AtomicI64; 5]>,
    min_weight: u32,
}

impl Tiers {
    /// `settings` must be valid, its prefix normalized.
    pub(crate) fn new(store: ReadCacheStore, settings: CacheSettings) -> Self {
        let entries: Arc<[AtomicI64; 5]> = Arc::new(Default::default());
        // Every entry weighs at least max_bytes / max_entries, so neither bound is exceeded.
        let min_weight = u32::try_from(settings.l1_max_bytes.div_ceil(settings.l1_max_entries))
            .unwrap_or(u32::MAX)
            .max(1);
        let l1 = settings.l1_enabled.then(|| {
            let counts = entries.clone();
            Cache::builder()
                .max_capacity(settings.l1_max_bytes)
                .weigher(|_key: &String, entry: &L1Entry| entry.weight)
                .expire_after(EntryExpiry)
                .eviction_listener(move |_key, entry: L1Entry, _cause| {
                    let i = entry.resource.index();
                    if let Some(n) = counts.get(i) {
                        let now = n.fetch_sub(1, Ordering::AcqRel) - 1;
                        metrics::entries(entry.resource, now);
                    }
                })
                .build()
        });
        Self {
            l1,
            store,
            epochs: Arc::new(Epochs::new()),
            settings,
            listening: AtomicBool::new(false),
            loads: Default::default(),
            entries,
            min_weight,
        }
    }

    pub(crate) fn store(&self) -> &ReadCacheStore {
        &self.store
    }

    /// Database loads of `resource` since start.
    pub(crate) fn loads(&self, resource: Resource) -> u64 {
        self.loads
            .get(resource.index())
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// L1 entries of `resource` (eviction bookkeeping may lag a little).
    pub(crate) fn entries(&self, resource: Resource) -> i64 {
        self.entries
            .get(resource.index())
            .map_or(0, |n| n.load(Ordering::Relaxed).max(0))
    }

    /// Runs L1's pending maintenance (evictions, listeners) now.
    pub(crate) async fn run_pending_tasks(&self) {
        if let Some(l1) = &self.l1 {
            l1.run_pending_tasks().await;
        }
    }

    /// L1 when it is on and trusted: only while invalidation messages are received.
    fn trusted_l1(&self) -> Option<&Cache<String, L1Entry>> {
        self.l1
            .as_ref()
            .filter(|_| self.listening.load(Ordering::Acquire))
    }

    /// The answer for `(scope, resource, id)`: L1, else L2, else `load` (PostgreSQL).
    pub(crate) async fn get<V, F, Fut>(
        &self,
        resource: Resource,
        scope: Scope<'_>,
        id: &[&str],
        load: F,
    ) -> Result<Arc<Stored<V>>, DbError>
    where
        V: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: Fn() -> Fut + Send + Sync,
        Fut: Future<Output = Result<Stored<V>, DbError>> + Send,
    {
        let base = keys::key(
            &self.settings.key_prefix,
            scope,
            resource,
            Variant::Entry(id),
        );
        let stripe = Epochs::stripe(scope, resource);
        if let Some(l1) = self.trusted_l1() {
            let start = self.epochs.current(stripe);
            for _ in 0..L1_ATTEMPTS {
                match l1.get(&base).await {
                    Some(e) if e.epoch == self.epochs.current(stripe) => {
                        metrics::count(resource, Tier::L1, Outcome::Hit);
                        return downcast(e.value);
                    }
                    Some(_) => {
                        metrics::count(resource, Tier::L1, Outcome::Stale);
                        l1.invalidate(&base).await;
                    }
                    None => metrics::count(resource, Tier::L1, Outcome::Miss),
                }
                let init = async {
                    let loaded = self
                        .through_l2::<V, F, Fut>(resource, scope, &base, stripe, &load)
                        .await;
                    if loaded.is_ok()
                        && let Some(n) = self.entries.get(resource.index())
                    {
                        let now = n.fetch_add(1, Ordering::AcqRel) + 1;
                        metrics::entries(resource, now);
                    }
                    loaded
                };
                match l1.try_get_with(base.clone(), init).await {
                    // Loaded (or found) under a local generation this call must not look past.
                    Ok(e) if e.epoch >= start => return downcast(e.value),
                    // Joined a load that began before an invalidation this call has seen.
                    Ok(_) => continue,
                    Err(failure) => {
                        return match &*failure {
                            LoadFailure::Db(e) => Err(e.clone()),
                            LoadFailure::Uncached(v) => downcast(v.clone()),
                        };
                    }
                }
            }
        }
        match self
            .through_l2::<V, F, Fut>(resource, scope, &base, stripe, &load)
            .await
        {
            Ok(e) => downcast(e.value),
            Err(LoadFailure::Db(e)) => Err(e),
            Err(LoadFailure::Uncached(v)) => downcast(v),
        }
    }

    /// L2 (generation and entry in one round trip), else the database, writing L2 back. The
    /// local generation is read first, so an invalidation arriving during the load makes the
    /// result stale in L1 at once.
    async fn through_l2<V, F, Fut>(
        &self,
        resource: Resource,
        scope: Scope<'_>,
        base: &str,
        stripe: usize,
        load: &F,
    ) -> Result<L1Entry, LoadFailure>
    where
        V: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Stored<V>, DbError>>,
    {
        let epoch = self.epochs.current(stripe);
        let generation_key = keys::key(
            &self.settings.key_prefix,
            scope,
            resource,
            Variant::Generation,
        );
        let generation = match self.store.read(&generation_key, base).await {
            Ok(GenerationRead {
                generation,
                value: Some(bytes),
            }) => {
                let decoded = serde_json::from_slice::<Stored<V>>(&bytes)
                    .ok()
                    .filter(Stored::is_valid);
                if let Some(stored) = decoded {
                    metrics::count(resource, Tier::L2, Outcome::Hit);
                    return Ok(self.entry(resource, stored, epoch, base.len() + bytes.len()));
                }
                // Unreadable (corrupt, or an older layout of the value): reload and overwrite.
                metrics::count(resource, Tier::L2, Outcome::Stale);
                generation
            }
            Ok(GenerationRead {
                generation,
                value: None,
            }) => {
                metrics::count(resource, Tier::L2, Outcome::Miss);
                generation
            }
            Err(e) => {
                metrics::count(resource, Tier::L2, Outcome::Error);
                warn_redis(resource, &e);
                let stored = self.load(resource, load).await.map_err(LoadFailure::Db)?;
                return Err(LoadFailure::Uncached(Arc::new(stored)));
            }
        };
        let stored = self.load(resource, load).await.map_err(LoadFailure::Db)?;
        let mut size = base.len();
        if let Ok(json) = serde_json::to_vec(&stored) {
            size += json.len();
            let ttl = if stored.is_negative() {
                self.settings.negative_ttl
            } else {
                self.settings.l2_ttl
            };
            if let Err(e) = self
                .store
                .write(base, &generation, &json, jittered(ttl))
                .await
            {
                metrics::count(resource, Tier::L2, Outcome::Error);
                warn_redis(resource, &e);
            }
        }
        Ok(self.entry(resource, stored, epoch, size))
    }

    /// The database load, counted and timed.
    async fn load<V, F, Fut>(&self, resource: Resource, load: &F) -> Result<Stored<V>, DbError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Stored<V>, DbError>>,
    {
        let started = Instant::now();
        let result = load().await;
        if let Some(n) = self.loads.get(resource.index()) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        metrics::load(resource, started.elapsed());
        result
    }

    fn entry<V: Send + Sync + 'static>(
        &self,
        resource: Resource,
        stored: Stored<V>,
        epoch: u64,
        size: usize,
    ) -> L1Entry {
        let ttl = if stored.is_negative() {
            self.settings.negative_ttl.min(self.settings.l1_ttl)
        } else {
            self.settings.l1_ttl
        };
        L1Entry {
            value: Arc::new(stored),
            resource,
            epoch,
            weight: u32::try_from(size).unwrap_or(u32::MAX).max(self.min_weight),
            ttl: jittered(ttl),
        }
    }
}

/// The typed answer (each resource stores one type, so this always succeeds).
fn downcast<V: Send + Sync + 'static>(value: AnyValue) -> Result<Arc<Stored<V>>, DbError> {
    value
        .downcast::<Stored<V>>()
        .map_err(|_| DbError::Unexpected {
            message: "cache entry of an unexpected type".into(),
        })
}

fn warn_redis(resource: Resource, err: &brokerdb_redis::AdapterError) {
    if let Some(suppressed) = REDIS_WARNING.check() {
        tracing::warn!(
            cache = resource.label(),
            error = %err,
            suppressed,
            "redis unavailable to the read cache: reading from PostgreSQL"
        );
    }
}

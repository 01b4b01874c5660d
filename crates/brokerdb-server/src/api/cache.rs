//! The read cache in the API: busting after a committed write, and the invalidation
//! listener.
//!
//! Every write route that changes what a cached read answers calls [`bust`] **after** its
//! transaction committed. A failed bust does not fail the request (the write is committed);
//! it is logged by the cache, and other instances may then serve the old value until their
//! TTLs (see `brokerdb_cache`).

use std::time::Duration;

use brokerdb::model::TenantId;
use brokerdb_cache::{CachedReads, Resource};
use tokio::task::JoinHandle;

use crate::app::AppState;

/// Busts `resources` of `tenant` on every instance (call after the commit).
pub async fn bust(state: &AppState, tenant: &TenantId, resources: &[Resource]) {
    for resource in resources {
        // The cache logs failures (rate-limited); the committed write stands.
        let _ = state.api.cache.invalidate(tenant, *resource).await;
    }
}

/// Subscribes the cache to its invalidation channels, retrying every second until it
/// succeeds; the cache uses its in-process tier from then on. Abort the task to stop trying.
pub fn spawn_listener(cache: CachedReads) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match cache.listen().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "read cache cannot subscribe to invalidations yet: in-process tier unused");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

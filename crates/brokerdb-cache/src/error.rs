//! The cache's own errors (reads return the library's `DbError`, exactly as uncached).

use brokerdb_redis::AdapterError;

/// What can fail in the cache itself: its settings, and the Redis work of busting and
/// listening. Reads never fail because of the cache (they fall back to PostgreSQL).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The settings are inconsistent.
    #[error("invalid cache settings: {what}")]
    Settings {
        /// What is wrong.
        what: &'static str,
    },
    /// Redis refused or could not be reached (fixed text, no key or value).
    #[error("cache redis error: {0}")]
    Redis(#[from] AdapterError),
}

//! Building a pool the way the data layer expects; the application owns what it builds.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{Config, NoTls};

use super::DbError;

/// Connect and checkout waits give up after this long (`unavailable`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of at most `size` connections for `cfg`. `Fast` recycling adds no query per checkout
/// (a broken connection is still detected and replaced); prepared statements are cached per
/// connection.
pub fn build(cfg: &Config, size: usize) -> Result<Pool, DbError> {
    let mut cfg = cfg.clone();
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(CONNECT_TIMEOUT);
    }
    let manager = Manager::from_config(
        cfg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CONNECT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|_| DbError::DependencyMissing {
            what: "a tokio runtime for the connection pool",
        })
}

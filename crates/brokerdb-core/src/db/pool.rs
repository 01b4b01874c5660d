//! Building a pool the way the data layer expects; the application owns what it builds.

use std::time::Duration;

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Pool, QueueMode, RecyclingMethod, Runtime,
};

use super::StatementMode;

pub use super::tls::{RootCerts, SslMode, TlsError, TlsSettings};
use crate::conninfo::ConnInfo;

/// A pool that cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The TLS settings cannot be used (an unreadable `sslrootcert`, no system roots).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// No tokio runtime is running.
    #[error("dependency_missing: a tokio runtime for the connection pool")]
    NoRuntime,
}

/// Connect and checkout waits give up after this long (`unavailable`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of at most `size` connections for `info`, over TLS as its [`TlsSettings`] say. `Fast`
/// recycling adds no query per checkout (a broken connection is still detected and replaced);
/// prepared statements are cached per connection. Checkouts take the most recently returned
/// connection (LIFO): after a burst has opened many connections, a lone caller keeps reusing
/// one warm connection instead of cycling through all of them, which measured about 100 µs a
/// call slower (a point read at 1 caller after a 16-caller run: 221 µs p50 against pgbench's
/// 118 µs). For [`StatementMode::Prepared`]; see [`build_for`].
pub fn build(info: &ConnInfo, size: usize) -> Result<Pool, BuildError> {
    build_for(info, size, StatementMode::Prepared)
}

/// [`build`] for a handle in `mode`: in [`StatementMode::Unnamed`] each new connection first
/// resolves the database's enum, domain and composite types inside one transaction, so no type
/// lookup happens later outside a transaction (what PgBouncer in transaction mode needs). Give
/// [`Db::from_pools`](super::Db::from_pools) pools built for the mode of its settings.
pub fn build_for(info: &ConnInfo, size: usize, mode: StatementMode) -> Result<Pool, BuildError> {
    let mut cfg = info.config.clone();
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(CONNECT_TIMEOUT);
    }
    let manager = Manager::from_config(
        cfg,
        info.tls.connector()?,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let mut builder = Pool::builder(manager);
    if mode == StatementMode::Unnamed {
        builder = builder.post_create(Hook::async_fn(|client, _| {
            Box::pin(async move {
                super::statement::warm_types(client)
                    .await
                    .map_err(HookError::Backend)
            })
        }));
    }
    builder
        .max_size(size.max(1))
        .queue_mode(QueueMode::Lifo)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CONNECT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|_| BuildError::NoRuntime)
}

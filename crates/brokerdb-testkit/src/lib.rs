//! Test support for brokerdb.
//!
//! - [`database()`] gives each test its own freshly migrated database, cloned from a template
//!   database that is migrated once per migration set (fast: a clone is a file copy), and dropped
//!   when the handle is dropped.
//! - [`process_database()`] gives a migrated database that lives as long as the test process, for
//!   data that several tests share and that is costly to build (the [`scale`] generators).
//! - [`redis()`] gives each test a random key prefix on a shared Redis, whose keys are deleted when
//!   the handle is dropped.
//! - [`props`] has the generators of the property tests (arbitrary JSON, hostile strings,
//!   mutations of a valid document).
//! - [`tls::test_certificates`] makes a throwaway CA and a server certificate for TLS tests.
//! - [`redis_cluster()`] does the same on a private 3-master Redis Cluster that the test binary
//!   starts on first use (loopback ports, nothing on disk) and that dies with the process.
//! - [`redis_cluster_with_replicas()`] starts a separate 3-master, 3-replica cluster that one test
//!   owns and may break (failover tests).
//!
//! Servers: `DATABASE_URL` (a superuser URL; the admin side that creates databases) and
//! `REDIS_URL` when set, otherwise private servers started once per test binary with
//! `brokerdb-embedded`. Nothing is skipped when a server is missing: setup panics with the reason.
#![allow(clippy::expect_used, clippy::panic)]

mod database;
pub mod props;
mod redis_cluster;
mod redis_prefix;
pub mod scale;
mod services;
pub mod tls;

/// Every migration set a test database gets, in order: the broker's, then the project store's
/// (what `brokerdb migrate` applies).
pub fn all_sets() -> [brokerdb::migrate::MigrationSet; 2] {
    [
        brokerdb::migrate::broker_set(),
        brokerdb_projects::migration_set(),
    ]
}

pub use database::{TestDatabase, database, empty_database, pgbouncer, process_database};
pub use redis_cluster::{
    FailoverCluster, TestRedisCluster, redis_cluster, redis_cluster_with_replicas,
};
pub use redis_prefix::{TestRedis, redis};

/// Connects with `info` (over TLS as its settings say) and drives the connection on the current
/// runtime.
pub async fn connect(
    info: &brokerdb::conninfo::ConnInfo,
) -> Result<tokio_postgres::Client, brokerdb::conninfo::ConnectError> {
    info.connect().await
}

/// A directory of this test process (`<tmp>/brokerdb-testkit/<pid>/<name>`, created empty),
/// removed by a later test process once this one is gone: for servers a test binary keeps in a
/// `static` (never dropped, so a `TempDir` there would never be removed). Mode 0755, so the
/// `postgres` user can enter it when tests run as root.
pub fn process_dir(name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = services::embedded_dir();
    for dir in [root.parent(), Some(root.as_path())].into_iter().flatten() {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    }
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
    dir
}

/// A random lower-case hex string of `bytes` bytes.
pub(crate) fn random_hex(bytes: usize) -> String {
    let buf: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(buf)
}

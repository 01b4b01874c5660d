//! Backends (standalone and cluster), a controllable clock and raw Redis access for checks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use brokerdb::db::ErrorCode;
use brokerdb::model::Timestamp;
use brokerdb_embedded::{EmbeddedRedis, RedisOptions};
use brokerdb_redis::auth::{AuthOptions, AuthStores};
use brokerdb_redis::{AdapterError, Clock, ConnSettings, RedisConn};
use brokerdb_testkit::{TestRedis, TestRedisCluster};
use redis::FromRedisValue;

/// Runs the body (an async block using `$b: Backend`) once per backend: two tests named
/// `<name>::standalone` and `<name>::cluster`, on a multi-threaded runtime so concurrent tasks
/// really run in parallel.
macro_rules! on_both {
    ($(#[$meta:meta])* async fn $name:ident($b:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($b: $crate::support::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn standalone() {
                body($crate::support::Backend::standalone().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn cluster() {
                body($crate::support::Backend::cluster().await).await
            }
        }
    };
}

enum Guard {
    Standalone(#[allow(dead_code)] TestRedis),
    Cluster(TestRedisCluster),
}

/// One test's Redis: the adapters' connection, a random key prefix, and raw access.
pub struct Backend {
    /// The connection adapters use.
    pub conn: RedisConn,
    /// This test's key prefix (`test:<hex>:`).
    pub prefix: String,
    raw: Raw,
    guard: Guard,
}

pub fn settings() -> ConnSettings {
    ConnSettings {
        command_timeout: Duration::from_secs(5),
        pool_size: 4,
    }
}

impl Backend {
    /// The shared standalone Redis with a fresh prefix.
    pub async fn standalone() -> Self {
        let redis = brokerdb_testkit::redis().await;
        let conn = RedisConn::standalone(redis.client(), settings()).unwrap();
        let raw = Raw::Single(
            redis
                .client()
                .get_multiplexed_async_connection()
                .await
                .unwrap(),
        );
        Self {
            conn,
            raw,
            prefix: redis.prefix().to_owned(),
            guard: Guard::Standalone(redis),
        }
    }

    /// The private cluster with a fresh prefix; pub/sub through node 1.
    pub async fn cluster() -> Self {
        let cluster = brokerdb_testkit::redis_cluster().await;
        let client = cluster.client();
        let conn = RedisConn::cluster(&client, vec![cluster.node_client(1)], settings())
            .await
            .unwrap();
        let raw = Raw::Cluster(client.get_async_connection().await.unwrap());
        Self {
            conn,
            raw,
            prefix: cluster.prefix().to_owned(),
            guard: Guard::Cluster(cluster),
        }
    }

    /// A plain client of one cluster node (pub/sub tests publish around the cluster routing).
    pub fn node_client(&self, i: usize) -> Option<redis::Client> {
        match &self.guard {
            Guard::Cluster(c) => Some(c.node_client(i)),
            Guard::Standalone(_) => None,
        }
    }

    /// `<prefix><suffix>`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// A raw command, for setting up and checking state behind the adapters' back.
    pub async fn raw<T: FromRedisValue>(&self, cmd: &mut redis::Cmd) -> T {
        raw_query(&self.raw, cmd).await
    }

    /// GET as a string.
    pub async fn get(&self, key: &str) -> Option<String> {
        self.raw(redis::cmd("GET").arg(key)).await
    }

    /// SET without TTL.
    pub async fn set(&self, key: &str, value: &str) {
        let _: () = self.raw(redis::cmd("SET").arg(key).arg(value)).await;
    }

    /// Remaining TTL in milliseconds (-2 missing, -1 none).
    pub async fn pttl(&self, key: &str) -> i64 {
        self.raw(redis::cmd("PTTL").arg(key)).await
    }

    /// EXISTS.
    pub async fn exists(&self, key: &str) -> bool {
        self.raw::<i64>(redis::cmd("EXISTS").arg(key)).await == 1
    }
}

/// A plain connection for checks, independent of the adapters' pool.
enum Raw {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

async fn raw_query<T: FromRedisValue>(raw: &Raw, cmd: &mut redis::Cmd) -> T {
    match raw {
        Raw::Single(c) => cmd.query_async(&mut c.clone()).await.unwrap(),
        Raw::Cluster(c) => cmd.query_async(&mut c.clone()).await.unwrap(),
    }
}

/// A clock tests move by hand.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<Timestamp>>);

impl TestClock {
    /// Starts at the current time.
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(Timestamp::now())))
    }

    /// The adapters' view of it.
    pub fn clock(&self) -> Clock {
        let inner = self.0.clone();
        Arc::new(move || *inner.lock().unwrap())
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }

    /// Moves it forward.
    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap();
        *t = t.checked_add(d).unwrap();
    }
}

/// `now + secs`.
pub fn after(now: Timestamp, secs: u64) -> Timestamp {
    now.checked_add(Duration::from_secs(secs)).unwrap()
}

/// The error's code, or a panic naming the unexpected success.
pub fn code<T: std::fmt::Debug>(r: Result<T, AdapterError>) -> ErrorCode {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code(),
    }
}

/// The auth stores of `b` (its prefix) on `clock`.
pub fn auth_stores(b: &Backend, clock: &TestClock) -> AuthStores {
    AuthStores::new(
        b.conn.clone(),
        AuthOptions {
            key_prefix: Some(b.prefix.clone()),
            now: Some(clock.clock()),
            ..AuthOptions::default()
        },
    )
    .unwrap()
}

/// A private redis-server this test may stop, flush or restart (never the shared one); keep the
/// directory alive as long as the server.
pub async fn private_redis() -> (tempfile::TempDir, EmbeddedRedis) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let opts = RedisOptions::new(dir.path(), std::env::var_os("PATH"));
    let server = EmbeddedRedis::start(&opts).await.unwrap();
    (dir, server)
}

//! A seeded database, caches on the test Redis prefix, and metrics read back.

use std::time::{Duration, Instant};

use brokerdb::db::Db;
use brokerdb::model::TenantId;
use brokerdb_cache::{CacheSettings, CachedReads};
use brokerdb_redis::{ConnSettings, RedisConn};
use brokerdb_testkit::{TestDatabase, TestRedis, database, redis};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

/// Test result: any error fails the test with its message.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Two tenants; `t_a` has users `u_a1`, `u_a2`.
pub const SEED: &str = r"
INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'Tenant A'), ('t_b', 'Tenant B');
INSERT INTO human_users (user_id, tenant_id, email) VALUES
  ('u_a1', 't_a', 'a1@example.com'), ('u_a2', 't_a', 'a2@example.com');
INSERT INTO human_user_roles (tenant_id, user_id, role) VALUES
  ('t_a', 'u_a1', 'auditor'), ('t_a', 'u_a2', 'auditor');
";

/// One test's database and Redis prefix.
pub struct Env {
    pub test_db: TestDatabase,
    pub redis: TestRedis,
}

impl Env {
    pub async fn seeded() -> Self {
        let test_db = database().await;
        test_db.admin().await.batch_execute(SEED).await.unwrap();
        Self {
            test_db,
            redis: redis().await,
        }
    }

    /// Settings on this test's prefix with long TTLs (nothing expires during a test unless it
    /// sets shorter ones).
    pub fn settings(&self) -> CacheSettings {
        CacheSettings {
            key_prefix: self.redis.prefix().to_owned(),
            l1_ttl: Duration::from_secs(60),
            l2_ttl: Duration::from_secs(120),
            negative_ttl: Duration::from_secs(60),
            ..CacheSettings::default()
        }
    }

    /// A fresh `Db` (its own pools: one process's worth).
    pub async fn db(&self) -> Db {
        self.test_db.db().await
    }

    /// A cache over a fresh `Db` and a fresh Redis connection, listening.
    pub async fn cache(&self, settings: CacheSettings) -> CachedReads {
        let conn = RedisConn::standalone(self.redis.client(), conn_settings()).unwrap();
        let cache = CachedReads::new(self.db().await, conn, settings).unwrap();
        cache.listen().await.unwrap();
        cache
    }
}

pub fn conn_settings() -> ConnSettings {
    ConnSettings {
        command_timeout: Duration::from_secs(5),
        pool_size: 2,
    }
}

pub fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

/// Polls `check` until it is true or `limit` passes; returns whether it became true.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A recorder to install as this thread's default (`metrics::set_default_local_recorder`) in
/// a current-thread test.
pub fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new().build_recorder()
}

/// The value of `name{labels}` in the recorder's rendering (0 when absent). `labels` are
/// `key="value"` pairs, all of which must be on the line.
pub fn metric(recorder: &PrometheusRecorder, name: &str, labels: &[(&str, &str)]) -> f64 {
    let rendered = recorder.handle().render();
    rendered
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

//! `rediss://` against a private redis-server with a TLS port only (`--port 0`), a certificate
//! from a throwaway CA and `--tls-auth-clients no`, and against a private TLS Redis Cluster
//! (never the machine's shared server).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use brokerdb::db::ErrorCode;
use brokerdb::model::Timestamp;
use brokerdb_embedded::{EmbeddedRedis, EmbeddedRedisCluster, RedisOptions, RedisTls};
use brokerdb_redis::policy::{PolicyRateLimitStore, PolicyRuleType, RateLimit, RateLimitRule};
use brokerdb_redis::{ConnSettings, RedisConn, open_client, open_cluster};
use brokerdb_testkit::tls::{TestCertificates, test_certificates};

use crate::support::code;

struct TlsRedis {
    _dir: tempfile::TempDir,
    certs: TestCertificates,
    server: EmbeddedRedis,
}

async fn tls_redis() -> TlsRedis {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let certs = test_certificates(dir.path());
    let mut opts = RedisOptions::new(dir.path().join("data"), std::env::var_os("PATH"));
    opts.tls = Some(RedisTls {
        cert_file: certs.cert_file.clone(),
        key_file: certs.key_file.clone(),
        ca_file: certs.ca_file.clone(),
    });
    let server = EmbeddedRedis::start(&opts).await.unwrap();
    TlsRedis {
        _dir: dir,
        certs,
        server,
    }
}

fn settings() -> ConnSettings {
    ConnSettings {
        command_timeout: Duration::from_secs(2),
        pool_size: 1,
    }
}

/// One adapter call on a standalone client: a rate-limit check.
async fn adapter_call(client: redis::Client) -> Result<bool, brokerdb_redis::AdapterError> {
    rate_limit_allows(RedisConn::standalone(client, settings())?).await
}

async fn rate_limit_allows(conn: RedisConn) -> Result<bool, brokerdb_redis::AdapterError> {
    let store = PolicyRateLimitStore::new(conn, Some("tls-test:"));
    let rule = RateLimitRule {
        rule_type: PolicyRuleType::RateLimit,
        rate_limit: Some(RateLimit {
            max_requests: 5,
            interval_seconds: 60,
        }),
    };
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        store.check_and_consume("k", &rule, Timestamp::now()),
    )
    .await
    .expect("bounded by the command timeout")?;
    Ok(r.allowed)
}

#[tokio::test]
async fn rediss_with_the_ca_file_works_for_an_adapter_call() {
    let r = tls_redis().await;
    let url = r.server.tls_url().unwrap();
    assert!(url.starts_with("rediss://"));
    let client = open_client(&url, Some(&r.certs.ca_file)).unwrap();
    assert!(adapter_call(client).await.unwrap());
    // The server speaks TLS only: no plaintext TCP port, TLS on tls_port.
    assert_eq!(r.server.port(), None);
    assert!(r.server.tls_port().is_some());
}

#[tokio::test]
async fn plain_redis_to_the_tls_port_fails_unavailable() {
    let r = tls_redis().await;
    let url = r
        .server
        .tls_url()
        .unwrap()
        .replacen("rediss://", "redis://", 1);
    let client = open_client(&url, None).unwrap();
    assert_eq!(code(adapter_call(client).await), ErrorCode::Unavailable);
}

#[tokio::test]
async fn rediss_against_the_system_roots_is_refused_as_unavailable() {
    let r = tls_redis().await;
    let client = open_client(&r.server.tls_url().unwrap(), None).unwrap();
    assert_eq!(code(adapter_call(client).await), ErrorCode::Unavailable);
}

#[tokio::test]
async fn the_socket_of_a_tls_server_needs_the_generated_password() {
    let r = tls_redis().await;
    let socket_url = r.server.url();
    assert!(socket_url.contains("?pass="));
    let client = open_client(&socket_url, None).unwrap();
    assert!(adapter_call(client).await.unwrap());
    let without = socket_url.split('?').next().unwrap().to_owned();
    let err = adapter_call(open_client(&without, None).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unexpected_error: redis replied with an error (NOAUTH)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_to_a_tls_cluster_with_the_ca_file_works_for_an_adapter_call() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let certs = test_certificates(dir.path());
    let mut opts = RedisOptions::new(dir.path().join("data"), std::env::var_os("PATH"));
    opts.tls = Some(RedisTls {
        cert_file: certs.cert_file.clone(),
        key_file: certs.key_file.clone(),
        ca_file: certs.ca_file.clone(),
    });
    let cluster = EmbeddedRedisCluster::start(&opts, 3).await.unwrap();
    let urls = cluster.urls();
    assert!(urls.iter().all(|u| u.starts_with("rediss://")), "{urls:?}");
    let client = open_cluster(&urls, Some(&certs.ca_file))
        .unwrap()
        .connection_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let conn = RedisConn::cluster(&client, Vec::new(), settings())
        .await
        .unwrap();
    assert!(conn.is_cluster());
    assert!(rate_limit_allows(conn).await.unwrap());
    // Without the CA the nodes' certificates are not trusted.
    let untrusted = open_cluster(&urls, None)
        .unwrap()
        .connection_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        RedisConn::cluster(&untrusted, Vec::new(), settings()),
    )
    .await
    .expect("bounded");
    assert_eq!(code(r.map(|_| ())), ErrorCode::Unavailable);
}

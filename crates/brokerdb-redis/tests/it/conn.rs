//! Building connections: settings, and failing fast when Redis is not there.

use std::time::Duration;

use brokerdb::db::ErrorCode;
use brokerdb::model::Timestamp;
use brokerdb_redis::policy::{PolicyRateLimitStore, PolicyRuleType, RateLimit, RateLimitRule};
use brokerdb_redis::{ConnSettings, RedisConn};

use crate::support::code;

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn pool_size_and_timeout_are_validated() {
    let client = redis::Client::open("redis://127.0.0.1:1").unwrap();
    for settings in [
        ConnSettings {
            pool_size: 0,
            ..ConnSettings::default()
        },
        ConnSettings {
            pool_size: 65,
            ..ConnSettings::default()
        },
        ConnSettings {
            command_timeout: Duration::ZERO,
            ..ConnSettings::default()
        },
    ] {
        let r = RedisConn::standalone(client.clone(), settings).map(|_| ());
        assert_eq!(code(r), ErrorCode::ValidationError, "{settings:?}");
    }
    assert_eq!(
        code(RedisConn::from_managers(Vec::new(), Duration::from_secs(1)).map(|_| ())),
        ErrorCode::ValidationError
    );
}

#[tokio::test]
async fn a_standalone_pool_starts_without_redis_and_reports_unavailable() {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}", closed_port())).unwrap();
    let settings = ConnSettings {
        command_timeout: Duration::from_millis(300),
        pool_size: 2,
    };
    let conn = RedisConn::standalone(client, settings).unwrap();
    assert!(!conn.is_cluster());
    let store = PolicyRateLimitStore::new(conn, None);
    let rule = RateLimitRule {
        rule_type: PolicyRuleType::RateLimit,
        rate_limit: Some(RateLimit {
            max_requests: 1,
            interval_seconds: 1,
        }),
    };
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        store.check_and_consume("k", &rule, Timestamp::now()),
    )
    .await
    .expect("bounded by the command timeout");
    assert_eq!(code(r), ErrorCode::Unavailable);
}

#[tokio::test]
async fn a_cluster_that_cannot_be_reached_is_unavailable() {
    let client = redis::cluster::ClusterClient::builder(vec![format!(
        "redis://127.0.0.1:{}",
        closed_port()
    )])
    .connection_timeout(Duration::from_millis(200))
    .build()
    .unwrap();
    let settings = ConnSettings {
        command_timeout: Duration::from_millis(300),
        pool_size: 1,
    };
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        RedisConn::cluster(&client, Vec::new(), settings),
    )
    .await
    .expect("bounded");
    assert_eq!(code(r.map(|_| ())), ErrorCode::Unavailable);
}

//! `/healthz` and `/readyz`, driven in-process.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use brokerdb::db::{CursorKey, DbSettings};
use brokerdb_embedded::{EmbeddedRedis, RedisOptions};
use brokerdb_redis::ConnSettings;
use brokerdb_server::app::{AppState, router};
use brokerdb_server::config::RedisEndpoint;
use brokerdb_server::services::Redis;
use brokerdb_testkit::{TestDatabase, database, empty_database, redis};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::TestResult;

async fn state(db: &TestDatabase, redis_url: &str) -> Result<AppState, Box<dyn std::error::Error>> {
    state_with_ca(db, redis_url, None).await
}

async fn state_with_ca(
    db: &TestDatabase,
    redis_url: &str,
    ca_file: Option<&std::path::Path>,
) -> Result<AppState, Box<dyn std::error::Error>> {
    let redis = Redis {
        endpoint: RedisEndpoint::parse(redis_url, ca_file)?,
        embedded: None,
    }
    .connect(ConnSettings::default())
    .await?;
    Ok(AppState::new(db.db().await, redis)?)
}

async fn get(
    state: AppState,
    path: &str,
) -> Result<(StatusCode, Value), Box<dyn std::error::Error>> {
    let response = router(state)
        .oneshot(Request::get(path).body(Body::empty())?)
        .await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&body)?))
}

#[tokio::test]
async fn readyz_is_200_when_database_redis_and_migrations_are_ok() -> TestResult {
    let db = database().await;
    let r = redis().await;
    let (status, body) = get(state(&db, r.url()).await?, "/readyz").await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let applied = all_migrations();
    assert_eq!(
        body,
        json!({
            "status": "ok",
            "database": { "status": "ok" },
            "redis": { "status": "ok" },
            "migrations": { "status": "ok", "applied": applied, "pending": 0 }
        })
    );
    Ok(())
}

#[tokio::test]
async fn readyz_is_503_and_counts_pending_migrations_on_an_unmigrated_database() -> TestResult {
    let db = empty_database().await;
    let r = redis().await;
    let (status, body) = get(state(&db, r.url()).await?, "/readyz").await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let pending = all_migrations();
    assert_eq!(body["database"]["status"], "ok");
    assert_eq!(body["migrations"]["pending"], pending);
    assert_eq!(
        body["migrations"]["error"],
        format!("{pending} pending migration(s); run `brokerdb migrate`")
    );
    Ok(())
}

#[tokio::test]
async fn readyz_is_503_when_an_applied_migration_has_changed() -> TestResult {
    let db = database().await;
    let r = redis().await;
    db.admin()
        .await
        .execute(
            "UPDATE brokerdb_schema_migrations SET checksum = 'abc' WHERE version = 2",
            &[],
        )
        .await?;
    let (status, body) = get(state(&db, r.url()).await?, "/readyz").await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"]["status"], "ok");
    assert_eq!(body["migrations"]["status"], "unavailable");
    assert_eq!(
        body["migrations"]["error"],
        "1 applied migration(s) changed since they were applied"
    );
    assert_eq!(body["migrations"]["applied"], all_migrations() - 1);
    Ok(())
}

#[tokio::test]
async fn readyz_is_503_when_redis_goes_away() -> TestResult {
    let db = database().await;
    let dir = tempfile::tempdir()?;
    let mut server =
        EmbeddedRedis::start(&RedisOptions::new(dir.path(), std::env::var_os("PATH"))).await?;
    let state = state(&db, &server.url()).await?;
    assert_eq!(get(state.clone(), "/readyz").await?.0, StatusCode::OK);
    server.stop()?;
    let (status, body) = get(state, "/readyz").await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["redis"]["status"], "unavailable");
    assert_eq!(body["database"]["status"], "ok");
    Ok(())
}

#[tokio::test]
async fn readyz_is_200_over_rediss_with_the_ca_file() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let db = database().await;
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let certs = brokerdb_testkit::tls::test_certificates(dir.path());
    let mut opts = RedisOptions::new(dir.path().join("data"), std::env::var_os("PATH"));
    opts.tls = Some(brokerdb_embedded::RedisTls {
        cert_file: certs.cert_file.clone(),
        key_file: certs.key_file.clone(),
        ca_file: certs.ca_file.clone(),
    });
    let server = EmbeddedRedis::start(&opts).await?;
    let url = server.tls_url().ok_or("no TLS port")?;
    let state = state_with_ca(&db, &url, Some(&certs.ca_file)).await?;
    let (status, body) = get(state, "/readyz").await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Without the CA (system roots) the manager cannot connect: a clear start-up error.
    let err = state_with_ca(&db, &url, None)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("cannot connect to Redis"), "{err}");
    Ok(())
}

#[tokio::test]
async fn healthz_answers_without_checking_dependencies() -> TestResult {
    let db = database().await;
    let r = redis().await;
    let (status, body) = get(state(&db, r.url()).await?, "/healthz").await?;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "ok" })));
    Ok(())
}

#[tokio::test]
async fn metrics_expose_repository_and_pool_metrics_after_a_request() -> TestResult {
    let db = database().await;
    let r = redis().await;
    let mut state = state(&db, r.url()).await?;
    // Every operation counts as slow, so the slow-operation counter shows too.
    state.db = brokerdb::db::Db::from_pools(
        brokerdb::db::pool::build(&db.runtime_config(), 2)?,
        brokerdb::db::pool::build(&db.system_config(), 2)?,
        DbSettings {
            slow_threshold: std::time::Duration::ZERO,
            ..DbSettings::default()
        },
        CursorKey::random(),
    )
    .await?;
    assert_eq!(get(state.clone(), "/readyz").await?.0, StatusCode::OK);
    let response = router(state)
        .oneshot(Request::get("/metrics").body(Body::empty())?)
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(response.into_body().collect().await?.to_bytes().to_vec())?;
    for expected in [
        "brokerdb_repo_op_duration_seconds_bucket{repo=\"health\",op=\"ping\",le=",
        "brokerdb_repo_op_duration_seconds_count{repo=\"health\",op=\"ping\"}",
        "brokerdb_tx_retries_total",
        "brokerdb_slow_ops_total{repo=\"health\",op=\"ping\"}",
        "brokerdb_pool_connections{pool=\"runtime\",state=\"max\"} 2",
        "brokerdb_pool_connections{pool=\"system\",state=\"size\"}",
    ] {
        assert!(
            text.contains(expected),
            "{expected} missing from /metrics:\n{text}"
        );
    }
    Ok(())
}

/// How many migrations the binary applies: every set's.
fn all_migrations() -> usize {
    brokerdb_server::schema::migration_sets()
        .iter()
        .map(|s| s.migrations.len())
        .sum()
}

//! The MCP token bucket against real Redis: atomic under concurrency, refill by elapsed time
//! (an injected clock), per-tool sizes, independent buckets, input checks, and the same on the
//! private Redis Cluster.

use std::sync::Arc;
use std::time::Duration;

use brokerdb::db::ErrorCode;
use brokerdb_core::redis::{ConnSettings, RedisConn};
use brokerdb_projects::rate_limit::{BucketRate, BucketSettings, McpRateLimiter};

/// A fixed instant for the injected clock.
const T0: i64 = 1_700_000_000_000;

fn conn_settings() -> ConnSettings {
    ConnSettings {
        command_timeout: Duration::from_secs(5),
        pool_size: 4,
    }
}

/// `n` calls in a row at `now`; how many were allowed.
async fn allowed(
    limiter: &McpRateLimiter,
    client: &str,
    tool: &str,
    now: i64,
    n: usize,
) -> anyhow::Result<usize> {
    let mut ok = 0;
    for _ in 0..n {
        ok += usize::from(limiter.try_acquire(client, tool, Some(now)).await?.allowed);
    }
    Ok(ok)
}

/// 16 tasks × 100 concurrent calls on one bucket of capacity 50 (refill 10/s, clock fixed):
/// exactly 50 allowed; then t = 1234 ms later exactly floor(1.234 × 10) = 12 more; an hour later
/// exactly the capacity again (the refill is capped).
async fn concurrent_callers_get_exactly_the_capacity_then_the_refill(
    limiter: McpRateLimiter,
) -> anyhow::Result<()> {
    let limiter = Arc::new(limiter);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let limiter = limiter.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            for _ in 0..100 {
                ok += usize::from(
                    limiter
                        .try_acquire("client-1", "search", Some(T0))
                        .await?
                        .allowed,
                );
            }
            Ok::<_, brokerdb_core::redis::AdapterError>(ok)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    assert_eq!(total, 50);
    let denied = limiter.try_acquire("client-1", "search", Some(T0)).await?;
    assert!(!denied.allowed);
    assert_eq!((denied.remaining, denied.retry_after_ms), (0, 100));

    assert_eq!(
        allowed(&limiter, "client-1", "search", T0 + 1234, 100).await?,
        12
    );
    // 0.34 of a token is left: the next one is 66 ms away (67 after float rounding).
    let wait = limiter
        .try_acquire("client-1", "search", Some(T0 + 1234))
        .await?;
    assert!(
        !wait.allowed && (66..=67).contains(&wait.retry_after_ms),
        "{wait:?}"
    );
    assert_eq!(
        allowed(&limiter, "client-1", "search", T0 + 3_600_000, 100).await?,
        50
    );
    // A clock that goes backwards refills nothing.
    assert_eq!(allowed(&limiter, "client-1", "search", T0, 10).await?, 0);
    Ok(())
}

fn fifty_at_ten() -> BucketSettings {
    BucketSettings::new(BucketRate::new(50, 10.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_take_exactly_the_capacity_and_the_refill_is_elapsed_times_rate()
-> anyhow::Result<()> {
    let redis = brokerdb_testkit::redis().await;
    let conn = RedisConn::standalone(redis.client(), conn_settings())?;
    let limiter = McpRateLimiter::new(conn, fifty_at_ten())?.with_prefix(redis.prefix());
    concurrent_callers_get_exactly_the_capacity_then_the_refill(limiter).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_holds_on_a_redis_cluster() -> anyhow::Result<()> {
    let cluster = brokerdb_testkit::redis_cluster().await;
    let conn = RedisConn::cluster(
        &cluster.client(),
        vec![cluster.node_client(0)],
        conn_settings(),
    )
    .await?;
    let limiter = McpRateLimiter::new(conn, fifty_at_ten())?.with_prefix(cluster.prefix());
    concurrent_callers_get_exactly_the_capacity_then_the_refill(limiter).await
}

#[tokio::test]
async fn tools_have_their_own_sizes_and_buckets_are_independent() -> anyhow::Result<()> {
    let redis = brokerdb_testkit::redis().await;
    let conn = RedisConn::standalone(redis.client(), conn_settings())?;
    let settings = BucketSettings::new(BucketRate::new(5, 1.0))
        .with_tool("write_artifact", BucketRate::new(2, 0.5));
    let limiter = McpRateLimiter::new(conn, settings)?.with_prefix(redis.prefix());
    assert_eq!(allowed(&limiter, "a", "write_artifact", T0, 10).await?, 2);
    assert_eq!(allowed(&limiter, "a", "read_artifact", T0, 10).await?, 5);
    // Another client, and another tool of the same client, start full.
    assert_eq!(allowed(&limiter, "b", "write_artifact", T0, 10).await?, 2);
    assert_eq!(allowed(&limiter, "a", "list_projects", T0, 10).await?, 5);
    // Ids that only differ in separators do not share a bucket.
    assert_eq!(allowed(&limiter, "x:y", "z", T0, 10).await?, 5);
    assert_eq!(allowed(&limiter, "x", "y:z", T0, 10).await?, 5);
    // 0.5 tokens a second: 3 s give one whole token (and a half).
    assert_eq!(
        allowed(&limiter, "a", "write_artifact", T0 + 3000, 10).await?,
        1
    );
    Ok(())
}

#[tokio::test]
async fn the_server_clock_is_the_default_and_idle_buckets_expire() -> anyhow::Result<()> {
    let redis = brokerdb_testkit::redis().await;
    let conn = RedisConn::standalone(redis.client(), conn_settings())?;
    let settings = BucketSettings::new(BucketRate::new(2, 0.01));
    let limiter = McpRateLimiter::new(conn.clone(), settings)?.with_prefix(redis.prefix());
    let first = limiter.try_acquire("c{1}", "tool one", None).await?;
    assert_eq!((first.allowed, first.remaining), (true, 1));
    assert!(limiter.try_acquire("c{1}", "tool one", None).await?.allowed);
    let denied = limiter.try_acquire("c{1}", "tool one", None).await?;
    assert!(!denied.allowed);
    // Almost 100 s to the next token at 0.01 a second (a few ms have passed).
    assert!(
        (99_000..=100_000).contains(&denied.retry_after_ms),
        "{denied:?}"
    );
    let key = limiter.key("c{1}", "tool one")?;
    assert_eq!(
        key,
        format!("{}rate_limit:mcp:{{c%7B1%7D}}:tool%20one", redis.prefix())
    );
    // Empty, it needs 200 s to fill again, plus the 1 s margin.
    let ttl: i64 = conn.query(redis::cmd("PTTL").arg(&key)).await?;
    assert!((195_000..=201_000).contains(&ttl), "ttl {ttl}");
    Ok(())
}

#[tokio::test]
async fn bad_inputs_are_validation_errors_before_any_io() -> anyhow::Result<()> {
    let redis = brokerdb_testkit::redis().await;
    let conn = RedisConn::standalone(redis.client(), conn_settings())?;
    let limiter = McpRateLimiter::new(conn.clone(), fifty_at_ten())?.with_prefix(redis.prefix());
    let long = "x".repeat(257);
    for (client, tool, now, field) in [
        ("", "t", None, "client_id"),
        (long.as_str(), "t", None, "client_id"),
        ("c\n", "t", None, "client_id"),
        ("c", "", None, "tool"),
        ("c", &long[..129], None, "tool"),
        ("c", "t", Some(-1), "now_ms"),
    ] {
        match limiter.try_acquire(client, tool, now).await {
            Err(brokerdb_core::redis::AdapterError::Validation(e)) => assert_eq!(e.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    for bad in [
        BucketSettings::new(BucketRate::new(0, 1.0)),
        BucketSettings::new(BucketRate::new(1, 0.0)),
        fifty_at_ten().with_tool("t", BucketRate::new(1, f64::NAN)),
        fifty_at_ten().with_tool("", BucketRate::new(1, 1.0)),
    ] {
        let err = McpRateLimiter::new(conn.clone(), bad).err();
        assert_eq!(err.map(|e| e.code()), Some(ErrorCode::ValidationError));
    }
    Ok(())
}

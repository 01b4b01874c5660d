//! Redis unreachable: reads come from PostgreSQL, correct, counted as errors, cached nowhere.

use std::time::Duration;

use brokerdb::model::UserId;
use brokerdb::repo::users;
use brokerdb_cache::{CachedReads, Resource};
use brokerdb_redis::{ConnSettings, RedisConn};

use crate::support::{Env, TestResult, metric, recorder, tenant};

#[tokio::test]
async fn with_redis_down_reads_come_from_postgresql_and_count_as_errors() -> TestResult {
    let recorder = recorder();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let env = Env::seeded().await;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let down = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let conn = RedisConn::standalone(
        down,
        ConnSettings {
            command_timeout: Duration::from_millis(300),
            pool_size: 1,
        },
    )?;
    let cache = CachedReads::new(env.db().await, conn, env.settings())?;
    assert!(cache.listen().await.is_err(), "nothing to subscribe to");
    assert!(!cache.is_listening());

    let (t, u) = (tenant("t_a"), UserId::parse("u_a1")?);
    let expected = users::get_by_id(&mut cache.db().tenant(&t), &u).await?;
    assert!(expected.is_some());
    for _ in 0..3 {
        assert_eq!(cache.user(&t, &u).await?.as_deref(), expected.as_ref());
    }
    assert!(cache.invalidate(&t, Resource::Users).await.is_err());
    assert_eq!(cache.user(&t, &u).await?.as_deref(), expected.as_ref());
    assert_eq!(cache.loads(Resource::Users), 4, "nothing was cached");
    let errors = metric(
        &recorder,
        "brokerdb_cache_requests_total",
        &[("cache", "user"), ("tier", "l2"), ("result", "error")],
    );
    assert_eq!(errors, 4.0);
    assert_eq!(
        metric(
            &recorder,
            "brokerdb_cache_loads_total",
            &[("cache", "user")]
        ),
        4.0
    );
    Ok(())
}

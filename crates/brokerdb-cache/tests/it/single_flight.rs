//! Concurrent misses of one key on one instance make one database load.

use std::sync::Arc;

use brokerdb::model::{IntegrationId, UserId, WorkloadId};
use brokerdb_cache::Resource;
use tokio::sync::Barrier;

use crate::support::{Env, TestResult, tenant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_misses_of_one_user_make_one_load() -> TestResult {
    let env = Env::seeded().await;
    let cache = env.cache(env.settings()).await;
    let start = Arc::new(Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (cache, start) = (cache.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            cache
                .user(&tenant("t_a"), &UserId::parse("u_a1").unwrap())
                .await
        }));
    }
    for task in tasks {
        let user = task.await??.expect("u_a1 exists");
        assert_eq!(user.email, "a1@example.com");
    }
    assert_eq!(cache.loads(Resource::Users), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_misses_of_a_missing_execute_lookup_make_one_load() -> TestResult {
    let env = Env::seeded().await;
    let cache = env.cache(env.settings()).await;
    let start = Arc::new(Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (cache, start) = (cache.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            cache
                .execute_lookup(
                    &tenant("t_a"),
                    &WorkloadId::parse("w_none").unwrap(),
                    &IntegrationId::parse("int_none").unwrap(),
                )
                .await
        }));
    }
    for task in tasks {
        let err = task.await?.expect_err("nothing exists");
        assert_eq!(err.to_string(), "not_found: workload not found");
    }
    assert_eq!(cache.loads(Resource::ExecuteLookup), 1);
    Ok(())
}

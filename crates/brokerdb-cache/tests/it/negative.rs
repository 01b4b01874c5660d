//! "Not found" is cached too, for the negative TTL.

use std::time::Duration;

use brokerdb::model::{Email, UserId};
use brokerdb::repo::users::{self, CreateHumanUser};
use brokerdb_cache::{CacheSettings, Resource};

use crate::support::{Env, TestResult, eventually, tenant};

fn new_user(id: &str) -> Result<CreateHumanUser, Box<dyn std::error::Error>> {
    Ok(CreateHumanUser {
        user_id: Some(UserId::parse(id)?),
        email: Email::parse("late@example.com")?,
        roles: vec!["auditor".into()],
        enabled: None,
        display_name: None,
        oidc_subject: None,
        oidc_issuer: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_user_is_cached_as_missing_until_invalidated() -> TestResult {
    let env = Env::seeded().await;
    let cache = env.cache(env.settings()).await;
    let (t, u) = (tenant("t_a"), UserId::parse("u_late")?);
    assert!(cache.user(&t, &u).await?.is_none());
    assert!(cache.user(&t, &u).await?.is_none());
    assert_eq!(
        cache.loads(Resource::Users),
        1,
        "the second answer was cached"
    );

    users::create(&mut cache.db().tenant(&t), &new_user("u_late")?).await?;
    assert!(
        cache.user(&t, &u).await?.is_none(),
        "still the cached answer"
    );
    cache.invalidate(&t, Resource::Users).await?;
    assert_eq!(
        cache.user(&t, &u).await?.map(|u| u.email.clone()),
        Some("late@example.com".to_owned())
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_not_found_expires_after_the_negative_ttl() -> TestResult {
    let env = Env::seeded().await;
    let settings = CacheSettings {
        negative_ttl: Duration::from_millis(200),
        ..env.settings()
    };
    let cache = env.cache(settings).await;
    let (t, u) = (tenant("t_a"), UserId::parse("u_late")?);
    assert!(cache.user(&t, &u).await?.is_none());
    users::create(&mut cache.db().tenant(&t), &new_user("u_late")?).await?;
    // No invalidate: only the (short) negative TTL ends the cached "missing".
    let seen = eventually(Duration::from_secs(10), || async {
        cache.user(&t, &u).await.unwrap().is_some()
    })
    .await;
    assert!(seen);
    // A found value has the long TTL: it stays cached.
    let loads = cache.loads(Resource::Users);
    cache.user(&t, &u).await?;
    assert_eq!(cache.loads(Resource::Users), loads);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_found_error_is_cached_with_the_same_error() -> TestResult {
    use brokerdb::model::{IntegrationId, WorkloadId};
    let env = Env::seeded().await;
    let cache = env.cache(env.settings()).await;
    let (t, w, i) = (
        tenant("t_a"),
        WorkloadId::parse("w_x")?,
        IntegrationId::parse("int_x")?,
    );
    let uncached =
        brokerdb::repo::integrations::get_template_for_execute(&mut cache.db().tenant(&t), &w, &i)
            .await
            .expect_err("missing");
    for _ in 0..2 {
        let cached = cache.execute_lookup(&t, &w, &i).await.expect_err("missing");
        assert_eq!(cached.code(), uncached.code());
        assert_eq!(cached.to_string(), uncached.to_string());
    }
    assert_eq!(cache.loads(Resource::ExecuteLookup), 1);
    // A second cache on the same Redis answers from L2, still the same error.
    let other = env.cache(env.settings()).await;
    let from_l2 = other.execute_lookup(&t, &w, &i).await.expect_err("missing");
    assert_eq!(from_l2.to_string(), uncached.to_string());
    assert_eq!(other.loads(Resource::ExecuteLookup), 0);
    Ok(())
}

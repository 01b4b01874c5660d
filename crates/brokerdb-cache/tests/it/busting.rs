//! A committed write, then `invalidate`: the writer sees it at once, another instance within
//! the message's delivery.

use std::sync::Arc;
use std::time::Duration;

use brokerdb::db::TxOptions;
use brokerdb::model::{NonEmptyString, UserId, UserRole};
use brokerdb::repo::users::{self, ReplaceRoles};
use brokerdb_cache::Resource;

use crate::support::{Env, TestResult, eventually, tenant};

fn roles(user: &Option<Arc<users::HumanUser>>) -> Vec<&'static str> {
    user.as_ref()
        .map(|u| u.roles.iter().map(|r| r.as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_write_reaches_another_instance_after_invalidate() -> TestResult {
    let env = Env::seeded().await;
    let (one, two) = (
        env.cache(env.settings()).await,
        env.cache(env.settings()).await,
    );
    let (t, u) = (tenant("t_a"), UserId::parse("u_a1")?);
    assert_eq!(roles(&one.user(&t, &u).await?), ["auditor"]);
    assert_eq!(roles(&two.user(&t, &u).await?), ["auditor"]);

    let change = ReplaceRoles {
        roles: vec!["admin".into()],
        actor: NonEmptyString::new("actor", "test")?,
        correlation_id: NonEmptyString::new("correlation_id", "test")?,
    };
    one.db()
        .tenant(&t)
        .transaction(&TxOptions::default(), |tx| {
            let (u, change) = (u.clone(), change.clone());
            Box::pin(async move { users::update_roles(tx, &u, &change).await })
        })
        .await?;
    // Committed but not yet invalidated: both instances still answer from their caches.
    assert_eq!(roles(&two.user(&t, &u).await?), ["auditor"]);

    one.invalidate(&t, Resource::Users).await?;
    assert_eq!(
        roles(&one.user(&t, &u).await?),
        ["admin"],
        "the writer sees its write at once"
    );
    let seen = eventually(Duration::from_secs(10), || async {
        roles(&two.user(&t, &u).await.unwrap()) == ["admin"]
    })
    .await;
    assert!(seen, "the other instance sees the write");
    assert_eq!(
        two.user(&t, &u).await?.map(|u| u.roles.clone()),
        Some(vec![UserRole::parse("admin")?])
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidating_one_tenant_leaves_another_tenants_entries() -> TestResult {
    let env = Env::seeded().await;
    let cache = env.cache(env.settings()).await;
    let (a, b) = (tenant("t_a"), tenant("t_b"));
    let u = UserId::parse("u_a1")?;
    cache.user(&a, &u).await?;
    assert!(cache.user(&b, &u).await?.is_none(), "another tenant's user");
    cache.invalidate(&b, Resource::Users).await?;
    cache.user(&a, &u).await?;
    assert_eq!(cache.loads(Resource::Users), 2, "t_a's entry survived");
    Ok(())
}

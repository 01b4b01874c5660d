//! The policy invalidation bus (what the outbox relay publishes) drops the tenant's L1
//! entries; a redelivered event changes nothing.

use std::time::Duration;

use brokerdb::model::{CanonicalRequestDescriptor, Timestamp};
use brokerdb::repo::policy_rules::{self, PolicyRule};
use brokerdb_cache::{CacheSettings, Resource};
use brokerdb_redis::RedisConn;
use brokerdb_redis::policy::{PolicyEntityType, PolicyInvalidationBus, PolicyInvalidationEvent};
use serde_json::json;

use crate::support::{Env, TestResult, conn_settings, eventually, metric, recorder, tenant};

fn rule() -> PolicyRule {
    serde_json::from_value(
        json!({"policy_id": "pol_1", "rule_type": "allow", "scope": {
        "tenant_id": "t_a", "integration_id": "int_1", "action_group": "send",
        "method": "POST", "host": "api.example.com"}}),
    )
    .unwrap()
}

fn descriptor() -> CanonicalRequestDescriptor {
    serde_json::from_value(json!({"tenant_id": "t_a", "workload_id": "w_1",
        "integration_id": "int_1", "template_id": "tpl_mail", "template_version": 2,
        "method": "POST", "canonical_url": "https://API.Example.com:8443/v1/send?b=1&a=2",
        "matched_path_group_id": "send", "normalized_headers": [], "query_keys": ["b", "a"]}))
    .unwrap()
}

fn ids(rules: &[PolicyRule]) -> Vec<Option<&str>> {
    rules.iter().map(|r| r.policy_id.as_deref()).collect()
}

#[tokio::test]
async fn a_policy_event_drops_the_tenants_l1_entries_and_a_repeat_is_harmless() -> TestResult {
    let recorder = recorder();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let env = Env::seeded().await;
    let settings = CacheSettings {
        policy_bus_prefix: Some(format!("{}pe:", env.redis.prefix())),
        ..env.settings()
    };
    let cache = env.cache(settings.clone()).await;
    let t = tenant("t_a");
    policy_rules::create(&mut cache.db().tenant(&t), &rule(), None).await?;
    let expected =
        policy_rules::list_for_descriptor(&mut cache.db().tenant(&t), &descriptor()).await?;
    assert_eq!(ids(&expected), [Some("pol_1")]);
    assert_eq!(
        *cache.policy_rules_for_descriptor(&t, &descriptor()).await?,
        expected
    );
    assert_eq!(
        *cache.policy_rules_for_descriptor(&t, &descriptor()).await?,
        expected
    );
    let l1 = |result: &'static str| {
        metric(
            &recorder,
            "brokerdb_cache_requests_total",
            &[
                ("cache", "policy_rules"),
                ("tier", "l1"),
                ("result", result),
            ],
        )
    };
    assert_eq!((l1("hit"), l1("stale")), (1.0, 0.0));

    let conn = RedisConn::standalone(env.redis.client(), conn_settings())?;
    let bus = PolicyInvalidationBus::new(conn, settings.policy_bus_prefix.as_deref());
    let event = PolicyInvalidationEvent {
        tenant_id: "t_a".into(),
        entity_type: PolicyEntityType::PolicyRule,
        entity_id: "pol_1".into(),
        updated_at: Timestamp::now(),
    };
    for round in 1..=2 {
        bus.publish(&event).await?;
        let dropped = eventually(Duration::from_secs(10), || async {
            let answer = cache
                .policy_rules_for_descriptor(&t, &descriptor())
                .await
                .unwrap();
            assert_eq!(*answer, expected, "the same answer throughout");
            l1("stale") >= f64::from(round)
        })
        .await;
        assert!(dropped, "round {round}: the L1 entry was dropped");
    }
    assert_eq!(
        cache.loads(Resource::PolicyRules),
        1,
        "L2 still held the answer: no reload from PostgreSQL"
    );
    Ok(())
}

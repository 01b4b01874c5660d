//! Scripts run as EVALSHA and survive a script cache flush (NOSCRIPT → load → retry), on a
//! private standalone server and on the private cluster.

use std::time::Duration;

use brokerdb::model::Timestamp;
use brokerdb_redis::audit::{AuditCache, AuditCacheFilter, AuditCacheOptions};
use brokerdb_redis::crypto::CryptoRotationLock;
use brokerdb_redis::forwarder::{
    ForwarderCall, ForwarderOptions, ForwarderScope, ForwarderStore, IdempotencyCreate,
};
use brokerdb_redis::policy::{PolicyRateLimitStore, PolicyRuleType, RateLimit, RateLimitRule};
use brokerdb_redis::ssrf::{
    DnsRebindingObservation, DnsResolutionCacheEntry, SsrfGuardOptions, SsrfGuardStore,
};
use brokerdb_redis::{ConnSettings, RedisConn};

use crate::support::{after, private_redis};

/// Calls every scripted operation once; `round` keeps keys fresh between rounds.
async fn exercise(conn: &RedisConn, prefix: &str, round: u32) {
    let rule = RateLimitRule {
        rule_type: PolicyRuleType::RateLimit,
        rate_limit: Some(RateLimit {
            max_requests: 5,
            interval_seconds: 5,
        }),
    };
    let rl = PolicyRateLimitStore::new(conn.clone(), Some(prefix));
    assert!(
        rl.check_and_consume(&format!("k{round}"), &rule, Timestamp::now())
            .await
            .unwrap()
            .allowed
    );

    let lock = CryptoRotationLock::new(conn.clone(), Some(prefix));
    let token = lock
        .acquire(&format!("l{round}"), 5_000)
        .await
        .unwrap()
        .unwrap();
    assert!(lock.release(&format!("l{round}"), &token).await.unwrap());

    let fw = ForwarderStore::new(
        conn.clone(),
        ForwarderOptions {
            key_prefix: Some(prefix.to_owned()),
            now: None,
        },
    );
    let scope = ForwarderScope::new(&ForwarderCall {
        tenant_id: "t",
        workload_id: "w",
        integration_id: "i",
        action_group: "g",
        idempotency_key: &format!("i{round}"),
    })
    .unwrap();
    let fp = "f".repeat(64);
    let exp = after(Timestamp::now(), 120);
    assert_eq!(
        fw.create_idempotency_record(&scope, &fp, "c", exp)
            .await
            .unwrap(),
        IdempotencyCreate::Created
    );
    assert!(
        fw.complete_idempotency_record(&scope, "c", 200, 1)
            .await
            .unwrap()
    );

    let ssrf = SsrfGuardStore::new(
        conn.clone(),
        SsrfGuardOptions {
            key_prefix: Some(prefix.to_owned()),
            ..SsrfGuardOptions::default()
        },
    )
    .unwrap();
    let e = DnsResolutionCacheEntry {
        resolved_ips: vec!["1.1.1.1".into()],
        resolved_at_epoch_ms: 1,
        ttl_seconds: 5,
    };
    assert!(
        ssrf.upsert_dns_resolution_cache(&format!("h{round}.example"), &e)
            .await
            .unwrap()
            .applied
    );
    let o = DnsRebindingObservation {
        ip_set_hash: "x".into(),
        resolved_ips: vec!["1.1.1.1".into()],
        observed_at_epoch_ms: 1,
    };
    assert_eq!(
        ssrf.append_dns_rebinding_observation(&format!("h{round}.example"), &o)
            .await
            .unwrap(),
        1
    );

    let audit = AuditCache::new(
        conn.clone(),
        AuditCacheOptions {
            key_prefix: Some(prefix.to_owned()),
            ..AuditCacheOptions::default()
        },
    );
    let tenant = format!("t{round}");
    audit
        .set_cached_audit_query(&tenant, &AuditCacheFilter::default(), &[], None)
        .await
        .unwrap();
    assert_eq!(
        audit
            .get_cached_audit_query(&tenant, &AuditCacheFilter::default())
            .await
            .unwrap(),
        Some(vec![])
    );
}

async fn info_commandstats(url: &str) -> String {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_run_as_evalsha_and_are_reloaded_after_a_flush_on_a_private_server() {
    let (_dir, server) = private_redis().await;
    let client = redis::Client::open(server.url()).unwrap();
    let conn = RedisConn::standalone(
        client.clone(),
        ConnSettings {
            command_timeout: Duration::from_secs(5),
            pool_size: 2,
        },
    )
    .unwrap();
    exercise(&conn, "p:", 1).await;
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut raw)
        .await
        .unwrap();
    exercise(&conn, "p:", 2).await;

    let stats = info_commandstats(&server.url()).await;
    assert!(stats.contains("cmdstat_evalsha:"), "{stats}");
    assert!(
        !stats.contains("cmdstat_eval:"),
        "never plain EVAL: {stats}"
    );
    let shas: std::collections::HashSet<_> = brokerdb_redis::scripts::all()
        .iter()
        .map(|s| s.sha1)
        .collect();
    assert_eq!(shas.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_are_reloaded_on_every_cluster_node_after_a_flush() {
    let cluster = brokerdb_testkit::redis_cluster().await;
    let settings = ConnSettings {
        command_timeout: Duration::from_secs(5),
        pool_size: 2,
    };
    let conn = RedisConn::cluster(&cluster.client(), Vec::new(), settings)
        .await
        .unwrap();
    exercise(&conn, cluster.prefix(), 1).await;
    for i in 0..cluster.urls().len() {
        let mut c = cluster
            .node_client(i)
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut c)
            .await
            .unwrap();
    }
    exercise(&conn, cluster.prefix(), 2).await;
}

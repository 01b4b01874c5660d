//! Redis going away and coming back, on a private server this test stops and restarts (never
//! the shared one).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brokerdb::db::ErrorCode;
use brokerdb::model::Timestamp;
use brokerdb_redis::audit::{AuditCache, AuditCacheFilter, AuditCacheOptions};
use brokerdb_redis::canonicalizer::{CanonicalizerCache, CanonicalizerOptions};
use brokerdb_redis::forwarder::{ForwarderCall, ForwarderOptions, ForwarderScope, ForwarderStore};
use brokerdb_redis::policy::{
    PolicyEntityType, PolicyInvalidationBus, PolicyInvalidationEvent, PolicyRateLimitStore,
    PolicyRuleType, RateLimit, RateLimitRule,
};
use brokerdb_redis::ssrf::{SsrfGuardOptions, SsrfGuardStore};
use brokerdb_redis::{AdapterError, ConnSettings, RedisConn};

use crate::support::{code, private_redis};

const TIMEOUT: Duration = Duration::from_millis(300);

/// Runs `f` and checks it finished (no hang) well within a generous bound.
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("the call hung")
}

fn rule() -> RateLimitRule {
    RateLimitRule {
        rule_type: PolicyRuleType::RateLimit,
        rate_limit: Some(RateLimit {
            max_requests: 1000,
            interval_seconds: 60,
        }),
    }
}

fn event() -> PolicyInvalidationEvent {
    PolicyInvalidationEvent {
        tenant_id: "t".into(),
        entity_type: PolicyEntityType::TemplateBinding,
        entity_id: "b".into(),
        updated_at: Timestamp::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_fast_while_redis_is_down_and_work_again_when_it_returns() {
    let (_dir, mut server) = private_redis().await;
    let client = redis::Client::open(server.url()).unwrap();
    let conn = RedisConn::standalone(
        client,
        ConnSettings {
            command_timeout: TIMEOUT,
            pool_size: 2,
        },
    )
    .unwrap();
    let limits = PolicyRateLimitStore::new(conn.clone(), None);
    let forwarder = ForwarderStore::new(conn.clone(), ForwarderOptions::default());
    let scope = ForwarderScope::new(&ForwarderCall {
        tenant_id: "t",
        workload_id: "w",
        integration_id: "i",
        action_group: "g",
        idempotency_key: "k",
    })
    .unwrap();
    let templates = CanonicalizerCache::new(conn.clone(), CanonicalizerOptions::default()).unwrap();
    let audit = AuditCache::new(conn.clone(), AuditCacheOptions::default());
    let ssrf = SsrfGuardStore::new(conn.clone(), SsrfGuardOptions::default()).unwrap();
    let bus = PolicyInvalidationBus::new(conn.clone(), None);
    let inbox: Arc<Mutex<Vec<PolicyInvalidationEvent>>> = Arc::default();
    let sink = inbox.clone();
    let _sub = bus
        .subscribe(move |e| sink.lock().unwrap().push(e))
        .await
        .unwrap();
    assert!(
        limits
            .check_and_consume("k", &rule(), Timestamp::now())
            .await
            .unwrap()
            .allowed
    );

    bounded(conn.ping()).await.unwrap();

    server.stop().unwrap();

    // A probe says so, and security state fails closed, quickly.
    assert_eq!(code(bounded(conn.ping()).await), ErrorCode::Unavailable);
    for _ in 0..3 {
        let r = bounded(limits.check_and_consume("k", &rule(), Timestamp::now())).await;
        assert_eq!(code(r), ErrorCode::Unavailable);
    }
    assert_eq!(
        code(bounded(forwarder.acquire_execution_lock(&scope, 5_000)).await),
        ErrorCode::Unavailable
    );
    assert_eq!(
        code(bounded(ssrf.read_dns_rebinding_history("a.example")).await),
        ErrorCode::Unavailable
    );
    // Caches fail open: a miss, and cache-aside goes to the loader.
    assert_eq!(
        bounded(templates.get_template_cache("t", "tpl_x", 1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        bounded(ssrf.read_dns_resolution_cache("a.example"))
            .await
            .unwrap(),
        None
    );
    let loaded = bounded(audit.get_or_set_audit_query(
        "t",
        &AuditCacheFilter::default(),
        None,
        || async { Ok::<_, AdapterError>(Vec::new()) },
    ))
    .await
    .unwrap();
    assert!(loaded.is_empty());

    server.restart().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match bounded(limits.check_and_consume("k", &rule(), Timestamp::now())).await {
            Ok(d) => {
                assert!(d.allowed);
                break;
            }
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::Unavailable);
                assert!(Instant::now() < deadline, "no reconnect after the restart");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(
        bounded(forwarder.acquire_execution_lock(&scope, 5_000))
            .await
            .unwrap()
            .is_some()
    );
    // The subscription re-subscribes by itself.
    while inbox.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the subscription did not come back"
        );
        let _ = bus.publish(&event()).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

//! Audit query cache and JSON helpers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use brokerdb::audit::AuditEvent;
use brokerdb::db::ErrorCode;
use brokerdb_redis::AdapterError;
use brokerdb_redis::audit::{AuditCache, AuditCacheFilter, AuditCacheOptions};

use crate::support::{Backend, code};

fn cache(b: &Backend) -> AuditCache {
    AuditCache::new(
        b.conn.clone(),
        AuditCacheOptions {
            key_prefix: Some(b.prefix.clone()),
            ..AuditCacheOptions::default()
        },
    )
}

fn event(id: &str) -> AuditEvent {
    serde_json::from_value(serde_json::json!({
        "event_id": id, "timestamp": "2026-02-11T00:00:00.000Z", "tenant_id": "t_1",
        "correlation_id": "c", "event_type": "policy_decision", "decision": "denied",
        "workload_id": null, "metadata": {"k": [1, 2]}
    }))
    .unwrap()
}

fn filter() -> AuditCacheFilter {
    AuditCacheFilter {
        tenant_id: Some("t_1".into()),
        ..Default::default()
    }
}

on_both!(
    async fn cached_queries_hit_until_the_tenant_is_busted(b) {
        let c = cache(&b);
        assert_eq!(c.get_cached_audit_query("t_1", &filter()).await.unwrap(), None);
        c.set_cached_audit_query("t_1", &filter(), &[event("e1"), event("e2")], None).await.unwrap();
        c.set_cached_audit_query("t_2", &filter(), &[], Some(100)).await.unwrap();
        assert_eq!(c.get_cached_audit_query("t_1", &filter()).await.unwrap(), Some(vec![event("e1"), event("e2")]));
        assert_eq!(c.get_cached_audit_query("t_2", &filter()).await.unwrap(), Some(vec![]), "an empty list is a hit");

        let generation = b.get(&b.key("audit-gen:v2:{t_1}")).await.unwrap();
        let entry = b.key(&format!("audit-query:v2:{{t_1}}:{generation}:{}", filter().query_hash()));
        assert_eq!(c.query_key("t_1", &generation, &filter()).unwrap(), entry);
        let ttl = b.pttl(&entry).await;
        assert!((25_000..=35_000).contains(&ttl), "30 s + up to 5 s jitter: {ttl}");
        let stored: serde_json::Value = serde_json::from_str(&b.get(&entry).await.unwrap()).unwrap();
        assert_eq!(stored["events"][0]["event_id"], "e1");

        c.invalidate_audit_query_cache_by_tenant(" t_1 ").await.unwrap();
        assert_eq!(c.get_cached_audit_query("t_1", &filter()).await.unwrap(), None);
        assert_eq!(c.get_cached_audit_query("t_2", &filter()).await.unwrap(), Some(vec![]), "other tenants untouched");
    }
);

on_both!(
    async fn get_or_set_loads_once_and_never_caches_across_a_bust(b) {
        let c = cache(&b);
        let calls = Arc::new(AtomicUsize::new(0));
        let load = |events: Vec<AuditEvent>| {
            let calls = calls.clone();
            move || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, AdapterError>(events)
            }
        };
        let got = c.get_or_set_audit_query("t_1", &filter(), None, load(vec![event("a")])).await.unwrap();
        assert_eq!(got, [event("a")]);
        let again = c.get_or_set_audit_query("t_1", &filter(), None, load(vec![event("b")])).await.unwrap();
        assert_eq!((again, calls.load(Ordering::SeqCst)), (vec![event("a")], 1));

        // A writer busts the cache while this reader loads: the stale result is not cached.
        c.invalidate_audit_query_cache_by_tenant("t_1").await.unwrap();
        let racing = {
            let c2 = c.clone();
            move || async move {
                c2.invalidate_audit_query_cache_by_tenant("t_1").await?;
                Ok::<_, AdapterError>(vec![event("stale")])
            }
        };
        let got = c.get_or_set_audit_query("t_1", &filter(), None, racing).await.unwrap();
        assert_eq!(got, [event("stale")]);
        assert_eq!(c.get_cached_audit_query("t_1", &filter()).await.unwrap(), None);

        let failing = || async { Err::<Vec<AuditEvent>, _>(AdapterError::Conflict { message: "loader".into() }) };
        assert_eq!(code(c.get_or_set_audit_query("t_9", &filter(), None, failing).await), ErrorCode::Conflict);
        let mut bad = event("x");
        bad.upstream_status_code = Some(700);
        let invalid = move || async move { Ok::<_, AdapterError>(vec![bad]) };
        assert_eq!(code(c.get_or_set_audit_query("t_9", &filter(), None, invalid).await), ErrorCode::ValidationError);
    }
);

on_both!(
    async fn corrupt_entries_heal_and_bad_input_is_rejected(b) {
        let c = cache(&b);
        c.set_cached_audit_query("t_1", &filter(), &[event("e")], None).await.unwrap();
        let generation = b.get(&b.key("audit-gen:v2:{t_1}")).await.unwrap();
        let entry = c.query_key("t_1", &generation, &filter()).unwrap();
        for corrupt in ["nope", r#"{"events":[{"event_id":"x"}]}"#, r#"{"events":[],"extra":1}"#] {
            b.set(&entry, corrupt).await;
            assert_eq!(c.get_cached_audit_query("t_1", &filter()).await.unwrap(), None);
            assert!(!b.exists(&entry).await);
        }
        let mut bad = event("x");
        bad.upstream_status_code = Some(99);
        assert_eq!(code(c.set_cached_audit_query("t_1", &filter(), &[bad], None).await), ErrorCode::ValidationError);
        assert_eq!(code(c.set_cached_audit_query("t_1", &filter(), &[], Some(0)).await), ErrorCode::ValidationError);
        assert_eq!(code(c.get_cached_audit_query("  ", &filter()).await), ErrorCode::ValidationError);
        let zero = AuditCache::new(b.conn.clone(), AuditCacheOptions { cache_ttl_seconds: 0, ..AuditCacheOptions::default() });
        assert_eq!(code(zero.set_cached_audit_query("t", &filter(), &[], None).await), ErrorCode::ValidationError);
        assert_eq!(c.tenant_prefix("t_1").unwrap(), b.key("audit-query:v2:{t_1}:"));
        assert_eq!(code(c.tenant_prefix("t:1")), ErrorCode::ValidationError, "not a tenant id");
    }
);

on_both!(
    async fn json_helpers_use_raw_keys_and_prefix_deletes_match_literally(b) {
        let c = cache(&b);
        let k = b.key("raw:a");
        c.set_json(&k, &serde_json::json!({"x": 1}), 60).await.unwrap();
        assert_eq!(c.get_json(&k).await.unwrap(), Some(serde_json::json!({"x": 1})));
        assert_eq!(code(c.set_json(&k, &serde_json::json!(1), 0).await), ErrorCode::ValidationError);
        b.set(&k, "{broken").await;
        assert_eq!(c.get_json(&k).await.unwrap(), None);
        assert!(!b.exists(&k).await);

        for i in 0..50 {
            b.set(&b.key(&format!("del*:{i}")), "1").await;
        }
        b.set(&b.key("delX:keep"), "1").await;
        assert_eq!(c.delete_by_prefix(&b.key("del*:")).await.unwrap(), 50);
        assert!(b.exists(&b.key("delX:keep")).await, "`*` in the prefix is literal");
        let zero = AuditCache::new(b.conn.clone(), AuditCacheOptions { scan_count: 0, ..AuditCacheOptions::default() });
        assert_eq!(code(zero.delete_by_prefix("x").await), ErrorCode::ValidationError);
    }
);

//! Canonicalizer caches.

use std::time::Duration;

use brokerdb::db::ErrorCode;
use brokerdb::model::{ApprovalStatus, CanonicalRequestDescriptor};
use brokerdb::repo::templates::Template;
use brokerdb_redis::canonicalizer::{
    ApprovalOnceEntry, CanonicalizerCache, CanonicalizerOptions, RouteRateLimit,
};

use crate::support::{Backend, TestClock, code};

fn cache(b: &Backend, clock: &TestClock) -> CanonicalizerCache {
    CanonicalizerCache::new(
        b.conn.clone(),
        CanonicalizerOptions {
            key_prefix: Some(b.prefix.clone()),
            now: Some(clock.clock()),
            ..CanonicalizerOptions::default()
        },
    )
    .unwrap()
}

pub fn template() -> Template {
    Template::from_json(serde_json::json!({
        "template_id": "tpl_mail", "version": 2, "provider": "acme",
        "allowed_schemes": ["https"], "allowed_ports": [443], "allowed_hosts": ["api.example.com"],
        "redirect_policy": {"mode": "deny"},
        "path_groups": [{"group_id": "send", "risk_tier": "low", "approval_mode": "none", "methods": ["POST"],
            "path_patterns": ["/v1/send"], "query_allowlist": [], "header_forward_allowlist": [],
            "body_policy": {"max_bytes": 1024, "content_types": ["application/json"]}}],
        "network_safety": {"deny_private_ip_ranges": true, "deny_link_local": true, "deny_loopback": true,
            "deny_metadata_ranges": true, "dns_resolution_required": true}
    }))
    .unwrap()
}

pub fn descriptor() -> CanonicalRequestDescriptor {
    serde_json::from_value(serde_json::json!({
        "tenant_id": "t_1", "workload_id": "w_1", "integration_id": "int_1",
        "template_id": "tpl_gmail", "template_version": 1, "method": "POST",
        "canonical_url": "https://gmail.googleapis.com/gmail/v1/users/me/messages/send",
        "matched_path_group_id": "gmail_send", "normalized_headers": [], "query_keys": []
    }))
    .unwrap()
}

on_both!(
    async fn templates_are_cached_for_the_configured_ttl_and_busted_by_key(b) {
        let clock = TestClock::new();
        let c = cache(&b, &clock);
        assert_eq!(c.get_template_cache("t_1", "tpl_mail", 2).await.unwrap(), None);
        c.set_template_cache(" t_1 ", "tpl_mail ", 2, &template()).await.unwrap();
        assert_eq!(c.get_template_cache("t_1", "tpl_mail", 2).await.unwrap(), Some(template()));
        let key = b.key("template:v2:{t_1}:tpl_mail:2");
        assert!((295_000..=300_000).contains(&b.pttl(&key).await));
        c.invalidate_template_cache("t_1", "tpl_mail", 2).await.unwrap();
        assert_eq!(c.get_template_cache("t_1", "tpl_mail", 2).await.unwrap(), None);

        let short = CanonicalizerCache::new(b.conn.clone(), CanonicalizerOptions {
            key_prefix: Some(b.prefix.clone()), template_cache_ttl_seconds: 7, now: None,
        }).unwrap();
        short.set_template_cache("t_1", "tpl_mail", 3, &template()).await.unwrap();
        assert!((1..=7_000).contains(&b.pttl(&b.key("template:v2:{t_1}:tpl_mail:3")).await));
    }
);

on_both!(
    async fn corrupt_templates_heal_to_a_miss_and_bad_input_is_rejected(b) {
        let clock = TestClock::new();
        let c = cache(&b, &clock);
        let key = b.key("template:v2:{t_1}:tpl_mail:2");
        for corrupt in ["{nope", r#"{"template_id":"tpl_mail"}"#] {
            b.set(&key, corrupt).await;
            assert_eq!(c.get_template_cache("t_1", "tpl_mail", 2).await.unwrap(), None);
            assert!(!b.exists(&key).await, "deleted");
        }
        for (t, tpl, v) in [(" ", "tpl", 1), ("t:x", "tpl", 1), ("t", "", 1), ("t", "tpl", 0)] {
            assert_eq!(code(c.get_template_cache(t, tpl, v).await), ErrorCode::ValidationError);
        }
        let mut bad = template();
        bad.allowed_ports = vec![80];
        assert_eq!(code(c.set_template_cache("t", "tpl", 1, &bad).await), ErrorCode::ValidationError);
        let zero = CanonicalizerCache::new(b.conn.clone(), CanonicalizerOptions {
            template_cache_ttl_seconds: 0, ..CanonicalizerOptions::default()
        });
        assert_eq!(code(zero.map(|_| ())), ErrorCode::ValidationError);
    }
);

on_both!(
    async fn approve_once_entries_are_keyed_by_the_descriptor_hash(b) {
        let clock = TestClock::new();
        let c = cache(&b, &clock);
        let entry = ApprovalOnceEntry {
            approval_id: "apr_1".into(), status: ApprovalStatus::Approved,
            expires_at: brokerdb::model::Timestamp::parse("2026-02-13T00:00:00Z").unwrap(),
            template_id: "tpl_gmail".into(), template_version: 1,
        };
        assert_eq!(c.get_approval_once_cache(&descriptor()).await.unwrap(), None);
        c.set_approval_once_cache(&descriptor(), &entry, 45).await.unwrap();
        let key = b.key("approval-once:v2:{t_1}:w_1:int_1:2968cda3c5894300ba4d79f5fe3abf9afe7c837e61843cdd722d0d61827e022f");
        assert!((1..=45_000).contains(&b.pttl(&key).await));
        assert_eq!(c.get_approval_once_cache(&descriptor()).await.unwrap(), Some(entry.clone()));
        c.invalidate_approval_once_cache(&descriptor()).await.unwrap();
        assert!(!b.exists(&key).await);

        b.set(&key, r#"{"approval_id":"","status":"approved"}"#).await;
        assert_eq!(c.get_approval_once_cache(&descriptor()).await.unwrap(), None);
        assert!(!b.exists(&key).await, "corrupt entry deleted");

        let mut bad_descriptor = descriptor();
        bad_descriptor.canonical_url = "not a url".into();
        assert_eq!(code(c.get_approval_once_cache(&bad_descriptor).await), ErrorCode::ValidationError);
        let mut lower_case = descriptor();
        lower_case.method = "post".into();
        assert_eq!(code(c.get_approval_once_cache(&lower_case).await), ErrorCode::ValidationError, "method is the exact enum");
        assert_eq!(code(c.set_approval_once_cache(&descriptor(), &entry, 0).await), ErrorCode::ValidationError);
        let mut bad_entry = entry;
        bad_entry.template_version = 0;
        assert_eq!(code(c.set_approval_once_cache(&descriptor(), &bad_entry, 5).await), ErrorCode::ValidationError);
    }
);

on_both!(
    async fn route_rate_limits_normalize_their_key_and_use_the_injected_clock(b) {
        let clock = TestClock::new();
        let c = cache(&b, &clock);
        let route = RouteRateLimit {
            tenant_id: "t_1", workload_id: "w_1", integration_id: "int_1", action_group: " send ",
            method: " post", host: "API.Example.com:443", interval_seconds: 30, max_requests: 2,
        };
        let first = c.increment_rate_limit_counter(&route).await.unwrap();
        assert_eq!((first.allowed, first.remaining), (true, 1));
        assert!(first.reset_at > clock.now() && first.reset_at <= clock.now().checked_add(Duration::from_secs(30)).unwrap());
        c.increment_rate_limit_counter(&route).await.unwrap();
        let third = c.increment_rate_limit_counter(&route).await.unwrap();
        assert_eq!((third.allowed, third.remaining), (false, 0));
        assert_eq!(b.get(&b.key("route-rl:v2:{t_1}:w_1:int_1:send:POST:api.example.com")).await.as_deref(), Some("3"));

        for bad in [
            RouteRateLimit { host: "*.example.com", ..route },
            RouteRateLimit { method: "HEAD", ..route },
            RouteRateLimit { tenant_id: "", ..route },
            RouteRateLimit { tenant_id: "t_1:w_1", ..route },
            RouteRateLimit { workload_id: "{w_1}", ..route },
            RouteRateLimit { max_requests: 0, ..route },
            RouteRateLimit { interval_seconds: 0, ..route },
        ] {
            assert_eq!(code(c.increment_rate_limit_counter(&bad).await), ErrorCode::ValidationError);
        }
    }
);

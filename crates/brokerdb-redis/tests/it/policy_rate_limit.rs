//! Policy-engine rate limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use brokerdb::db::ErrorCode;
use brokerdb::model::Timestamp;
use brokerdb::repo::policy_rules::{PolicyRule, PolicyScope};
use brokerdb_redis::policy::{PolicyRateLimitStore, PolicyRuleType, RateLimit, RateLimitRule};

use crate::support::code;

fn rule(max_requests: i32, interval_seconds: i32) -> RateLimitRule {
    RateLimitRule {
        rule_type: PolicyRuleType::RateLimit,
        rate_limit: Some(RateLimit {
            max_requests,
            interval_seconds,
        }),
    }
}

on_both!(
    async fn hits_beyond_the_limit_are_denied_and_still_counted(b) {
        let s = PolicyRateLimitStore::new(b.conn.clone(), Some(&b.prefix));
        let now = Timestamp::now();
        let mut seen = Vec::new();
        for _ in 0..5 {
            let d = s.check_and_consume("tenant:t_1:send", &rule(3, 60), now).await.unwrap();
            assert!(d.reset_at > now && d.reset_at <= now.checked_add(Duration::from_secs(60)).unwrap());
            seen.push((d.allowed, d.remaining));
        }
        assert_eq!(seen, [(true, 2), (true, 1), (true, 0), (false, 0), (false, 0)]);
        let key = b.key("rl:v2:tenant%3At_1%3Asend");
        assert_eq!(b.get(&key).await.as_deref(), Some("5"));
        assert!((1..=60_000).contains(&b.pttl(&key).await), "window set by the first hit");
    }
);

on_both!(
    async fn a_counter_that_lost_its_ttl_gets_a_window_again(b) {
        let s = PolicyRateLimitStore::new(b.conn.clone(), Some(&b.prefix));
        let key = b.key("rl:v2:k");
        b.set(&key, "7").await;
        let d = s.check_and_consume("k", &rule(10, 5), Timestamp::now()).await.unwrap();
        assert_eq!((d.allowed, d.remaining), (true, 2));
        assert!((1..=5_000).contains(&b.pttl(&key).await));
    }
);

on_both!(
    async fn a_corrupt_counter_fails_closed(b) {
        let s = PolicyRateLimitStore::new(b.conn.clone(), Some(&b.prefix));
        b.set(&b.key("rl:v2:bad"), "not a number").await;
        let r = s.check_and_consume("bad", &rule(10, 5), Timestamp::now()).await;
        assert_eq!(code(r), ErrorCode::UnexpectedError);
    }
);

on_both!(
    async fn invalid_keys_and_rules_are_validation_errors(b) {
        let s = PolicyRateLimitStore::new(b.conn.clone(), Some(&b.prefix));
        let now = Timestamp::now();
        let allow = RateLimitRule { rule_type: PolicyRuleType::Allow, rate_limit: rule(1, 1).rate_limit };
        let missing = RateLimitRule { rule_type: PolicyRuleType::RateLimit, rate_limit: None };
        for (key, r) in [
            ("", rule(1, 1)),
            (&"k".repeat(1025) as &str, rule(1, 1)),
            ("k", allow),
            ("k", missing),
            ("k", rule(0, 1)),
            ("k", rule(1, 0)),
        ] {
            assert_eq!(code(s.check_and_consume(key, &r, now).await), ErrorCode::ValidationError);
        }
        let from_dto: RateLimitRule = serde_json::from_value(serde_json::json!({
            "policy_id": "pol_1", "rule_type": "rate_limit", "scope": {},
            "rate_limit": {"max_requests": 2, "interval_seconds": 9}
        }))
        .unwrap();
        assert_eq!(from_dto, rule(2, 9));
        let stored = PolicyRule {
            policy_id: Some("pol_1".into()),
            rule_type: PolicyRuleType::RateLimit,
            scope: PolicyScope {
                tenant_id: "acme".into(),
                workload_id: None,
                integration_id: "int_1".into(),
                template_id: None,
                template_version: None,
                action_group: "send".into(),
                method: "POST".into(),
                host: "api.example.com".into(),
                query_keys: None,
            },
            constraints: None,
            rate_limit: Some(RateLimit { max_requests: 2, interval_seconds: 9 }),
        };
        assert_eq!(RateLimitRule::from(&stored), rule(2, 9));
    }
);

on_both!(
    async fn sixteen_tasks_of_one_hundred_calls_get_exactly_the_limit(b) {
        let s = PolicyRateLimitStore::new(b.conn.clone(), Some(&b.prefix));
        let allowed = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (s, allowed) = (s.clone(), allowed.clone());
                tokio::spawn(async move {
                    for _ in 0..100 {
                        let d = s.check_and_consume("exact", &rule(500, 60), Timestamp::now()).await.unwrap();
                        if d.allowed {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(allowed.load(Ordering::Relaxed), 500);
        assert_eq!(b.get(&b.key("rl:v2:exact")).await.as_deref(), Some("1600"));
    }
);

on_both!(
    async fn leases_grant_what_is_left_of_the_window_and_nothing_after(b) {
        let s = PolicyRateLimitStore::new(b.conn.clone(), Some(&b.prefix));
        let now = Timestamp::now();
        let mut granted = Vec::new();
        for _ in 0..4 {
            let l = s.lease("lease", 4, &rule(10, 60), now).await.unwrap();
            assert!(l.reset_at > now && l.reset_at <= now.checked_add(Duration::from_secs(60)).unwrap());
            granted.push(l.granted);
        }
        assert_eq!(granted, [4, 4, 2, 0]);
        // A single hit shares the counter and sees the window spent.
        let d = s.check_and_consume("lease", &rule(10, 60), now).await.unwrap();
        assert!(!d.allowed);
        assert_eq!(code(s.lease("lease", 0, &rule(10, 60), now).await), ErrorCode::ValidationError);
    }
);

on_both!(
    async fn concurrent_leases_never_grant_more_than_the_limit_together(b) {
        let s = PolicyRateLimitStore::new(b.conn.clone(), Some(&b.prefix));
        let granted = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (s, granted) = (s.clone(), granted.clone());
                tokio::spawn(async move {
                    for _ in 0..10 {
                        let l = s.lease("shared", 7, &rule(500, 60), Timestamp::now()).await.unwrap();
                        granted.fetch_add(usize::try_from(l.granted).unwrap(), Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(granted.load(Ordering::Relaxed), 500);
        assert_eq!(b.get(&b.key("rl:v2:shared")).await.as_deref(), Some("1120"));
    }
);

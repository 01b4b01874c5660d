//! Forwarder execution lock.

use brokerdb::db::ErrorCode;
use brokerdb_redis::forwarder::{ForwarderCall, ForwarderOptions, ForwarderScope, ForwarderStore};

use crate::support::{Backend, code};

pub fn store(b: &Backend) -> ForwarderStore {
    ForwarderStore::new(
        b.conn.clone(),
        ForwarderOptions {
            key_prefix: Some(b.prefix.clone()),
            now: None,
        },
    )
}

pub fn scope(key: &str) -> ForwarderScope {
    ForwarderScope::new(&ForwarderCall {
        tenant_id: " t_1",
        workload_id: "w_1 ",
        integration_id: "int_1",
        action_group: " send ",
        idempotency_key: key,
    })
    .unwrap()
}

on_both!(
    async fn the_lock_has_one_holder_and_only_its_token_releases_it(b) {
        let s = store(&b);
        let token = s.acquire_execution_lock(&scope("idem-1"), 5_000).await.unwrap().unwrap();
        let key = b.key("lock:v2:{t_1}:w_1:int_1:send:idem-1");
        assert_eq!(b.get(&key).await, Some(token.clone()));
        assert!((1..=5_000).contains(&b.pttl(&key).await));
        assert_eq!(s.acquire_execution_lock(&scope("idem-1"), 5_000).await.unwrap(), None);
        let wrong = uuid::Uuid::new_v4().to_string();
        assert!(!s.release_execution_lock(&scope("idem-1"), &wrong).await.unwrap());
        assert!(s.release_execution_lock(&scope("idem-1"), &format!(" {token} ")).await.unwrap());
        assert!(!b.exists(&key).await);
    }
);

on_both!(
    async fn thirty_two_contenders_leave_exactly_one_holder(b) {
        let s = store(&b);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.acquire_execution_lock(&scope("race"), 10_000).await })
            })
            .collect();
        let mut holders = Vec::new();
        for t in tasks {
            holders.extend(t.await.unwrap().unwrap());
        }
        assert_eq!(holders.len(), 1);
        let wrong = uuid::Uuid::new_v4().to_string();
        assert!(!s.release_execution_lock(&scope("race"), &wrong).await.unwrap());
        assert!(s.release_execution_lock(&scope("race"), &holders[0]).await.unwrap());
    }
);

on_both!(
    async fn ttls_tokens_and_scopes_are_validated(b) {
        let s = store(&b);
        for ttl in [999, 60_001] {
            assert_eq!(code(s.acquire_execution_lock(&scope("k"), ttl).await), ErrorCode::ValidationError);
        }
        for token in ["", "   ", "token"] {
            assert_eq!(code(s.release_execution_lock(&scope("k"), token).await), ErrorCode::ValidationError);
        }
        for (t, key) in [(" ", "k"), ("t", ""), ("t", "a b"), ("t", "ä"), ("t", &"k".repeat(129) as &str)] {
            let r = ForwarderScope::new(&ForwarderCall { tenant_id: t, workload_id: "w", integration_id: "i", action_group: "g", idempotency_key: key });
            assert_eq!(code(r), ErrorCode::ValidationError, "{t:?} {key:?}");
        }
        assert!(ForwarderScope::new(&ForwarderCall { tenant_id: "t", workload_id: "w", integration_id: "i", action_group: "g", idempotency_key: &format!(" {} ", "a.b_c:d-E".repeat(14)) }).is_ok());
    }
);

//! Crypto rotation lock.

use brokerdb::db::ErrorCode;
use brokerdb_redis::crypto::CryptoRotationLock;

use crate::support::code;

on_both!(
    async fn only_the_owner_token_releases_the_lock(b) {
        let lock = CryptoRotationLock::new(b.conn.clone(), Some(&b.prefix));
        let token = lock.acquire(" manifest:rotate ", 30_000).await.unwrap().unwrap();
        assert!(brokerdb::model::is_uuid(&token));
        let key = b.key("rotation-lock:v2:manifest%3Arotate");
        assert_eq!(b.get(&key).await, Some(token.clone()));
        assert!((1..=30_000).contains(&b.pttl(&key).await));
        assert_eq!(lock.acquire("manifest:rotate", 30_000).await.unwrap(), None);
        let stranger = uuid::Uuid::new_v4().to_string();
        assert!(!lock.release("manifest:rotate", &stranger).await.unwrap());
        assert!(lock.release("manifest:rotate", &token).await.unwrap());
        assert!(!lock.release("manifest:rotate", &token).await.unwrap(), "already released");
        assert!(lock.acquire("manifest:rotate", 1).await.unwrap().is_some());
    }
);

on_both!(
    async fn thirty_two_contenders_leave_exactly_one_holder(b) {
        let lock = CryptoRotationLock::new(b.conn.clone(), Some(&b.prefix));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let lock = lock.clone();
                tokio::spawn(async move { lock.acquire("contended", 60_000).await })
            })
            .collect();
        let mut holders = Vec::new();
        for t in tasks {
            holders.extend(t.await.unwrap().unwrap());
        }
        assert_eq!(holders.len(), 1);
        assert_eq!(b.get(&b.key("rotation-lock:v2:contended")).await, holders.first().cloned());
    }
);

on_both!(
    async fn names_ttls_and_tokens_are_validated(b) {
        let lock = CryptoRotationLock::new(b.conn.clone(), Some(&b.prefix));
        for name in ["", "  ", "a b", "ä", &"n".repeat(129)] {
            assert_eq!(code(lock.acquire(name, 1000).await), ErrorCode::ValidationError, "{name:?}");
        }
        assert!(lock.acquire(&"n".repeat(128), 900_000).await.unwrap().is_some());
        for ttl in [0, 900_001] {
            assert_eq!(code(lock.acquire("x", ttl).await), ErrorCode::ValidationError);
        }
        assert_eq!(code(lock.release("x", "not-a-uuid").await), ErrorCode::ValidationError);
    }
);

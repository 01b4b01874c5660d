//! Enrollment-token store.

use std::time::Duration;

use brokerdb::db::ErrorCode;
use brokerdb_redis::auth::{AuthOptions, AuthStores, EnrollmentTokenEntry};

use crate::support::{TestClock, after, auth_stores, code};

fn entry(clock: &TestClock, c: char, secs: u64) -> EnrollmentTokenEntry {
    serde_json::from_value(serde_json::json!({
        "tokenHash": c.to_string().repeat(64),
        "workloadId": "w_1",
        "expiresAt": after(clock.now(), secs).to_string(),
    }))
    .unwrap()
}

on_both!(
    async fn a_token_is_consumed_exactly_once(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).enrollment;
        let e = entry(&clock, 'a', 600);
        s.issue_enrollment_token(&e).await.unwrap();
        let hash = "a".repeat(64);
        let stored: serde_json::Value =
            serde_json::from_str(&b.get(&b.key(&format!("enroll:{hash}"))).await.unwrap()).unwrap();
        assert_eq!(stored["workloadId"], "w_1");
        assert_eq!(s.consume_enrollment_token_by_hash(&hash).await.unwrap(), Some(e));
        assert_eq!(s.consume_enrollment_token_by_hash(&hash).await.unwrap(), None);
        assert!(!b.exists(&b.key(&format!("enroll:lock:{hash}"))).await, "lock released");
    }
);

on_both!(
    async fn issuing_twice_is_a_conflict_and_bad_input_a_validation_error(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).enrollment;
        s.issue_enrollment_token(&entry(&clock, 'b', 60)).await.unwrap();
        assert_eq!(code(s.issue_enrollment_token(&entry(&clock, 'b', 60)).await), ErrorCode::Conflict);
        let mut past = entry(&clock, 'c', 1);
        past.expires_at = clock.now();
        assert_eq!(code(s.issue_enrollment_token(&past).await), ErrorCode::ValidationError);
        assert_eq!(code(s.consume_enrollment_token_by_hash("xyz").await), ErrorCode::ValidationError);
        let zero = AuthStores::new(
            b.conn.clone(),
            AuthOptions { enrollment_consume_lock_seconds: 0, ..AuthOptions::default() },
        );
        assert_eq!(code(zero.map(|_| ())), ErrorCode::ValidationError);
    }
);

on_both!(
    async fn a_held_lock_or_an_expired_token_yields_none(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).enrollment;
        s.issue_enrollment_token(&entry(&clock, 'd', 60)).await.unwrap();
        let hash = "d".repeat(64);
        let lock = b.key(&format!("enroll:lock:{hash}"));
        b.set(&lock, "1").await;
        assert_eq!(s.consume_enrollment_token_by_hash(&hash).await.unwrap(), None);
        assert!(b.exists(&b.key(&format!("enroll:{hash}"))).await, "not consumed");
        let _: i64 = b.raw(redis::cmd("DEL").arg(&lock)).await;

        clock.advance(Duration::from_secs(60));
        assert_eq!(s.consume_enrollment_token_by_hash(&hash).await.unwrap(), None);
        assert!(!b.exists(&b.key(&format!("enroll:{hash}"))).await, "expired entry deleted");
    }
);

on_both!(
    async fn a_corrupt_entry_is_a_validation_error_and_the_lock_is_released(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).enrollment;
        let hash = "e".repeat(64);
        b.set(&b.key(&format!("enroll:{hash}")), "{broken").await;
        assert_eq!(code(s.consume_enrollment_token_by_hash(&hash).await), ErrorCode::ValidationError);
        assert!(!b.exists(&b.key(&format!("enroll:lock:{hash}"))).await);
    }
);

on_both!(
    async fn concurrent_consumers_get_the_token_at_most_once(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).enrollment;
        s.issue_enrollment_token(&entry(&clock, 'f', 60)).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.consume_enrollment_token_by_hash(&"f".repeat(64)).await })
            })
            .collect();
        let mut got = 0;
        for t in tasks {
            got += usize::from(t.await.unwrap().unwrap().is_some());
        }
        assert_eq!(got, 1);
    }
);

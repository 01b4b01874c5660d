//! Session store.

use std::time::Duration;

use brokerdb::db::ErrorCode;
use brokerdb::model::TokenHash;
use brokerdb::repo::sessions::SessionRecord;

use crate::support::{TestClock, after, auth_stores, code};

fn hash(c: char) -> String {
    c.to_string().repeat(64)
}

fn session(clock: &TestClock, token: char, secs: u64) -> SessionRecord {
    serde_json::from_value(serde_json::json!({
        "sessionId": "9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c",
        "workloadId": "w_1",
        "tenantId": "t_1",
        "certFingerprint256": "AB:CD",
        "tokenHash": hash(token),
        "expiresAt": after(clock.now(), secs).to_string(),
        "scopes": ["execute"],
    }))
    .unwrap()
}

on_both!(
    async fn an_upserted_session_is_found_by_its_token_hash_until_it_expires(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).sessions;
        let record = session(&clock, 'a', 90);
        s.upsert_session(&record).await.unwrap();

        assert_eq!(s.get_session_by_token_hash(&hash('a')).await.unwrap(), Some(record.clone()));
        let token_key = b.key(&format!("sess:token:{}", hash('a')));
        let id_key = b.key("sess:id:9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c");
        assert_eq!(b.get(&id_key).await.as_deref(), Some(hash('a').as_str()));
        let stored: serde_json::Value = serde_json::from_str(&b.get(&token_key).await.unwrap()).unwrap();
        assert_eq!(stored["certFingerprint256"], "AB:CD", "camelCase JSON as the reference");
        for key in [&token_key, &id_key] {
            let ttl = b.pttl(key).await;
            assert!((85_000..=90_000).contains(&ttl), "{key}: {ttl}");
        }
        assert_eq!(s.get_session_by_token_hash(&hash('b')).await.unwrap(), None);

        clock.advance(Duration::from_secs(90));
        assert_eq!(s.get_session_by_token_hash(&hash('a')).await.unwrap(), None);
        assert!(!b.exists(&token_key).await && !b.exists(&id_key).await, "expired keys deleted");
    }
);

on_both!(
    async fn bad_input_is_rejected_before_any_write(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).sessions;
        let mut past = session(&clock, 'a', 1);
        past.expires_at = clock.now();
        assert_eq!(code(s.upsert_session(&past).await), ErrorCode::ValidationError);
        assert!(!b.exists(&b.key(&format!("sess:token:{}", hash('a')))).await);
        for bad in ["", "ABC", &"A".repeat(64), &"a".repeat(63)] {
            assert_eq!(code(s.get_session_by_token_hash(bad).await), ErrorCode::ValidationError);
        }
        assert_eq!(code(s.revoke_session_by_id("not-a-uuid").await), ErrorCode::ValidationError);
    }
);

on_both!(
    async fn a_corrupt_session_record_is_a_validation_error_and_kept(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).sessions;
        let key = b.key(&format!("sess:token:{}", hash('c')));
        for corrupt in ["{not json", r#"{"sessionId":"x"}"#] {
            b.set(&key, corrupt).await;
            assert_eq!(code(s.get_session_by_token_hash(&hash('c')).await), ErrorCode::ValidationError);
            assert_eq!(b.get(&key).await.as_deref(), Some(corrupt));
        }
    }
);

on_both!(
    async fn revoking_by_id_removes_both_keys_and_is_idempotent(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).sessions;
        let record = session(&clock, 'd', 60);
        s.upsert_session(&record).await.unwrap();
        let id = "9F1C2A4E-8B3D-4C5E-9A7B-1D2E3F4A5B6C";
        s.revoke_session_by_id(id).await.unwrap();
        assert_eq!(s.get_session_by_token_hash(&hash('d')).await.unwrap(), None);
        assert!(!b.exists(&b.key("sess:id:9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c")).await);
        s.revoke_session_by_id(id).await.unwrap();
    }
);

on_both!(
    async fn a_new_token_for_the_same_session_retires_the_old_one(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).sessions;
        s.upsert_session(&session(&clock, 'e', 60)).await.unwrap();
        let mut rotated = session(&clock, 'f', 60);
        rotated.token_hash = TokenHash::parse(&hash('f')).unwrap();
        s.upsert_session(&rotated).await.unwrap();
        assert_eq!(s.get_session_by_token_hash(&hash('e')).await.unwrap(), None);
        assert_eq!(s.get_session_by_token_hash(&hash('f')).await.unwrap(), Some(rotated));
    }
);

on_both!(
    async fn a_corrupt_session_id_index_neither_fails_an_upsert_nor_a_revoke(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).sessions;
        let id_key = b.key("sess:id:9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c");
        let id = "9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c";
        // Not UTF-8, and UTF-8 but not a token hash: the index names no record of ours.
        for corrupt in [&b"\xff\xfe"[..], b"not-a-token-hash"] {
            let _: () = b.raw(redis::cmd("SET").arg(&id_key).arg(corrupt)).await;
            let record = session(&clock, '9', 60);
            s.upsert_session(&record).await.unwrap();
            assert_eq!(s.get_session_by_token_hash(&hash('9')).await.unwrap(), Some(record));
            assert_eq!(b.get(&id_key).await.as_deref(), Some(hash('9').as_str()));

            let _: () = b.raw(redis::cmd("SET").arg(&id_key).arg(corrupt)).await;
            s.revoke_session_by_id(id).await.unwrap();
            assert!(!b.exists(&id_key).await, "the corrupt index is gone");
            assert!(
                s.get_session_by_token_hash(&hash('9')).await.unwrap().is_some(),
                "a record the corrupt index does not name is left alone"
            );
            s.revoke_session_by_id(id).await.unwrap();
        }
    }
);

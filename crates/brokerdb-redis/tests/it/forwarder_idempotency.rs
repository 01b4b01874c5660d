//! Forwarder idempotency records.

use brokerdb::db::ErrorCode;
use brokerdb::model::{TenantId, Timestamp};
use brokerdb_redis::forwarder::{
    ForwarderCall, ForwarderScope, IdempotencyConflict, IdempotencyCreate, IdempotencyState,
    MAX_RESPONSE_BYTES,
};

use crate::forwarder_lock::{scope, store};
use crate::support::{Backend, after, code};

const FP: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER_FP: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

fn key(b: &Backend, idem: &str) -> String {
    b.key(&format!("idem:v2:{{t_1}}:w_1:int_1:send:{idem}"))
}

on_both!(
    async fn the_first_create_wins_and_later_ones_see_why_not(b) {
        let s = store(&b);
        let exp = after(Timestamp::now(), 600);
        let created = s.create_idempotency_record(&scope("k1"), FP, "corr-1", exp).await.unwrap();
        assert_eq!(created, IdempotencyCreate::Created);
        assert!(created.created());
        let again = s.create_idempotency_record(&scope("k1"), &format!(" {FP} "), "corr-2", exp).await.unwrap();
        assert_eq!(again, IdempotencyCreate::Conflict(IdempotencyConflict::KeyExists));
        let other = s.create_idempotency_record(&scope("k1"), OTHER_FP, "corr-3", exp).await.unwrap();
        assert_eq!(other, IdempotencyCreate::Conflict(IdempotencyConflict::FingerprintMismatch));

        let r = s.get_idempotency_record(&scope("k1")).await.unwrap().unwrap();
        assert_eq!((r.state, r.correlation_id.as_str(), r.expires_at), (IdempotencyState::InProgress, "corr-1", exp));
        assert_eq!(r.expires_at_epoch_ms, Some(exp.unix_millis()));
        let ttl = b.pttl(&key(&b, "k1")).await;
        assert!((595_000..=600_000).contains(&ttl), "{ttl}");
        assert_eq!(s.get_idempotency_record(&scope("missing")).await.unwrap(), None);
    }
);

on_both!(
    async fn ten_concurrent_creators_make_one_record(b) {
        let s = store(&b);
        let exp = after(Timestamp::now(), 120);
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    let corr = format!("corr-{i}");
                    (corr.clone(), s.create_idempotency_record(&scope("race"), FP, &corr, exp).await.unwrap())
                })
            })
            .collect();
        let mut creators = Vec::new();
        for t in tasks {
            let (corr, outcome) = t.await.unwrap();
            match outcome {
                IdempotencyCreate::Created => creators.push(corr),
                other => assert_eq!(other, IdempotencyCreate::Conflict(IdempotencyConflict::KeyExists)),
            }
        }
        assert_eq!(creators.len(), 1);
        let r = s.get_idempotency_record(&scope("race")).await.unwrap().unwrap();
        assert_eq!(r.correlation_id, creators[0], "the others see the creator's record");
    }
);

on_both!(
    async fn completion_and_failure_are_guarded_and_keep_the_ttl(b) {
        let s = store(&b);
        let exp = after(Timestamp::now(), 300);
        s.create_idempotency_record(&scope("c"), FP, "corr", exp).await.unwrap();
        assert!(!s.complete_idempotency_record(&scope("c"), "other", 200, 10).await.unwrap());
        assert!(!s.complete_idempotency_record(&scope("nothing"), "corr", 200, 10).await.unwrap());
        let before = b.pttl(&key(&b, "c")).await;
        assert!(s.complete_idempotency_record(&scope("c"), "corr", 201, 1234).await.unwrap());
        let after_ttl = b.pttl(&key(&b, "c")).await;
        assert!(after_ttl <= before && after_ttl > 290_000, "{before} → {after_ttl}");
        let r = s.get_idempotency_record(&scope("c")).await.unwrap().unwrap();
        assert_eq!((r.state, r.upstream_status_code, r.response_bytes, r.error_code), (IdempotencyState::Completed, Some(201), Some(1234), None));
        assert_eq!((r.request_fingerprint_sha256.as_str(), r.created_at <= Timestamp::now()), (FP, true));
        assert!(!s.complete_idempotency_record(&scope("c"), "corr", 200, 1).await.unwrap(), "terminal");
        assert!(!s.fail_idempotency_record(&scope("c"), "corr", "boom").await.unwrap(), "terminal");

        s.create_idempotency_record(&scope("f"), FP, "corr", exp).await.unwrap();
        assert!(s.fail_idempotency_record(&scope("f"), "corr", " upstream_timeout ").await.unwrap());
        let r = s.get_idempotency_record(&scope("f")).await.unwrap().unwrap();
        assert_eq!((r.state, r.error_code.as_deref(), r.upstream_status_code), (IdempotencyState::Failed, Some("upstream_timeout"), None));
        assert!(!s.complete_idempotency_record(&scope("f"), "corr", 200, 1).await.unwrap());
    }
);

on_both!(
    async fn a_record_without_ttl_is_repaired_from_its_expiry_or_dropped(b) {
        let s = store(&b);
        let exp = after(Timestamp::now(), 300);
        s.create_idempotency_record(&scope("p"), FP, "corr", exp).await.unwrap();
        let _: i64 = b.raw(redis::cmd("PERSIST").arg(key(&b, "p"))).await;
        assert!(s.complete_idempotency_record(&scope("p"), "corr", 200, 0).await.unwrap());
        assert!((1..=300_000).contains(&b.pttl(&key(&b, "p")).await));

        let record = |epoch: Option<i64>| {
            let mut v = serde_json::json!({
                "state": "in_progress", "request_fingerprint_sha256": FP, "correlation_id": "corr",
                "created_at": "2026-01-01T00:00:00.000Z", "expires_at": "2026-01-01T00:05:00.000Z"});
            if let Some(e) = epoch {
                v["expires_at_epoch_ms"] = e.into();
            }
            v.to_string()
        };
        b.set(&key(&b, "past"), &record(Some(1_000))).await;
        assert!(!s.complete_idempotency_record(&scope("past"), "corr", 200, 0).await.unwrap());
        assert!(!b.exists(&key(&b, "past")).await, "expired record deleted");
        b.set(&key(&b, "noexp"), &record(None)).await;
        assert!(!s.fail_idempotency_record(&scope("noexp"), "corr", "x").await.unwrap());
        assert_eq!(b.get(&key(&b, "noexp")).await, Some(record(None)), "left unwritten");
    }
);

on_both!(
    async fn corrupt_records_are_replaced_on_create_and_deleted_on_read(b) {
        let s = store(&b);
        let exp = after(Timestamp::now(), 120);
        for corrupt in ["{oops", r#"{"state":"in_progress"}"#] {
            b.set(&key(&b, "bad"), corrupt).await;
            assert_eq!(s.get_idempotency_record(&scope("bad")).await.unwrap(), None);
            assert!(!b.exists(&key(&b, "bad")).await);
            b.set(&key(&b, "bad"), corrupt).await;
            let created = s.create_idempotency_record(&scope("bad"), FP, "corr", exp).await.unwrap();
            assert_eq!(created, IdempotencyCreate::Created);
            let _: i64 = b.raw(redis::cmd("DEL").arg(key(&b, "bad"))).await;
        }
    }
);

on_both!(
    async fn windows_fingerprints_and_results_are_validated(b) {
        let s = store(&b);
        let now = Timestamp::now();
        for secs in [0, 58, 86_402] {
            let r = s.create_idempotency_record(&scope("v"), FP, "c", after(now, secs)).await;
            assert_eq!(code(r), ErrorCode::ValidationError, "{secs}");
        }
        assert_eq!(code(s.create_idempotency_record(&scope("v"), &"a".repeat(31), "c", after(now, 120)).await), ErrorCode::ValidationError);
        assert_eq!(code(s.create_idempotency_record(&scope("v"), FP, "", after(now, 120)).await), ErrorCode::ValidationError);
        for (status, bytes) in [(99, 0), (600, 0), (200, MAX_RESPONSE_BYTES + 1)] {
            assert_eq!(code(s.complete_idempotency_record(&scope("v"), "c", status, bytes).await), ErrorCode::ValidationError);
        }
        assert_eq!(code(s.fail_idempotency_record(&scope("v"), "c", "  ").await), ErrorCode::ValidationError);
        assert!(!b.exists(&key(&b, "v")).await, "nothing written");
    }
);

on_both!(
    async fn scopes_that_v1_keyed_alike_keep_their_own_records_and_locks(b) {
        let s = store(&b);
        let exp = after(Timestamp::now(), 600);
        // The issue's tenant `acme:w1` (key `z`) aliased tenant `acme`, workload `w1` (key `k1:z`):
        // such a tenant id can no longer be named, here or anywhere in the model.
        assert_eq!(code(ForwarderScope::new(&ForwarderCall { tenant_id: "acme:w1", workload_id: "int_1", integration_id: "send", action_group: "k1", idempotency_key: "z" })), ErrorCode::ValidationError);
        assert!(TenantId::parse("acme:w1").is_err());
        // Free-form parts may still hold `:`. v1 keyed both of these `idem:acme:w1:int_1:send:k1:z`,
        // so the second caller was handed the first one's stored upstream response.
        let first = ForwarderScope::new(&ForwarderCall { tenant_id: "acme", workload_id: "w1", integration_id: "int_1", action_group: "send", idempotency_key: "k1:z" }).unwrap();
        let second = ForwarderScope::new(&ForwarderCall { tenant_id: "acme", workload_id: "w1", integration_id: "int_1", action_group: "send:k1", idempotency_key: "z" }).unwrap();
        assert_eq!(s.create_idempotency_record(&first, FP, "corr-a", exp).await.unwrap(), IdempotencyCreate::Created);
        assert!(s.complete_idempotency_record(&first, "corr-a", 201, 42).await.unwrap());
        assert_eq!(s.get_idempotency_record(&second).await.unwrap(), None, "no response of the other scope");
        assert_eq!(s.create_idempotency_record(&second, OTHER_FP, "corr-b", exp).await.unwrap(), IdempotencyCreate::Created);
        let mine = s.get_idempotency_record(&second).await.unwrap().unwrap();
        assert_eq!((mine.state, mine.correlation_id.as_str(), mine.upstream_status_code), (IdempotencyState::InProgress, "corr-b", None));
        let theirs = s.get_idempotency_record(&first).await.unwrap().unwrap();
        assert_eq!((theirs.state, theirs.correlation_id.as_str(), theirs.upstream_status_code), (IdempotencyState::Completed, "corr-a", Some(201)));
        assert!(b.exists(&b.key("idem:v2:{acme}:w1:int_1:send:k1%3Az")).await);
        assert!(b.exists(&b.key("idem:v2:{acme}:w1:int_1:send%3Ak1:z")).await);

        assert!(s.acquire_execution_lock(&first, 5_000).await.unwrap().is_some());
        assert!(s.acquire_execution_lock(&second, 5_000).await.unwrap().is_some(), "the other scope's lock is its own");
    }
);

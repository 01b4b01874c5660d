//! Bad input at scale (issue 18, item 6) for the Redis adapters: property tests of the SSRF host
//! normaliser, the audit cache filter's stable encoding, the policy invalidation event, and —
//! through the adapters' public read calls on a real Redis — every decoder of a stored JSON
//! snapshot fed with thousands of corrupt values (mutations of the value the adapter itself
//! wrote, plus arbitrary JSON and bytes). A stored value is either returned valid, treated as a
//! miss, or refused with a `validation_error`; never a panic or another error.
//!
//! The stored-value properties run on the standalone Redis only: the decoders do not depend on
//! the backend, and the cluster runs of every adapter test cover the keys.

use std::future::Future;

use brokerdb::db::ErrorCode;
use brokerdb::model::{ApprovalStatus, Timestamp};
use brokerdb::repo::sessions::SessionRecord;
use brokerdb_redis::AdapterError;
use brokerdb_redis::audit::AuditCacheFilter;
use brokerdb_redis::auth::EnrollmentTokenEntry;
use brokerdb_redis::canonicalizer::{ApprovalOnceEntry, CanonicalizerCache, CanonicalizerOptions};
use brokerdb_redis::policy::PolicyInvalidationEvent;
use brokerdb_redis::ssrf::{
    DnsRebindingObservation, DnsResolutionCacheEntry, SsrfGuardOptions, SsrfGuardStore,
    normalize_host,
};
use brokerdb_testkit::props::{config, config_with, hostile_string, json, mutated};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json as j};

use crate::canonicalizer::{descriptor, template};
use crate::forwarder_lock::{scope as forwarder_scope, store as forwarder_store};
use crate::support::{Backend, TestClock, after, auth_stores};

proptest! {
    #![proptest_config(config())]

    /// The SSRF host rule: a normalised host is lower-case, has no trailing dot, at most 253
    /// characters, and normalises to itself; anything else is a typed error.
    #[test]
    fn ssrf_hosts_normalise_idempotently(s in prop_oneof![
        hostile_string(),
        "[ \t]?[a-zA-Z0-9.-]{1,40}\\.?[ \t]?",
        any::<u128>().prop_map(|n| std::net::Ipv6Addr::from(n).to_string().to_uppercase()),
        any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
    ]) {
        match normalize_host(&s) {
            Ok(h) => {
                prop_assert!(!h.is_empty() && !h.ends_with('.') && h.chars().count() <= 253);
                prop_assert_eq!(h.to_lowercase(), h.clone());
                prop_assert_eq!(normalize_host(&h).ok(), Some(h.clone()));
            }
            Err(e) => prop_assert_eq!(e.field, "normalized_host"),
        }
    }

    /// The audit cache filter: from any JSON a typed error or a filter whose stable encoding is
    /// JSON that decodes to the same filter (so the encoding, and the cache key hashed from it,
    /// is a fixed point).
    #[test]
    fn audit_cache_filters_have_a_stable_encoding_that_round_trips(v in prop_oneof![
        mutated(j!({"time_min": "2026-02-11T01:00:00+01:00", "time_max": "2026-02-12T00:00:00Z",
            "tenant_id": "t_1", "workload_id": "w_1", "integration_id": "int_1",
            "action_group": "send", "decision": "denied"})),
        json(),
    ]) {
        match AuditCacheFilter::from_json(v) {
            Ok(f) => {
                let encoded = f.stable_encoding();
                let parsed: Value = serde_json::from_str(&encoded)
                    .map_err(|e| TestCaseError::fail(format!("{encoded}: {e}")))?;
                let back = AuditCacheFilter::from_json(parsed)
                    .map_err(|e| TestCaseError::fail(format!("{encoded}: {e}")))?;
                prop_assert_eq!(&back, &f);
                prop_assert_eq!(back.stable_encoding(), encoded);
                prop_assert_eq!(back.query_hash(), f.query_hash());
            }
            Err(e) => prop_assert_eq!(e.field, "filter"),
        }
    }

    /// Policy invalidation events as the bus receives them: any payload decodes to a valid
    /// event that re-encodes to itself, or is dropped.
    #[test]
    fn policy_invalidation_payloads_decode_or_are_dropped(v in prop_oneof![
        mutated(j!({"tenant_id": "t_1", "entity_type": "policy_rule", "entity_id": "p_1",
            "updated_at": "2026-02-11T00:00:00.000Z"})),
        json(),
    ]) {
        if let Ok(event) = serde_json::from_value::<PolicyInvalidationEvent>(v)
            && event.validate().is_ok()
        {
            let text = serde_json::to_string(&event).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(serde_json::from_str::<PolicyInvalidationEvent>(&text).ok(), Some(event));
        }
    }
}

/// Stored values for one key: mutations of the adapter's own value, arbitrary JSON, raw bytes.
fn stored_values(base: Value) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => mutated(base).prop_map(|v| v.to_string().into_bytes()),
        1 => json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Writes each generated value under `key` and reads it back through `read`; `check` judges
/// the result. Runs on its own runtime (proptest is synchronous).
fn fuzz_stored<T, Fut>(
    cases: u32,
    setup: impl AsyncFnOnce(&Backend) -> String,
    read: impl Fn(&Backend) -> Fut,
    check: impl Fn(&Result<T, AdapterError>) -> bool,
) where
    Fut: Future<Output = Result<T, AdapterError>>,
    T: std::fmt::Debug,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let b = rt.block_on(Backend::standalone());
    let key = rt.block_on(setup(&b));
    let raw = rt
        .block_on(b.get(&key))
        .expect("the adapter stored a value");
    let base: Value = serde_json::from_str(&raw).expect("the adapter stores JSON");
    let mut runner = TestRunner::new(config_with(cases));
    runner
        .run(&stored_values(base), |bytes| {
            let result = rt.block_on(async {
                let _: () = b
                    .raw(redis::cmd("SET").arg(&key).arg(&bytes).arg("EX").arg(600))
                    .await;
                read(&b).await
            });
            prop_assert!(
                check(&result),
                "{:?} → {:?}",
                String::from_utf8_lossy(&bytes),
                result
            );
            Ok(())
        })
        .unwrap();
}

/// A read that returns a valid value or a miss, never an error.
fn valid_or_miss<T>(r: &Result<Option<T>, AdapterError>, valid: impl Fn(&T) -> bool) -> bool {
    match r {
        Ok(Some(v)) => valid(v),
        Ok(None) => true,
        Err(_) => false,
    }
}

fn ssrf(b: &Backend) -> SsrfGuardStore {
    SsrfGuardStore::new(
        b.conn.clone(),
        SsrfGuardOptions {
            key_prefix: Some(b.prefix.clone()),
            ..SsrfGuardOptions::default()
        },
    )
    .unwrap()
}

fn canonicalizer(b: &Backend) -> CanonicalizerCache {
    CanonicalizerCache::new(
        b.conn.clone(),
        CanonicalizerOptions {
            key_prefix: Some(b.prefix.clone()),
            ..CanonicalizerOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn corrupt_dns_cache_entries_are_misses() {
    fuzz_stored(
        500,
        async |b| {
            let entry = DnsResolutionCacheEntry {
                resolved_ips: vec!["93.184.216.34".into(), "2606:2800:220:1::1".into()],
                resolved_at_epoch_ms: 1_770_000_000_000,
                ttl_seconds: 60,
            };
            ssrf(b)
                .upsert_dns_resolution_cache("api.example.com", &entry)
                .await
                .unwrap();
            b.key("dns:v2:api.example.com")
        },
        |b| {
            let store = ssrf(b);
            async move { store.read_dns_resolution_cache("api.example.com").await }
        },
        |r| valid_or_miss(r, |e| e.validate().is_ok()),
    );
}

#[test]
fn corrupt_dns_histories_read_as_empty() {
    fuzz_stored(
        500,
        async |b| {
            let store = ssrf(b);
            for at in [1_770_000_000_000, 1_770_000_001_000] {
                let o = DnsRebindingObservation {
                    ip_set_hash: format!("h{at}"),
                    resolved_ips: vec!["93.184.216.34".into()],
                    observed_at_epoch_ms: at,
                };
                store
                    .append_dns_rebinding_observation("api.example.com", &o)
                    .await
                    .unwrap();
            }
            b.key("dns-history:v2:api.example.com")
        },
        |b| {
            let store = ssrf(b);
            async move { store.read_dns_rebinding_history("api.example.com").await }
        },
        |r| matches!(r, Ok(h) if h.iter().all(|o| o.validate().is_ok())),
    );
}

#[test]
fn corrupt_template_cache_entries_are_misses() {
    fuzz_stored(
        500,
        async |b| {
            canonicalizer(b)
                .set_template_cache("t_1", "tpl_mail", 2, &template())
                .await
                .unwrap();
            b.key("template:v2:{t_1}:tpl_mail:2")
        },
        |b| {
            let c = canonicalizer(b);
            async move { c.get_template_cache("t_1", "tpl_mail", 2).await }
        },
        |r| valid_or_miss(r, |t| t.validate().is_ok()),
    );
}

#[test]
fn corrupt_approval_once_entries_are_misses() {
    fuzz_stored(
        500,
        async |b| {
            let entry = ApprovalOnceEntry {
                approval_id: "apr_1".into(),
                status: ApprovalStatus::Approved,
                expires_at: Timestamp::parse("2999-02-13T00:00:00Z").unwrap(),
                template_id: "tpl_gmail".into(),
                template_version: 1,
            };
            canonicalizer(b)
                .set_approval_once_cache(&descriptor(), &entry, 600)
                .await
                .unwrap();
            b.key(&format!(
                "approval-once:v2:{{t_1}}:w_1:int_1:{}",
                descriptor().sha256()
            ))
        },
        |b| {
            let c = canonicalizer(b);
            async move { c.get_approval_once_cache(&descriptor()).await }
        },
        |r| valid_or_miss(r, |e| e.validate().is_ok()),
    );
}

/// Sessions keep a corrupt record for inspection: the read is a `validation_error`, as
/// documented, never a panic or a record that breaks its contract.
#[test]
fn corrupt_session_records_are_validation_errors() {
    let hash = "a".repeat(64);
    fuzz_stored(
        500,
        async |b| {
            let clock = TestClock::new();
            let record: SessionRecord = serde_json::from_value(j!({
                "sessionId": "9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c", "workloadId": "w_1",
                "tenantId": "t_1", "certFingerprint256": "AB:CD", "tokenHash": "a".repeat(64),
                "expiresAt": after(Timestamp::now(), 600).to_string(), "scopes": ["execute"],
            }))
            .unwrap();
            auth_stores(b, &clock)
                .sessions
                .upsert_session(&record)
                .await
                .unwrap();
            b.key(&format!("sess:token:{}", "a".repeat(64)))
        },
        |b| {
            let sessions = auth_stores(b, &TestClock::new()).sessions;
            let hash = hash.clone();
            async move { sessions.get_session_by_token_hash(&hash).await }
        },
        |r| match r {
            Ok(_) => true,
            Err(e) => e.code() == ErrorCode::ValidationError,
        },
    );
}

/// Enrollment tokens: consuming a corrupt entry is a `validation_error` (the entry is taken
/// either way), a valid one is returned once.
#[test]
fn corrupt_enrollment_entries_are_validation_errors() {
    let hash = "b".repeat(64);
    fuzz_stored(
        500,
        async |b| {
            let entry: EnrollmentTokenEntry = serde_json::from_value(j!({
                "tokenHash": "b".repeat(64), "workloadId": "w_1",
                "expiresAt": after(Timestamp::now(), 600).to_string(),
            }))
            .unwrap();
            auth_stores(b, &TestClock::new())
                .enrollment
                .issue_enrollment_token(&entry)
                .await
                .unwrap();
            b.key(&format!("enroll:{}", "b".repeat(64)))
        },
        |b| {
            let enrollment = auth_stores(b, &TestClock::new()).enrollment;
            let hash = hash.clone();
            async move { enrollment.consume_enrollment_token_by_hash(&hash).await }
        },
        |r| match r {
            Ok(_) => true,
            Err(e) => e.code() == ErrorCode::ValidationError,
        },
    );
}

/// Forwarder idempotency records (security state): a corrupt record is a miss (and deleted),
/// a returned one keeps its contract.
#[test]
fn corrupt_idempotency_records_are_misses() {
    fuzz_stored(
        500,
        async |b| {
            forwarder_store(b)
                .create_idempotency_record(
                    &forwarder_scope("k1"),
                    &"0123456789abcdef".repeat(4),
                    "corr-1",
                    after(Timestamp::now(), 600),
                )
                .await
                .unwrap();
            b.key("idem:v2:{t_1}:w_1:int_1:send:k1")
        },
        |b| {
            let store = forwarder_store(b);
            async move { store.get_idempotency_record(&forwarder_scope("k1")).await }
        },
        |r| {
            valid_or_miss(r, |rec| {
                brokerdb::model::trim(&rec.request_fingerprint_sha256)
                    .chars()
                    .count()
                    >= 32
                    && !rec.correlation_id.is_empty()
                    && rec
                        .upstream_status_code
                        .is_none_or(|c| (100..=599).contains(&c))
                    && rec
                        .error_code
                        .as_deref()
                        .is_none_or(|e| !brokerdb::model::trim(e).is_empty())
            })
        },
    );
}

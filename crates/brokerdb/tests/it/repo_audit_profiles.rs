//! The SSRF decision projection (idempotent by event id) and audit redaction profiles, against
//! real PostgreSQL.

use brokerdb::db::{DbError, ErrorCode, TxOptions};
use brokerdb::repo::audit_events::{self, AuditRedactionProfile, SsrfGuardDecisionProjection};
use serde_json::{Value, json};

use crate::TestResult;
use crate::db_scope::{seeded, tenant};

type Error = Box<dyn std::error::Error>;

fn projection_json(t: &str, id: &str) -> Value {
    json!({"event_id": id, "timestamp": "2026-01-01T01:00:00+01:00", "tenant_id": t,
        "workload_id": "w_1", "integration_id": "int_1", "template_id": "tpl_gmail",
        "template_version": 2, "destination_host": "Gmail.googleapis.com", "destination_port": 443,
        "resolved_ips": [" 142.250.1.1 ", "2607:f8b0::1"], "decision": "allowed",
        "reason_code": "request_host_not_allowed", "correlation_id": "corr"})
}

fn projection(t: &str, id: &str) -> Result<SsrfGuardDecisionProjection, Error> {
    Ok(serde_json::from_value(projection_json(t, id))?)
}

fn code<T>(r: Result<T, DbError>) -> Option<ErrorCode> {
    r.err().map(|e| e.code())
}

#[tokio::test]
async fn an_ssrf_decision_is_stored_once_and_a_repeat_returns_the_stored_row() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    let p = projection("t_a", "evt_s1")?;
    let stored = audit_events::append_ssrf_guard_decision(&scope, None, &p).await?;
    assert_eq!(
        stored.resolved_ips,
        ["142.250.1.1", "2607:f8b0::1"],
        "trimmed"
    );
    assert_eq!(stored.destination_host, "Gmail.googleapis.com", "as given");
    assert_eq!(
        serde_json::to_value(&stored)?["timestamp"],
        json!("2026-01-01T00:00:00.000Z")
    );
    // The same decision again, its timestamp spelled with another offset: the stored row.
    let mut again = projection_json("t_a", "evt_s1");
    again["timestamp"] = json!("2025-12-31T19:00:00-05:00");
    let repeat = serde_json::from_value::<SsrfGuardDecisionProjection>(again)?;
    assert_eq!(
        audit_events::append_ssrf_guard_decision(&scope, None, &repeat).await?,
        stored
    );
    let mut reordered = p.clone();
    reordered.resolved_ips.reverse();
    let mut other_port = p.clone();
    other_port.destination_port = 8443;
    for changed in [reordered, other_port] {
        assert_eq!(
            code(audit_events::append_ssrf_guard_decision(&scope, None, &changed).await),
            Some(ErrorCode::Conflict)
        );
    }
    let n = crate::count_rows(&test_db, "ssrf_guard_decisions").await?;
    assert_eq!(n, 1);
    Ok(())
}

#[tokio::test]
async fn a_repeated_ssrf_decision_does_not_abort_the_callers_transaction() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let p = projection("t_a", "evt_s1")?;
    audit_events::append_ssrf_guard_decision(&db.tenant(&a), None, &p).await?;
    let (inner, ta) = (db.clone(), a.clone());
    db.tenant(&a)
        .transaction(&TxOptions::default(), move |tx| {
            let (db, a, p) = (inner.clone(), ta.clone(), p.clone());
            Box::pin(async move {
                let scope = db.tenant(&a);
                audit_events::append_ssrf_guard_decision(&scope, Some(&mut *tx), &p).await?;
                let mut changed = p.clone();
                changed.correlation_id = "other".into();
                let conflict =
                    audit_events::append_ssrf_guard_decision(&scope, Some(&mut *tx), &changed)
                        .await;
                assert_eq!(code(conflict), Some(ErrorCode::Conflict));
                let mut second = p.clone();
                second.event_id = "evt_s2".parse()?;
                audit_events::append_ssrf_guard_decision(&scope, Some(tx), &second).await?;
                Ok(())
            })
        })
        .await?;
    let n = crate::count_rows(&test_db, "ssrf_guard_decisions").await?;
    assert_eq!(n, 2, "the transaction went on and committed");
    Ok(())
}

#[tokio::test]
async fn ssrf_decision_error_paths() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    for (key, value) in [
        ("decision", json!("approval_required")),
        ("destination_port", json!(0)),
        ("destination_port", json!(65536)),
        ("template_version", json!(0)),
        ("resolved_ips", json!([])),
        ("resolved_ips", json!(["10.0.0.0/8"])),
        ("resolved_ips", json!(["example.com"])),
        ("resolved_ips", json!(vec!["10.0.0.1"; 33])),
        ("workload_id", json!("")),
        ("correlation_id", json!("")),
    ] {
        let mut v = projection_json("t_a", "evt_bad");
        v[key] = value.clone();
        let p: SsrfGuardDecisionProjection = serde_json::from_value(v)?;
        assert_eq!(
            code(audit_events::append_ssrf_guard_decision(&scope, None, &p).await),
            Some(ErrorCode::ValidationError),
            "{key} = {value}"
        );
    }
    for (key, value) in [("reason_code", json!("because")), ("extra", json!(1))] {
        let mut v = projection_json("t_a", "evt_bad");
        v[key] = value;
        assert!(
            serde_json::from_value::<SsrfGuardDecisionProjection>(v).is_err(),
            "{key}"
        );
    }
    assert_eq!(
        code(
            audit_events::append_ssrf_guard_decision(&scope, None, &projection("t_b", "evt_x")?)
                .await
        ),
        Some(ErrorCode::ValidationError),
        "another tenant's projection"
    );
    let ghost = tenant("t_ghost")?;
    assert_eq!(
        code(
            audit_events::append_ssrf_guard_decision(
                &db.tenant(&ghost),
                None,
                &projection("t_ghost", "evt_g")?
            )
            .await
        ),
        Some(ErrorCode::IntegrityViolation)
    );
    let b = tenant("t_b")?;
    audit_events::append_ssrf_guard_decision(&db.tenant(&b), None, &projection("t_b", "evt_b1")?)
        .await?;
    assert_eq!(
        code(
            audit_events::append_ssrf_guard_decision(&scope, None, &projection("t_a", "evt_b1")?)
                .await
        ),
        Some(ErrorCode::Conflict),
        "an event id another tenant used"
    );
    Ok(())
}

fn profile_json(t: &str, id: &str, patterns: Value) -> Value {
    json!({"tenant_id": t, "profile_id": id, "rules": {
        "message_action": "mask", "metadata_default_action": "keep",
        "metadata_key_actions": {"email": "hash", "ssn": "drop"}, "metadata_allow_keys": ["request_id"],
        "sensitive_key_patterns": patterns, "canonical_header_value_action": "mask",
        "policy_identifier_action": "keep", "max_depth": 8, "max_collection_size": 500,
        "max_string_length": 64, "hash_salt": "pepper"}})
}

#[tokio::test]
async fn a_redaction_profile_is_created_replaced_and_read_per_tenant() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let scope = db.tenant(&a);
    assert_eq!(
        audit_events::get_redaction_profile(&scope, None).await?,
        None
    );
    let first = AuditRedactionProfile::from_json(profile_json(
        "t_a",
        "p1",
        json!(["(?:api[_-]?)?key", "token$"]),
    ))?;
    assert_eq!(
        audit_events::upsert_redaction_profile(&scope, None, &first).await?,
        first
    );
    let second = AuditRedactionProfile::from_json(profile_json("t_a", "p2", json!(["^secret"])))?;
    assert_eq!(
        audit_events::upsert_redaction_profile(&scope, None, &second).await?,
        second
    );
    assert_eq!(
        audit_events::get_redaction_profile(&scope, None).await?,
        Some(second)
    );
    assert_eq!(
        audit_events::get_redaction_profile(&db.tenant(&b), None).await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn redaction_profile_error_paths_name_what_is_wrong() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    let err =
        AuditRedactionProfile::from_json(profile_json("t_a", "p1", json!(["ok", "[unclosed"])))
            .err()
            .ok_or("an invalid pattern was accepted")?;
    assert_eq!(err.field, "rules.sensitive_key_patterns[1]");
    assert!(
        err.message
            .starts_with("pattern \"[unclosed\" does not compile"),
        "{err}"
    );
    let mut built = AuditRedactionProfile::from_json(profile_json("t_a", "p1", json!(["ok"])))?;
    built.rules.sensitive_key_patterns.push("(?<=x)y".into());
    let err = audit_events::upsert_redaction_profile(&scope, None, &built)
        .await
        .err()
        .ok_or("look-behind accepted")?;
    assert_eq!(err.code(), ErrorCode::ValidationError);
    assert!(err.to_string().contains("(?<=x)y"), "{err}");
    let foreign = AuditRedactionProfile::from_json(profile_json("t_b", "p1", json!(["ok"])))?;
    assert_eq!(
        code(audit_events::upsert_redaction_profile(&scope, None, &foreign).await),
        Some(ErrorCode::ValidationError)
    );
    let ghost = tenant("t_ghost")?;
    let orphan = AuditRedactionProfile::from_json(profile_json("t_ghost", "p1", json!(["ok"])))?;
    assert_eq!(
        code(audit_events::upsert_redaction_profile(&db.tenant(&ghost), None, &orphan).await),
        Some(ErrorCode::IntegrityViolation)
    );
    let n = crate::count_rows(&test_db, "audit_redaction_profiles").await?;
    assert_eq!(n, 0);
    Ok(())
}

//! The SSRF decision projection (idempotent by event id) and audit redaction profiles, against
//! real PostgreSQL.

use brokerdb::prelude::*;
use brokerdb::repo::audit_events::{self, AuditRedactionProfile, SsrfGuardDecisionProjection};
use brokerdb_testkit::TestDatabase;
use serde_json::{Value, json};

use crate::assert_code;
use crate::support::{Error, TestResult, count_rows, seeded, tenant};

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

#[tokio::test]
async fn an_ssrf_decision_is_stored_once_and_a_repeat_returns_the_stored_row() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let p = projection("t_a", "evt_s1")?;
    let stored = audit_events::append_ssrf_guard_decision(&mut scope, &p).await?;
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
        audit_events::append_ssrf_guard_decision(&mut scope, &repeat).await?,
        stored
    );
    Ok(())
}

#[tokio::test]
async fn a_repeated_ssrf_decision_with_other_content_is_a_conflict_and_stores_nothing() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let p = projection("t_a", "evt_s1")?;
    audit_events::append_ssrf_guard_decision(&mut scope, &p).await?;
    let mut reordered = p.clone();
    reordered.resolved_ips.reverse();
    let mut other_port = p.clone();
    other_port.destination_port = 8443;
    for changed in [reordered, other_port] {
        assert_code!(
            audit_events::append_ssrf_guard_decision(&mut scope, &changed).await,
            Conflict
        );
    }
    assert_eq!(count_rows(&test_db, "ssrf_guard_decisions").await?, 1);
    Ok(())
}

#[tokio::test]
async fn a_repeated_ssrf_decision_does_not_abort_the_callers_transaction() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let p = projection("t_a", "evt_s1")?;
    audit_events::append_ssrf_guard_decision(&mut db.tenant(&a), &p).await?;
    db.tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            let p = p.clone();
            Box::pin(async move {
                audit_events::append_ssrf_guard_decision(tx, &p).await?;
                let mut changed = p.clone();
                changed.correlation_id = "other".into();
                assert_code!(
                    audit_events::append_ssrf_guard_decision(tx, &changed).await,
                    Conflict
                );
                let mut second = p;
                second.event_id = "evt_s2".parse()?;
                audit_events::append_ssrf_guard_decision(tx, &second).await?;
                Ok(())
            })
        })
        .await?;
    assert_eq!(
        count_rows(&test_db, "ssrf_guard_decisions").await?,
        2,
        "the transaction went on and committed"
    );
    Ok(())
}

#[tokio::test]
async fn an_ssrf_decision_with_a_field_out_of_range_is_a_validation_error() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
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
        assert_code!(
            audit_events::append_ssrf_guard_decision(&mut db.tenant(&a), &p).await,
            ValidationError,
            "{key} = {value}"
        );
    }
    Ok(())
}

#[test]
fn an_ssrf_decision_with_an_unknown_reason_code_or_field_does_not_parse() {
    for (key, value) in [("reason_code", json!("because")), ("extra", json!(1))] {
        let mut v = projection_json("t_a", "evt_bad");
        v[key] = value;
        assert!(
            serde_json::from_value::<SsrfGuardDecisionProjection>(v).is_err(),
            "{key}"
        );
    }
}

#[tokio::test]
async fn appending_another_tenants_ssrf_decision_is_refused() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    assert_code!(
        audit_events::append_ssrf_guard_decision(&mut db.tenant(&a), &projection("t_b", "evt_x")?)
            .await,
        ValidationError,
        "another tenant's projection"
    );
    Ok(())
}

#[tokio::test]
async fn an_ssrf_decision_of_an_unknown_tenant_is_an_integrity_violation() -> TestResult {
    let (_t, db) = seeded().await?;
    let ghost = tenant("t_ghost")?;
    assert_code!(
        audit_events::append_ssrf_guard_decision(
            &mut db.tenant(&ghost),
            &projection("t_ghost", "evt_g")?
        )
        .await,
        IntegrityViolation
    );
    Ok(())
}

#[tokio::test]
async fn an_ssrf_decision_reusing_an_event_id_of_another_tenant_is_a_conflict() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    audit_events::append_ssrf_guard_decision(&mut db.tenant(&b), &projection("t_b", "evt_b1")?)
        .await?;
    assert_code!(
        audit_events::append_ssrf_guard_decision(&mut db.tenant(&a), &projection("t_a", "evt_b1")?)
            .await,
        Conflict,
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

/// Asserts that no redaction profile was stored.
async fn assert_no_profile_stored(test_db: &TestDatabase) -> TestResult {
    assert_eq!(count_rows(test_db, "audit_redaction_profiles").await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_redaction_profile_is_created_replaced_and_read_per_tenant() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let mut scope = db.tenant(&a);
    assert_eq!(audit_events::get_redaction_profile(&mut scope).await?, None);
    let first = AuditRedactionProfile::from_json(profile_json(
        "t_a",
        "p1",
        json!(["(?:api[_-]?)?key", "token$"]),
    ))?;
    assert_eq!(
        audit_events::upsert_redaction_profile(&mut scope, &first).await?,
        first
    );
    let second = AuditRedactionProfile::from_json(profile_json("t_a", "p2", json!(["^secret"])))?;
    assert_eq!(
        audit_events::upsert_redaction_profile(&mut scope, &second).await?,
        second
    );
    assert_eq!(
        audit_events::get_redaction_profile(&mut scope).await?,
        Some(second)
    );
    assert_eq!(
        audit_events::get_redaction_profile(&mut db.tenant(&b)).await?,
        None
    );
    Ok(())
}

#[test]
fn a_redaction_pattern_that_does_not_compile_is_named_with_its_position() -> TestResult {
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
    Ok(())
}

#[tokio::test]
async fn a_look_behind_redaction_pattern_is_refused_naming_the_pattern() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut built = AuditRedactionProfile::from_json(profile_json("t_a", "p1", json!(["ok"])))?;
    built.rules.sensitive_key_patterns.push("(?<=x)y".into());
    let err = audit_events::upsert_redaction_profile(&mut db.tenant(&a), &built)
        .await
        .err()
        .ok_or("look-behind accepted")?;
    assert_eq!(err.code(), ErrorCode::ValidationError);
    assert!(err.to_string().contains("(?<=x)y"), "{err}");
    assert_no_profile_stored(&test_db).await
}

#[tokio::test]
async fn upserting_another_tenants_redaction_profile_is_refused() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let foreign = AuditRedactionProfile::from_json(profile_json("t_b", "p1", json!(["ok"])))?;
    assert_code!(
        audit_events::upsert_redaction_profile(&mut db.tenant(&a), &foreign).await,
        ValidationError
    );
    assert_no_profile_stored(&test_db).await
}

#[tokio::test]
async fn a_redaction_profile_of_an_unknown_tenant_is_an_integrity_violation() -> TestResult {
    let (test_db, db) = seeded().await?;
    let ghost = tenant("t_ghost")?;
    let orphan = AuditRedactionProfile::from_json(profile_json("t_ghost", "p1", json!(["ok"])))?;
    assert_code!(
        audit_events::upsert_redaction_profile(&mut db.tenant(&ghost), &orphan).await,
        IntegrityViolation
    );
    assert_no_profile_stored(&test_db).await
}

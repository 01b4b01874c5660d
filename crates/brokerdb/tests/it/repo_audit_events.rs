//! AuditEventRepository against real PostgreSQL: appends, policy decisions and the keyset query
//! (its plans at scale are guarded in `list_plans::audit_events`).

use std::collections::HashSet;

use brokerdb::audit;
use brokerdb::model::{ApprovalStatus, AuditDecision, PolicyRuleType, RiskTier};
use brokerdb::prelude::*;
use brokerdb::repo::approvals;
use brokerdb::repo::audit_events::{
    self, AuditQueryFilter, PolicyDecision, PolicyDecisionEvent, PolicyMatch,
};
use serde_json::json;

use crate::assert_code;
use crate::repo_approvals::{approval, descriptor};
use crate::support::{Error, TestResult, seeded, tenant, text};

/// A whole second two minutes before this test process started, plus `ms`: recent enough for
/// the audit tables' skew check (5 minutes), fixed for the whole run.
fn at(ms: i64) -> Result<Timestamp, Error> {
    static BASE: std::sync::LazyLock<i64> =
        std::sync::LazyLock::new(|| (Timestamp::now().unix_millis() / 1000 - 120) * 1000);
    Ok(Timestamp::from_unix_millis(*BASE + ms)?)
}

/// An `execute` event `id` of tenant `t` at [`at`]`(ms)`, with only the required fields.
fn event(t: &str, id: &str, ms: i64) -> Result<AuditEvent, Error> {
    Ok(AuditEvent::new(
        EventId::parse(id)?,
        at(ms)?,
        TenantId::parse(t)?,
        text("corr"),
        AuditEventType::Execute,
    ))
}

/// The event ids of a query `f` in tenant `t`'s scope, in the order returned.
async fn query_ids(db: &Db, t: &TenantId, f: &AuditQueryFilter) -> Result<Vec<String>, DbError> {
    let page = audit_events::query(&mut db.tenant(t), f).await?;
    Ok(page.items.iter().map(|e| e.event_id.to_string()).collect())
}

#[tokio::test]
async fn an_appended_event_is_stored_in_its_columns_and_read_back_as_given() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    // The time two minutes ago, spelled at UTC+01:00: stored as the same instant in UTC.
    let utc = at(0)?;
    let plus_one = utc
        .as_datetime()
        .with_timezone(&chrono::FixedOffset::east_opt(3600).ok_or("offset")?)
        .to_rfc3339();
    let full = AuditEvent::from_json(json!({
        "event_id": "evt_full", "timestamp": plus_one, "tenant_id": "t_a",
        "correlation_id": "corr-9", "event_type": "execute", "workload_id": "w_1",
        "integration_id": "int_1", "action_group": "send", "decision": "allowed", "risk_tier": "low",
        "destination": {"scheme": "https", "host": "api.example.com", "port": 443, "path_group": "send"},
        "latency_ms": 12, "upstream_status_code": 202,
        "canonical_descriptor": serde_json::to_value(descriptor("t_a", "send")?)?,
        "policy": {"rule_id": "pol_1", "rule_type": "allow", "approval_id": null},
        "message": "sent", "metadata": {"bytes": 10}
    }))?;
    audit::append(&mut db.tenant(&a), &full).await?;
    let row: serde_json::Value = test_db
        .admin()
        .await
        .query_one(
            "SELECT row_to_json(x) FROM (SELECT workload_id, integration_id, action_group, decision,
                    risk_tier, upstream_status_code, latency_ms, correlation_id, event_type,
                    \"timestamp\" = $1::text::timestamptz AS utc
             FROM audit_events WHERE event_id = 'evt_full') x",
            &[&utc.to_string()],
        )
        .await?
        .get(0);
    assert_eq!(
        row,
        json!({"workload_id": "w_1", "integration_id": "int_1", "action_group": "send",
            "decision": "allowed", "risk_tier": "low", "upstream_status_code": 202, "latency_ms": 12,
            "correlation_id": "corr-9", "event_type": "execute", "utc": true})
    );
    let page = audit_events::query(&mut db.tenant(&a), &AuditQueryFilter::default()).await?;
    assert_eq!(page.items, vec![full]);
    Ok(())
}

#[tokio::test]
async fn appending_an_event_id_twice_is_a_unique_violation() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    audit::append(&mut scope, &event("t_a", "evt_1", 0)?).await?;
    let again = audit::append(&mut scope, &event("t_a", "evt_1", 5)?).await;
    assert_eq!(
        again.err().map(|e| e.to_string()),
        Some("unique_violation: another row has the same event_id".into()),
        "plain appends are not idempotent"
    );
    Ok(())
}

#[tokio::test]
async fn an_event_with_a_negative_latency_or_a_status_code_past_599_is_refused() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut negative = event("t_a", "evt_2", 0)?;
    negative.latency_ms = Some(-1);
    assert_code!(
        audit::append(&mut db.tenant(&a), &negative).await,
        ValidationError
    );
    let mut status = event("t_a", "evt_3", 0)?;
    status.upstream_status_code = Some(600);
    assert_code!(
        audit::append(&mut db.tenant(&a), &status).await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn appending_another_tenants_event_is_refused() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    assert_code!(
        audit::append(&mut db.tenant(&a), &event("t_b", "evt_4", 0)?).await,
        ValidationError,
        "another tenant's event"
    );
    Ok(())
}

#[tokio::test]
async fn an_event_of_an_unknown_tenant_is_an_integrity_violation() -> TestResult {
    let (_t, db) = seeded().await?;
    let ghost = tenant("t_ghost")?;
    assert_code!(
        audit::append(&mut db.tenant(&ghost), &event("t_ghost", "evt_5", 0)?).await,
        IntegrityViolation
    );
    Ok(())
}

#[test]
fn an_event_of_an_unknown_type_without_a_full_timestamp_or_a_correlation_id_does_not_parse() {
    for bad in [
        json!({"event_id": "e", "timestamp": "2026-01-01T00:00:00Z", "tenant_id": "t_a", "correlation_id": "c", "event_type": "login"}),
        json!({"event_id": "e", "timestamp": "2026-01-01", "tenant_id": "t_a", "correlation_id": "c", "event_type": "execute"}),
        json!({"event_id": "e", "timestamp": "2026-01-01T00:00:00Z", "tenant_id": "t_a", "event_type": "execute"}),
    ] {
        assert!(AuditEvent::from_json(bad.clone()).is_err(), "{bad}");
    }
}

/// The policy decision of the tests: approval required by rule `pol_7`.
fn approval_required() -> PolicyDecision {
    PolicyDecision {
        decision: AuditDecision::ApprovalRequired,
        reason_code: "approval_required_by_rule".into(),
        action_group: "gmail_send".into(),
        risk_tier: RiskTier::High,
        policy_match: Some(PolicyMatch {
            policy_id: Some("pol_7".into()),
            rule_type: Some(PolicyRuleType::ApprovalRequired),
        }),
        trace: json!(["matched pol_7"]),
    }
}

#[tokio::test]
async fn a_policy_decision_event_is_built_from_the_descriptor_and_the_verdict() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let d = descriptor("t_a", "gmail_send")?;
    let decision = approval_required();
    let input = PolicyDecisionEvent {
        descriptor: d.clone(),
        decision: decision.clone(),
        correlation_id: "corr-1".parse()?,
        timestamp: at(0)?,
        event_id: EventId::parse("evt_pd1")?,
    };
    audit_events::append_policy_decision(&mut scope, &input).await?;
    let no_rule = PolicyDecisionEvent {
        event_id: EventId::parse("evt_pd2")?,
        timestamp: at(1)?,
        decision: PolicyDecision {
            policy_match: Some(PolicyMatch {
                policy_id: Some("pol_x".into()),
                rule_type: None,
            }),
            decision: AuditDecision::Denied,
            ..decision
        },
        ..input
    };
    audit_events::append_policy_decision(&mut scope, &no_rule).await?;
    let rows = test_db
        .admin()
        .await
        .query(
            "SELECT event_json, decision::text, workload_id, integration_id FROM audit_events ORDER BY event_id",
            &[],
        )
        .await?;
    let first: serde_json::Value = rows[0].get(0);
    assert_eq!(
        first,
        json!({"event_id": "evt_pd1", "timestamp": at(0)?.to_string(), "tenant_id": "t_a",
            "correlation_id": "corr-1", "event_type": "policy_decision", "workload_id": "w_1",
            "integration_id": "int_1", "decision": "approval_required", "action_group": "gmail_send",
            "risk_tier": "high", "canonical_descriptor": serde_json::to_value(&d)?,
            "policy": {"rule_id": "pol_7", "rule_type": "approval_required", "approval_id": null},
            "metadata": {"reason_code": "approval_required_by_rule", "trace": ["matched pol_7"]}})
    );
    let second: serde_json::Value = rows[1].get(0);
    assert_eq!(second.get("policy"), None, "no rule type, no policy");
    assert_eq!(
        (
            rows[1].get::<_, String>(1),
            rows[1].get::<_, String>(2),
            rows[1].get::<_, String>(3)
        ),
        ("denied".into(), "w_1".into(), "int_1".into())
    );
    Ok(())
}

#[tokio::test]
async fn a_policy_decision_on_another_tenants_descriptor_is_refused() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let foreign = PolicyDecisionEvent {
        descriptor: descriptor("t_b", "gmail_send")?,
        decision: approval_required(),
        correlation_id: "corr-1".parse()?,
        timestamp: at(0)?,
        event_id: EventId::parse("evt_pd3")?,
    };
    assert_code!(
        audit_events::append_policy_decision(&mut db.tenant(&a), &foreign).await,
        ValidationError
    );
    Ok(())
}

/// Appends events for `t`: `(id, ms, workload, decision)`.
async fn append_all(
    db: &Db,
    t: &str,
    rows: &[(&str, i64, &str, AuditDecision)],
) -> Result<(), Error> {
    let tid = tenant(t)?;
    for (id, ms, w, d) in rows {
        let mut e = event(t, id, *ms)?;
        e.workload_id = Some(WorkloadId::parse(w)?);
        e.decision = Some(*d);
        e.action_group = Some(if *ms % 2 == 0 { "even" } else { "odd" }.into());
        audit::append(&mut db.tenant(&tid), &e).await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_query_filters_orders_newest_first_and_breaks_ties_by_event_id() -> TestResult {
    let (_t, db) = seeded().await?;
    use AuditDecision::{Allowed, Denied};
    append_all(
        &db,
        "t_a",
        &[
            ("evt_a", 0, "w_1", Allowed),
            ("evt_c", 10, "w_2", Denied),
            ("evt_b", 10, "w_1", Allowed),
            ("evt_d", 20, "w_1", Denied),
            ("evt_e", 30, "w_2", Allowed),
        ],
    )
    .await?;
    append_all(&db, "t_b", &[("evt_z", 15, "w_1", Allowed)]).await?;
    let a = tenant("t_a")?;
    assert_eq!(
        query_ids(&db, &a, &AuditQueryFilter::default()).await?,
        ["evt_e", "evt_d", "evt_c", "evt_b", "evt_a"],
        "timestamp desc, then event_id desc; never tenant B's"
    );
    let w1 = AuditQueryFilter {
        workload_id: Some(WorkloadId::parse("w_1")?),
        ..Default::default()
    };
    assert_eq!(query_ids(&db, &a, &w1).await?, ["evt_d", "evt_b", "evt_a"]);
    let w1_denied = AuditQueryFilter {
        decision: Some(Denied),
        ..w1
    };
    assert_eq!(query_ids(&db, &a, &w1_denied).await?, ["evt_d"]);
    let even = AuditQueryFilter {
        action_group: Some("even".parse()?),
        ..Default::default()
    };
    assert_eq!(
        query_ids(&db, &a, &even).await?,
        ["evt_e", "evt_d", "evt_c", "evt_b", "evt_a"]
    );
    let window = AuditQueryFilter {
        time_min: Some(at(10)?),
        time_max: Some(at(20)?),
        ..Default::default()
    };
    assert_eq!(
        query_ids(&db, &a, &window).await?,
        ["evt_d", "evt_c", "evt_b"],
        "bounds inclusive"
    );
    let none = AuditQueryFilter {
        integration_id: Some("int_none".parse()?),
        ..Default::default()
    };
    assert!(query_ids(&db, &a, &none).await?.is_empty());
    let own = AuditQueryFilter {
        tenant_id: Some(a.clone()),
        limit: Some(1),
        ..Default::default()
    };
    assert_eq!(query_ids(&db, &a, &own).await?, ["evt_e"]);
    Ok(())
}

/// A seeded database whose tenant `t_a` has 23 events `evt_00`..`evt_22`, three per timestamp.
async fn twenty_three_events() -> Result<(brokerdb_testkit::TestDatabase, Db, TenantId), Error> {
    let (test_db, db) = seeded().await?;
    let rows: Vec<(String, i64)> = (0..23)
        .map(|i| (format!("evt_{i:02}"), (i / 3) * 7))
        .collect();
    let borrowed: Vec<(&str, i64, &str, AuditDecision)> = rows
        .iter()
        .map(|(id, ms)| (id.as_str(), *ms, "w_1", AuditDecision::Allowed))
        .collect();
    append_all(&db, "t_a", &borrowed).await?;
    Ok((test_db, db, tenant("t_a")?))
}

/// A filter of `limit` rows and nothing else.
fn limited(limit: i64) -> AuditQueryFilter {
    AuditQueryFilter {
        limit: Some(limit),
        ..Default::default()
    }
}

#[tokio::test]
async fn pages_chain_through_their_cursors_newest_first_without_gaps_or_repeats() -> TestResult {
    let (_t, db, a) = twenty_three_events().await?;
    let mut scope = db.tenant(&a);
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let f = AuditQueryFilter {
            cursor: cursor.clone(),
            ..limited(5)
        };
        let page = audit_events::query(&mut scope, &f).await?;
        pages += 1;
        seen.extend(page.items.iter().map(|e| e.event_id.to_string()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 23);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23, "no repeats");
    let mut sorted = seen.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(seen, sorted, "newest first across pages");
    Ok(())
}

#[tokio::test]
async fn a_page_that_is_exactly_full_and_last_has_no_cursor() -> TestResult {
    let (_t, db, a) = twenty_three_events().await?;
    let all = audit_events::query(&mut db.tenant(&a), &limited(23)).await?;
    assert_eq!((all.items.len(), all.next_cursor), (23, None));
    Ok(())
}

#[tokio::test]
async fn a_tampered_malformed_unsigned_or_other_tenants_cursor_is_a_validation_error() -> TestResult
{
    let (_t, db, a) = twenty_three_events().await?;
    let first = audit_events::query(&mut db.tenant(&a), &limited(5)).await?;
    let good = first.next_cursor.ok_or("a cursor")?;
    let mut tampered = good.clone().into_bytes();
    tampered[3] ^= 1;
    let b = tenant("t_b")?;
    for (label, t, cursor) in [
        ("tampered", &a, String::from_utf8(tampered)?),
        ("garbage", &a, "abc".to_owned()),
        (
            "spec-style unsigned",
            &a,
            "MjAyNi0wMS0wMlQwMDowMDowMC4wMDBafGV2dF8yfHRfMQ".to_owned(),
        ),
        ("another tenant's", &b, good.clone()),
    ] {
        let f = AuditQueryFilter {
            cursor: Some(cursor),
            ..Default::default()
        };
        assert_code!(
            audit_events::query(&mut db.tenant(t), &f).await,
            ValidationError,
            "{label} cursor"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_query_filtering_on_another_tenant_than_its_scope_is_a_validation_error() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let mismatch = AuditQueryFilter {
        tenant_id: Some(b),
        ..Default::default()
    };
    assert_code!(
        audit_events::query(&mut db.tenant(&a), &mismatch).await,
        ValidationError,
        "tenant filter other than the scope"
    );
    Ok(())
}

#[tokio::test]
async fn a_query_limit_outside_1_to_200_is_a_validation_error() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    for limit in [0, 201] {
        assert_code!(
            audit_events::query(&mut db.tenant(&a), &limited(limit)).await,
            ValidationError,
            "limit {limit}"
        );
    }
    Ok(())
}

/// In one transaction of `t`: approves `apr_1`, appends an `approval_decided` event
/// `event_id`, then fails when `fail_after`.
async fn decide(
    db: &Db,
    t: &TenantId,
    event_id: &'static str,
    fail_after: bool,
) -> Result<(), DbError> {
    db.tenant(t)
        .transaction(&TxOptions::default(), move |tx| {
            Box::pin(async move {
                let id = ApprovalId::parse("apr_1")?;
                approvals::transition(tx, &id, ApprovalStatus::Approved, None).await?;
                let mut e = AuditEvent::generated(
                    tx.tenant_id().clone(),
                    AuditEventType::ApprovalDecided,
                    text("c"),
                );
                e.event_id = EventId::parse(event_id)?;
                e.metadata = Some(serde_json::Map::from_iter([(
                    "approval_id".into(),
                    json!("apr_1"),
                )]));
                audit::append(tx, &e).await?;
                if fail_after {
                    return Err(DbError::Conflict {
                        message: "the caller fails after both writes".into(),
                    });
                }
                Ok(())
            })
        })
        .await
}

#[tokio::test]
async fn a_decision_and_its_audit_row_commit_together_and_a_failed_audit_fails_both() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    approvals::create(&mut db.tenant(&a), &approval("t_a", "apr_1", 600)?).await?;
    audit::append(&mut db.tenant(&a), &event("t_a", "evt_taken", 0)?).await?;
    let state = || async {
        let admin = test_db.admin().await;
        let status: String = admin
            .query_one("SELECT status::text FROM approval_requests", &[])
            .await?
            .get(0);
        let events: i64 = admin
            .query_one("SELECT count(*) FROM audit_events", &[])
            .await?
            .get(0);
        Ok::<_, Error>((status, events))
    };
    assert_code!(decide(&db, &a, "evt_taken", false).await, UniqueViolation);
    assert_eq!(
        state().await?,
        ("pending".into(), 1),
        "the failed audit insert undid the decision"
    );
    assert_code!(decide(&db, &a, "evt_new", true).await, Conflict);
    assert_eq!(
        state().await?,
        ("pending".into(), 1),
        "rollback removed both"
    );
    decide(&db, &a, "evt_new", false).await?;
    assert_eq!(state().await?, ("approved".into(), 2), "committed together");
    Ok(())
}

#[tokio::test]
async fn every_combination_of_filters_pages_through_each_match_once_newest_first() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    use AuditDecision::{Allowed, ApprovalRequired, Denied, Throttled};
    let decisions = [Allowed, Denied, Allowed, ApprovalRequired, Throttled];
    // 30 events, two per timestamp (ties broken by the event id).
    let rows: Vec<(String, i64, String, String, String, AuditDecision)> = (0..30)
        .map(|i: i64| {
            (
                format!("evt_{i:02}"),
                (i / 2) * 5,
                format!("w_{}", i % 2),
                format!("int_{}", i % 3),
                format!("grp_{}", (i / 3) % 2),
                decisions[(i % 5) as usize],
            )
        })
        .collect();
    for (id, ms, w, int, grp, d) in &rows {
        let mut e = event("t_a", id, *ms)?;
        e.workload_id = Some(WorkloadId::parse(w)?);
        e.integration_id = Some(IntegrationId::parse(int)?);
        e.action_group = Some(grp.as_str().into());
        e.decision = Some(*d);
        audit::append(&mut db.tenant(&a), &e).await?;
    }
    let (from, to) = (20, 55);
    for bits in 0..64u32 {
        let on = |k: u32| bits & (1 << k) != 0;
        let mut want: Vec<&(String, i64, String, String, String, AuditDecision)> = rows
            .iter()
            .filter(|(_, ms, w, int, grp, d)| {
                (!on(0) || w == "w_1")
                    && (!on(1) || int == "int_2")
                    && (!on(2) || grp == "grp_0")
                    && (!on(3) || *d == Allowed)
                    && (!on(4) || *ms >= from)
                    && (!on(5) || *ms <= to)
            })
            .collect();
        want.sort_by(|x, y| (y.1, &y.0).cmp(&(x.1, &x.0)));
        let want: Vec<String> = want.into_iter().map(|r| r.0.clone()).collect();
        let mut f = AuditQueryFilter {
            workload_id: on(0).then(|| WorkloadId::parse("w_1")).transpose()?,
            integration_id: on(1).then(|| IntegrationId::parse("int_2")).transpose()?,
            action_group: on(2).then(|| "grp_0".parse()).transpose()?,
            decision: on(3).then_some(Allowed),
            time_min: on(4).then(|| at(from)).transpose()?,
            time_max: on(5).then(|| at(to)).transpose()?,
            limit: Some(3),
            ..Default::default()
        };
        let mut got = Vec::new();
        loop {
            let page = audit_events::query(&mut db.tenant(&a), &f).await?;
            assert!(page.items.len() <= 3);
            got.extend(page.items.iter().map(|e| e.event_id.to_string()));
            match page.next_cursor {
                Some(c) => f.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(got, want, "filters {bits:06b}");
    }
    Ok(())
}

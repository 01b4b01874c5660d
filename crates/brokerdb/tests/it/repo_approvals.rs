//! ApprovalRequestRepository against real PostgreSQL: dedupe, stale expiry, transitions, races.

use std::time::Duration;

use brokerdb::db::{Db, DbError, ErrorCode, TxOptions};
use brokerdb::model::{ApprovalId, ApprovalStatus, CanonicalRequestDescriptor, Timestamp};
use brokerdb::repo::approvals::{self, ApprovalRequest, NewApproval};
use serde_json::{Value, json};

use crate::TestResult;
use crate::db_scope::{seeded, tenant};

type Error = Box<dyn std::error::Error>;

/// The spec's worked descriptor (§1.4) for tenant `t`, path group `group`.
pub fn descriptor(t: &str, group: &str) -> Result<CanonicalRequestDescriptor, Error> {
    Ok(serde_json::from_value(json!({
        "tenant_id": t, "workload_id": "w_1", "integration_id": "int_1",
        "template_id": "tpl_gmail", "template_version": 1, "method": "POST",
        "canonical_url": "https://gmail.googleapis.com/gmail/v1/users/me/messages/send",
        "matched_path_group_id": group, "normalized_headers": [], "query_keys": []
    }))?)
}

fn summary() -> Value {
    json!({"integration_id": "int_1", "action_group": "gmail_send", "risk_tier": "high",
        "destination_host": " Gmail.GoogleAPIs.com:443 ", "method": "post",
        "path": "/gmail/v1/users/me/messages/send"})
}

fn in_secs(s: i64) -> Result<Timestamp, Error> {
    Ok(Timestamp::from_unix_millis(
        Timestamp::now().unix_millis() + s * 1000,
    )?)
}

/// A pending approval `id` for the worked descriptor of `t`, expiring in `secs`.
pub fn approval(t: &str, id: &str, secs: i64) -> Result<ApprovalRequest, Error> {
    Ok(ApprovalRequest::from_json(json!({
        "approval_id": id, "status": "pending", "expires_at": in_secs(secs)?.to_string(),
        "correlation_id": "corr-1", "summary": summary(),
        "canonical_descriptor": serde_json::to_value(descriptor(t, "gmail_send")?)?
    }))?)
}

fn code<T>(r: Result<T, DbError>) -> Option<ErrorCode> {
    r.err().map(|e| e.code())
}

async fn status_and_decided(db: &Db, id: &str) -> Result<(String, Option<Timestamp>), Error> {
    let row = db
        .system()
        .query(
            "SELECT status::text, decided_at FROM approval_requests WHERE approval_id = $1",
            &[&id],
        )
        .await?;
    let row = row.first().ok_or("approval row missing")?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

#[tokio::test]
async fn create_stores_normalized_columns_the_descriptor_hash_and_the_snapshot() -> TestResult {
    let (test_db, db) = seeded().await?;
    // Tenant t_1: the spec's worked descriptor, whose hash §1.4 gives.
    test_db
        .admin()
        .await
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_1', 'spec')")
        .await?;
    let a = tenant("t_1")?;
    let want = approval("t_1", "apr_1", 600)?;
    let got = approvals::create(&db.tenant(&a), None, &want).await?;
    assert_eq!(got, want);
    let row: Value = test_db
        .admin()
        .await
        .query_one(
            "SELECT row_to_json(x) FROM (SELECT destination_host, method, descriptor_sha256, workload_id,
                    integration_id, action_group, risk_tier, path,
                    approval_json->'summary'->>'destination_host' AS snapshot_host, decided_at
             FROM approval_requests WHERE approval_id = 'apr_1') x",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(
        row,
        json!({"destination_host": "gmail.googleapis.com", "method": "POST",
            "descriptor_sha256": "2968cda3c5894300ba4d79f5fe3abf9afe7c837e61843cdd722d0d61827e022f",
            "workload_id": "w_1", "integration_id": "int_1", "action_group": "gmail_send",
            "risk_tier": "high", "path": "/gmail/v1/users/me/messages/send",
            "snapshot_host": " Gmail.GoogleAPIs.com:443 ", "decided_at": null}),
        "columns normalized, snapshot as given"
    );
    assert_eq!(
        approvals::get_by_id(&db.tenant(&a), &ApprovalId::parse("apr_1")?).await?,
        Some(want)
    );
    Ok(())
}

#[tokio::test]
async fn out_of_contract_approvals_are_rejected_before_any_write() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let ok = serde_json::to_value(approval("t_a", "apr_1", 600)?)?;
    let mut cases = Vec::new();
    for (path, value) in [
        ("/summary/integration_id", json!("int_other")),
        ("/summary/destination_host", json!("*.example.com")),
        ("/summary/method", json!("TRACE")),
        ("/summary/risk_tier", json!("extreme")),
        ("/status", json!("open")),
        ("/expires_at", json!("tomorrow")),
        ("/canonical_descriptor/template_version", json!(0)),
        ("/canonical_descriptor/canonical_url", json!("not a url")),
        ("/approval_id", json!("  ")),
        ("/surprise", json!(1)),
    ] {
        let mut v = ok.clone();
        match v.pointer_mut(path) {
            Some(slot) => *slot = value,
            None => {
                v["surprise"] = value;
            }
        }
        cases.push((path, ApprovalRequest::from_json(v).err()));
    }
    for (path, err) in &cases {
        assert!(err.is_some(), "{path} accepted");
    }
    // Structurally valid but inconsistent: rejected by create itself.
    let mut mismatched = approval("t_a", "apr_2", 600)?;
    mismatched.summary.integration_id = "int_other".into();
    assert_eq!(
        code(approvals::create(&db.tenant(&a), None, &mismatched).await),
        Some(ErrorCode::ValidationError)
    );
    let mut bad_host = approval("t_a", "apr_3", 600)?;
    bad_host.summary.destination_host = "example.com:8443".into();
    let err = approvals::create(&db.tenant(&a), None, &bad_host)
        .await
        .err()
        .ok_or("bad host accepted")?;
    assert_eq!(
        err.to_string(),
        "validation_error: summary.destination_host: must be an exact host name or IP"
    );
    let other_tenant = approval("t_b", "apr_4", 600)?;
    assert_eq!(
        code(approvals::create(&db.tenant(&a), None, &other_tenant).await),
        Some(ErrorCode::ValidationError)
    );
    let n = crate::count_rows(&test_db, "approval_requests").await?;
    assert_eq!(n, 0, "nothing written");
    Ok(())
}

#[tokio::test]
async fn duplicates_are_unique_violations_and_an_unknown_tenant_an_integrity_violation()
-> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    approvals::create(&scope, None, &approval("t_a", "apr_1", 600)?).await?;
    let second = approvals::create(&scope, None, &approval("t_a", "apr_2", 600)?).await;
    assert_eq!(
        second.err().map(|e| e.to_string()),
        Some("unique_violation: another row has the same descriptor".into())
    );
    let mut other_descriptor = approval("t_a", "apr_1", 600)?;
    other_descriptor.canonical_descriptor = descriptor("t_a", "other_group")?;
    let same_id = approvals::create(&scope, None, &other_descriptor).await;
    assert_eq!(
        same_id.err().map(|e| e.to_string()),
        Some("unique_violation: another row has the same approval_id".into())
    );
    // A non-pending approval for the same descriptor is not deduplicated.
    let mut approved = approval("t_a", "apr_3", 600)?;
    approved.status = ApprovalStatus::Approved;
    approvals::create(&scope, None, &approved).await?;

    let ghost = tenant("t_ghost")?;
    let orphan = approvals::create(
        &db.tenant(&ghost),
        None,
        &approval("t_ghost", "apr_9", 600)?,
    )
    .await;
    assert_eq!(code(orphan), Some(ErrorCode::IntegrityViolation));
    Ok(())
}

#[tokio::test]
async fn an_expired_pending_approval_is_expired_by_the_next_create_instead_of_blocking_it()
-> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    let d = descriptor("t_a", "gmail_send")?;
    approvals::create(&scope, None, &approval("t_a", "apr_old", -5)?).await?;
    assert_eq!(
        approvals::find_open(&scope, None, &d).await?,
        None,
        "past its expiry it is not open"
    );
    let new = approvals::create(&scope, None, &approval("t_a", "apr_new", 600)?).await?;
    let (status, decided) = status_and_decided(&db, "apr_old").await?;
    assert_eq!(status, "expired");
    assert!(decided.is_some(), "expiry records when it happened");
    let old = approvals::get_by_id(&scope, &ApprovalId::parse("apr_old")?)
        .await?
        .ok_or("the stale approval must stay")?;
    assert_eq!(old.status, ApprovalStatus::Expired, "snapshot in sync");
    assert_eq!(approvals::find_open(&scope, None, &d).await?, Some(new));
    Ok(())
}

#[tokio::test]
async fn twenty_concurrent_creates_of_one_descriptor_leave_exactly_one_open_approval() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let new = NewApproval {
            approval_id: None,
            correlation_id: "corr".parse()?,
            expires_at: in_secs(600)?,
            summary: serde_json::from_value(summary())?,
            canonical_descriptor: descriptor("t_a", "gmail_send")?,
        };
        let (db, a) = (db.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            approvals::create_from_canonical_descriptor(&db.tenant(&a), None, new)
                .await
                .map_err(|e| e.to_string())
        }));
    }
    let (mut won, mut lost) = (Vec::new(), 0);
    for t in tasks {
        match t.await? {
            Ok(a) => won.push(a),
            Err(e) => {
                assert_eq!(e, "unique_violation: another row has the same descriptor");
                lost += 1;
            }
        }
    }
    assert_eq!((won.len(), lost), (1, 19));
    assert!(won[0].approval_id.as_str().starts_with("apr_"));
    assert_eq!(won[0].status, ApprovalStatus::Pending);
    let n = crate::count_rows(&test_db, "approval_requests").await?;
    assert_eq!(n, 1);
    Ok(())
}

#[tokio::test]
async fn a_losing_create_leaves_the_callers_transaction_usable_to_find_the_winner() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let winner = approvals::create(&db.tenant(&a), None, &approval("t_a", "apr_1", 600)?).await?;
    let (inner, ta) = (db.clone(), a.clone());
    let found = db
        .tenant(&a)
        .transaction(&TxOptions::default(), move |tx| {
            let (db, a) = (inner.clone(), ta.clone());
            Box::pin(async move {
                let scope = db.tenant(&a);
                let lost = approvals::create(
                    &scope,
                    Some(&mut *tx),
                    &approval("t_a", "apr_2", 600).map_err(|_| DbError::validation("x", "y"))?,
                )
                .await;
                assert_eq!(code(lost), Some(ErrorCode::UniqueViolation));
                let d =
                    descriptor("t_a", "gmail_send").map_err(|_| DbError::validation("x", "y"))?;
                approvals::find_open(&scope, Some(tx), &d).await
            })
        })
        .await?;
    assert_eq!(found, Some(winner), "the transaction was not aborted");
    Ok(())
}

#[tokio::test]
async fn find_open_returns_only_an_unexpired_pending_approval_of_that_descriptor() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    let d = descriptor("t_a", "gmail_send")?;
    assert_eq!(approvals::find_open(&scope, None, &d).await?, None);
    let mut denied = approval("t_a", "apr_denied", 600)?;
    denied.status = ApprovalStatus::Denied;
    approvals::create(&scope, None, &denied).await?;
    let mut other = approval("t_a", "apr_other", 600)?;
    other.canonical_descriptor = descriptor("t_a", "other_group")?;
    approvals::create(&scope, None, &other).await?;
    assert_eq!(approvals::find_open(&scope, None, &d).await?, None);
    let open = approvals::create(&scope, None, &approval("t_a", "apr_open", 600)?).await?;
    assert_eq!(approvals::find_open(&scope, None, &d).await?, Some(open));
    // Another tenant's descriptor is refused, not silently looked up.
    let foreign = descriptor("t_b", "gmail_send")?;
    assert_eq!(
        code(approvals::find_open(&scope, None, &foreign).await),
        Some(ErrorCode::ValidationError)
    );
    Ok(())
}

#[tokio::test]
async fn list_is_newest_first_filters_by_status_and_bounds_its_limit() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    for (i, group) in ["g1", "g2", "g3"].iter().enumerate() {
        let mut x = approval("t_a", &format!("apr_{i}"), 600)?;
        x.canonical_descriptor = descriptor("t_a", group)?;
        if i == 1 {
            x.status = ApprovalStatus::Approved;
        }
        approvals::create(&scope, None, &x).await?;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let ids = |v: Vec<ApprovalRequest>| -> Vec<String> {
        v.into_iter().map(|a| a.approval_id.into_inner()).collect()
    };
    assert_eq!(
        ids(approvals::list(&scope, None, None).await?),
        ["apr_2", "apr_1", "apr_0"]
    );
    assert_eq!(
        ids(approvals::list(&scope, None, Some(2)).await?),
        ["apr_2", "apr_1"]
    );
    assert_eq!(
        ids(approvals::list(&scope, Some(ApprovalStatus::Pending), Some(200)).await?),
        ["apr_2", "apr_0"]
    );
    for bad in [0, 201, -1] {
        assert_eq!(
            code(approvals::list(&scope, None, Some(bad)).await),
            Some(ErrorCode::ValidationError),
            "limit {bad}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn transitions_follow_the_table_and_same_status_is_a_no_op() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    approvals::create(&scope, None, &approval("t_a", "apr_1", 600)?).await?;
    let id = ApprovalId::parse("apr_1")?;
    let at = Timestamp::parse("2026-03-01T10:00:00.000Z")?;

    let early = approvals::transition(&scope, None, &id, ApprovalStatus::Executed, None).await;
    assert_eq!(
        early.err().map(|e| e.to_string()),
        Some("state_transition_invalid: an approval cannot go from pending to executed".into())
    );
    let same = approvals::transition(&scope, None, &id, ApprovalStatus::Pending, None).await?;
    assert_eq!(
        (same.changed, same.approval.status),
        (false, ApprovalStatus::Pending)
    );

    let approved =
        approvals::transition(&scope, None, &id, ApprovalStatus::Approved, Some(at)).await?;
    assert_eq!(
        (approved.changed, approved.approval.status),
        (true, ApprovalStatus::Approved)
    );
    assert_eq!(
        status_and_decided(&db, "apr_1").await?,
        ("approved".into(), Some(at))
    );

    let again = approvals::transition(&scope, None, &id, ApprovalStatus::Approved, None).await?;
    assert!(!again.changed);
    assert_eq!(
        status_and_decided(&db, "apr_1").await?.1,
        Some(at),
        "no-op writes nothing"
    );

    for back in [
        ApprovalStatus::Pending,
        ApprovalStatus::Denied,
        ApprovalStatus::Canceled,
    ] {
        assert_eq!(
            code(approvals::transition(&scope, None, &id, back, None).await),
            Some(ErrorCode::StateTransitionInvalid),
            "approved -> {back}"
        );
    }
    let executed = approvals::transition(&scope, None, &id, ApprovalStatus::Executed, None).await?;
    assert!(executed.changed);
    assert_eq!(
        status_and_decided(&db, "apr_1").await?,
        ("executed".into(), Some(at)),
        "executing keeps the decision time"
    );
    assert_eq!(
        approvals::get_by_id(&scope, &id).await?.map(|a| a.status),
        Some(ApprovalStatus::Executed),
        "snapshot in sync"
    );
    for any in ApprovalStatus::ALL
        .iter()
        .filter(|s| **s != ApprovalStatus::Executed)
    {
        assert_eq!(
            code(approvals::transition(&scope, None, &id, *any, None).await),
            Some(ErrorCode::StateTransitionInvalid),
            "executed is terminal ({any})"
        );
    }
    let missing = ApprovalId::parse("apr_missing")?;
    assert_eq!(
        code(approvals::transition(&scope, None, &missing, ApprovalStatus::Denied, None).await),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(approvals::get_by_id(&scope, &missing).await?, None);
    Ok(())
}

#[tokio::test]
async fn ten_concurrent_transitions_from_pending_have_exactly_one_winner() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    approvals::create(&db.tenant(&a), None, &approval("t_a", "apr_1", 600)?).await?;
    let targets = [
        ApprovalStatus::Approved,
        ApprovalStatus::Denied,
        ApprovalStatus::Expired,
        ApprovalStatus::Canceled,
    ];
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (db, a, target) = (db.clone(), a.clone(), targets[i % 4]);
            tokio::spawn(async move {
                let id = ApprovalId::parse("apr_1")?;
                let r = approvals::transition(&db.tenant(&a), None, &id, target, None).await;
                Ok::<_, brokerdb::model::ValidationError>((target, r))
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut outcomes = Vec::new();
    for t in tasks {
        let (target, r) = t.await??;
        match r {
            Ok(t) if t.changed => winners.push(target),
            Ok(t) => outcomes.push((target, Ok(t.approval.status))),
            Err(e) => outcomes.push((target, Err(e.code()))),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one decider wins: {winners:?}");
    let won = winners[0];
    for (target, outcome) in outcomes {
        if target == won {
            assert_eq!(outcome, Ok(won), "same target as the winner: a no-op");
        } else {
            assert_eq!(outcome, Err(ErrorCode::StateTransitionInvalid));
        }
    }
    assert_eq!(status_and_decided(&db, "apr_1").await?.0, won.as_str());
    Ok(())
}

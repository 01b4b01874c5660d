//! ApprovalRequestRepository against real PostgreSQL: dedupe, stale expiry, transitions, races.

use std::time::Duration;

use brokerdb::model::{ApprovalStatus, CanonicalRequestDescriptor};
use brokerdb::prelude::*;
use brokerdb::repo::approvals::{self, ApprovalRequest, NewApproval};
use serde_json::{Value, json};

use crate::assert_code;
use crate::support::{Error, TestResult, count_rows, seeded, tenant};

/// The worked descriptor of `model/descriptor_keys.rs` (for tenant `t_1`, path group
/// `gmail_send` its hash is `2968cd…`) for tenant `t`, path group `group`.
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

/// The status and decision time of approval `id`, read as the system role.
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

/// A seeded database whose tenant `t_a` has the pending approval `apr_1`.
async fn with_pending_apr_1() -> Result<(brokerdb_testkit::TestDatabase, Db, TenantId), Error> {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    approvals::create(&mut db.tenant(&a), &approval("t_a", "apr_1", 600)?).await?;
    Ok((test_db, db, a))
}

/// The fixed decision time of the transition tests.
fn decision_time() -> Result<Timestamp, Error> {
    Ok(Timestamp::parse("2026-03-01T10:00:00.000Z")?)
}

#[tokio::test]
async fn create_stores_normalized_columns_the_descriptor_hash_and_the_snapshot() -> TestResult {
    let (test_db, db) = seeded().await?;
    // Tenant t_1: the worked descriptor, whose hash `model/descriptor_keys.rs` pins.
    test_db
        .admin()
        .await
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_1', 'spec')")
        .await?;
    let a = tenant("t_1")?;
    let want = approval("t_1", "apr_1", 600)?;
    let got = approvals::create(&mut db.tenant(&a), &want).await?;
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
        approvals::get_by_id(&mut db.tenant(&a), &ApprovalId::parse("apr_1")?).await?,
        Some(want)
    );
    Ok(())
}

#[test]
fn an_approval_outside_its_json_contract_does_not_parse() -> TestResult {
    let ok = serde_json::to_value(approval("t_a", "apr_1", 600)?)?;
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
        assert!(ApprovalRequest::from_json(v).is_err(), "{path} accepted");
    }
    Ok(())
}

#[tokio::test]
async fn create_refuses_an_inconsistent_approval_before_writing_anything() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    // Structurally valid but inconsistent: rejected by create itself.
    let mut mismatched = approval("t_a", "apr_2", 600)?;
    mismatched.summary.integration_id = "int_other".into();
    assert_code!(
        approvals::create(&mut db.tenant(&a), &mismatched).await,
        ValidationError
    );
    let mut bad_host = approval("t_a", "apr_3", 600)?;
    bad_host.summary.destination_host = "example.com:8443".into();
    let err = approvals::create(&mut db.tenant(&a), &bad_host)
        .await
        .err()
        .ok_or("bad host accepted")?;
    assert_eq!(
        err.to_string(),
        "validation_error: summary.destination_host: must be an exact host name or IP"
    );
    let other_tenant = approval("t_b", "apr_4", 600)?;
    assert_code!(
        approvals::create(&mut db.tenant(&a), &other_tenant).await,
        ValidationError
    );
    assert_eq!(
        count_rows(&test_db, "approval_requests").await?,
        0,
        "nothing written"
    );
    Ok(())
}

#[tokio::test]
async fn a_second_pending_approval_of_a_descriptor_or_a_reused_id_is_a_unique_violation_naming_it()
-> TestResult {
    let (_t, db, a) = with_pending_apr_1().await?;
    let mut scope = db.tenant(&a);
    let second = approvals::create(&mut scope, &approval("t_a", "apr_2", 600)?).await;
    assert_eq!(
        second.err().map(|e| e.to_string()),
        Some("unique_violation: another row has the same descriptor".into())
    );
    let mut other_descriptor = approval("t_a", "apr_1", 600)?;
    other_descriptor.canonical_descriptor = descriptor("t_a", "other_group")?;
    let same_id = approvals::create(&mut scope, &other_descriptor).await;
    assert_eq!(
        same_id.err().map(|e| e.to_string()),
        Some("unique_violation: another row has the same approval_id".into())
    );
    Ok(())
}

#[tokio::test]
async fn a_terminal_approval_of_a_descriptor_with_a_pending_one_is_stored_an_approved_one_is_not()
-> TestResult {
    let (test_db, db, a) = with_pending_apr_1().await?;
    let mut scope = db.tenant(&a);
    for (i, status) in [
        ApprovalStatus::Denied,
        ApprovalStatus::Expired,
        ApprovalStatus::Executed,
        ApprovalStatus::Canceled,
    ]
    .into_iter()
    .enumerate()
    {
        let mut decided = approval("t_a", &format!("apr_t{i}"), 600)?;
        decided.status = status;
        approvals::create(&mut scope, &decided).await?;
    }
    let mut approved = approval("t_a", "apr_approved", 600)?;
    approved.status = ApprovalStatus::Approved;
    assert_eq!(
        approvals::create(&mut scope, &approved)
            .await
            .err()
            .map(|e| e.to_string()),
        Some("unique_violation: another row has the same descriptor".into()),
        "approved is in flight, like the pending one"
    );
    assert_eq!(count_rows(&test_db, "approval_requests").await?, 5);
    Ok(())
}

#[tokio::test]
async fn an_approval_of_an_unknown_tenant_is_an_integrity_violation() -> TestResult {
    let (_t, db) = seeded().await?;
    let ghost = tenant("t_ghost")?;
    let orphan =
        approvals::create(&mut db.tenant(&ghost), &approval("t_ghost", "apr_9", 600)?).await;
    assert_code!(orphan, IntegrityViolation);
    Ok(())
}

#[tokio::test]
async fn an_expired_pending_approval_is_expired_by_the_next_create_instead_of_blocking_it()
-> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let d = descriptor("t_a", "gmail_send")?;
    approvals::create(&mut scope, &approval("t_a", "apr_old", -5)?).await?;
    assert_eq!(
        approvals::find_open(&mut scope, &d).await?,
        None,
        "past its expiry it is not open"
    );
    let new = approvals::create(&mut scope, &approval("t_a", "apr_new", 600)?).await?;
    let (status, decided) = status_and_decided(&db, "apr_old").await?;
    assert_eq!(status, "expired");
    assert!(decided.is_some(), "expiry records when it happened");
    let old = approvals::get_by_id(&mut scope, &ApprovalId::parse("apr_old")?)
        .await?
        .ok_or("the stale approval must stay")?;
    assert_eq!(old.status, ApprovalStatus::Expired, "snapshot in sync");
    assert_eq!(approvals::find_open(&mut scope, &d).await?, Some(new));
    Ok(())
}

/// A new pending approval of the worked descriptor of `t_a`, id generated.
fn new_approval() -> Result<NewApproval, Error> {
    Ok(NewApproval {
        approval_id: None,
        correlation_id: "corr".parse()?,
        expires_at: in_secs(600)?,
        summary: serde_json::from_value(summary())?,
        canonical_descriptor: descriptor("t_a", "gmail_send")?,
    })
}

/// `n` tasks each creating [`new_approval`] at once; the approvals created and the number of
/// creators refused because the descriptor is taken (any other outcome fails).
async fn concurrent_creates(db: &Db, n: usize) -> Result<(Vec<ApprovalRequest>, usize), Error> {
    let a = tenant("t_a")?;
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (db, a, new) = (db.clone(), a.clone(), new_approval()?);
        tasks.push(tokio::spawn(async move {
            approvals::create_from_canonical_descriptor(&mut db.tenant(&a), new)
                .await
                .map_err(|e| e.to_string())
        }));
    }
    let (mut won, mut lost) = (Vec::new(), 0);
    for t in tasks {
        match t.await? {
            Ok(a) => won.push(a),
            Err(e) if e == "unique_violation: another row has the same descriptor" => lost += 1,
            Err(e) => return Err(format!("unexpected outcome {e}").into()),
        }
    }
    Ok((won, lost))
}

#[tokio::test]
async fn fifty_concurrent_creates_of_one_descriptor_leave_exactly_one_open_approval() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let (won, lost) = concurrent_creates(&db, 50).await?;
    assert_eq!((won.len(), lost), (1, 49));
    assert!(won[0].approval_id.as_str().starts_with("apr_"));
    assert_eq!(won[0].status, ApprovalStatus::Pending);
    assert_eq!(count_rows(&test_db, "approval_requests").await?, 1);
    Ok(())
}

/// Moves approval `id` of `t_a` to `status` (which must be allowed from where it is).
async fn move_to(db: &Db, id: &str, status: ApprovalStatus) -> Result<(), Error> {
    let (a, approval_id) = (tenant("t_a")?, ApprovalId::parse(id)?);
    let t = approvals::transition(&mut db.tenant(&a), &approval_id, status, None).await?;
    assert!(t.changed, "{id} -> {status}");
    Ok(())
}

#[tokio::test]
async fn an_approved_approval_waiting_for_execution_blocks_a_second_one_and_is_found_instead()
-> TestResult {
    let (test_db, db, a) = with_pending_apr_1().await?;
    move_to(&db, "apr_1", ApprovalStatus::Approved).await?;
    let approved = approvals::get_by_id(&mut db.tenant(&a), &ApprovalId::parse("apr_1")?)
        .await?
        .ok_or("apr_1 missing")?;
    let again = approvals::create(&mut db.tenant(&a), &approval("t_a", "apr_2", 600)?).await;
    assert_eq!(
        again.err().map(|e| e.to_string()),
        Some("unique_violation: another row has the same descriptor".into()),
        "no second prompt while the approved one waits for its execution"
    );
    assert_code!(
        approvals::create_from_canonical_descriptor(&mut db.tenant(&a), new_approval()?).await,
        UniqueViolation
    );
    // The documented way in: look for the in-flight approval, create only if there is none.
    let (d, new) = (descriptor("t_a", "gmail_send")?, new_approval()?);
    let used = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            let (d, new) = (d.clone(), new.clone());
            Box::pin(async move {
                if let Some(open) = approvals::find_open(tx, &d).await? {
                    return Ok(open);
                }
                approvals::create_from_canonical_descriptor(tx, new).await
            })
        })
        .await?;
    assert_eq!(
        used, approved,
        "the approved approval is the one to execute"
    );
    assert_eq!(used.status, ApprovalStatus::Approved);
    assert_eq!(count_rows(&test_db, "approval_requests").await?, 1);
    assert_eq!(
        ids(approvals::list(&mut db.tenant(&a), Some(ApprovalStatus::Pending), None).await?),
        Vec::<String>::new(),
        "nothing waits for a human"
    );
    Ok(())
}

#[tokio::test]
async fn an_approved_approval_past_its_expires_at_still_blocks_until_it_is_executed() -> TestResult
{
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let d = descriptor("t_a", "gmail_send")?;
    // Approved just before its expiry passed: approved has no expiry, it waits for execution.
    approvals::create(&mut scope, &approval("t_a", "apr_late", -5)?).await?;
    move_to(&db, "apr_late", ApprovalStatus::Approved).await?;
    assert_code!(
        approvals::create(&mut scope, &approval("t_a", "apr_new", 600)?).await,
        UniqueViolation
    );
    let found = approvals::find_open(&mut scope, &d).await?;
    assert_eq!(
        found.map(|f| (f.approval_id.into_inner(), f.status)),
        Some(("apr_late".into(), ApprovalStatus::Approved)),
        "not expired by the create, still found"
    );
    move_to(&db, "apr_late", ApprovalStatus::Executed).await?;
    let new = approvals::create(&mut scope, &approval("t_a", "apr_new", 600)?).await?;
    assert_eq!(approvals::find_open(&mut scope, &d).await?, Some(new));
    Ok(())
}

#[tokio::test]
async fn fifty_concurrent_creates_while_an_approved_approval_waits_for_execution_create_nothing()
-> TestResult {
    let (test_db, db, a) = with_pending_apr_1().await?;
    move_to(&db, "apr_1", ApprovalStatus::Approved).await?;
    let (won, lost) = concurrent_creates(&db, 50).await?;
    assert_eq!((won.len(), lost), (0, 50));
    assert_eq!(count_rows(&test_db, "approval_requests").await?, 1);
    let open = approvals::find_open(&mut db.tenant(&a), &descriptor("t_a", "gmail_send")?).await?;
    assert_eq!(
        open.map(|o| (o.approval_id.into_inner(), o.status)),
        Some(("apr_1".into(), ApprovalStatus::Approved))
    );
    Ok(())
}

#[tokio::test]
async fn fifty_concurrent_creates_racing_the_approval_of_the_pending_one_create_nothing()
-> TestResult {
    let (test_db, db, a) = with_pending_apr_1().await?;
    let approver = {
        let db = db.clone();
        tokio::spawn(async move {
            move_to(&db, "apr_1", ApprovalStatus::Approved)
                .await
                .map_err(|e| e.to_string())
        })
    };
    let (won, lost) = concurrent_creates(&db, 50).await?;
    approver.await??;
    assert_eq!(
        (won.len(), lost),
        (0, 50),
        "in flight before, during and after the approval"
    );
    assert_eq!(count_rows(&test_db, "approval_requests").await?, 1);
    assert_eq!(
        approvals::get_by_id(&mut db.tenant(&a), &ApprovalId::parse("apr_1")?)
            .await?
            .map(|x| x.status),
        Some(ApprovalStatus::Approved)
    );
    Ok(())
}

#[tokio::test]
async fn once_the_in_flight_approval_is_executed_denied_canceled_or_expired_a_new_one_is_created()
-> TestResult {
    let (_t, db, a) = with_pending_apr_1().await?;
    let d = descriptor("t_a", "gmail_send")?;
    // Each step ends the in-flight approval one way; the next create then asks a human again.
    let steps: [(&str, &[ApprovalStatus]); 4] = [
        (
            "apr_1",
            &[ApprovalStatus::Approved, ApprovalStatus::Executed],
        ),
        ("apr_2", &[ApprovalStatus::Denied]),
        ("apr_3", &[ApprovalStatus::Canceled]),
        ("apr_4", &[ApprovalStatus::Expired]),
    ];
    for (i, (id, path)) in steps.iter().enumerate() {
        for status in *path {
            move_to(&db, id, *status).await?;
        }
        let next = format!("apr_{}", i + 2);
        let created = approvals::create(&mut db.tenant(&a), &approval("t_a", &next, 600)?).await?;
        assert_eq!(created.status, ApprovalStatus::Pending);
        assert_eq!(
            approvals::find_open(&mut db.tenant(&a), &d).await?,
            Some(created),
            "after {id} went {path:?}"
        );
    }
    let all = approvals::list(&mut db.tenant(&a), None, None).await?;
    let statuses: Vec<_> = all.iter().map(|x| x.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["pending", "expired", "canceled", "denied", "executed"],
        "one pending, the rest kept as they ended"
    );
    Ok(())
}

#[tokio::test]
async fn a_losing_create_leaves_the_callers_transaction_usable_to_find_the_winner() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let winner = approvals::create(&mut db.tenant(&a), &approval("t_a", "apr_1", 600)?).await?;
    let loser = approval("t_a", "apr_2", 600)?;
    let d = descriptor("t_a", "gmail_send")?;
    let found = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            let (loser, d) = (loser.clone(), d.clone());
            Box::pin(async move {
                assert_code!(approvals::create(tx, &loser).await, UniqueViolation);
                approvals::find_open(tx, &d).await
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
    let mut scope = db.tenant(&a);
    let d = descriptor("t_a", "gmail_send")?;
    assert_eq!(approvals::find_open(&mut scope, &d).await?, None);
    let mut denied = approval("t_a", "apr_denied", 600)?;
    denied.status = ApprovalStatus::Denied;
    approvals::create(&mut scope, &denied).await?;
    let mut other = approval("t_a", "apr_other", 600)?;
    other.canonical_descriptor = descriptor("t_a", "other_group")?;
    approvals::create(&mut scope, &other).await?;
    assert_eq!(approvals::find_open(&mut scope, &d).await?, None);
    let open = approvals::create(&mut scope, &approval("t_a", "apr_open", 600)?).await?;
    assert_eq!(approvals::find_open(&mut scope, &d).await?, Some(open));
    Ok(())
}

#[tokio::test]
async fn find_open_refuses_another_tenants_descriptor_instead_of_looking_it_up() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let foreign = descriptor("t_b", "gmail_send")?;
    assert_code!(
        approvals::find_open(&mut db.tenant(&a), &foreign).await,
        ValidationError
    );
    Ok(())
}

/// Creates `apr_0` (pending), `apr_1` (approved), `apr_2` (pending) for `t_a`, in that order,
/// each with its own descriptor.
async fn three_approvals(db: &Db, a: &TenantId) -> Result<(), Error> {
    for (i, group) in ["g1", "g2", "g3"].iter().enumerate() {
        let mut x = approval("t_a", &format!("apr_{i}"), 600)?;
        x.canonical_descriptor = descriptor("t_a", group)?;
        if i == 1 {
            x.status = ApprovalStatus::Approved;
        }
        approvals::create(&mut db.tenant(a), &x).await?;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    Ok(())
}

fn ids(v: Vec<ApprovalRequest>) -> Vec<String> {
    v.into_iter().map(|a| a.approval_id.into_inner()).collect()
}

#[tokio::test]
async fn listing_approvals_is_newest_first_up_to_the_limit() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    three_approvals(&db, &a).await?;
    let mut scope = db.tenant(&a);
    assert_eq!(
        ids(approvals::list(&mut scope, None, None).await?),
        ["apr_2", "apr_1", "apr_0"]
    );
    assert_eq!(
        ids(approvals::list(&mut scope, None, Some(2)).await?),
        ["apr_2", "apr_1"]
    );
    Ok(())
}

#[tokio::test]
async fn listing_approvals_of_one_status_shows_only_that_status() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    three_approvals(&db, &a).await?;
    assert_eq!(
        ids(approvals::list(&mut db.tenant(&a), Some(ApprovalStatus::Pending), Some(200)).await?),
        ["apr_2", "apr_0"]
    );
    Ok(())
}

#[tokio::test]
async fn a_listing_limit_outside_1_to_200_is_a_validation_error() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    for bad in [0, 201, -1] {
        assert_code!(
            approvals::list(&mut db.tenant(&a), None, Some(bad)).await,
            ValidationError,
            "limit {bad}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_pending_approval_cannot_be_executed_before_it_is_approved() -> TestResult {
    let (_t, db, a) = with_pending_apr_1().await?;
    let id = ApprovalId::parse("apr_1")?;
    let early =
        approvals::transition(&mut db.tenant(&a), &id, ApprovalStatus::Executed, None).await;
    assert_eq!(
        early.err().map(|e| e.to_string()),
        Some("state_transition_invalid: an approval cannot go from pending to executed".into())
    );
    Ok(())
}

#[tokio::test]
async fn a_transition_to_the_current_status_is_a_no_op_that_writes_nothing() -> TestResult {
    let (_t, db, a) = with_pending_apr_1().await?;
    let mut scope = db.tenant(&a);
    let id = ApprovalId::parse("apr_1")?;
    let at = decision_time()?;
    let same = approvals::transition(&mut scope, &id, ApprovalStatus::Pending, None).await?;
    assert_eq!(
        (same.changed, same.approval.status),
        (false, ApprovalStatus::Pending)
    );
    approvals::transition(&mut scope, &id, ApprovalStatus::Approved, Some(at)).await?;
    let again = approvals::transition(&mut scope, &id, ApprovalStatus::Approved, None).await?;
    assert!(!again.changed);
    assert_eq!(
        status_and_decided(&db, "apr_1").await?.1,
        Some(at),
        "no-op writes nothing"
    );
    Ok(())
}

#[tokio::test]
async fn approving_records_the_decision_time_and_executing_keeps_it() -> TestResult {
    let (_t, db, a) = with_pending_apr_1().await?;
    let mut scope = db.tenant(&a);
    let id = ApprovalId::parse("apr_1")?;
    let at = decision_time()?;
    let approved =
        approvals::transition(&mut scope, &id, ApprovalStatus::Approved, Some(at)).await?;
    assert_eq!(
        (approved.changed, approved.approval.status),
        (true, ApprovalStatus::Approved)
    );
    assert_eq!(
        status_and_decided(&db, "apr_1").await?,
        ("approved".into(), Some(at))
    );
    let executed = approvals::transition(&mut scope, &id, ApprovalStatus::Executed, None).await?;
    assert!(executed.changed);
    assert_eq!(
        status_and_decided(&db, "apr_1").await?,
        ("executed".into(), Some(at)),
        "executing keeps the decision time"
    );
    assert_eq!(
        approvals::get_by_id(&mut scope, &id)
            .await?
            .map(|a| a.status),
        Some(ApprovalStatus::Executed),
        "snapshot in sync"
    );
    Ok(())
}

#[tokio::test]
async fn an_approved_approval_cannot_go_back_to_pending_denied_or_canceled() -> TestResult {
    let (_t, db, a) = with_pending_apr_1().await?;
    let mut scope = db.tenant(&a);
    let id = ApprovalId::parse("apr_1")?;
    approvals::transition(&mut scope, &id, ApprovalStatus::Approved, None).await?;
    for back in [
        ApprovalStatus::Pending,
        ApprovalStatus::Denied,
        ApprovalStatus::Canceled,
    ] {
        assert_code!(
            approvals::transition(&mut scope, &id, back, None).await,
            StateTransitionInvalid,
            "approved -> {back}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_executed_approval_can_go_nowhere_else() -> TestResult {
    let (_t, db, a) = with_pending_apr_1().await?;
    let mut scope = db.tenant(&a);
    let id = ApprovalId::parse("apr_1")?;
    approvals::transition(&mut scope, &id, ApprovalStatus::Approved, None).await?;
    approvals::transition(&mut scope, &id, ApprovalStatus::Executed, None).await?;
    for any in ApprovalStatus::ALL
        .iter()
        .filter(|s| **s != ApprovalStatus::Executed)
    {
        assert_code!(
            approvals::transition(&mut scope, &id, *any, None).await,
            StateTransitionInvalid,
            "executed is terminal ({any})"
        );
    }
    Ok(())
}

#[tokio::test]
async fn transitioning_a_missing_approval_is_not_found() -> TestResult {
    let (_t, db, a) = with_pending_apr_1().await?;
    let mut scope = db.tenant(&a);
    let missing = ApprovalId::parse("apr_missing")?;
    assert_code!(
        approvals::transition(&mut scope, &missing, ApprovalStatus::Denied, None).await,
        NotFound
    );
    assert_eq!(approvals::get_by_id(&mut scope, &missing).await?, None);
    Ok(())
}

#[tokio::test]
async fn ten_concurrent_transitions_from_pending_have_exactly_one_winner() -> TestResult {
    let (_t, db, a) = with_pending_apr_1().await?;
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
                let r = approvals::transition(&mut db.tenant(&a), &id, target, None).await;
                Ok::<_, ValidationError>((target, r))
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

//! The sweeps: each removes (or expires) exactly the due rows, at most its batch per run, and the
//! worker and scheduler run them.

use std::time::Duration;

use brokerdb::db::Db;
use brokerdb::jobs::sweeps::{self, SweepSettings};
use brokerdb::jobs::{self, JobStatus, Worker};
use brokerdb::model::{
    ApprovalStatus, NonEmptyString, SessionId, TenantId, Timestamp, TokenHash, WorkloadId,
};
use brokerdb::repo::approvals::{self, ApprovalRequest};
use brokerdb::repo::enrollment_tokens::{self, IssueEnrollmentToken};
use brokerdb::repo::sessions::{self, SessionRecord};
use brokerdb::repo::workloads::{self, EnrollmentMode, WorkloadCreateRequest};
use brokerdb_testkit::TestDatabase;
use serde_json::json;

use super::{count, eventually, quick_settings};
use crate::assert_code;
use crate::repo_approvals::descriptor;
use crate::support::{Error, TestResult, seeded, tenant};

async fn workload(db: &Db, t: &TenantId) -> Result<WorkloadId, Error> {
    let req = WorkloadCreateRequest {
        name: "api".into(),
        ip_allowlist: None,
        enrollment_mode: EnrollmentMode::BrokerCa,
    };
    Ok(workloads::create(&mut db.tenant(t), &req, None, None)
        .await?
        .workload_id)
}

fn in_secs(s: i64) -> Result<Timestamp, Error> {
    Ok(Timestamp::from_unix_millis(
        Timestamp::now().unix_millis() + s * 1000,
    )?)
}

/// Session number `n` of workload `w`, expiring in `ttl` seconds (negative: expired).
async fn session(db: &Db, t: &TenantId, w: &WorkloadId, n: u64, ttl: i64) -> Result<(), Error> {
    let record = SessionRecord {
        session_id: SessionId::parse(&format!("00000000-0000-4000-8000-{n:012x}"))?,
        workload_id: w.clone(),
        tenant_id: t.clone(),
        cert_fingerprint256: NonEmptyString::new("cert_fingerprint_256", "sha256:abc")?,
        token_hash: TokenHash::parse(&format!("{n:064x}"))?,
        expires_at: in_secs(ttl)?,
        dpop_key_thumbprint: None,
        scopes: None,
    };
    sessions::upsert(&mut db.tenant(t), &record).await?;
    Ok(())
}

async fn rows(db: &TestDatabase, sql: &str) -> Result<i64, Error> {
    Ok(db.admin().await.query_one(sql, &[]).await?.get(0))
}

#[tokio::test]
async fn the_session_sweep_deletes_exactly_the_expired_sessions_a_batch_at_a_time() -> TestResult {
    let (test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let (wa, wb) = (workload(&db, &a).await?, workload(&db, &b).await?);
    for n in 1..=3 {
        session(&db, &a, &wa, n, -60).await?;
    }
    for n in 4..=5 {
        session(&db, &b, &wb, n, -60).await?;
    }
    session(&db, &a, &wa, 6, 3600).await?;
    session(&db, &b, &wb, 7, 3600).await?;
    sessions::revoke_by_id(
        &mut db.tenant(&a),
        &SessionId::parse("00000000-0000-4000-8000-000000000001")?,
    )
    .await?;

    let first = sweeps::sweep_sessions(&db, 3).await?;
    assert_eq!((first.rows, first.more), (3, true));
    let second = sweeps::sweep_sessions(&db, 3).await?;
    assert_eq!((second.rows, second.more), (2, false));
    assert_eq!(sweeps::sweep_sessions(&db, 3).await?.rows, 0);
    assert_eq!(
        rows(&test_db, "SELECT count(*) FROM workload_sessions").await?,
        2
    );
    assert_eq!(
        rows(
            &test_db,
            "SELECT count(*) FROM workload_sessions WHERE expires_at > now()"
        )
        .await?,
        2,
        "the live sessions are the ones left"
    );
    assert_code!(sweeps::sweep_sessions(&db, 0).await, ValidationError);
    Ok(())
}

#[tokio::test]
async fn the_enrollment_sweep_deletes_expired_unused_tokens_a_batch_at_a_time() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let w = workload(&db, &a).await?;
    let issue = |n: u64, created: &str, expires: &str| -> Result<IssueEnrollmentToken, Error> {
        Ok(IssueEnrollmentToken {
            token_hash: TokenHash::parse(&format!("{n:064x}"))?,
            workload_id: w.clone(),
            expires_at: Timestamp::parse(expires)?,
            created_at: Some(Timestamp::parse(created)?),
        })
    };
    for n in 1..=4 {
        enrollment_tokens::issue(
            &mut db.tenant(&a),
            &issue(n, "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")?,
        )
        .await?;
    }
    // Used before it expired: kept (it answers has_consumed_for_workload).
    let used = issue(5, "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")?;
    enrollment_tokens::issue(&mut db.tenant(&a), &used).await?;
    enrollment_tokens::consume_once(
        &mut db.tenant(&a),
        &used.token_hash,
        None,
        Timestamp::parse("2020-01-01T12:00:00Z")?,
    )
    .await?;
    let live = issue(6, "2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z")?;
    enrollment_tokens::issue(&mut db.tenant(&a), &live).await?;

    let first = sweeps::sweep_enrollment_tokens(&db, 3).await?;
    assert_eq!((first.rows, first.more), (3, true));
    let second = sweeps::sweep_enrollment_tokens(&db, 3).await?;
    assert_eq!((second.rows, second.more), (1, false));
    let left: Vec<String> = test_db
        .admin()
        .await
        .query(
            "SELECT token_hash FROM enrollment_tokens ORDER BY token_hash",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, [used.token_hash.as_str(), live.token_hash.as_str()]);
    assert!(enrollment_tokens::has_consumed_for_workload(&mut db.tenant(&a), &w).await?);
    Ok(())
}

/// An approval `id` of tenant `t` in `status`, for path group `group` (one key per group),
/// expiring in `secs`.
fn approval(
    t: &str,
    id: &str,
    group: &str,
    status: &str,
    secs: i64,
) -> Result<ApprovalRequest, Error> {
    Ok(ApprovalRequest::from_json(json!({
        "approval_id": id, "status": status, "expires_at": in_secs(secs)?.to_string(),
        "correlation_id": "corr-1",
        "summary": {"integration_id": "int_1", "action_group": group, "risk_tier": "high",
            "destination_host": "gmail.googleapis.com", "method": "post", "path": "/send"},
        "canonical_descriptor": serde_json::to_value(descriptor(t, group)?)?
    }))?)
}

async fn status_of(db: &Db, t: &TenantId, id: &str) -> Result<ApprovalStatus, Error> {
    let found = approvals::get_by_id(&mut db.tenant(t), &id.parse()?).await?;
    Ok(found.ok_or("approval missing")?.status)
}

#[tokio::test]
async fn the_approval_sweep_expires_exactly_the_stale_pending_ones_with_an_audit_event_each()
-> TestResult {
    let (test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    for (id, group) in [("apr_a1", "g1"), ("apr_a2", "g2"), ("apr_a3", "g3")] {
        approvals::create(
            &mut db.tenant(&a),
            &approval("t_a", id, group, "pending", -60)?,
        )
        .await?;
    }
    approvals::create(
        &mut db.tenant(&a),
        &approval("t_a", "apr_future", "g4", "pending", 3600)?,
    )
    .await?;
    approvals::create(
        &mut db.tenant(&a),
        &approval("t_a", "apr_ok", "g5", "approved", -60)?,
    )
    .await?;
    approvals::create(
        &mut db.tenant(&b),
        &approval("t_b", "apr_b1", "g1", "pending", -60)?,
    )
    .await?;
    let corr = NonEmptyString::new("correlation_id", "job-1")?;

    let first = sweeps::expire_approvals(&db, 2, &corr).await?;
    assert_eq!((first.rows, first.more), (2, true));
    let second = sweeps::expire_approvals(&db, 2, &corr).await?;
    assert_eq!((second.rows, second.more), (2, true));
    let third = sweeps::expire_approvals(&db, 2, &corr).await?;
    assert_eq!((third.rows, third.more), (0, false));

    for id in ["apr_a1", "apr_a2", "apr_a3"] {
        assert_eq!(
            status_of(&db, &a, id).await?,
            ApprovalStatus::Expired,
            "{id}"
        );
    }
    assert_eq!(status_of(&db, &b, "apr_b1").await?, ApprovalStatus::Expired);
    assert_eq!(
        status_of(&db, &a, "apr_future").await?,
        ApprovalStatus::Pending
    );
    assert_eq!(
        status_of(&db, &a, "apr_ok").await?,
        ApprovalStatus::Approved,
        "approved never expires"
    );
    assert_eq!(
        rows(&test_db, "SELECT count(*) FROM approval_requests WHERE status = 'expired' AND decided_at IS NOT NULL AND approval_json->>'status' = 'expired'").await?,
        4
    );
    let events = test_db
        .admin()
        .await
        .query(
            "SELECT tenant_id, event_json->'metadata'->>'approval_id', event_json->>'message', correlation_id,
                    event_json->'metadata'->>'actor', workload_id, integration_id
             FROM audit_events WHERE event_type = 'approval_decided' ORDER BY 2",
            &[],
        )
        .await?;
    let seen: Vec<(String, String, String, String, String, String, String)> = events
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect();
    let expect = |t: &str, id: &str| {
        (
            t.to_owned(),
            id.to_owned(),
            "approval.expired".to_owned(),
            "job-1".to_owned(),
            "system".to_owned(),
            "w_1".to_owned(),
            "int_1".to_owned(),
        )
    };
    assert_eq!(
        seen,
        [
            expect("t_a", "apr_a1"),
            expect("t_a", "apr_a2"),
            expect("t_a", "apr_a3"),
            expect("t_b", "apr_b1"),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn an_approval_decided_before_the_sweep_reaches_it_is_left_alone() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    approvals::create(
        &mut db.tenant(&a),
        &approval("t_a", "apr_1", "g1", "pending", -60)?,
    )
    .await?;
    let found = approvals::find_expired_pending(&mut db.system(), Timestamp::now(), 10).await?;
    assert_eq!(found.len(), 1);
    approvals::transition(
        &mut db.tenant(&a),
        &"apr_1".parse()?,
        ApprovalStatus::Denied,
        None,
    )
    .await?;
    let by = approvals::ExpiredBy {
        actor: NonEmptyString::new("actor", "system")?,
        correlation_id: NonEmptyString::new("correlation_id", "job-2")?,
    };
    let ids: Vec<_> = found.into_iter().map(|(_, id)| id).collect();
    let expired =
        approvals::expire_pending(&mut db.tenant(&a), &ids, Timestamp::now(), &by).await?;
    assert!(expired.is_empty());
    assert_eq!(status_of(&db, &a, "apr_1").await?, ApprovalStatus::Denied);
    assert_eq!(
        rows(&test_db, "SELECT count(*) FROM audit_events").await?,
        0
    );
    Ok(())
}

#[tokio::test]
async fn the_job_purge_sweep_deletes_old_succeeded_jobs_only() -> TestResult {
    let (test_db, db) = seeded().await?;
    for kind in ["old", "old", "recent"] {
        let job = jobs::NewJob::new("q", kind, json!({})).with_max_attempts(1);
        jobs::enqueue(&mut db.system(), &job).await?;
        let claimed = jobs::claim(&mut db.system(), "q", 1, Duration::from_secs(60)).await?;
        jobs::complete(&mut db.system(), &claimed[0].lease).await?;
    }
    let dead = jobs::enqueue(
        &mut db.system(),
        &jobs::NewJob::new("q", "old", json!({})).with_max_attempts(1),
    )
    .await?
    .job
    .id;
    let claimed = jobs::claim(&mut db.system(), "q", 1, Duration::from_secs(60)).await?;
    jobs::fail(
        &mut db.system(),
        &claimed[0].lease,
        &jobs::JobError::new("boom"),
        &jobs::Backoff::default(),
    )
    .await?;
    test_db
        .admin()
        .await
        .batch_execute(
            "UPDATE jobs SET finished_at = finished_at - interval '30 days' WHERE kind = 'old'",
        )
        .await?;
    let done = sweeps::purge_jobs(&db, Duration::from_secs(7 * 24 * 3600), 100).await?;
    assert_eq!((done.rows, done.more), (2, false));
    assert_eq!(count(&test_db, "q", "succeeded").await?, 1);
    assert_eq!(
        jobs::get(&mut db.system(), dead).await?.map(|j| j.status),
        Some(JobStatus::Dead)
    );
    Ok(())
}

#[tokio::test]
async fn the_worker_and_scheduler_run_the_sweeps_until_the_backlog_is_gone() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let w = workload(&db, &a).await?;
    for n in 1..=7 {
        session(&db, &a, &w, n, -60).await?;
    }
    session(&db, &a, &w, 8, 3600).await?;
    // One slot in ten years: no second scheduled run during the test.
    let settings = SweepSettings {
        interval: Duration::from_secs(10 * 365 * 24 * 3600),
        batch: 2,
        ..SweepSettings::default()
    };
    let mut worker = Worker::new(db.clone(), quick_settings());
    sweeps::register(&mut worker, &settings)?;
    assert_eq!(worker.queue_names(), sweeps::QUEUES);
    let worker = worker.spawn()?;
    let scheduler = jobs::spawn_scheduler(
        db.clone(),
        sweeps::schedules(&settings),
        Duration::from_millis(20),
    )?;
    // One scheduled run, batches of 2: the follow-up runs drain the 7 expired sessions.
    eventually("the expired sessions deleted", || async {
        Ok((rows(&test_db, "SELECT count(*) FROM workload_sessions").await? == 1).then_some(()))
    })
    .await?;
    eventually("the sweep's follow-ups settled", || async {
        let open = count(&test_db, sweeps::SWEEP_SESSIONS, "queued").await?
            + count(&test_db, sweeps::SWEEP_SESSIONS, "running").await?;
        Ok((open == 0).then_some(()))
    })
    .await?;
    scheduler.stop().await;
    worker.stop().await;
    assert_eq!(
        count(&test_db, sweeps::SWEEP_SESSIONS, "succeeded").await?,
        4,
        "the slot's run and three follow-ups (2 + 2 + 2 + 1)"
    );
    for queue in sweeps::QUEUES {
        assert_eq!(count(&test_db, queue, "dead").await?, 0, "{queue}");
    }
    let keys: Vec<String> = test_db
        .admin()
        .await
        .query(
            "SELECT dedupe_key FROM jobs WHERE queue = 'sweep_sessions' ORDER BY job_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        keys[0].starts_with("sweep_sessions:") && !keys[0].contains("after"),
        "{keys:?}"
    );
    assert!(
        keys[1..]
            .iter()
            .all(|k| k.starts_with("sweep_sessions:after:")),
        "{keys:?}"
    );
    Ok(())
}

//! Webhook intake against real PostgreSQL: a delivery is verified before anything is stored,
//! stored once however often it is delivered, and a new push gets exactly one scan job.

use std::time::Duration;

use brokerdb_projects::intake::{self, IntakeError, SignatureError};
use brokerdb_projects::webhooks::{self, ReceiveOutcome};
use brokerdb_projects::{ProjectId, SecretBytes, WebhookSource};

use crate::support::{TestResult, code, fixture};

const PAYLOAD: &[u8] = br#"{"ref":"refs/heads/main","after":"abc123"}"#;

fn signature(payload: &[u8]) -> String {
    intake::github_signature(&SecretBytes::new(b"whsec-plain-value".to_vec()), payload)
}

async fn count(test_db: &brokerdb_testkit::TestDatabase, sql: &str) -> anyhow::Result<i64> {
    Ok(test_db.admin().await.query_one(sql, &[]).await?.get(0))
}

const EVENTS: &str = "SELECT count(*) FROM webhook_events";
const JOBS: &str = "SELECT count(*) FROM jobs WHERE queue = 'artifact-scan'";

#[tokio::test]
async fn a_signed_push_is_stored_once_with_one_scan_job_and_touches_the_project() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let sig = signature(PAYLOAD);
    let accepted = intake::accept_webhook(
        &f.db,
        &f.key,
        &f.a,
        &p.project_id,
        WebhookSource::Github,
        "push",
        Some(&sig),
        PAYLOAD,
    )
    .await?;
    assert_eq!(accepted.outcome, ReceiveOutcome::Created);
    assert!(accepted.scan_job.is_some());
    assert_eq!(count(&f.test_db, EVENTS).await?, 1);
    assert_eq!(count(&f.test_db, JOBS).await?, 1);
    let project = brokerdb_projects::projects::get(&mut f.db.tenant(&f.a), &p.project_id).await?;
    assert!(project.and_then(|p| p.last_seen_at).is_some());

    // Another event type is stored but scans nothing.
    let other = br#"{"action":"opened"}"#;
    let accepted = intake::accept_webhook(
        &f.db,
        &f.key,
        &f.a,
        &p.project_id,
        WebhookSource::Github,
        "pull_request",
        Some(&signature(other)),
        other,
    )
    .await?;
    assert_eq!(
        (accepted.outcome, accepted.scan_job),
        (ReceiveOutcome::Created, None)
    );
    assert_eq!(count(&f.test_db, JOBS).await?, 1);
    Ok(())
}

#[tokio::test]
async fn twenty_concurrent_identical_deliveries_make_one_event_and_one_job() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let sig = signature(PAYLOAD);
    let deliveries = (0..20).map(|_| {
        let (db, key, tenant, project, sig) = (
            f.db.clone(),
            f.key.clone(),
            f.a.clone(),
            p.project_id.clone(),
            sig.clone(),
        );
        tokio::spawn(async move {
            intake::accept_webhook(
                &db,
                &key,
                &tenant,
                &project,
                WebhookSource::Github,
                "push",
                Some(&sig),
                PAYLOAD,
            )
            .await
        })
    });
    let mut created = 0;
    for handle in deliveries.collect::<Vec<_>>() {
        let accepted = handle.await??;
        if accepted.outcome == ReceiveOutcome::Created {
            created += 1;
        } else {
            assert_eq!(accepted.outcome, ReceiveOutcome::DuplicateInFlight);
            assert_eq!(accepted.scan_job, None);
        }
    }
    assert_eq!(created, 1);
    assert_eq!(count(&f.test_db, EVENTS).await?, 1);
    assert_eq!(count(&f.test_db, JOBS).await?, 1);
    Ok(())
}

#[tokio::test]
async fn a_bad_or_missing_signature_stores_nothing() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let wrong = intake::github_signature(&SecretBytes::new(b"not-the-secret".to_vec()), PAYLOAD);
    let cases: [(Option<&str>, SignatureError); 3] = [
        (Some(&wrong), SignatureError::Mismatch),
        (None, SignatureError::Missing),
        (Some("sha256=nothex"), SignatureError::Malformed),
    ];
    for (header, expected) in cases {
        let err = intake::accept_webhook(
            &f.db,
            &f.key,
            &f.a,
            &p.project_id,
            WebhookSource::Github,
            "push",
            header,
            PAYLOAD,
        )
        .await
        .err();
        assert!(
            matches!(err, Some(IntakeError::BadSignature(e)) if e == expected),
            "{err:?}"
        );
    }
    // A project without a secret refuses every delivery.
    let input = brokerdb_projects::projects::NewProject {
        name: "No secret".into(),
        repo_url: "https://github.com/acme/open".into(),
        webhook_secret: None,
        config: None,
    };
    let open = brokerdb_projects::projects::create(&mut f.db.tenant(&f.a), &f.key, &input).await?;
    let err = intake::accept_webhook(
        &f.db,
        &f.key,
        &f.a,
        &open.project_id,
        WebhookSource::Github,
        "push",
        Some(&signature(PAYLOAD)),
        PAYLOAD,
    )
    .await
    .err();
    assert!(matches!(err, Some(IntakeError::NoSecret)), "{err:?}");
    assert_eq!(count(&f.test_db, EVENTS).await?, 0);
    assert_eq!(count(&f.test_db, JOBS).await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_redelivery_after_processing_makes_no_new_job() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let sig = signature(PAYLOAD);
    let deliver = || {
        intake::accept_webhook(
            &f.db,
            &f.key,
            &f.a,
            &p.project_id,
            WebhookSource::Github,
            "push",
            Some(&sig),
            PAYLOAD,
        )
    };
    let first = deliver().await?;
    webhooks::mark_processed(&mut f.db.tenant(&f.a), &first.event.event_id).await?;
    let again = deliver().await?;
    assert_eq!(again.outcome, ReceiveOutcome::DuplicateAfterProcessed);
    assert_eq!(
        (again.event.event_id, again.scan_job),
        (first.event.event_id, None)
    );
    assert_eq!(again.event.duplicate_deliveries, 1);
    assert_eq!(count(&f.test_db, EVENTS).await?, 1);
    assert_eq!(count(&f.test_db, JOBS).await?, 1);
    Ok(())
}

#[tokio::test]
async fn another_tenant_cannot_deliver_to_the_project() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let sig = signature(PAYLOAD);
    for project in [p.project_id.clone(), ProjectId::parse("prj_unknown")?] {
        let err = intake::accept_webhook(
            &f.db,
            &f.key,
            &f.b,
            &project,
            WebhookSource::Github,
            "push",
            Some(&sig),
            PAYLOAD,
        )
        .await
        .err();
        let db_code = match &err {
            Some(IntakeError::Store(e)) => e.as_db().map(code),
            _ => None,
        };
        assert_eq!(db_code, Some("not_found"), "{err:?}");
    }
    assert_eq!(count(&f.test_db, EVENTS).await?, 0);
    assert_eq!(count(&f.test_db, JOBS).await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_sweep_enqueues_scans_of_stored_pushes_that_have_none() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    // A push stored by a process that stopped before enqueueing (receive alone), and one that
    // was not a push.
    let stored = webhooks::receive(
        &mut f.db.tenant(&f.a),
        &p.project_id,
        WebhookSource::Github,
        "push",
        PAYLOAD,
    )
    .await?;
    webhooks::receive(
        &mut f.db.tenant(&f.a),
        &p.project_id,
        WebhookSource::Github,
        "issues",
        b"{}",
    )
    .await?;
    // Too recent for a one-hour grace period.
    assert_eq!(
        intake::enqueue_missing_scans(&f.db, Duration::from_secs(3600)).await?,
        0
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        intake::enqueue_missing_scans(&f.db, Duration::ZERO).await?,
        1
    );
    assert_eq!(
        intake::enqueue_missing_scans(&f.db, Duration::ZERO).await?,
        0
    );
    let payload: serde_json::Value = f
        .test_db
        .admin()
        .await
        .query_one(
            "SELECT payload FROM jobs WHERE queue = 'artifact-scan'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(payload["webhookEventId"], stored.event.event_id.as_str());
    Ok(())
}

#[tokio::test]
async fn the_worker_runs_the_scheduled_sweep_and_the_missed_scan_is_enqueued() -> TestResult {
    use brokerdb::jobs::{Worker, WorkerSettings, enqueue_slot};
    use brokerdb_projects::scan_sweep;

    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let stored = webhooks::receive(
        &mut f.db.tenant(&f.a),
        &p.project_id,
        WebhookSource::Github,
        "push",
        PAYLOAD,
    )
    .await?;
    // Stored past the sweep's grace period by a process that then stopped.
    f.test_db
        .admin()
        .await
        .execute(
            "UPDATE webhook_events SET received_at = received_at - interval '5 minutes'",
            &[],
        )
        .await?;
    let mut worker = Worker::new(f.db.clone(), WorkerSettings::default());
    scan_sweep::register(&mut worker, 1)?;
    let worker = worker.spawn()?;
    let schedule = scan_sweep::schedule(Duration::from_secs(60));
    enqueue_slot(&mut f.db.system(), &schedule, 1).await?;
    let mut found = None;
    for _ in 0..100 {
        let rows = f
            .test_db
            .admin()
            .await
            .query(
                "SELECT payload FROM jobs WHERE queue = 'artifact-scan'",
                &[],
            )
            .await?;
        if let Some(row) = rows.first() {
            found = Some(row.get::<_, serde_json::Value>(0));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.stop().await;
    let payload = found.ok_or_else(|| anyhow::anyhow!("the sweep enqueued no scan"))?;
    assert_eq!(payload["webhookEventId"], stored.event.event_id.as_str());
    Ok(())
}

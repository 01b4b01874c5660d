//! The `artifact-scan` job on the core's queue against real PostgreSQL: enqueued in the caller's
//! system transaction, once per webhook event, with 3 attempts and a 2 s doubling backoff.

use std::time::Duration;

use brokerdb::db::{DbError, TxOptions};
use brokerdb::jobs::{self, FailOutcome, JobError, JobStatus};
use brokerdb::model::TenantId;
use brokerdb_projects::scan_job::{self, ArtifactScan};
use brokerdb_projects::{ProjectId, WebhookEventId};
use serde_json::json;

#[tokio::test]
async fn a_webhook_event_gets_one_scan_job_with_three_attempts_and_a_doubling_backoff()
-> anyhow::Result<()> {
    let test_db = brokerdb_testkit::database().await;
    let admin = test_db.admin().await;
    admin
        .execute(
            "INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A'), ('t_b', 'B')",
            &[],
        )
        .await?;
    let db = test_db.db().await;
    let (t_a, t_b) = (TenantId::parse("t_a")?, TenantId::parse("t_b")?);
    let project = ProjectId::parse("prj_1")?;
    let event = WebhookEventId::parse("whe_1")?;

    // Twice in one system transaction (the one that would store the webhook event): one job.
    let (first, second) = db
        .system()
        .transaction(&TxOptions::DEFAULT, |tx| {
            let (t_a, project, event) = (t_a.clone(), project.clone(), event.clone());
            Box::pin(async move {
                let first = scan_job::enqueue_artifact_scan(tx, &t_a, &project, &event).await?;
                let second = scan_job::enqueue_artifact_scan(tx, &t_a, &project, &event).await?;
                Ok::<_, DbError>((first, second))
            })
        })
        .await?;
    assert!(first.created && !second.created);
    assert_eq!(second.job.id, first.job.id);
    let job = first.job;
    assert_eq!(
        (job.queue.as_str(), job.kind.as_str(), job.max_attempts),
        ("artifact-scan", "artifact.scan", 3)
    );
    assert_eq!(job.tenant_id.as_ref(), Some(&t_a));
    assert_eq!(job.dedupe_key.as_deref(), Some("t_a:whe_1"));
    assert_eq!(
        job.payload,
        json!({"tenantId": "t_a", "projectId": "prj_1", "webhookEventId": "whe_1"})
    );
    // A rolled-back transaction leaves no job.
    let rolled_back: Result<(), DbError> = db
        .system()
        .transaction(&TxOptions::DEFAULT, |tx| {
            let (t_a, project) = (t_a.clone(), project.clone());
            Box::pin(async move {
                let other = WebhookEventId::parse("whe_rolled_back")?;
                scan_job::enqueue_artifact_scan(tx, &t_a, &project, &other).await?;
                Err(DbError::validation("webhook", "storing the event failed"))
            })
        })
        .await;
    assert!(rolled_back.is_err());
    let count: i64 = admin
        .query_one(
            "SELECT count(*) FROM jobs WHERE queue = 'artifact-scan'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(count, 1);

    // Fail it through the core's API with the queue's backoff: ~2 s, then ~4 s, then dead.
    for attempt in 1..=3 {
        let claimed = jobs::claim(
            &mut db.system(),
            scan_job::QUEUE,
            1,
            Duration::from_secs(60),
        )
        .await?;
        let [c] = claimed.as_slice() else {
            anyhow::bail!("attempt {attempt}: nothing to claim");
        };
        assert_eq!(ArtifactScan::from_job(&c.job)?.webhook_event_id, event);
        let error = JobError::new(format!("scanner unavailable on attempt {attempt}"));
        let outcome = jobs::fail(&mut db.system(), &c.lease, &error, &scan_job::backoff()).await?;
        let stored = jobs::get(&mut db.system(), job.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("job missing"))?;
        if attempt < 3 {
            let FailOutcome::Retried { run_at } = outcome else {
                anyhow::bail!("attempt {attempt}: {outcome:?}");
            };
            // Equal jitter: between half and all of 2 s × 2^(attempt−1).
            let full = 2000 << (attempt - 1);
            let wait = run_at.unix_millis() - stored.updated_at.unix_millis();
            assert!(
                (full / 2..=full).contains(&wait),
                "attempt {attempt}: {wait} ms"
            );
            assert_eq!(stored.status, JobStatus::Queued);
            admin
                .execute(
                    "UPDATE jobs SET run_at = now() - interval '1 second' WHERE job_id = $1",
                    &[&job.id],
                )
                .await?;
        } else {
            assert_eq!(outcome, FailOutcome::Dead);
            assert_eq!((stored.status, stored.attempts), (JobStatus::Dead, 3));
        }
    }

    // A redelivery of the same event after the job finished still makes no second job; the
    // same event id in another tenant is another event.
    let again = scan_job::enqueue_artifact_scan(&mut db.system(), &t_a, &project, &event).await?;
    assert!(!again.created);
    assert_eq!(again.job.id, job.id);
    let elsewhere =
        scan_job::enqueue_artifact_scan(&mut db.system(), &t_b, &project, &event).await?;
    assert!(elsewhere.created);
    Ok(())
}

#[test]
fn a_job_of_another_shape_is_a_permanent_error() -> anyhow::Result<()> {
    let stored = |payload: serde_json::Value, tenant: &str| -> anyhow::Result<jobs::Job> {
        let now = brokerdb::model::Timestamp::now();
        Ok(jobs::Job {
            id: 1,
            queue: scan_job::QUEUE.into(),
            kind: scan_job::KIND.into(),
            payload,
            tenant_id: Some(TenantId::parse(tenant)?),
            dedupe_key: None,
            status: JobStatus::Running,
            attempts: 1,
            max_attempts: 3,
            run_at: now,
            locked_until: Some(now),
            last_error: None,
            created_at: now,
            updated_at: now,
            finished_at: None,
        })
    };
    let good = json!({"tenantId": "t_a", "projectId": "prj_1", "webhookEventId": "whe_1"});
    assert!(ArtifactScan::from_job(&stored(good.clone(), "t_a")?).is_ok());
    for job in [
        stored(json!({"projectId": "prj_1"}), "t_a")?,
        stored(good, "t_b")?,
    ] {
        let err = ArtifactScan::from_job(&job).err();
        assert_eq!(err.map(|e| e.is_permanent()), Some(true));
    }
    Ok(())
}

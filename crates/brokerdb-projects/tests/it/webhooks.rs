//! Webhook events: dedupe under concurrency, redelivery after processed / failed, transitions.

use brokerdb_projects::WebhookSource;
use brokerdb_projects::webhooks::{self, ReceiveOutcome};
use futures_util::future::join_all;

use crate::support::{TestResult, code, fixture};

#[tokio::test]
async fn twenty_concurrent_identical_deliveries_make_one_event() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let payload = br#"{"ref":"refs/heads/main"}"#;
    let calls = (0..20).map(|_| {
        let (db, tenant, project) = (f.db.clone(), f.a.clone(), p.project_id.clone());
        tokio::spawn(async move {
            webhooks::receive(
                &mut db.tenant(&tenant),
                &project,
                WebhookSource::Github,
                "push",
                payload,
            )
            .await
        })
    });
    let mut outcomes = Vec::new();
    for r in join_all(calls).await {
        outcomes.push(r??);
    }
    let created = outcomes
        .iter()
        .filter(|r| r.outcome == ReceiveOutcome::Created)
        .count();
    let dup = outcomes
        .iter()
        .filter(|r| r.outcome == ReceiveOutcome::DuplicateInFlight)
        .count();
    assert_eq!((created, dup), (1, 19));
    let id = &outcomes[0].event.event_id;
    assert!(outcomes.iter().all(|r| &r.event.event_id == id));
    let n: i64 = f
        .test_db
        .admin()
        .await
        .query_one("SELECT count(*) FROM webhook_events", &[])
        .await?
        .get(0);
    assert_eq!(n, 1);
    Ok(())
}

#[tokio::test]
async fn redelivery_after_processed_counts_and_after_failed_retries() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let mut a = f.db.tenant(&f.a);
    let first =
        webhooks::receive(&mut a, &p.project_id, WebhookSource::Gitlab, "push", b"one").await?;
    assert_eq!(first.outcome, ReceiveOutcome::Created);
    assert_eq!(first.event.payload_hash, webhooks::payload_hash(b"one"));
    let processing = webhooks::mark_processing(&mut a, &first.event.event_id).await?;
    assert_eq!(processing.status.as_str(), "processing");
    let again =
        webhooks::receive(&mut a, &p.project_id, WebhookSource::Gitlab, "push", b"one").await?;
    assert_eq!(again.outcome, ReceiveOutcome::DuplicateInFlight);
    let other_source =
        webhooks::receive(&mut a, &p.project_id, WebhookSource::Github, "push", b"one").await?;
    assert_eq!(
        other_source.outcome,
        ReceiveOutcome::Created,
        "the key includes the source"
    );

    let done = webhooks::mark_processed(&mut a, &first.event.event_id).await?;
    assert!(done.processed && done.processed_at.is_some());
    let after =
        webhooks::receive(&mut a, &p.project_id, WebhookSource::Gitlab, "push", b"one").await?;
    assert_eq!(after.outcome, ReceiveOutcome::DuplicateAfterProcessed);
    assert_eq!(after.event.event_id, first.event.event_id);
    assert_eq!(after.event.duplicate_deliveries, 1);
    let after2 =
        webhooks::receive(&mut a, &p.project_id, WebhookSource::Gitlab, "push", b"one").await?;
    assert_eq!(after2.event.duplicate_deliveries, 2);

    let bad = webhooks::mark_processing(&mut a, &first.event.event_id)
        .await
        .err();
    assert_eq!(bad.as_ref().map(code), Some("state_transition_invalid"));

    let two =
        webhooks::receive(&mut a, &p.project_id, WebhookSource::Gitlab, "push", b"two").await?;
    let long = "x".repeat(5000);
    let failed = webhooks::mark_failed(&mut a, &two.event.event_id, &long).await?;
    assert_eq!(failed.retry_count, 1);
    assert_eq!(failed.last_error.map(|e| e.chars().count()), Some(1000));
    let retry =
        webhooks::receive(&mut a, &p.project_id, WebhookSource::Gitlab, "push", b"two").await?;
    assert_eq!(retry.outcome, ReceiveOutcome::Created);
    assert_ne!(retry.event.event_id, two.event.event_id);
    assert_eq!(
        retry.event.retry_count, 1,
        "a retry carries the failed count on"
    );

    let unprocessed = webhooks::list_unprocessed(&mut a, &p.project_id, None).await?;
    let ids: Vec<_> = unprocessed.iter().map(|e| e.event_id.clone()).collect();
    assert!(!ids.contains(&first.event.event_id));
    assert!(ids.contains(&retry.event.event_id) && ids.contains(&other_source.event.event_id));
    Ok(())
}

#[tokio::test]
async fn a_rolled_back_receive_leaves_nothing() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let scope = f.db.tenant(&f.a);
    let mut tx = scope.begin(&brokerdb::db::TxOptions::DEFAULT).await?;
    let r = webhooks::receive(
        &mut tx,
        &p.project_id,
        WebhookSource::Bitbucket,
        "push",
        b"x",
    )
    .await?;
    assert_eq!(r.outcome, ReceiveOutcome::Created);
    tx.rollback().await?;
    let mut a = f.db.tenant(&f.a);
    assert_eq!(webhooks::get(&mut a, &r.event.event_id).await?, None);
    let again = webhooks::receive(
        &mut a,
        &p.project_id,
        WebhookSource::Bitbucket,
        "push",
        b"x",
    )
    .await?;
    assert_eq!(again.outcome, ReceiveOutcome::Created);
    Ok(())
}

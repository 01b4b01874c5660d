//! The project channel against real Redis: the exact JSON on the documented channel, decoded
//! for the project's subscribers only.

use std::time::Duration;

use brokerdb::model::{TenantId, Timestamp};
use brokerdb_core::redis::{ConnSettings, RedisConn};
use brokerdb_projects::events::{ArtifactUpdated, ProjectEvent, ProjectEvents};
use brokerdb_projects::{ArtifactId, ProjectId};
use futures_util::StreamExt;

#[tokio::test]
async fn a_published_event_reaches_its_projects_subscribers_only() -> anyhow::Result<()> {
    let redis = brokerdb_testkit::redis().await;
    let settings = ConnSettings {
        command_timeout: Duration::from_secs(5),
        pool_size: 2,
    };
    let conn = RedisConn::standalone(redis.client(), settings)?;
    let events = ProjectEvents::new(conn).with_prefix(redis.prefix());
    let (t_a, t_b) = (TenantId::parse("t_a")?, TenantId::parse("t_b")?);
    let (p1, p2) = (ProjectId::parse("prj_1")?, ProjectId::parse("prj_2")?);

    let channel = events.channel(&t_a, &p1);
    assert_eq!(channel, format!("{}project:{{t_a}}:prj_1", redis.prefix()));
    let mut raw = redis.client().get_async_pubsub().await?;
    raw.subscribe(&channel).await?;
    let mut raw = raw.into_on_message();

    let mut mine = events.subscribe(&t_a, &p1).await?;
    let mut other_project = events.subscribe(&t_a, &p2).await?;
    let mut other_tenant = events.subscribe(&t_b, &p1).await?;

    let event = ArtifactUpdated {
        project_id: p1.clone(),
        artifact_id: ArtifactId::parse("art_9")?,
        path: "docs/prd.md".into(),
        version: 4,
        timestamp: Timestamp::parse("2025-03-01T10:20:30.456Z")?,
    };
    let receivers = events.publish_artifact_updated(&t_a, &event).await?;
    assert_eq!(receivers, 2);

    let wait = Duration::from_secs(5);
    let message = tokio::time::timeout(wait, raw.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("raw subscription ended"))?;
    assert_eq!(
        message.get_payload::<String>()?,
        r#"{"type":"artifact_updated","projectId":"prj_1","artifactId":"art_9","path":"docs/prd.md","version":4,"timestamp":"2025-03-01T10:20:30.456Z"}"#
    );
    let got = tokio::time::timeout(wait, mine.next()).await?;
    assert_eq!(got, Some(ProjectEvent::ArtifactUpdated(event)));

    let quiet = Duration::from_millis(300);
    assert!(
        tokio::time::timeout(quiet, other_project.next())
            .await
            .is_err()
    );
    assert!(
        tokio::time::timeout(quiet, other_tenant.next())
            .await
            .is_err()
    );
    Ok(())
}

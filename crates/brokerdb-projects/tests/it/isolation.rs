//! Every function of the project store across two tenants: B sees, changes and deletes nothing
//! of A's, and cannot reference A's project.

use brokerdb_projects::artifacts::{self, ArtifactFilter, ArtifactInput};
use brokerdb_projects::mcp_log::{self, McpCall, McpLogQuery};
use brokerdb_projects::projects::{self, ProjectChanges};
use brokerdb_projects::webhooks;
use brokerdb_projects::{ArtifactType, McpResult, ProjectsError, WebhookSource};
use serde_json::json;

use crate::support::{TestResult, code, fixture};

#[tokio::test]
async fn tenant_b_sees_and_changes_nothing_of_tenant_a() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "A's").await?;
    let mut a = f.db.tenant(&f.a);
    let mut b = f.db.tenant(&f.b);
    let input = ArtifactInput {
        path: "prd.md".into(),
        name: "PRD".into(),
        artifact_type: ArtifactType::Prd,
        dependencies: vec![],
        content_hash: None,
    };
    let art = artifacts::upsert(&mut a, &p.project_id, &input).await?;
    let ev = webhooks::receive(&mut a, &p.project_id, WebhookSource::Github, "push", b"p").await?;
    let call = McpCall {
        actor_type: "user".into(),
        actor_id: "u".into(),
        tool: "t".into(),
        scope: "s".into(),
        args: json!({}),
        result: McpResult::Denied,
        error_code: Some("forbidden".into()),
        ip: None,
        user_agent: None,
    };
    mcp_log::append(&mut a, &p.project_id, &call).await?;

    // projects
    assert_eq!(projects::get(&mut b, &p.project_id).await?, None);
    assert!(projects::list(&mut b, None, None).await?.items.is_empty());
    let upd = projects::update(
        &mut b,
        &f.key,
        &p.project_id,
        &ProjectChanges {
            name: Some("stolen".into()),
            ..Default::default()
        },
    )
    .await
    .err();
    assert_eq!(
        upd.as_ref().and_then(ProjectsError::as_db).map(code),
        Some("not_found")
    );
    assert!(!projects::touch_last_seen(&mut b, &p.project_id).await?);
    assert!(
        projects::webhook_secret(&mut b, &f.key, &p.project_id)
            .await?
            .is_none()
    );
    assert!(!projects::delete(&mut b, &p.project_id).await?);
    // A's cursor is refused in B.
    let mut pa = projects::list(&mut a, Some(1), None).await?;
    f.project(&f.a, "second").await?;
    pa = if pa.next_cursor.is_none() {
        projects::list(&mut a, Some(1), None).await?
    } else {
        pa
    };
    if let Some(c) = pa.next_cursor {
        let err = projects::list(&mut b, Some(1), Some(&c)).await.err();
        assert_eq!(err.as_ref().map(code), Some("validation_error"));
    }

    // artifacts: invisible, and B cannot attach one to A's project.
    assert_eq!(artifacts::get(&mut b, &art.artifact_id).await?, None);
    assert_eq!(
        artifacts::get_by_path(&mut b, &p.project_id, "prd.md").await?,
        None
    );
    assert!(
        artifacts::list(&mut b, &p.project_id, &ArtifactFilter::default())
            .await?
            .items
            .is_empty()
    );
    let err = artifacts::upsert(&mut b, &p.project_id, &input).await.err();
    assert_eq!(err.as_ref().map(code), Some("integrity_violation"));

    // webhook events
    assert_eq!(webhooks::get(&mut b, &ev.event.event_id).await?, None);
    assert!(
        webhooks::list_unprocessed(&mut b, &p.project_id, None)
            .await?
            .is_empty()
    );
    for r in [
        webhooks::mark_processing(&mut b, &ev.event.event_id)
            .await
            .err(),
        webhooks::mark_processed(&mut b, &ev.event.event_id)
            .await
            .err(),
        webhooks::mark_failed(&mut b, &ev.event.event_id, "e")
            .await
            .err(),
    ] {
        assert_eq!(r.as_ref().map(code), Some("not_found"));
    }
    let err = webhooks::receive(&mut b, &p.project_id, WebhookSource::Github, "push", b"p")
        .await
        .err();
    assert_eq!(err.as_ref().map(code), Some("integrity_violation"));

    // MCP log
    let q = McpLogQuery {
        project_id: Some(p.project_id.clone()),
        ..Default::default()
    };
    assert!(mcp_log::query(&mut b, &q).await?.items.is_empty());
    assert!(
        mcp_log::query(&mut b, &McpLogQuery::default())
            .await?
            .items
            .is_empty()
    );
    let err = mcp_log::append(&mut b, &p.project_id, &call).await.err();
    assert_eq!(err.as_ref().map(code), Some("not_found"));

    // A's rows are untouched.
    let still = projects::get(&mut a, &p.project_id).await?;
    assert_eq!(still.map(|s| s.name), Some("A's".to_owned()));
    assert_eq!(
        artifacts::get(&mut a, &art.artifact_id)
            .await?
            .map(|x| x.version),
        Some(1)
    );
    assert_eq!(
        webhooks::get(&mut a, &ev.event.event_id)
            .await?
            .map(|e| e.status.as_str()),
        Some("received")
    );
    assert_eq!(mcp_log::query(&mut a, &q).await?.items.len(), 1);
    Ok(())
}

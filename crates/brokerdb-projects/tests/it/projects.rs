//! Projects: CRUD, keyset list, the encrypted secret, cascade.

use brokerdb_projects::artifacts::{self, ArtifactInput};
use brokerdb_projects::projects::{self, NewProject, ProjectChanges};
use brokerdb_projects::webhooks;
use brokerdb_projects::{ArtifactType, ProjectsError, SecretBytes, SecretKey, WebhookSource};
use serde_json::json;

use crate::support::{TestResult, code, fixture};

#[tokio::test]
async fn create_get_update_touch_and_delete() -> TestResult {
    let f = fixture().await?;
    let mut a = f.db.tenant(&f.a);
    let input = NewProject {
        name: "  App  ".into(),
        repo_url: "https://github.com/acme/app".into(),
        webhook_secret: None,
        config: Some(
            json!({"lint": true})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
    };
    let p = projects::create(&mut a, &f.key, &input).await?;
    assert_eq!(p.name, "App");
    assert!(p.project_id.as_str().starts_with("prj_"));
    assert!(!p.has_webhook_secret);
    assert_eq!(p.config["lint"], json!(true));
    assert_eq!(projects::get(&mut a, &p.project_id).await?, Some(p.clone()));

    let changes = ProjectChanges {
        name: Some("App 2".into()),
        webhook_secret: Some(Some(SecretBytes::new(b"rotated".to_vec()))),
        ..Default::default()
    };
    let updated = projects::update(&mut a, &f.key, &p.project_id, &changes).await?;
    assert_eq!(updated.name, "App 2");
    assert_eq!(updated.repo_url, p.repo_url);
    assert!(updated.has_webhook_secret);
    let secret = projects::webhook_secret(&mut a, &f.key, &p.project_id).await?;
    assert_eq!(
        secret.as_ref().map(SecretBytes::expose),
        Some(&b"rotated"[..])
    );

    assert!(projects::touch_last_seen(&mut a, &p.project_id).await?);
    let seen = projects::get(&mut a, &p.project_id).await?;
    assert!(seen.and_then(|s| s.last_seen_at).is_some());

    for bad in [
        NewProject {
            name: "".into(),
            ..input.clone()
        },
        NewProject {
            repo_url: "http://github.com/a".into(),
            ..input.clone()
        },
        NewProject {
            webhook_secret: Some(SecretBytes::new(Vec::new())),
            ..input.clone()
        },
    ] {
        let err = projects::create(&mut a, &f.key, &bad).await.err();
        assert!(
            matches!(
                err.as_ref().and_then(ProjectsError::as_db).map(code),
                Some("validation_error")
            ),
            "{err:?}"
        );
    }

    assert!(projects::delete(&mut a, &p.project_id).await?);
    assert_eq!(projects::get(&mut a, &p.project_id).await?, None);
    assert!(!projects::delete(&mut a, &p.project_id).await?);
    let missing = projects::update(&mut a, &f.key, &p.project_id, &changes)
        .await
        .err();
    assert_eq!(
        missing.as_ref().and_then(ProjectsError::as_db).map(code),
        Some("not_found")
    );
    Ok(())
}

#[tokio::test]
async fn the_secret_is_encrypted_at_rest_and_never_read_back() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let admin = f.test_db.admin().await;
    let stored: Vec<u8> = admin
        .query_one(
            "SELECT webhook_secret_ciphertext FROM projects WHERE project_id = $1",
            &[&p.project_id.as_str()],
        )
        .await?
        .get(0);
    let plain = b"whsec-plain-value";
    assert_ne!(stored, plain.to_vec());
    assert!(!stored.windows(plain.len()).any(|w| w == plain));
    assert_eq!(stored.len(), 12 + plain.len() + 16);

    let shown = serde_json::to_string(&p)?;
    assert!(!shown.contains("whsec"), "{shown}");
    assert!(!format!("{p:?}").contains("whsec"));

    let mut a = f.db.tenant(&f.a);
    let secret = projects::webhook_secret(&mut a, &f.key, &p.project_id).await?;
    assert_eq!(secret.as_ref().map(SecretBytes::expose), Some(&plain[..]));
    assert!(!format!("{secret:?}").contains("whsec"));
    let wrong = projects::webhook_secret(&mut a, &SecretKey::random(), &p.project_id).await;
    assert!(matches!(wrong, Err(ProjectsError::Secret(_))), "{wrong:?}");
    Ok(())
}

#[tokio::test]
async fn list_pages_newest_first_with_signed_cursors() -> TestResult {
    let f = fixture().await?;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(f.project(&f.a, &format!("P{i}")).await?.project_id);
    }
    let mut a = f.db.tenant(&f.a);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = projects::list(&mut a, Some(2), cursor.as_deref()).await?;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|p| p.project_id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut expected = made.clone();
    expected.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, expected, "every project exactly once");
    let bad = projects::list(&mut a, Some(2), Some("forged.cursor"))
        .await
        .err();
    assert_eq!(bad.as_ref().map(code), Some("validation_error"));
    Ok(())
}

#[tokio::test]
async fn deleting_a_project_deletes_its_artifacts_and_webhook_events() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let mut a = f.db.tenant(&f.a);
    let input = ArtifactInput {
        path: "docs/prd.md".into(),
        name: "PRD".into(),
        artifact_type: ArtifactType::Prd,
        dependencies: vec![],
        content_hash: None,
    };
    let art = artifacts::upsert(&mut a, &p.project_id, &input).await?;
    let ev = webhooks::receive(&mut a, &p.project_id, WebhookSource::Github, "push", b"{}").await?;
    assert!(projects::delete(&mut a, &p.project_id).await?);
    assert_eq!(artifacts::get(&mut a, &art.artifact_id).await?, None);
    assert_eq!(webhooks::get(&mut a, &ev.event.event_id).await?, None);
    let admin = f.test_db.admin().await;
    for table in ["artifacts", "webhook_events"] {
        let n: i64 = admin
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await?
            .get(0);
        assert_eq!(n, 0, "{table}");
    }
    Ok(())
}

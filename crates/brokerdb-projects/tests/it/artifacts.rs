//! Artifacts: upsert versioning, reads, filtered keyset lists.

use brokerdb_projects::ArtifactType;
use brokerdb_projects::artifacts::{self, ArtifactFilter, ArtifactInput};
use brokerdb_projects::ids::ProjectId;

use crate::support::{TestResult, code, fixture};

fn input(path: &str, kind: ArtifactType, hash: char) -> ArtifactInput {
    ArtifactInput {
        path: path.into(),
        name: format!("name of {path}"),
        artifact_type: kind,
        dependencies: vec!["docs/prd.md".into()],
        content_hash: Some(hash.to_string().repeat(64)),
    }
}

#[tokio::test]
async fn upsert_creates_version_1_bumps_on_change_and_keeps_it_when_unchanged() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let mut a = f.db.tenant(&f.a);
    let first = artifacts::upsert(
        &mut a,
        &p.project_id,
        &input("e/1.md", ArtifactType::Epic, 'a'),
    )
    .await?;
    assert_eq!(first.version, 1);
    let same = artifacts::upsert(
        &mut a,
        &p.project_id,
        &input("e/1.md", ArtifactType::Epic, 'a'),
    )
    .await?;
    assert_eq!(same, first, "unchanged: same version, same row");
    let changed = artifacts::upsert(
        &mut a,
        &p.project_id,
        &input("e/1.md", ArtifactType::Epic, 'b'),
    )
    .await?;
    assert_eq!(changed.version, 2);
    assert_eq!(changed.artifact_id, first.artifact_id);
    let mut renamed = input("e/1.md", ArtifactType::Story, 'b');
    renamed.name = "other".into();
    let third = artifacts::upsert(&mut a, &p.project_id, &renamed).await?;
    assert_eq!(
        (third.version, third.artifact_type),
        (3, ArtifactType::Story)
    );
    assert_eq!(
        artifacts::get(&mut a, &first.artifact_id).await?,
        Some(third.clone())
    );
    assert_eq!(
        artifacts::get_by_path(&mut a, &p.project_id, "e/1.md").await?,
        Some(third)
    );

    let mut bad = input("x", ArtifactType::Other, 'a');
    bad.content_hash = Some("XYZ".into());
    let err = artifacts::upsert(&mut a, &p.project_id, &bad).await.err();
    assert_eq!(err.as_ref().map(code), Some("validation_error"));
    let ghost = ProjectId::generate();
    let err = artifacts::upsert(&mut a, &ghost, &input("x", ArtifactType::Other, 'a'))
        .await
        .err();
    assert_eq!(err.as_ref().map(code), Some("integrity_violation"));
    Ok(())
}

#[tokio::test]
async fn list_filters_by_type_and_pages_by_updated_at() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let mut a = f.db.tenant(&f.a);
    for i in 0..5 {
        artifacts::upsert(
            &mut a,
            &p.project_id,
            &input(&format!("s/{i}.md"), ArtifactType::Story, 'a'),
        )
        .await?;
    }
    artifacts::upsert(
        &mut a,
        &p.project_id,
        &input("prd.md", ArtifactType::Prd, 'a'),
    )
    .await?;
    let mut filter = ArtifactFilter {
        artifact_type: Some(ArtifactType::Story),
        limit: Some(2),
        ..Default::default()
    };
    let mut paths = Vec::new();
    loop {
        let page = artifacts::list(&mut a, &p.project_id, &filter).await?;
        let mut last = None;
        for item in &page.items {
            if let Some(prev) = last {
                assert!(item.updated_at <= prev);
            }
            last = Some(item.updated_at);
        }
        paths.extend(page.items.into_iter().map(|x| x.path));
        match page.next_cursor {
            Some(c) => filter.cursor = Some(c),
            None => break,
        }
    }
    paths.sort();
    assert_eq!(
        paths,
        (0..5).map(|i| format!("s/{i}.md")).collect::<Vec<_>>()
    );
    let all = artifacts::list(&mut a, &p.project_id, &ArtifactFilter::default()).await?;
    assert_eq!(all.items.len(), 6);
    let future = brokerdb::model::Timestamp::now()
        .checked_add(std::time::Duration::from_secs(3600))
        .ok_or_else(|| anyhow::anyhow!("time overflow"))?;
    let since = ArtifactFilter {
        updated_since: Some(future),
        ..Default::default()
    };
    assert!(
        artifacts::list(&mut a, &p.project_id, &since)
            .await?
            .items
            .is_empty()
    );
    Ok(())
}

/// The project store declares its constraint vocabulary to the core: a database error on one of
/// its constraints names the API field, as the broker's do (and not the core's fallbacks).
#[tokio::test]
async fn constraint_errors_of_the_project_tables_name_their_fields() -> TestResult {
    use brokerdb_core::db::{DbError, Exec};

    const ORPHAN: &str =
        "INSERT INTO artifacts (artifact_id, tenant_id, project_id, path, name, type)
         VALUES ('art_x', $1, 'prj_missing', 'a.md', 'a', 'prd')";
    const SHORT_HASH: &str = "INSERT INTO artifacts
             (artifact_id, tenant_id, project_id, path, name, type, content_hash)
         VALUES ('art_y', $1, $2, 'b.md', 'b', 'prd', 'abc')";
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let tenant = f.a.as_str();
    let mut a = f.db.tenant(&f.a);
    let orphan = a.op("test", "orphan").execute(ORPHAN, &[&tenant]).await;
    assert!(
        matches!(&orphan, Err(DbError::IntegrityViolation { field }) if field == "project_id"),
        "{orphan:?}"
    );
    let project = p.project_id.as_str();
    let short = a
        .op("test", "short_hash")
        .execute(SHORT_HASH, &[&tenant, &project])
        .await;
    assert!(
        matches!(&short, Err(DbError::Validation(e)) if e.field == "content_hash"),
        "{short:?}"
    );
    Ok(())
}

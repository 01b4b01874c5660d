//! The migration runner: ledger, idempotence, changed-file refusal, concurrency.

use brokerdb::migrate::{Migration, MigrationError, MigrationState, apply_pending, status};
use brokerdb_testkit::empty_database;

use crate::TestResult;

#[tokio::test]
async fn a_fresh_database_has_every_migration_pending_and_migrate_applies_them_once() -> TestResult
{
    let db = empty_database().await;
    let mut client = db.admin().await;
    let before = status(&client).await?;
    assert_eq!(before.len(), Migration::embedded().len());
    assert!(before.iter().all(|s| s.state == MigrationState::Pending));

    let applied = apply_pending(&mut client).await?;
    assert_eq!(applied, Migration::embedded());
    let after = status(&client).await?;
    assert!(
        after
            .iter()
            .all(|s| matches!(s.state, MigrationState::Applied { .. })),
        "{after:?}"
    );

    let again = apply_pending(&mut client).await?;
    assert!(again.is_empty(), "a second run applied {again:?}");
    let rows = client
        .query(
            "SELECT version, name, checksum FROM brokerdb_schema_migrations ORDER BY version",
            &[],
        )
        .await?;
    let ledger: Vec<(i32, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected: Vec<(i32, String, String)> = Migration::embedded()
        .iter()
        .map(|m| (m.version as i32, m.name.to_owned(), m.checksum()))
        .collect();
    assert_eq!(ledger, expected);
    Ok(())
}

#[tokio::test]
async fn an_applied_migration_whose_file_changed_is_refused() -> TestResult {
    let db = empty_database().await;
    let mut client = db.admin().await;
    apply_pending(&mut client).await?;
    client
        .execute(
            "UPDATE brokerdb_schema_migrations SET checksum = 'abc' WHERE version = 2",
            &[],
        )
        .await?;
    // Make something pending too: it must not be applied while another migration has changed.
    let last = Migration::embedded().len() as i32;
    client
        .execute(
            "DELETE FROM brokerdb_schema_migrations WHERE version = $1",
            &[&last],
        )
        .await?;

    let err = apply_pending(&mut client).await.err();
    let Some(MigrationError::Changed { label, applied, .. }) = &err else {
        panic!("expected a changed-migration error, got {err:?}");
    };
    assert_eq!(label, &Migration::embedded()[1].label());
    assert_eq!(applied, "abc");
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("applied migrations are immutable"), "{msg}");

    let states = status(&client).await?;
    assert!(matches!(states[1].state, MigrationState::Changed { .. }));
    assert_eq!(
        states.last().map(|s| &s.state),
        Some(&MigrationState::Pending),
        "nothing was applied"
    );
    Ok(())
}

#[tokio::test]
async fn a_migration_recorded_by_a_newer_build_is_reported_as_unknown() -> TestResult {
    let db = brokerdb_testkit::database().await;
    let client = db.admin().await;
    client.execute("INSERT INTO brokerdb_schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')", &[]).await?;
    let states = status(&client).await?;
    let last = states.last().ok_or("no status")?;
    assert_eq!(
        (last.version, last.name.as_str(), &last.state),
        (9999, "future", &MigrationState::Unknown)
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_migrators_apply_each_migration_exactly_once() -> TestResult {
    let db = empty_database().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let cfg = db.admin_config();
        tasks.push(tokio::spawn(async move {
            let mut client = brokerdb_testkit::connect(&cfg)
                .await
                .map_err(|e| e.to_string())?;
            apply_pending(&mut client)
                .await
                .map(|a| a.len())
                .map_err(|e| e.to_string())
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    assert_eq!(total, Migration::embedded().len());
    Ok(())
}

#[tokio::test]
async fn the_runtime_role_can_read_the_ledger_for_readiness() -> TestResult {
    let db = brokerdb_testkit::database().await;
    let states = status(&db.runtime().await).await?;
    assert!(
        states
            .iter()
            .all(|s| matches!(s.state, MigrationState::Applied { .. }))
    );
    Ok(())
}

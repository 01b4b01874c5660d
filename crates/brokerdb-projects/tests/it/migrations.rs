//! Both migration sets in one ledger.

use brokerdb::migrate::{MigrationState, apply_sets, status_of_set};
use brokerdb_projects::migration_set;
use brokerdb_testkit::all_sets;
use brokerdb_testkit::empty_database;

use crate::support::TestResult;

#[tokio::test]
async fn a_fresh_database_gets_both_sets_in_order_once() -> TestResult {
    let db = empty_database().await;
    let mut client = db.admin().await;
    let sets = all_sets();
    let applied = apply_sets(&mut client, &sets).await?;
    let total: usize = sets.iter().map(|s| s.migrations.len()).sum();
    assert_eq!(applied.len(), total);
    assert_eq!(applied.last(), migration_set().migrations.last());

    let rows = client
        .query(
            "SELECT set_name, version, name FROM brokerdb_schema_migrations
              WHERE set_name = 'projects' ORDER BY version",
            &[],
        )
        .await?;
    let ledger: Vec<(String, i32, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        ledger,
        vec![("projects".to_owned(), 1, "project_store".to_owned())]
    );
    let broker_rows: i64 = client
        .query_one(
            "SELECT count(*) FROM brokerdb_schema_migrations WHERE set_name = 'brokerdb'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(broker_rows as usize, sets[0].migrations.len());
    for set in &sets {
        let statuses = status_of_set(&client, set).await?;
        assert!(
            statuses
                .iter()
                .all(|s| matches!(s.state, MigrationState::Applied { .. })),
            "{statuses:?}"
        );
    }

    let again = apply_sets(&mut client, &sets).await?;
    assert!(again.is_empty(), "a second run applied {again:?}");
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace
               AND relname IN ('projects', 'artifacts', 'webhook_events', 'mcp_audit_log')
               AND relrowsecurity AND relforcerowsecurity",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(tables, 4, "the four tables exist with RLS forced");
    Ok(())
}

#[tokio::test]
async fn the_rust_enums_have_the_labels_of_their_postgresql_enums_in_order() -> TestResult {
    use brokerdb_projects::{ArtifactType, McpResult, WebhookSource};
    let db = brokerdb_testkit::database().await;
    let client = db.admin().await;
    let labels = |all: Vec<&'static str>| all.into_iter().map(str::to_owned).collect::<Vec<_>>();
    let expected = [
        (
            "artifact_type",
            labels(ArtifactType::ALL.iter().map(|t| t.as_str()).collect()),
        ),
        (
            "mcp_result",
            labels(McpResult::ALL.iter().map(|t| t.as_str()).collect()),
        ),
        (
            "webhook_source",
            labels(WebhookSource::ALL.iter().map(|t| t.as_str()).collect()),
        ),
    ];
    for (pg_type, want) in expected {
        let got: Vec<String> = client
            .query_one(
                "SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
                   FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
                  WHERE t.typname = $1 AND t.typnamespace = 'public'::regnamespace",
                &[&pg_type],
            )
            .await?
            .get(0);
        assert_eq!(got, want, "{pg_type}");
    }
    Ok(())
}

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
    assert_eq!(before.len(), brokerdb::migrate::embedded().len());
    assert!(before.iter().all(|s| s.state == MigrationState::Pending));

    let applied = apply_pending(&mut client).await?;
    assert_eq!(applied, brokerdb::migrate::embedded());
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
    let expected: Vec<(i32, String, String)> = brokerdb::migrate::embedded()
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
    let last = brokerdb::migrate::embedded()
        .last()
        .map_or(0, |m| i32::try_from(m.version).unwrap_or(i32::MAX));
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
    assert_eq!(label, &brokerdb::migrate::embedded()[1].label());
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
                .map_err(|e| format!("{e:?}"))
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    assert_eq!(total, brokerdb::migrate::embedded().len());
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
    let through_handle = db
        .db()
        .await
        .migration_status(&brokerdb::migrate::broker_set())
        .await?;
    assert_eq!(through_handle, states);
    Ok(())
}

/// An empty database migrated up to (and including) `version` as an older build would have.
async fn migrated_to(
    version: u32,
) -> Result<brokerdb_testkit::TestDatabase, Box<dyn std::error::Error>> {
    let db = empty_database().await;
    let client = db.admin().await;
    client
        .batch_execute(
            "CREATE TABLE brokerdb_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                 checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await?;
    for m in brokerdb::migrate::embedded()
        .iter()
        .filter(|m| m.version <= version)
    {
        client
            .batch_execute(&format!("BEGIN;\n{}\nCOMMIT;", m.sql))
            .await?;
        client
            .execute(
                "INSERT INTO brokerdb_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                &[&(m.version as i32), &m.name, &m.checksum()],
            )
            .await?;
    }
    Ok(db)
}

/// Three tenant events and one system event on the trigger-linked chains of 0007/0008.
const LEGACY_EVENTS: &str = "INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A');
    INSERT INTO audit_events (event_id, tenant_id, timestamp, correlation_id, event_type, event_json)
    VALUES ('evt_3', 't_a', now(), 'c', 'execute', '{}');
    INSERT INTO audit_events (event_id, tenant_id, timestamp, correlation_id, event_type, event_json)
    VALUES ('evt_1', 't_a', now(), 'c', 'execute', '{\"n\": 1}');
    INSERT INTO audit_events (event_id, tenant_id, timestamp, correlation_id, event_type, event_json)
    VALUES ('evt_2', 't_a', now(), 'c', 'execute', '{}');
    INSERT INTO system_audit_events (event_id, timestamp, actor, action, correlation_id, event_json)
    VALUES ('evt_s', now(), 'adm', 'x', 'c', '{}');";

#[tokio::test]
async fn events_of_the_trigger_linked_chain_are_resealed_in_their_old_order() -> TestResult {
    let db = migrated_to(8).await?;
    let mut admin = db.admin().await;
    admin.batch_execute(LEGACY_EVENTS).await?;
    let applied = apply_pending(&mut admin).await?;
    assert_eq!(
        applied.iter().map(|m| m.version).collect::<Vec<_>>(),
        brokerdb::migrate::embedded()
            .iter()
            .map(|m| m.version)
            .filter(|v| *v >= 9)
            .collect::<Vec<_>>()
    );
    let handle = db.db().await;
    let sealed = brokerdb::audit::seal_pending(&handle.system(), 100).await?;
    assert_eq!((sealed.tenant_links, sealed.system_links), (3, 1));
    let order: Vec<String> = admin
        .query("SELECT event_id FROM audit_seals ORDER BY chain_seq", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(order, ["evt_3", "evt_1", "evt_2"], "the old chain's order");
    let opts = brokerdb::audit::VerifyOptions::default();
    let t = brokerdb::model::TenantId::parse("t_a")?;
    assert!(
        brokerdb::audit::verify_tenant_chain(&handle.system(), &t, &opts)
            .await?
            .is_valid()
    );
    assert!(
        brokerdb::audit::verify_system_chain(&handle.system(), &opts)
            .await?
            .is_valid()
    );
    Ok(())
}

#[tokio::test]
async fn a_broken_trigger_linked_chain_stops_the_upgrade_instead_of_being_resealed() -> TestResult {
    let db = migrated_to(8).await?;
    let mut admin = db.admin().await;
    admin.batch_execute(LEGACY_EVENTS).await?;
    admin
        .batch_execute(
            "ALTER TABLE audit_events DISABLE TRIGGER ALL;
             UPDATE audit_events SET correlation_id = 'forged' WHERE event_id = 'evt_1';
             ALTER TABLE audit_events ENABLE TRIGGER ALL;",
        )
        .await?;
    let err = apply_pending(&mut admin)
        .await
        .err()
        .ok_or("a broken chain was re-sealed")?;
    let MigrationError::Failed { label, source } = &err else {
        return Err(format!("unexpected error {err}").into());
    };
    assert_eq!(label, "0010_audit_sealing");
    assert_eq!(
        crate::db_message(source),
        "the tenant audit chain t_a is broken at chain_seq 2; refusing to re-seal it"
    );
    let version: i32 = admin
        .query_one("SELECT max(version) FROM brokerdb_schema_migrations", &[])
        .await?
        .get(0);
    assert_eq!(version, 9, "0010 rolled back entirely");
    Ok(())
}

/// A second domain's migrations: they build on the broker's schema.
static PROJECT_SET: &[Migration] = &[
    Migration {
        version: 1,
        name: "projects",
        sql: "SET LOCAL ROLE brokerdb_owner;
              CREATE TABLE example_projects (tenant_id TEXT COLLATE \"C\" NOT NULL REFERENCES tenants (tenant_id),
                                             project_id TEXT NOT NULL, PRIMARY KEY (tenant_id, project_id));
              RESET ROLE;",
    },
    Migration {
        version: 2,
        name: "project_names",
        sql: "SET LOCAL ROLE brokerdb_owner; ALTER TABLE example_projects ADD COLUMN name TEXT; RESET ROLE;",
    },
];

#[tokio::test]
async fn ordered_migration_sets_share_one_ledger_each_numbered_on_its_own() -> TestResult {
    use brokerdb::migrate::{MigrationSet, apply_sets, status_of_set};
    let db = empty_database().await;
    let mut client = db.admin().await;
    let projects = MigrationSet {
        name: "projects",
        migrations: PROJECT_SET,
    };
    let applied = apply_sets(&mut client, &[brokerdb::migrate::broker_set(), projects]).await?;
    assert_eq!(
        applied.len(),
        brokerdb::migrate::embedded().len() + PROJECT_SET.len(),
        "the broker's set first, then the one building on it"
    );
    assert!(
        apply_sets(&mut client, &[brokerdb::migrate::broker_set(), projects])
            .await?
            .is_empty()
    );
    let ledger: Vec<(String, i32)> = client
        .query(
            "SELECT set_name, version FROM brokerdb_schema_migrations WHERE set_name = 'projects' ORDER BY version",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        ledger,
        [("projects".to_owned(), 1), ("projects".to_owned(), 2)]
    );
    assert!(
        status_of_set(&client, &projects)
            .await?
            .iter()
            .all(|s| matches!(s.state, MigrationState::Applied { .. }))
    );
    assert!(
        status(&client)
            .await?
            .iter()
            .all(|s| matches!(s.state, MigrationState::Applied { .. })),
        "the broker's status ignores the other set's rows"
    );
    // A changed file of the second set is refused like one of the broker's.
    static CHANGED: &[Migration] = &[Migration {
        version: 1,
        name: "projects",
        sql: "SELECT 1",
    }];
    let refused = apply_sets(
        &mut client,
        &[MigrationSet {
            name: "projects",
            migrations: CHANGED,
        }],
    )
    .await;
    assert!(matches!(refused, Err(MigrationError::Changed { .. })));
    Ok(())
}

#[tokio::test]
async fn a_ledger_from_before_migration_sets_is_upgraded_in_place() -> TestResult {
    let db = migrated_to(8).await?;
    let mut admin = db.admin().await;
    let applied = apply_pending(&mut admin).await?;
    assert_eq!(
        applied.first().map(|m| m.version),
        Some(9),
        "the eight applied by the old build are recognised"
    );
    let sets: Vec<String> = admin
        .query(
            "SELECT DISTINCT set_name FROM brokerdb_schema_migrations",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(sets, ["brokerdb"]);
    Ok(())
}

/// An approval row as an older build stored it: tenant `t_a`, workload `w_1`, integration
/// `int_1`, descriptor hash 64 × `hash`, expiring `expires` (an SQL expression).
fn legacy_approval(id: &str, status: &str, expires: &str, hash: char) -> String {
    format!(
        "INSERT INTO approval_requests (approval_id, tenant_id, status, expires_at, correlation_id,
             workload_id, integration_id, action_group, risk_tier, destination_host, method, path,
             descriptor_sha256, canonical_descriptor, approval_json)
         VALUES ('{id}', 't_a', '{status}', {expires}, 'corr', 'w_1', 'int_1', 'send', 'high',
             'api.example.com', 'POST', '/send', repeat('{hash}', 64), '{{}}',
             jsonb_build_object('approval_id', '{id}', 'status', '{status}'));"
    )
}

#[tokio::test]
async fn the_in_flight_dedupe_settles_a_pending_approval_that_an_approved_one_already_covers()
-> TestResult {
    let db = migrated_to(13).await?;
    let mut admin = db.admin().await;
    let mut legacy = String::from("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A');");
    for (id, status, expires, hash) in [
        // Key a: approved and waiting, and a second prompt still open for it.
        (
            "apr_a_approved",
            "approved",
            "now() + interval '1 hour'",
            'a',
        ),
        ("apr_a_pending", "pending", "now() + interval '1 hour'", 'a'),
        // Key b: approved, and a second prompt already past its expiry.
        (
            "apr_b_approved",
            "approved",
            "now() - interval '1 hour'",
            'b',
        ),
        (
            "apr_b_pending",
            "pending",
            "now() - interval '1 minute'",
            'b',
        ),
        // Key c: a lone prompt past its expiry: not in the way, left for `create` to expire.
        (
            "apr_c_pending",
            "pending",
            "now() - interval '1 minute'",
            'c',
        ),
        // Key d: a lone open prompt next to older decided ones: untouched.
        ("apr_d_pending", "pending", "now() + interval '1 hour'", 'd'),
        (
            "apr_d_executed",
            "executed",
            "now() - interval '1 hour'",
            'd',
        ),
        ("apr_d_denied", "denied", "now() - interval '1 hour'", 'd'),
    ] {
        legacy.push_str(&legacy_approval(id, status, expires, hash));
    }
    admin.batch_execute(&legacy).await?;
    let applied = apply_pending(&mut admin).await?;
    assert!(
        applied
            .iter()
            .any(|m| m.label() == "0015_approval_in_flight_dedupe")
    );
    let rows = admin
        .query(
            "SELECT approval_id, status::text, approval_json->>'status', decided_at IS NOT NULL
             FROM approval_requests ORDER BY approval_id",
            &[],
        )
        .await?;
    let got: Vec<(String, String, String, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let want = [
        ("apr_a_approved", "approved", false),
        ("apr_a_pending", "canceled", true),
        ("apr_b_approved", "approved", false),
        ("apr_b_pending", "expired", true),
        ("apr_c_pending", "pending", false),
        ("apr_d_denied", "denied", false),
        ("apr_d_executed", "executed", false),
        ("apr_d_pending", "pending", false),
    ]
    .map(|(id, s, decided)| (id.to_owned(), s.to_owned(), s.to_owned(), decided));
    assert_eq!(got, want, "status, snapshot status, decision time");
    Ok(())
}

#[tokio::test]
async fn two_approved_approvals_of_one_request_stop_the_in_flight_dedupe_upgrade() -> TestResult {
    let db = migrated_to(13).await?;
    let mut admin = db.admin().await;
    let mut legacy = String::from("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A');");
    for id in ["apr_1", "apr_2"] {
        legacy.push_str(&legacy_approval(id, "approved", "now()", 'e'));
    }
    admin.batch_execute(&legacy).await?;
    let err = apply_pending(&mut admin)
        .await
        .err()
        .ok_or("two approved approvals of one request were accepted")?;
    let MigrationError::Failed { label, source } = &err else {
        return Err(format!("unexpected error {err}").into());
    };
    assert_eq!(label, "0015_approval_in_flight_dedupe");
    assert_eq!(
        crate::db_message(source),
        format!(
            "tenant t_a has 2 approved, not executed approvals of workload w_1, integration int_1, \
             descriptor {}; refusing to choose one",
            "e".repeat(64)
        )
    );
    let statuses: Vec<String> = admin
        .query("SELECT status::text FROM approval_requests", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(statuses, ["approved", "approved"], "nothing changed");
    Ok(())
}

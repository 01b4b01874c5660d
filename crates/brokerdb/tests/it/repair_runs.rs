//! The repair console's run ledger: recording on an admin connection (superuser, or the owner
//! through `SET LOCAL ROLE`) together with its system audit event, the newest-first keyset
//! listing, the lawbook hash, and append-only enforcement for every role.

use brokerdb::audit;
use brokerdb::repair_runs::{self, NewRepairRun, RepairRun, RepairRunStatus};
use brokerdb_testkit::{TestDatabase, database};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::assert_code;
use crate::support::{Error, TestResult, db_message, sqlstate};

fn run(repair_id: &str, request_id: &str, lawbook: &str) -> NewRepairRun {
    NewRepairRun {
        id: uuid::Uuid::new_v4(),
        repair_id: repair_id.to_owned(),
        expected_hash: "sha256:caller-sent-this".to_owned(),
        actual_hash: "ab".repeat(32),
        executed_by: "admin:alice".to_owned(),
        deployment_env: "staging".to_owned(),
        lawbook_hash: lawbook.to_owned(),
        request_id: request_id.to_owned(),
        status: RepairRunStatus::Success,
        error_code: None,
        error_message: None,
        summary: "restored 2 indexes".to_owned(),
        pre_missing_tables: vec!["index:idx_jobs_finished".to_owned()],
        post_missing_tables: vec![],
    }
}

fn failed(mut run: NewRepairRun) -> NewRepairRun {
    run.status = RepairRunStatus::Failed;
    run.error_code = Some("STATEMENT_FAILED".to_owned());
    run.error_message = Some("x".repeat(3000));
    run.summary = "s".repeat(1500);
    run.post_missing_tables = vec!["index:idx_jobs_finished".to_owned()];
    run
}

/// Records `run` in its own transaction of the superuser connection.
async fn record_committed(db: &TestDatabase, run: &NewRepairRun) -> Result<RepairRun, Error> {
    let mut admin = db.admin().await;
    let tx = admin.transaction().await?;
    let stored = repair_runs::record(&tx, run).await?;
    tx.commit().await?;
    Ok(stored)
}

#[tokio::test]
async fn recorded_runs_are_listed_newest_first_across_pages() -> TestResult {
    let db = database().await;
    let lawbook = repair_runs::lawbook_hash(&db.admin().await).await?;
    let mut stored = Vec::new();
    for (i, repair) in ["R-001", "R-002", "R-003"].into_iter().enumerate() {
        let new = run(repair, &format!("req-{i}"), &lawbook);
        let new = if i == 1 { failed(new) } else { new };
        stored.push(record_committed(&db, &new).await?);
    }
    // The failed run's long texts were cut, not refused.
    assert_eq!(stored[1].status, RepairRunStatus::Failed);
    assert_eq!(
        stored[1]
            .error_message
            .as_deref()
            .map(|m| m.chars().count()),
        Some(1000)
    );
    assert_eq!(stored[1].summary.chars().count(), 1000);
    let mut newest_first = stored.clone();
    newest_first.sort_by_key(|r| std::cmp::Reverse((r.executed_at, r.id)));

    let handle = db.db().await;
    let first = repair_runs::list(&mut handle.system(), Some(2), None).await?;
    let cursor = first
        .next_cursor
        .clone()
        .ok_or("a first page of 2 out of 3 has a cursor")?;
    let second = repair_runs::list(&mut handle.system(), Some(2), Some(&cursor)).await?;
    assert_eq!(second.next_cursor, None);
    let listed: Vec<RepairRun> = first.items.into_iter().chain(second.items).collect();
    assert_eq!(listed, newest_first);

    let serialized = serde_json::to_value(&listed[0])?;
    for key in [
        "repairId",
        "executedAt",
        "lawbookHash",
        "preMissingTables",
        "status",
    ] {
        assert!(serialized.get(key).is_some(), "{key} in {serialized}");
    }

    assert_code!(
        repair_runs::list(&mut handle.system(), Some(2), Some("forged")).await,
        ValidationError
    );
    assert_code!(
        repair_runs::list(&mut handle.system(), Some(0), None).await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn recording_as_the_owner_appends_the_system_audit_event_in_the_same_transaction()
-> TestResult {
    let db = database().await;
    let lawbook = repair_runs::lawbook_hash(&db.admin().await).await?;
    let new = failed(run("R-004", "req-owner", &lawbook));
    let mut admin = db.admin().await;
    let tx = admin.transaction().await?;
    tx.batch_execute("SET LOCAL ROLE brokerdb_owner").await?;
    let stored = repair_runs::record(&tx, &new).await?;
    tx.commit().await?;

    let handle = db.db().await;
    let events = audit::list_system_events(&mut handle.system(), None, None).await?;
    let ours: Vec<_> = events
        .items
        .iter()
        .filter(|e| e.action == "db_repair.run")
        .collect();
    assert_eq!(ours.len(), 1, "{:?}", events.items);
    let event = ours[0];
    assert_eq!(
        (event.actor.as_str(), event.correlation_id.as_str()),
        ("admin:alice", "req-owner")
    );
    assert_eq!(event.timestamp, stored.executed_at);
    assert_eq!(
        serde_json::Value::Object(event.details.clone()),
        json!({
            "runId": new.id.to_string(),
            "repairId": "R-004",
            "status": "FAILED",
            "errorCode": "STATEMENT_FAILED",
            "actualHash": "ab".repeat(32),
            "deploymentEnv": "staging",
        })
    );
    Ok(())
}

#[tokio::test]
async fn a_rolled_back_recording_leaves_neither_the_run_nor_its_event() -> TestResult {
    let db = database().await;
    let lawbook = repair_runs::lawbook_hash(&db.admin().await).await?;
    let mut admin = db.admin().await;
    let tx = admin.transaction().await?;
    repair_runs::record(&tx, &run("R-001", "req-rollback", &lawbook)).await?;
    tx.rollback().await?;
    let row = admin
        .query_one(
            "SELECT (SELECT count(*) FROM db_repair_runs),
                    (SELECT count(*) FROM system_audit_events WHERE action = 'db_repair.run')",
            &[],
        )
        .await?;
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (0, 0));
    Ok(())
}

#[tokio::test]
async fn invalid_runs_are_refused_naming_the_field_and_store_nothing() -> TestResult {
    let db = database().await;
    let admin = db.admin().await;
    let lawbook = repair_runs::lawbook_hash(&admin).await?;
    let mut bad = run("R-1", "req", &lawbook);
    let err = repair_runs::record(&admin, &bad)
        .await
        .err()
        .ok_or("R-1 accepted")?;
    assert_eq!(
        err.to_string(),
        "validation_error: repair_id: must be R- and three digits"
    );
    bad.repair_id = "R-001".to_owned();
    bad.error_code = Some("NOPE".to_owned());
    assert_code!(repair_runs::record(&admin, &bad).await, ValidationError);
    bad.error_code = None;
    bad.lawbook_hash = "not a hash".to_owned();
    assert_code!(repair_runs::record(&admin, &bad).await, ValidationError);

    let good = run("R-001", "req", &lawbook);
    repair_runs::record(&admin, &good).await?;
    assert_code!(repair_runs::record(&admin, &good).await, UniqueViolation);
    let count: i64 = admin
        .query_one("SELECT count(*) FROM db_repair_runs", &[])
        .await?
        .get(0);
    assert_eq!(count, 1);
    Ok(())
}

/// The lawbook hash as documented, from this build's embedded migrations.
fn expected_lawbook() -> String {
    let mut hasher = Sha256::new();
    for m in brokerdb::migrate::embedded() {
        hasher.update(format!("{}:{}\n", m.version, m.checksum()).as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[tokio::test]
async fn the_lawbook_hash_is_the_hash_of_the_applied_migrations_and_follows_the_ledger()
-> TestResult {
    let db = database().await;
    let admin = db.admin().await;
    let fresh = repair_runs::lawbook_hash(&admin).await?;
    assert_eq!(fresh, expected_lawbook());
    assert!(
        fresh.len() == 64
            && fresh
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    // The system role reads the ledger too.
    assert_eq!(repair_runs::lawbook_hash(&db.system().await).await?, fresh);

    // Another migration set's rows are not the broker's schema.
    admin
        .batch_execute(
            "INSERT INTO brokerdb_schema_migrations (set_name, version, name, checksum)
             VALUES ('projects', 9999, 'out_of_band', repeat('c', 64))",
        )
        .await?;
    assert_eq!(repair_runs::lawbook_hash(&admin).await?, fresh);
    // A broker migration applied out of band changes it.
    admin
        .batch_execute(
            "INSERT INTO brokerdb_schema_migrations (set_name, version, name, checksum)
             VALUES ('brokerdb', 9999, 'out_of_band', repeat('d', 64))",
        )
        .await?;
    assert_ne!(repair_runs::lawbook_hash(&admin).await?, fresh);
    Ok(())
}

const MUTATIONS: [&str; 3] = [
    "UPDATE db_repair_runs SET summary = 'rewritten'",
    "DELETE FROM db_repair_runs",
    "TRUNCATE db_repair_runs",
];

#[tokio::test]
async fn no_role_can_update_delete_or_truncate_a_run() -> TestResult {
    let db = database().await;
    let lawbook = repair_runs::lawbook_hash(&db.admin().await).await?;
    let stored = record_committed(&db, &run("R-002", "req-keep", &lawbook)).await?;

    let denied = "permission denied for table db_repair_runs";
    let append_only = "db_repair_runs is append-only";
    let mut outcomes = Vec::new();
    for (who, role, expected) in [
        ("brokerdb_app", None, denied),
        ("brokerdb_system", None, denied),
        ("brokerdb_owner", Some("brokerdb_owner"), append_only),
        ("superuser", None, append_only),
    ] {
        let mut client = match who {
            "brokerdb_app" => db.runtime().await,
            "brokerdb_system" => db.system().await,
            _ => db.admin().await,
        };
        for stmt in MUTATIONS {
            let tx = client.transaction().await?;
            if let Some(role) = role {
                tx.batch_execute(&format!("SET LOCAL ROLE {role}")).await?;
            }
            let err = tx
                .batch_execute(stmt)
                .await
                .err()
                .ok_or(format!("{stmt} succeeded as {who}"))?;
            outcomes.push((
                who,
                stmt,
                sqlstate(&err).map(str::to_owned),
                db_message(&err),
            ));
            tx.rollback().await?;
            assert_eq!(
                outcomes.last().map(|o| (o.2.as_deref(), o.3.as_str())),
                Some((Some("42501"), expected)),
                "{who}: {stmt}"
            );
        }
    }
    assert_eq!(outcomes.len(), 12);

    let handle = db.db().await;
    let page = repair_runs::list(&mut handle.system(), None, None).await?;
    assert_eq!(
        page.items,
        vec![stored],
        "the run is still there, unchanged"
    );
    Ok(())
}

#[tokio::test]
async fn the_runtime_role_can_neither_read_nor_append_runs() -> TestResult {
    let db = database().await;
    let lawbook = repair_runs::lawbook_hash(&db.admin().await).await?;
    let runtime = db.runtime().await;
    let err = runtime
        .batch_execute("SELECT * FROM db_repair_runs")
        .await
        .err()
        .ok_or("brokerdb_app read db_repair_runs")?;
    assert_eq!(
        db_message(&err),
        "permission denied for table db_repair_runs"
    );
    let err = repair_runs::record(&runtime, &run("R-001", "req-app", &lawbook))
        .await
        .err()
        .ok_or("brokerdb_app appended a run")?;
    assert_eq!(
        err.code(),
        brokerdb::db::ErrorCode::UnexpectedError,
        "{err}"
    );
    assert_eq!(crate::count_rows(&db, "db_repair_runs").await?, 0);
    Ok(())
}

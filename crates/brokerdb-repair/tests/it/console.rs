//! The console against a real database: doctor, preview, execute, the ledger, idempotency,
//! failures rolled back and recorded, concurrent executions serialized.

use brokerdb::repair_runs::{self, RepairRunStatus};
use brokerdb_repair::inspect::{self, Snapshot};
use brokerdb_repair::{ExecuteRequest, RepairConsole, RepairError, RepairSettings, RunStatus};
use brokerdb_testkit::TestDatabase;

fn console(db: &TestDatabase) -> anyhow::Result<RepairConsole> {
    Ok(RepairConsole::new(
        db.admin_config(),
        RepairSettings::default(),
    )?)
}

fn request(console: &RepairConsole, id: &str) -> anyhow::Result<ExecuteRequest> {
    Ok(ExecuteRequest {
        id: id.to_owned(),
        expected_hash: console.registry().get(id)?.hash.clone(),
        executed_by: "os:tester".to_owned(),
        deployment_env: "staging".to_owned(),
        request_id: format!("test-{id}"),
    })
}

async fn snapshot(db: &TestDatabase) -> anyhow::Result<Snapshot> {
    Ok(inspect::snapshot(&db.admin().await).await?)
}

#[tokio::test]
async fn a_freshly_migrated_database_is_clean() -> anyhow::Result<()> {
    let db = brokerdb_testkit::database().await;
    let report = console(&db)?.doctor().await?;
    assert!(report.is_clean(), "{:#?}", report.drifts);
    Ok(())
}

#[tokio::test]
async fn every_playbook_is_idempotent() -> anyhow::Result<()> {
    let db = brokerdb_testkit::database().await;
    let console = console(&db)?;
    let before = snapshot(&db).await?;
    for playbook in console.registry().list() {
        for round in 1..=2 {
            let outcome = console.execute(&request(&console, &playbook.id)?).await?;
            assert_eq!(
                outcome.status,
                RunStatus::Success,
                "{} round {round}: {:?}",
                playbook.id,
                outcome.error_message
            );
            assert!(
                outcome.restored.is_empty(),
                "{}: {:?}",
                playbook.id,
                outcome.restored
            );
            assert_eq!(
                snapshot(&db).await?,
                before,
                "{} round {round}",
                playbook.id
            );
        }
    }
    let runs = repair_runs::list(&mut db.db().await.system(), Some(100), None).await?;
    assert_eq!(runs.items.len(), 2 * console.registry().list().len());
    assert!(
        runs.items
            .iter()
            .all(|r| r.status == RepairRunStatus::Success)
    );
    Ok(())
}

#[tokio::test]
async fn drift_is_found_by_the_doctor_and_repaired_by_its_playbooks() -> anyhow::Result<()> {
    let db = brokerdb_testkit::database().await;
    let console = console(&db)?;
    db.admin()
        .await
        .batch_execute(
            "DROP INDEX idx_jobs_finished;
             ALTER TABLE human_users DISABLE ROW LEVEL SECURITY;
             ALTER TABLE workloads NO FORCE ROW LEVEL SECURITY;
             DROP POLICY tenant_isolation ON integrations;
             ALTER POLICY tenant_isolation ON secrets USING (true);
             ALTER TABLE db_repair_runs DISABLE TRIGGER prevent_delete_db_repair_runs;
             ALTER FUNCTION brokerdb_user_role_copies() RESET ALL;
             GRANT DELETE ON system_audit_events TO brokerdb_app;
             REVOKE INSERT ON jobs FROM brokerdb_system;",
        )
        .await?;
    let report = console.doctor().await?;
    let found: Vec<(&str, &str, Option<&str>)> = report
        .drifts
        .iter()
        .map(|d| (d.kind, d.object.as_str(), d.playbook))
        .collect();
    for expected in [
        ("index", "idx_jobs_finished", Some("R-001")),
        ("rls", "human_users", Some("R-002")),
        ("rls", "workloads", Some("R-002")),
        ("policy", "integrations.tenant_isolation", Some("R-002")),
        ("policy", "secrets.tenant_isolation", Some("R-002")),
        (
            "trigger",
            "db_repair_runs.prevent_delete_db_repair_runs",
            Some("R-003"),
        ),
        (
            "grant",
            "table:system_audit_events brokerdb_app:DELETE",
            Some("R-004"),
        ),
        ("grant", "table:jobs brokerdb_system:INSERT", Some("R-004")),
    ] {
        assert!(found.contains(&expected), "{expected:?} not in {found:#?}");
    }
    assert_eq!(
        report.playbooks().into_iter().collect::<Vec<_>>(),
        ["R-001", "R-002", "R-003", "R-004"]
    );
    // The preview shows what is missing, and writes nothing.
    let preview = console.preview("R-001").await?;
    assert_eq!(preview.required_after_missing, ["index:idx_jobs_finished"]);
    assert!(preview.required_before_missing.is_empty());
    assert!(console.doctor().await?.drifts.len() == report.drifts.len());
    for id in report.playbooks() {
        let outcome = console.execute(&request(&console, id)?).await?;
        assert_eq!(
            outcome.status,
            RunStatus::Success,
            "{id}: {:?}",
            outcome.error_message
        );
        assert!(outcome.post_missing.is_empty());
    }
    let after = console.doctor().await?;
    assert!(after.is_clean(), "{:#?}", after.drifts);
    Ok(())
}

#[tokio::test]
async fn the_hash_must_match_and_a_mismatch_is_not_recorded() -> anyhow::Result<()> {
    let db = brokerdb_testkit::database().await;
    let console = console(&db)?;
    let mut req = request(&console, "R-001")?;
    req.expected_hash = "0".repeat(64);
    let err = console.execute(&req).await.err();
    assert!(
        matches!(err, Some(RepairError::Guard(ref g)) if g.code() == "HASH_MISMATCH"),
        "{err:?}"
    );
    req.id = "R-999".into();
    assert!(matches!(
        console.execute(&req).await,
        Err(RepairError::UnknownPlaybook(_))
    ));
    let runs = repair_runs::list(&mut db.db().await.system(), None, None).await?;
    assert!(runs.items.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_failing_statement_rolls_the_whole_run_back_and_is_recorded() -> anyhow::Result<()> {
    let db = brokerdb_testkit::database().await;
    let console = console(&db)?;
    let admin = db.admin().await;
    // Two users whose emails differ only by case: the case-insensitive unique index cannot
    // come back until someone resolves the duplicate.
    admin
        .batch_execute(
            "DROP INDEX idx_jobs_finished;
             DROP INDEX uq_human_users_tenant_email;
             INSERT INTO tenants (tenant_id, name) VALUES ('t-repair', 'Repair test');
             INSERT INTO human_users (user_id, tenant_id, email, display_name)
                  VALUES ('u-1', 't-repair', 'a@example.com', 'A'), ('u-2', 't-repair', 'A@example.com', 'B');",
        )
        .await?;
    let outcome = console.execute(&request(&console, "R-001")?).await?;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.error_code.as_deref(), Some("STATEMENT_FAILED"));
    let message = outcome.error_message.clone().unwrap_or_default();
    assert!(message.contains("uq_human_users_tenant_email"), "{message}");
    assert!(!message.contains("example.com"), "values leak: {message}");
    assert!(outcome.restored.is_empty());
    // Rolled back: the index the run created before the failing one is missing again.
    let live = snapshot(&db).await?;
    assert!(!live.indexes.contains_key("idx_jobs_finished"));
    let runs = repair_runs::list(&mut db.db().await.system(), None, None).await?;
    let run = runs
        .items
        .first()
        .ok_or_else(|| anyhow::anyhow!("no ledger row"))?;
    assert_eq!(run.id, outcome.repair_run_id);
    assert_eq!(run.status, RepairRunStatus::Failed);
    assert_eq!(run.error_code.as_deref(), Some("STATEMENT_FAILED"));
    assert_eq!(run.executed_by, "os:tester");
    Ok(())
}

#[tokio::test]
async fn a_missing_required_object_fails_the_pre_check() -> anyhow::Result<()> {
    let db = brokerdb_testkit::database().await;
    let console = console(&db)?;
    db.admin().await.batch_execute("DROP TABLE jobs").await?;
    let outcome = console.execute(&request(&console, "R-001")?).await?;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.error_code.as_deref(), Some("PRECONDITION_FAILED"));
    assert_eq!(outcome.pre_missing, ["table:jobs"]);
    assert!(
        outcome.summary.contains("nothing was changed"),
        "{}",
        outcome.summary
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_executions_serialize_and_the_second_sees_the_first() -> anyhow::Result<()> {
    let db = brokerdb_testkit::database().await;
    let console = console(&db)?;
    db.admin()
        .await
        .batch_execute("DROP INDEX idx_jobs_finished; DROP INDEX idx_jobs_queue_dedupe_key;")
        .await?;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let console = console.clone();
            let req = request(&console, "R-001");
            tokio::spawn(async move { console.execute(&req?).await.map_err(anyhow::Error::from) })
        })
        .collect();
    let mut restored = Vec::new();
    for run in runs {
        let outcome = run.await??;
        assert_eq!(
            outcome.status,
            RunStatus::Success,
            "{:?}",
            outcome.error_message
        );
        restored.push(outcome.restored.len());
    }
    restored.sort_unstable();
    // Exactly one run restored the two indexes; the others found them present.
    assert_eq!(restored, [0, 0, 0, 2]);
    assert!(console.doctor().await?.is_clean());
    Ok(())
}

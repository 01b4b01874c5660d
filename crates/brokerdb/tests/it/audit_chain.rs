//! Audit appends in the caller's transaction, the sealer, checkpoints, and what verify detects.

use std::path::PathBuf;
use std::time::Duration;

use brokerdb::audit::checkpoint::{LoadedCheckpoint, read_checkpoints, write_checkpoints};
use brokerdb::audit::{
    self, BreakKind, ChainReport, Checkpoint, CheckpointSet, CheckpointSigner, SealerSettings,
    VerifyOptions,
};
use brokerdb::prelude::*;
use brokerdb::repo::audit_events::{self, AuditQueryFilter};
use brokerdb::repo::users::{self, ReplaceRoles};
use brokerdb_testkit::TestDatabase;

use crate::assert_code;
use crate::support::{Error, TestResult, count_rows, db_message, seeded, sqlstate, tenant, text};

/// Appends `n` events for `t`, each in its own transaction.
async fn append(db: &Db, t: &TenantId, n: usize) -> Result<(), DbError> {
    for _ in 0..n {
        db.tenant(t)
            .transaction(&TxOptions::default(), |tx| {
                Box::pin(async move {
                    let event = AuditEvent::generated(
                        tx.tenant_id().clone(),
                        AuditEventType::Execute,
                        text("corr"),
                    );
                    audit::append(tx, &event).await
                })
            })
            .await?;
    }
    Ok(())
}

/// Appends `event` in its own system transaction.
async fn append_system(db: &Db, event: &SystemAuditEvent) -> Result<(), DbError> {
    db.system()
        .transaction(&TxOptions::default(), |tx| {
            let event = event.clone();
            Box::pin(async move { audit::append_system(tx, &event).await })
        })
        .await
}

async fn seal(db: &Db) -> Result<audit::SealReport, DbError> {
    audit::seal_pending(&db.system(), audit::DEFAULT_BATCH).await
}

async fn verify(db: &Db, t: &TenantId) -> Result<ChainReport, DbError> {
    audit::verify_tenant_chain(&db.system(), t, &VerifyOptions::default()).await
}

async fn verify_with(db: &Db, t: &TenantId, opts: &VerifyOptions) -> Result<ChainReport, DbError> {
    audit::verify_tenant_chain(&db.system(), t, opts).await
}

/// Verifies `t`'s chain against `checkpoints`.
async fn verify_against(
    db: &Db,
    t: &TenantId,
    checkpoints: CheckpointSet,
) -> Result<ChainReport, DbError> {
    let opts = VerifyOptions {
        checkpoints,
        ..VerifyOptions::default()
    };
    verify_with(db, t, &opts).await
}

/// Runs `sql` as a superuser with the append-only triggers of the audit and seal tables off:
/// what a database administrator can do.
async fn tamper(test_db: &TestDatabase, sql: &str) -> Result<(), Error> {
    test_db
        .admin()
        .await
        .batch_execute(&format!(
            "ALTER TABLE audit_events DISABLE TRIGGER ALL; ALTER TABLE audit_seals DISABLE TRIGGER ALL;
             {sql};
             ALTER TABLE audit_events ENABLE TRIGGER ALL; ALTER TABLE audit_seals ENABLE TRIGGER ALL"
        ))
        .await?;
    Ok(())
}

/// The kind and position of a report's first break.
fn first_break(report: &ChainReport) -> Option<(BreakKind, Option<i64>)> {
    report.first_broken.as_ref().map(|b| (b.kind, b.chain_seq))
}

/// A seeded database whose tenant `t_a` has `n` sealed events.
async fn sealed_chain(n: usize) -> Result<(TestDatabase, Db, TenantId), Error> {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    append(&db, &a, n).await?;
    seal(&db).await?;
    Ok((test_db, db, a))
}

/// Checkpoints of the current heads, verified with the signer's own key.
async fn checkpoints_now(db: &Db, signer: &CheckpointSigner) -> Result<CheckpointSet, Error> {
    let checkpoints = audit::create_checkpoints(&db.system(), signer).await?;
    let database = audit::checkpoint::database_name(&db.system()).await?;
    let loaded = checkpoints
        .into_iter()
        .map(|checkpoint| LoadedCheckpoint {
            checkpoint,
            path: "memory".into(),
            line: 1,
        })
        .collect();
    Ok(CheckpointSet::verified(
        loaded,
        &signer.public_key(),
        &database,
    )?)
}

/// Whether `u_a1` is enabled, read as the superuser.
async fn u_a1_enabled(test_db: &TestDatabase) -> Result<bool, Error> {
    Ok(test_db
        .admin()
        .await
        .query_one(
            "SELECT enabled FROM human_users WHERE user_id = 'u_a1'",
            &[],
        )
        .await?
        .get(0))
}

#[tokio::test]
async fn a_change_failing_after_its_audit_row_rolls_back_the_row_too() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let failed = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                tx.execute(
                    "UPDATE human_users SET enabled = FALSE WHERE user_id = 'u_a1'",
                    &[],
                )
                .await?;
                let event = AuditEvent::generated(
                    tx.tenant_id().clone(),
                    AuditEventType::AdminAction,
                    text("c1"),
                );
                audit::append(tx, &event).await?;
                Err::<(), _>(DbError::Conflict {
                    message: "the change fails after its audit row".into(),
                })
            })
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(
        (
            count_rows(&test_db, "audit_events").await?,
            u_a1_enabled(&test_db).await?
        ),
        (0, true),
        "the change and its audit row both rolled back"
    );
    assert_eq!(seal(&db).await?.tenant_links, 0, "nothing to seal");
    Ok(())
}

#[tokio::test]
async fn an_audit_insert_that_fails_rolls_back_the_change_it_describes() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    // An audit insert that fails (duplicate event id) fails the whole operation.
    let event = AuditEvent::generated(a.clone(), AuditEventType::AdminAction, text("c2"));
    let twice = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            let event = event.clone();
            Box::pin(async move {
                tx.execute(
                    "UPDATE human_users SET enabled = FALSE WHERE user_id = 'u_a1'",
                    &[],
                )
                .await?;
                audit::append(tx, &event).await?;
                audit::append(tx, &event).await
            })
        })
        .await;
    assert_code!(twice, UniqueViolation);
    assert!(
        u_a1_enabled(&test_db).await?,
        "the change was rolled back with the failed audit insert"
    );
    Ok(())
}

#[tokio::test]
async fn sealed_appends_form_one_valid_chain_per_tenant() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (db, t) = (db.clone(), if i % 2 == 0 { a.clone() } else { b.clone() });
            tokio::spawn(async move { append(&db, &t, 25).await })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let sealed = seal(&db).await?;
    assert_eq!(sealed.tenant_links, 200);
    for t in [&a, &b] {
        let report = verify(&db, t).await?;
        assert_eq!((report.links, report.first_broken), (100, None), "{t}");
    }
    Ok(())
}

#[tokio::test]
async fn a_sealed_event_is_never_sealed_twice() -> TestResult {
    let (_t, db, _a) = sealed_chain(5).await?;
    assert_eq!(seal(&db).await?.tenant_links, 0, "nothing is sealed twice");
    Ok(())
}

#[tokio::test]
async fn verify_reports_a_row_edited_by_a_superuser_with_triggers_disabled() -> TestResult {
    let (test_db, db, a) = sealed_chain(5).await?;
    tamper(
        &test_db,
        "UPDATE audit_events SET event_json = '{\"forged\": true}'
              WHERE event_id = (SELECT event_id FROM audit_seals WHERE chain_seq = 3)",
    )
    .await?;
    let report = verify(&db, &a).await?;
    assert_eq!(
        first_break(&report),
        Some((BreakKind::RowModified, Some(3)))
    );
    assert_eq!(report.links, 2, "links checked before the break");
    Ok(())
}

#[tokio::test]
async fn verify_reports_a_deleted_row() -> TestResult {
    let (test_db, db, a) = sealed_chain(5).await?;
    tamper(
        &test_db,
        "DELETE FROM audit_events
              WHERE event_id = (SELECT event_id FROM audit_seals WHERE chain_seq = 2)",
    )
    .await?;
    assert_eq!(
        first_break(&verify(&db, &a).await?),
        Some((BreakKind::RowMissing, Some(2)))
    );
    Ok(())
}

#[tokio::test]
async fn verify_reports_a_deleted_seal() -> TestResult {
    let (test_db, db, a) = sealed_chain(5).await?;
    tamper(&test_db, "DELETE FROM audit_seals WHERE chain_seq = 1").await?;
    assert_eq!(
        first_break(&verify(&db, &a).await?),
        Some((BreakKind::SealMissing, Some(1)))
    );
    Ok(())
}

#[tokio::test]
async fn a_chain_rewritten_and_resealed_by_an_administrator_fails_only_against_a_checkpoint()
-> TestResult {
    let (test_db, db, a) = sealed_chain(4).await?;
    let signer = CheckpointSigner::generate();
    let before = checkpoints_now(&db, &signer).await?;
    assert_eq!(before.len(), 1, "one non-empty chain");
    let untouched = verify_against(&db, &a, before.clone()).await?;
    assert_eq!(
        (
            untouched.links,
            untouched.checkpoints,
            untouched.first_broken
        ),
        (4, 1, None),
        "an untouched chain verifies against its checkpoint"
    );

    // The owner edits row 2, throws the seals away and sets the sealer's horizon back, so they
    // are recomputed in order: the result is internally consistent.
    tamper(
        &test_db,
        "UPDATE audit_events SET correlation_id = 'rewritten'
              WHERE event_id = (SELECT event_id FROM audit_seals WHERE chain_seq = 2);
             DELETE FROM audit_seals;
             UPDATE audit_sealer_lock SET tenant_sealed_below = '0'",
    )
    .await?;
    seal(&db).await?;
    assert!(
        verify(&db, &a).await?.is_valid(),
        "without a checkpoint the rewrite is undetectable"
    );
    let report = verify_against(&db, &a, before).await?;
    assert_eq!(
        first_break(&report),
        Some((BreakKind::CheckpointMismatch, Some(4)))
    );
    Ok(())
}

#[tokio::test]
async fn a_chain_rewound_by_an_administrator_fails_against_a_checkpoint() -> TestResult {
    let (test_db, db, a) = sealed_chain(5).await?;
    let signer = CheckpointSigner::generate();
    let before = checkpoints_now(&db, &signer).await?;
    tamper(
        &test_db,
        "DELETE FROM audit_events WHERE event_id IN (SELECT event_id FROM audit_seals WHERE chain_seq > 3);
             DELETE FROM audit_seals WHERE chain_seq > 3",
    )
    .await?;
    assert!(
        verify(&db, &a).await?.is_valid(),
        "a clean rewind is consistent"
    );
    let report = verify_against(&db, &a, before).await?;
    assert_eq!(
        first_break(&report),
        Some((BreakKind::ShorterThanCheckpoint, Some(5)))
    );
    Ok(())
}

/// Checkpoints of a two-event chain written to a fresh directory by a new signer.
struct WrittenCheckpoints {
    _test_db: TestDatabase,
    signer: CheckpointSigner,
    checkpoints: Vec<Checkpoint>,
    dir: PathBuf,
    path: PathBuf,
    database: String,
}

async fn written_checkpoints() -> Result<WrittenCheckpoints, Error> {
    let (test_db, db, _a) = sealed_chain(2).await?;
    let signer = CheckpointSigner::generate();
    let checkpoints = audit::create_checkpoints(&db.system(), &signer).await?;
    let dir = std::env::temp_dir().join(format!("brokerdb-ckpt-it-{}", rand::random::<u64>()));
    let path = write_checkpoints(&dir, &checkpoints)?;
    let database = audit::checkpoint::database_name(&db.system()).await?;
    Ok(WrittenCheckpoints {
        _test_db: test_db,
        signer,
        checkpoints,
        dir,
        path,
        database,
    })
}

#[tokio::test]
async fn checkpoint_files_round_trip_through_write_and_read() -> TestResult {
    let w = written_checkpoints().await?;
    let set = CheckpointSet::verified(
        read_checkpoints(&w.dir)?,
        &w.signer.public_key(),
        &w.database,
    )?;
    assert_eq!(set.len(), 1);
    std::fs::remove_dir_all(&w.dir)?;
    Ok(())
}

#[tokio::test]
async fn a_checkpoint_file_changed_after_signing_is_refused() -> TestResult {
    let w = written_checkpoints().await?;
    let mut forged: Checkpoint = w.checkpoints[0].clone();
    forged.size += 1;
    std::fs::write(&w.path, format!("{}\n", serde_json::to_string(&forged)?))?;
    let refused = CheckpointSet::verified(
        read_checkpoints(&w.path)?,
        &w.signer.public_key(),
        &w.database,
    );
    assert!(matches!(
        refused,
        Err(audit::CheckpointError::BadSignature { line: 1, .. })
    ));
    std::fs::remove_dir_all(&w.dir)?;
    Ok(())
}

#[tokio::test]
async fn a_checkpoint_signed_with_another_key_is_refused() -> TestResult {
    let w = written_checkpoints().await?;
    let other_key = CheckpointSet::verified(
        read_checkpoints(&w.dir)?,
        &CheckpointSigner::generate().public_key(),
        &w.database,
    );
    assert!(other_key.is_err(), "a checkpoint of another key is refused");
    std::fs::remove_dir_all(&w.dir)?;
    Ok(())
}

#[tokio::test]
async fn an_insert_skipped_by_on_conflict_leaves_the_chain_untouched() -> TestResult {
    let (test_db, db, a) = sealed_chain(2).await?;
    let existing: String = test_db
        .admin()
        .await
        .query_one("SELECT event_id FROM audit_seals WHERE chain_seq = 1", &[])
        .await?
        .get(0);
    let runtime = test_db.runtime().await;
    runtime
        .batch_execute("SELECT set_config('brokerdb.tenant_id', 't_a', false)")
        .await?;
    let inserted = runtime
        .execute(
            "INSERT INTO audit_events (event_id, tenant_id, timestamp, correlation_id, event_type, event_json)
             VALUES ($1, 't_a', now(), 'c', 'execute', '{}')
             ON CONFLICT (event_id) DO NOTHING",
            &[&existing],
        )
        .await?;
    assert_eq!(inserted, 0);
    assert_eq!(
        seal(&db).await?.tenant_links,
        0,
        "a skipped row is never sealed"
    );
    let report = verify(&db, &a).await?;
    assert_eq!((report.links, report.first_broken), (2, None));
    Ok(())
}

#[tokio::test]
async fn an_event_older_than_the_skew_is_refused_and_a_recent_one_stored() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut backdated = AuditEvent::generated(a.clone(), AuditEventType::Execute, text("corr"));
    backdated.timestamp = Timestamp::from_unix_millis(Timestamp::now().unix_millis() - 3_600_000)?;
    let err = audit::append(&mut db.tenant(&a), &backdated)
        .await
        .err()
        .ok_or("a backdated event was stored")?;
    assert_eq!(err.code(), ErrorCode::ValidationError);
    assert!(err.to_string().contains("timestamp"), "{err}");
    let mut recent = AuditEvent::generated(a.clone(), AuditEventType::Execute, text("corr"));
    recent.timestamp = Timestamp::from_unix_millis(Timestamp::now().unix_millis() - 60_000)?;
    audit::append(&mut db.tenant(&a), &recent).await?;
    Ok(())
}

#[tokio::test]
async fn the_runtime_role_cannot_choose_created_at() -> TestResult {
    let (test_db, _db) = seeded().await?;
    let runtime = test_db.runtime().await;
    let denied = runtime
        .batch_execute(
            "BEGIN; SELECT set_config('brokerdb.tenant_id', 't_a', true);
             INSERT INTO audit_events (event_id, tenant_id, timestamp, correlation_id, event_type, event_json, created_at)
             VALUES ('evt_x', 't_a', now() - interval '1 hour', 'c', 'execute', '{}', now() - interval '1 hour')",
        )
        .await
        .err()
        .ok_or("the runtime role chose created_at")?;
    assert_eq!(sqlstate(&denied), Some("42501"));
    Ok(())
}

#[tokio::test]
async fn an_unsealed_row_within_the_maximum_merge_delay_verifies() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    append(&db, &a, 2).await?;
    assert!(
        verify(&db, &a).await?.is_valid(),
        "within the maximum merge delay an unsealed row is fine"
    );
    Ok(())
}

#[tokio::test]
async fn verify_reports_a_row_left_unsealed_past_the_maximum_merge_delay() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    append(&db, &a, 2).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let strict = VerifyOptions {
        max_merge_delay: Duration::from_millis(10),
        ..VerifyOptions::default()
    };
    assert_eq!(
        first_break(&verify_with(&db, &a, &strict).await?),
        Some((BreakKind::SealOverdue, None))
    );
    Ok(())
}

#[tokio::test]
async fn verify_reports_a_row_the_sealers_horizon_passed_without_sealing_it() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    append(&db, &a, 2).await?;
    // As if the sealer had skipped them: its horizon moved past their transactions, to an xmin
    // above them (as the sealer's would be). Other tests' transactions on this cluster may hold
    // the xmin below them for a moment, so wait for it.
    let admin = test_db.admin().await;
    let started = std::time::Instant::now();
    loop {
        let moved = admin
            .execute(
                "UPDATE audit_sealer_lock SET tenant_sealed_below = x.xmin
                   FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) x
                  WHERE x.xmin > (SELECT max(writer_xid) FROM audit_events)",
                &[],
            )
            .await?;
        if moved == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the cluster's xmin never passed the appends"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        first_break(&verify(&db, &a).await?),
        Some((BreakKind::PassedOver, None))
    );
    Ok(())
}

#[tokio::test]
async fn a_row_committed_after_a_later_transaction_is_sealed_and_so_are_both() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    // An open transaction appends first (it holds the older transaction id) ...
    let runtime = test_db.runtime().await;
    runtime
        .batch_execute(
            "BEGIN; SELECT set_config('brokerdb.tenant_id', 't_a', true);
             INSERT INTO audit_events (event_id, tenant_id, timestamp, correlation_id, event_type, event_json)
             VALUES ('evt_slow', 't_a', now(), 'c', 'execute', '{}')",
        )
        .await?;
    // ... a later one commits and is sealed although the first is still open ...
    append(&db, &a, 3).await?;
    assert_eq!(seal(&db).await?.tenant_links, 3);
    assert_eq!(seal(&db).await?.tenant_links, 0, "nothing is sealed twice");
    // ... and the first is sealed once it commits, though the sealer has seen later ones.
    runtime.batch_execute("COMMIT").await?;
    assert_eq!(seal(&db).await?.tenant_links, 1);
    let report = verify(&db, &a).await?;
    assert_eq!((report.links, report.first_broken), (4, None));
    Ok(())
}

#[tokio::test]
async fn a_database_restored_into_a_younger_cluster_keeps_sealing() -> TestResult {
    // pg_dump keeps each row's writer_xid and the sealer's horizon, not the cluster's transaction
    // counter: restored into a new cluster, the horizon is ahead of every new transaction.
    let (test_db, db, a) = sealed_chain(2).await?;
    test_db
        .admin()
        .await
        .batch_execute(
            "UPDATE audit_sealer_lock SET tenant_sealed_below = '1000000000';
             INSERT INTO audit_events (event_id, tenant_id, timestamp, correlation_id, event_type,
                                       event_json, writer_xid)
             VALUES ('evt_restored_unsealed', 't_a', now(), 'c', 'execute', '{}', '1000000005')",
        )
        .await?;
    append(&db, &a, 2).await?;
    assert!(
        verify(&db, &a).await?.is_valid(),
        "new rows below a restored horizon are not passed over"
    );
    assert_eq!(
        seal(&db).await?.tenant_links,
        3,
        "the restored unsealed row and both new ones"
    );
    let horizon: String = test_db
        .admin()
        .await
        .query_one(
            "SELECT tenant_sealed_below::text FROM audit_sealer_lock",
            &[],
        )
        .await?
        .get(0);
    assert!(
        horizon.parse::<u64>()? < 1_000_000_000,
        "the horizon restarted at this cluster's transactions: {horizon}"
    );
    append(&db, &a, 1).await?;
    assert_eq!(seal(&db).await?.tenant_links, 1);
    assert_eq!(seal(&db).await?.tenant_links, 0, "nothing is sealed twice");
    let report = verify(&db, &a).await?;
    assert_eq!((report.links, report.first_broken), (6, None));
    Ok(())
}

#[tokio::test]
async fn system_events_have_their_own_chain_and_never_mix_with_tenant_events() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    append(&db, &a, 2).await?;
    for _ in 0..3 {
        let event = SystemAuditEvent::new("signup_policy.set", text("adm_1"), text("corr"));
        append_system(&db, &event).await?;
    }
    let sealed = seal(&db).await?;
    assert_eq!((sealed.tenant_links, sealed.system_links), (2, 3));
    let system = audit::verify_system_chain(&db.system(), &VerifyOptions::default()).await?;
    assert_eq!((system.links, system.first_broken), (3, None));
    assert_eq!(
        verify(&db, &a).await?.links,
        2,
        "tenant chain holds only tenant events"
    );
    Ok(())
}

#[tokio::test]
async fn the_runtime_role_cannot_even_read_system_events() -> TestResult {
    let (test_db, _db) = seeded().await?;
    let denied = test_db
        .runtime()
        .await
        .query("SELECT 1 FROM system_audit_events", &[])
        .await
        .err();
    assert!(
        denied.is_some_and(|e| db_message(&e) == "permission denied for table system_audit_events")
    );
    Ok(())
}

#[tokio::test]
async fn replacing_a_users_roles_leaves_an_audit_row_in_the_same_transaction() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let user = UserId::parse("u_a1")?;
    test_db.admin().await.batch_execute("INSERT INTO human_user_roles (tenant_id, user_id, role) VALUES ('t_a', 'u_a1', 'admin')").await?;
    let change = ReplaceRoles {
        roles: vec!["owner".into()],
        actor: text("adm_7"),
        correlation_id: text("req-1"),
    };
    users::update_roles(&mut db.tenant(&a), &user, &change).await?;
    let row = test_db
        .admin()
        .await
        .query_one("SELECT event_type::text, correlation_id, event_json->'metadata' FROM audit_events WHERE tenant_id = 't_a'", &[])
        .await?;
    let (kind, corr, meta): (String, String, serde_json::Value) =
        (row.get(0), row.get(1), row.get(2));
    assert_eq!((kind.as_str(), corr.as_str()), ("admin_action", "req-1"));
    assert_eq!(
        meta,
        serde_json::json!({"action": "user.roles_replaced", "actor": "adm_7", "user_id": "u_a1", "roles": ["owner"]})
    );
    seal(&db).await?;
    assert_eq!(verify(&db, &a).await?.links, 1);
    Ok(())
}

/// 16 writers × 1,000 appends across 4 tenants, every fifth transaction rolled back, while the
/// sealer is killed and restarted again and again: every committed row ends up sealed in order,
/// no rolled-back row anywhere, every chain intact.
#[tokio::test]
async fn sixteen_writers_with_rollbacks_and_a_sealer_killed_mid_batch_lose_nothing() -> TestResult {
    let test_db = brokerdb_testkit::database().await;
    test_db
        .admin()
        .await
        .batch_execute(
            "INSERT INTO tenants (tenant_id, name) SELECT 't_' || g, 'T' || g FROM generate_series(1, 4) g",
        )
        .await?;
    let db = test_db.db_with(Default::default()).await;
    let tenants: Vec<TenantId> = (1..=4)
        .map(|g| tenant(&format!("t_{g}")))
        .collect::<Result<_, _>>()?;
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (db, t) = (db.clone(), tenants[w % 4].clone());
            tokio::spawn(async move {
                let mut committed = 0u64;
                for i in 0..1000 {
                    let roll_back = i % 5 == 4;
                    let event =
                        AuditEvent::generated(t.clone(), AuditEventType::Execute, text("load"));
                    let outcome = db
                        .tenant(&t)
                        .transaction(&TxOptions::default(), move |tx| {
                            let event = event.clone();
                            Box::pin(async move {
                                audit::append(tx, &event).await?;
                                if roll_back {
                                    return Err(DbError::Conflict {
                                        message: "deliberate rollback".into(),
                                    });
                                }
                                Ok(())
                            })
                        })
                        .await;
                    match outcome {
                        Ok(()) => committed += 1,
                        Err(DbError::Conflict { .. }) if roll_back => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok::<_, DbError>(committed)
            })
        })
        .collect();
    let mut kills = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        let sealer = audit::spawn_sealer(
            db.clone(),
            SealerSettings {
                interval: Duration::from_millis(5),
                batch: 300,
                ..SealerSettings::default()
            },
        );
        tokio::time::sleep(Duration::from_millis(rand::random_range(5..60))).await;
        sealer.abort(); // as a crash: a batch in progress rolls back
        kills += 1;
    }
    let mut committed = 0;
    for w in writers {
        committed += w.await??;
    }
    assert_eq!(committed, 12_800);
    // A killed sealer's transaction rolls back when its connection processes the ROLLBACK;
    // until then the lock is taken and a sealer leaves the work to it.
    while seal(&db).await?.busy {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut links = 0;
    for t in &tenants {
        let report = verify(&db, t).await?;
        assert_eq!(report.first_broken, None, "{t}");
        links += report.links;
    }
    assert_eq!(
        links, committed,
        "every committed row is sealed exactly once"
    );
    let rows = count_rows(&test_db, "audit_events").await?;
    assert_eq!(rows as u64, committed, "no rolled-back row was stored");
    assert!(kills > 1, "the sealer was killed while it worked");
    Ok(())
}

#[tokio::test]
async fn the_runtime_roles_have_no_privilege_to_change_audit_rows_or_seals() -> TestResult {
    let (test_db, db, a) = sealed_chain(2).await?;
    let runtime = test_db.runtime().await;
    runtime
        .batch_execute("SELECT set_config('brokerdb.tenant_id', 't_a', false)")
        .await?;
    for sql in [
        "UPDATE audit_events SET correlation_id = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "UPDATE ssrf_guard_decisions SET correlation_id = 'x'",
        "DELETE FROM ssrf_guard_decisions",
        "TRUNCATE ssrf_guard_decisions",
        "SELECT * FROM audit_seals",
        "SELECT * FROM audit_sealer_lock",
        "INSERT INTO audit_seals (tenant_id, chain_seq, event_id, prev_hash, hash) VALUES ('t_a', 9, 'e', repeat('0', 64), repeat('0', 64))",
    ] {
        let err = runtime.batch_execute(sql).await.err();
        assert!(
            err.as_ref()
                .is_some_and(|e| sqlstate(e) == Some("42501")
                    && db_message(e).starts_with("permission denied")),
            "{sql}: {err:?}"
        );
    }
    let system = test_db.system().await;
    for sql in [
        "UPDATE audit_seals SET hash = repeat('0', 64)",
        "DELETE FROM audit_seals",
        "TRUNCATE audit_seals",
        "UPDATE audit_events SET correlation_id = 'x'",
    ] {
        let err = system.batch_execute(sql).await.err();
        assert!(
            err.as_ref().is_some_and(|e| sqlstate(e) == Some("42501")),
            "system role: {sql}: {err:?}"
        );
    }
    assert!(verify(&db, &a).await?.is_valid());
    Ok(())
}

#[tokio::test]
async fn a_superuser_cannot_change_audit_rows_or_seals_while_the_triggers_are_on() -> TestResult {
    let (test_db, db, a) = sealed_chain(2).await?;
    let admin = test_db.admin().await;
    for (sql, table) in [
        (
            "UPDATE audit_events SET correlation_id = 'x'",
            "audit_events",
        ),
        ("DELETE FROM audit_events", "audit_events"),
        ("TRUNCATE audit_events CASCADE", "audit_events"),
        (
            "UPDATE audit_seals SET hash = repeat('0', 64)",
            "audit_seals",
        ),
        ("DELETE FROM audit_seals", "audit_seals"),
    ] {
        let err = admin.batch_execute(sql).await.err();
        assert!(
            err.as_ref()
                .is_some_and(|e| db_message(e) == format!("{table} is append-only")),
            "superuser, triggers on: {sql}: {err:?}"
        );
    }
    assert!(verify(&db, &a).await?.is_valid());
    Ok(())
}

#[tokio::test]
async fn a_tenant_query_never_returns_system_events_and_the_system_listing_no_tenant_events()
-> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    append(&db, &a, 3).await?;
    let system_event = SystemAuditEvent::new("manifest_key.rotated", text("adm_1"), text("corr"));
    let id = system_event.event_id.clone();
    append_system(&db, &system_event).await?;
    let tenant_page = audit_events::query(&mut db.tenant(&a), &AuditQueryFilter::default()).await?;
    assert_eq!(tenant_page.items.len(), 3);
    assert!(
        tenant_page
            .items
            .iter()
            .all(|e| e.tenant_id == a && e.event_id != id)
    );
    let system_page = audit::list_system_events(&mut db.system(), None, None).await?;
    let ids: Vec<&EventId> = system_page.items.iter().map(|e| &e.event_id).collect();
    assert_eq!(ids, [&id], "only the system event");
    assert_eq!(system_page.items[0].action, "manifest_key.rotated");
    Ok(())
}

#[tokio::test]
async fn a_listed_system_event_has_no_chain_position_until_it_is_sealed() -> TestResult {
    let (_t, db) = seeded().await?;
    let event = SystemAuditEvent::new("manifest_key.rotated", text("adm_1"), text("corr"));
    append_system(&db, &event).await?;
    let system_page = audit::list_system_events(&mut db.system(), None, None).await?;
    assert_eq!(system_page.items[0].chain_seq, None, "not sealed yet");
    seal(&db).await?;
    let sealed = audit::list_system_events(&mut db.system(), None, None).await?;
    assert_eq!(sealed.items[0].chain_seq, Some(1));
    Ok(())
}

#[tokio::test]
async fn the_system_listing_pages_with_its_own_cursor_which_a_tenant_query_refuses() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    append(&db, &a, 3).await?;
    let rotated = SystemAuditEvent::new("manifest_key.rotated", text("adm_1"), text("corr"));
    append_system(&db, &rotated).await?;
    for n in 0..3 {
        let e = SystemAuditEvent::new("signup_policy.set", text("adm_1"), text(&format!("c{n}")));
        append_system(&db, &e).await?;
    }
    let first = audit::list_system_events(&mut db.system(), Some(3), None).await?;
    let cursor = first.next_cursor.ok_or("a second page")?;
    let rest = audit::list_system_events(&mut db.system(), Some(3), Some(&cursor)).await?;
    assert_eq!(
        (first.items.len(), rest.items.len(), rest.next_cursor),
        (3, 1, None)
    );
    let foreign = AuditQueryFilter {
        cursor: Some(cursor),
        ..Default::default()
    };
    assert_code!(
        audit_events::query(&mut db.tenant(&a), &foreign).await,
        ValidationError
    );
    Ok(())
}

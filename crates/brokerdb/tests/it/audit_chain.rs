//! Audit appends in the caller's transaction and the hash chains of migration 0007.

use brokerdb::audit::{self, AuditEventType, SystemAuditEvent, TenantAuditEvent};
use brokerdb::db::{Db, DbError, ErrorCode, TxOptions};
use brokerdb::model::{NonEmptyString, TenantId};

use crate::TestResult;
use crate::db_scope::{seeded, tenant};

fn text(s: &str) -> NonEmptyString {
    NonEmptyString::new("test", s).unwrap_or_else(|_| unreachable!("non-empty literal"))
}

/// Appends `n` events for `t`, each in its own transaction.
async fn append(db: &Db, t: &TenantId, n: usize) -> Result<(), DbError> {
    for _ in 0..n {
        db.tenant(t)
            .transaction(&TxOptions::default(), |tx| {
                Box::pin(async move {
                    let event = TenantAuditEvent::new(AuditEventType::Execute, text("corr"));
                    audit::append_in(tx, &event).await.map(|_| ())
                })
            })
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_change_and_its_audit_row_commit_or_roll_back_together() -> TestResult {
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
                audit::append_in(
                    tx,
                    &TenantAuditEvent::new(AuditEventType::AdminAction, text("c1")),
                )
                .await?;
                Err::<(), _>(DbError::Conflict {
                    message: "the change fails after its audit row".into(),
                })
            })
        })
        .await;
    assert!(failed.is_err());
    let admin = test_db.admin().await;
    let audit_rows: i64 = admin
        .query_one("SELECT count(*) FROM audit_events", &[])
        .await?
        .get(0);
    let enabled: bool = admin
        .query_one(
            "SELECT enabled FROM human_users WHERE user_id = 'u_a1'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!((audit_rows, enabled), (0, true), "both rolled back");

    // An audit insert that fails (duplicate event id) fails the whole operation.
    let event = TenantAuditEvent::new(AuditEventType::AdminAction, text("c2"));
    let twice = db
        .tenant(&a)
        .transaction(&TxOptions::default(), move |tx| {
            let event = event.clone();
            Box::pin(async move {
                tx.execute(
                    "UPDATE human_users SET enabled = FALSE WHERE user_id = 'u_a1'",
                    &[],
                )
                .await?;
                audit::append_in(tx, &event).await?;
                audit::append_in(tx, &event).await.map(|_| ())
            })
        })
        .await;
    assert_eq!(
        twice.err().map(|e| e.code()),
        Some(ErrorCode::UniqueViolation)
    );
    let enabled: bool = admin
        .query_one(
            "SELECT enabled FROM human_users WHERE user_id = 'u_a1'",
            &[],
        )
        .await?
        .get(0);
    assert!(
        enabled,
        "the change was rolled back with the failed audit insert"
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_appends_form_one_valid_chain_per_tenant() -> TestResult {
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
    for t in [&a, &b] {
        let report = audit::verify_tenant_chain(&db.system(), t).await?;
        assert_eq!((report.links, report.first_broken), (100, None), "{t}");
    }
    Ok(())
}

#[tokio::test]
async fn verify_finds_a_row_edited_or_deleted_by_a_superuser_with_triggers_disabled() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    append(&db, &a, 5).await?;
    let admin = test_db.admin().await;
    let verify = || async { audit::verify_tenant_chain(&db.system(), &a).await };
    assert!(verify().await?.is_valid());

    admin
        .batch_execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        .await?;
    admin
        .batch_execute(
            r#"UPDATE audit_events SET event_json = '{"forged": true}' WHERE chain_seq = 3"#,
        )
        .await?;
    let report = verify().await?;
    let broken = report.first_broken.ok_or("an edited row went unnoticed")?;
    assert_eq!(
        (broken.chain_seq, broken.reason),
        (
            3,
            "row content does not match its hash (the row was modified)"
        )
    );

    // Put a valid-looking row back? Impossible without the previous hashes; instead delete it.
    admin
        .batch_execute("DELETE FROM audit_events WHERE chain_seq = 3")
        .await?;
    let broken = verify()
        .await?
        .first_broken
        .ok_or("a deleted row went unnoticed")?;
    assert_eq!(
        (broken.chain_seq, broken.reason),
        (3, "link missing (a row was deleted)")
    );

    admin
        .batch_execute("DELETE FROM audit_events WHERE chain_seq >= 4")
        .await?;
    let broken = verify()
        .await?
        .first_broken
        .ok_or("deleted trailing rows went unnoticed")?;
    assert_eq!(
        broken.reason,
        "chain ends before its head (trailing rows were deleted)"
    );
    admin
        .batch_execute("ALTER TABLE audit_events ENABLE TRIGGER USER")
        .await?;
    Ok(())
}

#[tokio::test]
async fn system_events_have_their_own_chain_and_never_mix_with_tenant_events() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    append(&db, &a, 2).await?;
    for _ in 0..3 {
        db.system()
            .transaction(&TxOptions::default(), |tx| {
                Box::pin(async move {
                    let event =
                        SystemAuditEvent::new("signup_policy.set", text("adm_1"), text("corr"));
                    audit::append_system_in(tx, &event).await.map(|_| ())
                })
            })
            .await?;
    }
    let system = audit::verify_system_chain(&db.system()).await?;
    assert_eq!((system.links, system.first_broken), (3, None));
    assert_eq!(
        audit::verify_tenant_chain(&db.system(), &a).await?.links,
        2,
        "tenant chain holds only tenant events"
    );

    // The wrong scope is refused; the runtime role cannot even read system events.
    let wrong = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                let event = SystemAuditEvent::new("x", text("adm_1"), text("corr"));
                audit::append_system_in(tx, &event).await.map(|_| ())
            })
        })
        .await;
    assert_eq!(
        wrong.err().map(|e| e.code()),
        Some(ErrorCode::ValidationError)
    );
    let denied = test_db
        .runtime()
        .await
        .query("SELECT 1 FROM system_audit_events", &[])
        .await
        .err();
    assert!(denied.is_some_and(
        |e| crate::db_message(&e) == "permission denied for table system_audit_events"
    ));
    Ok(())
}

#[tokio::test]
async fn replacing_a_users_roles_leaves_an_audit_row_in_the_same_transaction() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let who = text("adm_7");
    let user = brokerdb::model::UserId::parse("u_a1")?;
    test_db.admin().await.batch_execute("INSERT INTO human_user_roles (tenant_id, user_id, role) VALUES ('t_a', 'u_a1', 'admin')").await?;
    brokerdb::repo::users::update_roles(
        &db.tenant(&a),
        &user,
        &["owner".into()],
        &who,
        &text("req-1"),
    )
    .await?;
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
    assert!(
        audit::verify_tenant_chain(&db.system(), &a)
            .await?
            .is_valid()
    );
    Ok(())
}

//! Audit appends in the caller's transaction and the hash chains of migration 0007.

use brokerdb::audit::{self, AuditEvent, AuditEventType, SystemAuditEvent, TenantAuditEvent};
use brokerdb::db::{Db, DbError, ErrorCode, TxOptions};
use brokerdb::model::{EventId, NonEmptyString, TenantId, Timestamp};
use brokerdb::repo::audit_events::{self, AuditQueryFilter};

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

    let event_at = |seq: i64| {
        let admin = &admin;
        async move {
            let id: String = admin
                .query_one(
                    "SELECT event_id FROM audit_events WHERE chain_seq = $1",
                    &[&seq],
                )
                .await?
                .get(0);
            Ok::<_, Box<dyn std::error::Error>>(Some(EventId::parse(&id)?))
        }
    };
    let (third, fourth) = (event_at(3).await?, event_at(4).await?);

    // ALL: also the system triggers (foreign keys); only a superuser can.
    admin
        .batch_execute("ALTER TABLE audit_events DISABLE TRIGGER ALL")
        .await?;
    admin
        .batch_execute(
            r#"UPDATE audit_events SET event_json = '{"forged": true}' WHERE chain_seq = 3"#,
        )
        .await?;
    let report = verify().await?;
    let broken = report.first_broken.ok_or("an edited row went unnoticed")?;
    assert_eq!(
        (broken.chain_seq, broken.event_id, broken.reason),
        (
            3,
            third,
            "row content does not match its hash (the row was modified)"
        )
    );
    assert_eq!(report.links, 2, "links checked before the break");

    // Put a valid-looking row back? Impossible without the previous hashes; instead delete it.
    admin
        .batch_execute("DELETE FROM audit_events WHERE chain_seq = 3")
        .await?;
    let broken = verify()
        .await?
        .first_broken
        .ok_or("a deleted row went unnoticed")?;
    assert_eq!(
        (broken.chain_seq, broken.event_id, broken.reason),
        (3, fourth, "link missing (a row was deleted)"),
        "the gap is reported with the first row after it"
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
        .batch_execute("ALTER TABLE audit_events ENABLE TRIGGER ALL")
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

#[tokio::test]
async fn sixteen_tasks_appending_a_thousand_events_each_form_one_valid_chain() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let (db, a) = (db.clone(), a.clone());
            tokio::spawn(async move {
                for i in 0..1000 {
                    let event = AuditEvent::new(
                        EventId::parse(&format!("evt_{task}_{i}"))?,
                        Timestamp::now(),
                        a.clone(),
                        text("corr"),
                        AuditEventType::Execute,
                    );
                    audit_events::append(&db.tenant(&a), None, &event).await?;
                }
                Ok::<_, DbError>(())
            })
        })
        .collect();
    // Verification while appends commit sees one consistent snapshot: never a false break.
    let mut checks = 0;
    while tasks.iter().any(|t| !t.is_finished()) {
        let report = audit::verify_tenant_chain(&db.system(), &a).await?;
        assert_eq!(report.first_broken, None, "after {} links", report.links);
        checks += 1;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for t in tasks {
        t.await??;
    }
    let report = audit::verify_tenant_chain(&db.system(), &a).await?;
    assert_eq!((report.links, report.first_broken), (16_000, None));
    assert!(checks > 0);
    Ok(())
}

#[tokio::test]
async fn audit_rows_cannot_be_changed_by_the_runtime_role_nor_while_triggers_are_on() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    append(&db, &a, 2).await?;
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
    ] {
        let err = runtime.batch_execute(sql).await.err();
        assert!(
            err.as_ref()
                .is_some_and(|e| crate::sqlstate(e) == Some("42501")
                    && crate::db_message(e).starts_with("permission denied")),
            "{sql}: {err:?}"
        );
    }
    let admin = test_db.admin().await;
    for sql in [
        "UPDATE audit_events SET correlation_id = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = admin.batch_execute(sql).await.err();
        assert!(
            err.as_ref()
                .is_some_and(|e| crate::db_message(e) == "audit_events is append-only"),
            "superuser, triggers on: {sql}: {err:?}"
        );
    }
    assert!(
        audit::verify_tenant_chain(&db.system(), &a)
            .await?
            .is_valid()
    );

    // The chain heads are written only by the link trigger (0008): the runtime role cannot
    // move its tenant's head either.
    for sql in [
        "UPDATE audit_chain_heads SET chain_seq = 1",
        "DELETE FROM audit_chain_heads",
        "INSERT INTO audit_chain_heads (tenant_id, chain_seq, hash) VALUES ('t_a', 0, repeat('0', 64))",
    ] {
        let err = runtime.batch_execute(sql).await.err();
        assert!(
            err.as_ref()
                .is_some_and(|e| crate::sqlstate(e) == Some("42501")),
            "{sql}: {err:?}"
        );
    }
    // A head moved by a superuser is reported.
    admin
        .batch_execute("UPDATE audit_chain_heads SET chain_seq = 1")
        .await?;
    let broken = audit::verify_tenant_chain(&db.system(), &a)
        .await?
        .first_broken
        .ok_or("a moved head went unnoticed")?;
    assert_eq!(
        broken.reason,
        "chain ends before its head (trailing rows were deleted)"
    );
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
    db.system()
        .transaction(&TxOptions::default(), move |tx| {
            let e = system_event.clone();
            Box::pin(async move { audit::append_system_in(tx, &e).await.map(|_| ()) })
        })
        .await?;
    let tenant_page = audit_events::query(&db.tenant(&a), &AuditQueryFilter::default()).await?;
    assert_eq!(tenant_page.items.len(), 3);
    assert!(
        tenant_page
            .items
            .iter()
            .all(|e| e.tenant_id == a && e.event_id != id)
    );
    let system_page = audit::list_system_events(&db.system(), None, None).await?;
    let ids: Vec<&EventId> = system_page.items.iter().map(|e| &e.event_id).collect();
    assert_eq!(ids, [&id], "only the system event");
    assert_eq!(system_page.items[0].action, "manifest_key.rotated");
    // The system listing pages with its own cursor, which a tenant query refuses.
    for n in 0..3 {
        let e = SystemAuditEvent::new("signup_policy.set", text("adm_1"), text(&format!("c{n}")));
        db.system()
            .transaction(&TxOptions::default(), move |tx| {
                let e = e.clone();
                Box::pin(async move { audit::append_system_in(tx, &e).await.map(|_| ()) })
            })
            .await?;
    }
    let first = audit::list_system_events(&db.system(), Some(3), None).await?;
    let cursor = first.next_cursor.ok_or("a second page")?;
    let rest = audit::list_system_events(&db.system(), Some(3), Some(&cursor)).await?;
    assert_eq!(
        (first.items.len(), rest.items.len(), rest.next_cursor),
        (3, 1, None)
    );
    let foreign = AuditQueryFilter {
        cursor: Some(cursor),
        ..Default::default()
    };
    assert_eq!(
        audit_events::query(&db.tenant(&a), &foreign)
            .await
            .err()
            .map(|e| e.code()),
        Some(ErrorCode::ValidationError)
    );
    Ok(())
}

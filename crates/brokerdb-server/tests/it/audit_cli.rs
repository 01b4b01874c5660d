//! `brokerdb audit verify`, run as a user runs it.

use brokerdb::audit::{self, AuditEvent, AuditEventType, SystemAuditEvent};
use brokerdb::db::{Db, TxOptions};
use brokerdb::model::{EventId, NonEmptyString, TenantId, Timestamp};
use brokerdb::repo::audit_events;
use brokerdb_testkit::{TestDatabase, database};

use crate::TestResult;
use crate::support::{brokerdb, run};

type Error = Box<dyn std::error::Error>;

/// Tenants t_a (4 events) and t_b (3 events), and 2 system events.
async fn seeded() -> Result<(TestDatabase, Db), Error> {
    let test_db = database().await;
    test_db
        .admin()
        .await
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A'), ('t_b', 'B')")
        .await?;
    let db = test_db.db();
    for (t, n) in [("t_a", 4), ("t_b", 3)] {
        let tenant = TenantId::parse(t)?;
        for i in 1..=n {
            let e = AuditEvent::new(
                EventId::parse(&format!("evt_{t}_{i}"))?,
                Timestamp::now(),
                tenant.clone(),
                NonEmptyString::new("correlation_id", "c")?,
                AuditEventType::Execute,
            );
            audit_events::append(&db.tenant(&tenant), None, &e).await?;
        }
    }
    for _ in 0..2 {
        let e = SystemAuditEvent::new(
            "signup_policy.set",
            NonEmptyString::new("actor", "adm_1")?,
            NonEmptyString::new("correlation_id", "c")?,
        );
        db.system()
            .transaction(&TxOptions::default(), move |tx| {
                let e = e.clone();
                Box::pin(async move { audit::append_system_in(tx, &e).await.map(|_| ()) })
            })
            .await?;
    }
    Ok((test_db, db))
}

fn verify(test_db: &TestDatabase, extra: &[&str]) -> Result<(Option<i32>, String), Error> {
    let out = run(brokerdb()
        .args(["audit", "verify", "--database-url", &test_db.admin_url()])
        .args(extra))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("error:"), "{stderr}");
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

#[test]
fn audit_verify_has_help_saying_what_it_reports_and_its_exit_codes() -> TestResult {
    let out = run(brokerdb().args(["audit", "verify", "--help"]))?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for expect in [
        "first broken link with its tenant, chain_seq and event_id",
        "Exits 0 when every chain is intact and 1 when one is broken",
        "--tenant <TENANT>",
        "[env: DATABASE_URL",
    ] {
        assert!(text.contains(expect), "{expect:?} not in:\n{text}");
    }
    Ok(())
}

#[tokio::test]
async fn an_intact_trail_verifies_with_exit_code_0() -> TestResult {
    let (test_db, _db) = seeded().await?;
    let (code, out) = verify(&test_db, &[])?;
    assert_eq!(
        (code, out.as_str()),
        (
            Some(0),
            "ok      tenant t_a: 4 links\nok      tenant t_b: 3 links\nok      system: 2 links\n\
             audit trail intact: 3 chains, 9 links verified\n"
        )
    );
    let (code, out) = verify(&test_db, &["--tenant", "t_b"])?;
    assert_eq!(
        (code, out.as_str()),
        (
            Some(0),
            "ok      tenant t_b: 3 links\naudit trail intact: 1 chains, 3 links verified\n"
        )
    );
    Ok(())
}

#[tokio::test]
async fn an_edited_and_a_deleted_row_are_each_reported_with_exit_code_1() -> TestResult {
    let (test_db, _db) = seeded().await?;
    let admin = test_db.admin().await;
    admin
        .batch_execute(
            "ALTER TABLE audit_events DISABLE TRIGGER ALL;
             UPDATE audit_events SET correlation_id = 'forged' WHERE event_id = 'evt_t_a_2';
             DELETE FROM audit_events WHERE event_id = 'evt_t_b_2';
             ALTER TABLE audit_events ENABLE TRIGGER ALL;",
        )
        .await?;
    let (code, out) = verify(&test_db, &[])?;
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        "BROKEN  tenant t_a: first broken link at chain_seq 2 (event_id evt_t_a_2): row content does not match its hash (the row was modified)\n\
         BROKEN  tenant t_b: first broken link at chain_seq 2 (event_id evt_t_b_3): link missing (a row was deleted)\n\
         ok      system: 2 links\n\
         audit trail BROKEN: 2 of 3 chains\n"
    );
    let (code, out) = verify(&test_db, &["--tenant", "t_b"])?;
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("BROKEN  tenant t_b: first broken link at chain_seq 2"),
        "{out}"
    );
    Ok(())
}

#[tokio::test]
async fn a_bad_tenant_or_an_unreachable_database_is_one_clear_error() -> TestResult {
    let test_db = database().await;
    let out = run(brokerdb().args([
        "audit",
        "verify",
        "--tenant",
        "  ",
        "--database-url",
        &test_db.admin_url(),
    ]))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("error: --tenant is not a valid tenant id: tenant_id: cannot be empty"),
        "{stderr}"
    );
    let out = run(brokerdb().args(["audit", "verify"]).env(
        "DATABASE_URL",
        "postgres://postgres:s3cret@127.0.0.1:1/brokerdb",
    ))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(
            "error: cannot connect to PostgreSQL as brokerdb_system@127.0.0.1:1/brokerdb"
        ) && !stderr.contains("s3cret"),
        "{stderr}"
    );
    Ok(())
}

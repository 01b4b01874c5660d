//! `brokerdb audit verify / seal / keygen / checkpoint`, run as a user runs them.

use brokerdb::audit::{self, AuditEvent, AuditEventType, SystemAuditEvent};
use brokerdb::db::{Db, TxOptions};
use brokerdb::model::{EventId, NonEmptyString, TenantId, Timestamp};
use brokerdb_testkit::{TestDatabase, database};

use std::time::Duration;

use crate::TestResult;
use crate::support::{brokerdb, run};

type Error = Box<dyn std::error::Error>;

/// Tenants t_a (4 events) and t_b (3 events), and 2 system events, sealed by `brokerdb audit
/// seal`.
async fn seeded() -> Result<(TestDatabase, Db), Error> {
    let test_db = database().await;
    test_db
        .admin()
        .await
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A'), ('t_b', 'B')")
        .await?;
    let db = test_db.db().await;
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
            audit::append(&mut db.tenant(&tenant), &e).await?;
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
                Box::pin(async move { audit::append_system(tx, &e).await })
            })
            .await?;
    }
    let out = run(brokerdb().args(["audit", "seal", "--database-url", &test_db.admin_url()]))?;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "sealed 7 tenant and 2 system audit rows\n"
    );
    assert!(out.status.success());
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
        "the first problem with its position and event id",
        "Exits 0 when every chain is intact and 1 otherwise",
        "--tenant <TENANT>",
        "--checkpoints <CHECKPOINTS>",
        "--public-key <PUBLIC_KEY>",
        "--max-merge-delay <MAX_MERGE_DELAY>",
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
        "BROKEN  tenant t_a: at chain_seq 2 (event_id evt_t_a_2): row content does not match its seal (the row was modified)\n\
         BROKEN  tenant t_b: at chain_seq 2 (event_id evt_t_b_2): the sealed audit row is missing (the row was deleted)\n\
         ok      system: 2 links\n\
         audit trail BROKEN: 2 of 3 chains\n"
    );
    let (code, out) = verify(&test_db, &["--tenant", "t_b"])?;
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("BROKEN  tenant t_b: at chain_seq 2"),
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

#[tokio::test]
async fn a_chain_rewound_after_a_signed_checkpoint_fails_verify_with_exit_code_1() -> TestResult {
    let (test_db, _db) = seeded().await?;
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("checkpoint.key");
    let out = run(brokerdb().args(["audit", "keygen", "--out"]).arg(&key))?;
    assert!(out.status.success());
    let public = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(public.len(), 64, "the public key alone on stdout: {public}");
    let checkpoints = dir.path().join("checkpoints");
    let out = run(brokerdb()
        .args([
            "audit",
            "checkpoint",
            "--database-url",
            &test_db.admin_url(),
            "--key",
        ])
        .arg(&key)
        .arg("--out")
        .arg(&checkpoints))?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("signed 3 chain heads into "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let with_checkpoints = |test_db: &TestDatabase| {
        run(brokerdb()
            .args(["audit", "verify", "--database-url", &test_db.admin_url()])
            .arg("--checkpoints")
            .arg(&checkpoints)
            .args(["--public-key", &public]))
    };
    let out = with_checkpoints(&test_db)?;
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
        ),
        (
            Some(0),
            "checking against 3 signed checkpoints from ".to_owned()
                + &checkpoints.display().to_string()
                + "\nok      tenant t_a: 4 links, extends 1 signed checkpoint\n\
                   ok      tenant t_b: 3 links, extends 1 signed checkpoint\n\
                   ok      system: 2 links, extends 1 signed checkpoint\n\
                   audit trail intact: 3 chains, 9 links verified\n"
        )
    );

    // An administrator deletes t_a's last event and its seal: consistent, but short.
    test_db
        .admin()
        .await
        .batch_execute(
            "ALTER TABLE audit_events DISABLE TRIGGER ALL; ALTER TABLE audit_seals DISABLE TRIGGER ALL;
             DELETE FROM audit_events WHERE event_id = 'evt_t_a_4';
             DELETE FROM audit_seals WHERE event_id = 'evt_t_a_4';
             ALTER TABLE audit_events ENABLE TRIGGER ALL; ALTER TABLE audit_seals ENABLE TRIGGER ALL;",
        )
        .await?;
    assert_eq!(
        verify(&test_db, &["--tenant", "t_a"])?.0,
        Some(0),
        "consistent"
    );
    let out = with_checkpoints(&test_db)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("BROKEN  tenant t_a: at chain_seq 4: the chain is shorter than a signed checkpoint (it was rewound or truncated)"),
        "{stdout}"
    );

    // A checkpoint verified with another key is an error, not a pass.
    let other = run(brokerdb()
        .args(["audit", "keygen", "--out"])
        .arg(dir.path().join("other.key")))?;
    let other = String::from_utf8_lossy(&other.stdout).trim().to_owned();
    let out = run(brokerdb()
        .args(["audit", "verify", "--database-url", &test_db.admin_url()])
        .arg("--checkpoints")
        .arg(&checkpoints)
        .args(["--public-key", &other]))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("error: ") && stderr.contains("signature does not verify"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn keygen_refuses_to_overwrite_and_checkpoint_refuses_a_readable_key() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("k");
    assert!(
        run(brokerdb().args(["audit", "keygen", "--out"]).arg(&key))?
            .status
            .success()
    );
    let again = run(brokerdb().args(["audit", "keygen", "--out"]).arg(&key))?;
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("cannot create"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))?;
    let out = run(brokerdb()
        .args(["audit", "checkpoint", "--out", "-", "--key"])
        .arg(&key)
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/x"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("is readable by group or others (mode 644); run chmod 600 on it"),
        "checked before connecting: {stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn rust_log_trace_never_logs_bind_parameters() -> TestResult {
    let (test_db, _db) = seeded().await?;
    let out = run(brokerdb()
        .args([
            "audit",
            "verify",
            "--tenant",
            "t_a",
            "--database-url",
            &test_db.admin_url(),
        ])
        .env("RUST_LOG", "trace"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Before the pin this printed `DEBUG tokio_postgres::query: executing statement s0 with
    // parameters: [...]` for every statement.
    assert!(
        !stderr.contains("tokio_postgres") && !stderr.contains("with parameters"),
        "the driver logged statements or bind parameters: {stderr}"
    );
    Ok(())
}

/// `serve` seals what is appended while it runs, writes a checkpoint on start and every interval
/// when a key and directory are configured, and shows their age on /metrics.
#[tokio::test]
async fn serve_seals_appends_and_writes_periodic_checkpoints() -> TestResult {
    use crate::support::{Served, free_port, http_get};
    let test_db = database().await;
    test_db
        .admin()
        .await
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A')")
        .await?;
    let r = brokerdb_testkit::redis().await;
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("k");
    let out = run(brokerdb().args(["audit", "keygen", "--out"]).arg(&key))?;
    let public = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let checkpoints = dir.path().join("checkpoints");
    let port = free_port()?;
    let child = brokerdb()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--database-url",
            &test_db.admin_url(),
            "--redis-url",
            r.url(),
        ])
        .env("AUDIT_CHECKPOINT_KEY_FILE", &key)
        .env("AUDIT_CHECKPOINT_DIR", &checkpoints)
        .env("AUDIT_CHECKPOINT_INTERVAL", "500ms")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut served = Served { child, port };
    assert_eq!(served.wait_ready(Duration::from_secs(60))?.0, 200);

    let db = test_db.db().await;
    let a = TenantId::parse("t_a")?;
    for i in 0..3 {
        let e = AuditEvent::new(
            EventId::parse(&format!("evt_served_{i}"))?,
            Timestamp::now(),
            a.clone(),
            NonEmptyString::new("correlation_id", "c")?,
            AuditEventType::Execute,
        );
        audit::append(&mut db.tenant(&a), &e).await?;
    }
    let admin = test_db.admin().await;
    let mut sealed = 0i64;
    for _ in 0..100 {
        sealed = admin
            .query_one("SELECT count(*) FROM audit_seals", &[])
            .await?
            .get(0);
        if sealed == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sealed, 3, "the service's sealer sealed the appends");
    tokio::time::sleep(Duration::from_millis(1200)).await; // at least one more checkpoint round
    let (status, metrics) = http_get(port, "/metrics")?;
    assert_eq!(status, 200);
    for expected in [
        "brokerdb_audit_checkpoint_age_seconds ",
        "brokerdb_audit_max_merge_delay_seconds 1",
        "brokerdb_audit_sealed_total{chain=\"tenant\"}",
    ] {
        assert!(metrics.contains(expected), "{expected} not in:\n{metrics}");
    }
    let (exit, stderr) = served.terminate()?;
    assert!(exit.success(), "{stderr}");
    let files = std::fs::read_dir(&checkpoints)?.count();
    assert!(
        files >= 2,
        "a checkpoint on start and per interval: {files}"
    );
    let out = run(brokerdb()
        .args(["audit", "verify", "--database-url", &test_db.admin_url()])
        .arg("--checkpoints")
        .arg(&checkpoints)
        .args(["--public-key", &public]))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ok      tenant t_a: 3 links, extends"),
        "{stdout}"
    );
    Ok(())
}

//! `serve` and `brokerdb worker` run the outbox relay: a template-invalidation signal committed
//! while they run is published on the policy invalidation bus and its row marked delivered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use brokerdb::model::TenantId;
use brokerdb::repo::templates::{self, TemplateInvalidationSignal};
use brokerdb_redis::policy::{PolicyEntityType, PolicyInvalidationBus, PolicyInvalidationEvent};
use brokerdb_redis::{ConnSettings, RedisConn};
use brokerdb_testkit::database;

use crate::TestResult;
use crate::support::{Served, brokerdb, error_lines, free_port, http_get, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_publishes_committed_outbox_rows_and_marks_them_delivered() -> TestResult {
    relays_in("serve").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_publishes_committed_outbox_rows_and_marks_them_delivered() -> TestResult {
    relays_in("worker").await
}

/// Runs `brokerdb <command>` on a fresh database and this test's Redis, commits a signal, and
/// checks it is published once and marked delivered.
async fn relays_in(command: &str) -> TestResult {
    // The default channel is shared by every test on this Redis: a tenant of this test's own.
    let tenant = format!("t_relay_{:08x}", rand::random::<u32>());
    let test_db = database().await;
    test_db
        .admin()
        .await
        .execute(
            "INSERT INTO tenants (tenant_id, name) VALUES ($1, 'Relay')",
            &[&tenant],
        )
        .await?;
    let r = brokerdb_testkit::redis().await;
    let bus = PolicyInvalidationBus::new(
        RedisConn::standalone(r.client(), ConnSettings::default())?,
        None,
    );
    let seen: Arc<Mutex<Vec<PolicyInvalidationEvent>>> = Arc::default();
    let sink = seen.clone();
    let wanted = tenant.clone();
    let _sub = bus
        .subscribe(move |e| {
            if e.tenant_id == wanted {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(e);
            }
        })
        .await?;

    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = brokerdb();
    match command {
        "serve" => cmd.args(["serve", "--listen", &listen]),
        _ => cmd.args(["worker", "--metrics-listen", &listen]),
    };
    let child = cmd
        .args([
            "--database-url",
            &test_db.admin_url(),
            "--redis-url",
            r.url(),
        ])
        .env("OUTBOX_INTERVAL", "20ms")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut served = Served { child, port };
    if command == "serve" {
        assert_eq!(served.wait_ready(Duration::from_secs(60))?.0, 200);
    } else {
        wait_for_metrics(port).await?;
    }

    let db = test_db.db().await;
    let signal = TemplateInvalidationSignal {
        template_id: "tpl_mail".into(),
        version: 3,
        tenant_id: tenant.clone(),
        updated_at: "2026-11-29T12:00:00.000Z".into(),
    };
    templates::persist_invalidation_outbox(&mut db.tenant(&TenantId::parse(&tenant)?), &signal)
        .await?;

    let mut events = Vec::new();
    for _ in 0..200 {
        events = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(events.len(), 1, "one event for the one committed row");
    assert_eq!(events[0].entity_type, PolicyEntityType::TemplateVersion);
    assert_eq!(events[0].entity_id, "tpl_mail");
    let (exit, stderr) = served.terminate()?;
    assert!(exit.success(), "{exit}: {stderr}");
    if command == "worker" {
        assert!(stderr.contains("outbox relay started"), "{stderr}");
    }
    let status: String = test_db
        .admin()
        .await
        .query_one(
            "SELECT status::text FROM template_invalidation_outbox WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?
        .get(0);
    assert_eq!(status, "delivered");
    Ok(())
}

/// Waits until the worker's `/metrics` answers (it is up, its relay running).
async fn wait_for_metrics(port: u16) -> TestResult {
    for _ in 0..600 {
        if http_get(port, "/metrics").is_ok_and(|(code, _)| code == 200) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the worker did not come up within 30 s".into())
}

#[tokio::test]
async fn outbox_list_shows_undelivered_rows_and_retry_sends_failed_ones_again() -> TestResult {
    let test_db = database().await;
    let admin = test_db.admin().await;
    admin
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A')")
        .await?;
    let db = test_db.db().await;
    let a = TenantId::parse("t_a")?;
    for version in [1, 2] {
        let signal = TemplateInvalidationSignal {
            template_id: "tpl_mail".into(),
            version,
            tenant_id: "t_a".into(),
            updated_at: "2026-11-29T12:00:00.000Z".into(),
        };
        templates::persist_invalidation_outbox(&mut db.tenant(&a), &signal).await?;
    }
    // Version 1 ran out of attempts while Redis was down, as the relay leaves such a row.
    let failed: String = admin
        .query_one(
            "UPDATE template_invalidation_outbox
             SET status = 'failed', attempts = 10, last_error = 'unavailable: Redis is unreachable'
             WHERE version = 1 RETURNING id",
            &[],
        )
        .await?
        .get(0);
    let pending: String = admin
        .query_one(
            "SELECT id FROM template_invalidation_outbox WHERE version = 2",
            &[],
        )
        .await?
        .get(0);
    let url = test_db.admin_url();
    let outbox = |args: &[&str]| {
        let mut cmd = brokerdb();
        cmd.arg("outbox").args(args).args(["--database-url", &url]);
        run(&mut cmd)
    };

    let out = outbox(&["list"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "a header and the two undelivered rows:\n{table}"
    );
    assert!(
        lines[0].starts_with("TENANT") && lines[0].contains("LAST_ERROR"),
        "{table}"
    );
    assert!(
        table.contains(&failed) && table.contains(&pending),
        "{table}"
    );
    assert!(
        table.contains("unavailable: Redis is unreachable"),
        "{table}"
    );

    let out = outbox(&["list", "--status", "failed"])?;
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(table.contains(&failed), "{table}");

    for (args, expected) in [
        (
            vec!["retry", pending.as_str()],
            "is not failed: only failed rows can be retried",
        ),
        (
            vec!["retry", "no-such-row"],
            "no outbox row has the id no-such-row",
        ),
    ] {
        let out = outbox(&args)?;
        assert!(!out.status.success(), "{args:?}");
        let (errors, panicked) = error_lines(&out);
        assert!(!panicked);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{args:?}: {errors:?}"
        );
    }
    let out = outbox(&["retry"])?;
    assert_eq!(
        out.status.code(),
        Some(2),
        "an id or --all-failed is required"
    );

    let out = outbox(&["retry", "--all-failed"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 failed row(s) queued for delivery again")
    );
    let row = admin
        .query_one(
            "SELECT status::text, attempts, next_attempt_at <= now()
             FROM template_invalidation_outbox WHERE id = $1",
            &[&failed],
        )
        .await?;
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, i32>(1),
            row.get::<_, bool>(2)
        ),
        ("pending".to_owned(), 0, true)
    );
    Ok(())
}

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
use crate::support::{Served, brokerdb, free_port, http_get};

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

//! Row-level security as the runtime role sees it: fail closed without a tenant, never another
//! tenant's rows with one; the system role sees all; composite keys keep children in their tenant.

use brokerdb_testkit::{TestDatabase, database};
use tokio_postgres::GenericClient;

use crate::{TestResult, db_message, sqlstate};

const SEED: &str = r"
INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'Tenant A'), ('t_b', 'Tenant B');
INSERT INTO workloads (workload_id, tenant_id, name, mtls_san_uri, enabled)
VALUES ('w_a', 't_a', 'api', 'spiffe://broker/tenants/t_a/workloads/w_a', TRUE),
       ('w_b', 't_b', 'api', 'spiffe://broker/tenants/t_b/workloads/w_b', TRUE);
INSERT INTO human_users (user_id, tenant_id, email) VALUES ('u_a', 't_a', 'a@example.com'), ('u_b', 't_b', 'b@example.com');
";

async fn seeded() -> Result<TestDatabase, Box<dyn std::error::Error>> {
    let db = database().await;
    db.admin().await.batch_execute(SEED).await?;
    Ok(db)
}

async fn count(client: &impl GenericClient, table: &str) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await?
        .get(0))
}

#[tokio::test]
async fn without_a_tenant_the_runtime_role_sees_no_rows_and_cannot_insert() -> TestResult {
    let db = seeded().await?;
    let app = db.runtime().await;
    for table in ["tenants", "workloads", "human_users"] {
        assert_eq!(
            count(&app, table).await?,
            0,
            "{table} visible without a tenant"
        );
    }
    let err = app
        .execute("INSERT INTO human_users (user_id, tenant_id, email) VALUES ('u_x', 't_a', 'x@example.com')", &[])
        .await
        .err()
        .ok_or("insert without a tenant succeeded")?;
    assert_eq!(sqlstate(&err), Some("42501"));
    assert_eq!(
        db_message(&err),
        r#"new row violates row-level security policy for table "human_users""#
    );
    assert_eq!(count(&db.admin().await, "human_users").await?, 2);
    Ok(())
}

#[tokio::test]
async fn with_tenant_a_set_a_query_without_where_sees_only_tenant_a_and_cannot_touch_tenant_b()
-> TestResult {
    let db = seeded().await?;
    let mut app = db.runtime().await;
    let tx = app.transaction().await?;
    tx.execute("SELECT set_config('brokerdb.tenant_id', 't_a', true)", &[])
        .await?;

    let seen: Vec<String> = tx
        .query("SELECT tenant_id FROM workloads", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seen, ["t_a"]);
    let seen: Vec<String> = tx
        .query("SELECT tenant_id FROM tenants", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seen, ["t_a"]);
    assert_eq!(
        tx.execute(
            "UPDATE workloads SET name = 'stolen' WHERE workload_id = 'w_b'",
            &[]
        )
        .await?,
        0
    );
    assert_eq!(
        tx.execute("DELETE FROM human_users WHERE user_id = 'u_b'", &[])
            .await?,
        0
    );
    assert_eq!(
        tx.execute("UPDATE workloads SET enabled = FALSE", &[])
            .await?,
        1,
        "only A's row is updatable"
    );

    let moved = tx
        .execute(
            "UPDATE human_users SET tenant_id = 't_b' WHERE user_id = 'u_a'",
            &[],
        )
        .await
        .err();
    assert_eq!(
        moved.as_ref().and_then(sqlstate),
        Some("42501"),
        "moving a row to tenant B must be refused"
    );
    tx.rollback().await?;

    let tx = app.transaction().await?;
    tx.execute("SELECT set_config('brokerdb.tenant_id', 't_a', true)", &[])
        .await?;
    let err = tx
        .execute("INSERT INTO human_users (user_id, tenant_id, email) VALUES ('u_x', 't_b', 'x@example.com')", &[])
        .await
        .err()
        .ok_or("inserted a row for tenant B with tenant A set")?;
    assert_eq!(sqlstate(&err), Some("42501"));
    tx.rollback().await?;

    let admin = db.admin().await;
    let b: (String, bool) = {
        let r = admin
            .query_one(
                "SELECT name, enabled FROM workloads WHERE workload_id = 'w_b'",
                &[],
            )
            .await?;
        (r.get(0), r.get(1))
    };
    assert_eq!(b, ("api".to_owned(), true), "tenant B's workload changed");
    assert_eq!(count(&admin, "human_users").await?, 2);
    Ok(())
}

#[tokio::test]
async fn the_tenant_setting_ends_with_its_transaction() -> TestResult {
    let db = seeded().await?;
    let mut app = db.runtime().await;
    let tx = app.transaction().await?;
    tx.execute("SELECT set_config('brokerdb.tenant_id', 't_a', true)", &[])
        .await?;
    assert_eq!(count(&tx, "workloads").await?, 1);
    tx.commit().await?;
    // Same connection, next transaction: nothing visible (a pooled connection never leaks scope).
    assert_eq!(count(&app, "workloads").await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_system_role_sees_every_tenant() -> TestResult {
    let db = seeded().await?;
    let system = db.system().await;
    assert_eq!(count(&system, "workloads").await?, 2);
    assert_eq!(count(&system, "tenants").await?, 2);
    Ok(())
}

#[tokio::test]
async fn the_runtime_role_cannot_read_global_admin_tables() -> TestResult {
    let db = seeded().await?;
    let app = db.runtime().await;
    for table in [
        "admin_identities",
        "admin_access_requests",
        "manifest_signing_keys",
        "admin_identity_tenant_scopes",
    ] {
        let err = app
            .query(&format!("SELECT 1 FROM {table}"), &[])
            .await
            .err()
            .ok_or(format!("{table} readable"))?;
        assert_eq!(
            db_message(&err),
            format!("permission denied for table {table}")
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_child_row_cannot_reference_another_tenants_parent() -> TestResult {
    let db = seeded().await?;
    let admin = db.admin().await;
    let err = admin
        .execute(
            "INSERT INTO enrollment_tokens (token_hash, workload_id, tenant_id, expires_at)
             VALUES (repeat('a', 64), 'w_b', 't_a', now() + interval '1 hour')",
            &[],
        )
        .await
        .err()
        .ok_or("token of tenant A bound to tenant B's workload")?;
    assert_eq!(sqlstate(&err), Some("23503"));
    Ok(())
}

#[tokio::test]
async fn a_secret_must_name_an_existing_version_when_its_transaction_commits() -> TestResult {
    let db = seeded().await?;
    let mut admin = db.admin().await;
    admin
        .batch_execute(
            "INSERT INTO integrations (integration_id, tenant_id, provider, name, template_id, enabled)
             VALUES ('int_a', 't_a', 'acme', 'acme', 'tpl_acme', TRUE)",
        )
        .await?;
    let secret = "INSERT INTO secrets (secret_ref, tenant_id, integration_id, type, active_version)
                  VALUES ('sec_a', 't_a', 'int_a', 'api_key', 1)";
    let version = "INSERT INTO secret_versions (tenant_id, secret_ref, version, key_id, content_encryption_alg,
                      key_encryption_alg, wrapped_data_key_b64, iv_b64, ciphertext_b64, auth_tag_b64)
                   VALUES ('t_a', 'sec_a', 1, 'kek', 'A256GCM', 'RSA-OAEP-256', 'AAAA', 'AAAA', 'AAAA', 'AAAA')";

    let tx = admin.transaction().await?;
    tx.batch_execute(secret).await?;
    let err = tx
        .commit()
        .await
        .err()
        .ok_or("a secret without its active version committed")?;
    assert_eq!(sqlstate(&err), Some("23503"));

    let tx = admin.transaction().await?;
    tx.batch_execute(secret).await?; // parent first, version second: the FK is deferred
    tx.batch_execute(version).await?;
    tx.commit().await?;
    assert_eq!(count(&admin, "secret_versions").await?, 1);
    Ok(())
}

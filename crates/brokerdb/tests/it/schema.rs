//! Schema invariants read from the catalogue: tenancy columns, foreign keys, indexes, RLS,
//! append-only audit tables, `updated_at` triggers.

use brokerdb_testkit::database;

use crate::{TestResult, db_message};

/// The 24 tables of the data model (`crates/brokerdb/migrations/README.md` lists them).
const SPEC_TABLES: [&str; 24] = [
    "tenants",
    "admin_signup_policy",
    "admin_identities",
    "admin_identity_role_bindings",
    "admin_identity_tenant_scopes",
    "admin_access_requests",
    "human_users",
    "human_user_roles",
    "workloads",
    "enrollment_tokens",
    "workload_sessions",
    "integrations",
    "secrets",
    "secret_versions",
    "manifest_signing_keys",
    "manifest_keyset_metadata",
    "crypto_verification_defaults",
    "template_versions",
    "policy_rules",
    "approval_requests",
    "audit_events",
    "ssrf_guard_decisions",
    "template_invalidation_outbox",
    "audit_redaction_profiles",
];

const APPEND_ONLY: [&str; 2] = ["audit_events", "ssrf_guard_decisions"];

#[tokio::test]
async fn every_table_of_the_data_model_exists() -> TestResult {
    let db = database().await;
    let client = db.admin().await;
    let rows = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await?;
    let present: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let missing: Vec<&str> = SPEC_TABLES
        .iter()
        .copied()
        .filter(|t| !present.iter().any(|p| p == t))
        .collect();
    assert!(missing.is_empty(), "missing tables: {missing:?}");
    Ok(())
}

/// For every table with a `tenant_id` column: (table, not null, fk to tenants, index leading
/// with tenant_id, rls enabled, rls forced).
const TENANCY_FACTS: &str = r"
SELECT c.relname::text,
       a.attnotnull,
       EXISTS (SELECT 1 FROM pg_constraint f
                WHERE f.conrelid = c.oid AND f.contype = 'f'
                  AND f.confrelid = 'public.tenants'::regclass
                  AND f.conkey = ARRAY[a.attnum]) AS fk_to_tenants,
       EXISTS (SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum) AS leading_index,
       c.relrowsecurity,
       c.relforcerowsecurity
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
 WHERE c.relkind = 'r'
 ORDER BY 1";

#[tokio::test]
async fn every_tenant_id_is_not_null_references_tenants_is_indexed_first_and_rls_is_forced()
-> TestResult {
    let db = database().await;
    let client = db.admin().await;
    let rows = client.query(TENANCY_FACTS, &[]).await?;
    assert!(
        rows.len() >= 17,
        "only {} tables have tenant_id",
        rows.len()
    );
    let mut violations = Vec::new();
    for row in &rows {
        let table: String = row.get(0);
        let facts = [
            // API tokens and jobs are global data whose tenant is optional (none: a system
            // token, a job about no tenant).
            (
                "NOT NULL",
                row.get::<_, bool>(1) || table == "api_tokens" || table == "jobs",
            ),
            ("FK to tenants", row.get::<_, bool>(2) || table == "tenants"),
            ("index leading with tenant_id", row.get::<_, bool>(3)),
            ("RLS enabled", row.get::<_, bool>(4)),
            ("RLS forced", row.get::<_, bool>(5)),
        ];
        for (what, holds) in facts {
            if !holds {
                violations.push(format!("{table}: {what}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "tenancy invariants broken: {violations:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn every_table_with_updated_at_has_the_touch_trigger() -> TestResult {
    let db = database().await;
    let client = db.admin().await;
    let rows = client
        .query(
            r"SELECT c.relname::text FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at'
               WHERE c.relkind = 'r'
                 AND NOT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                                  WHERE t.tgrelid = c.oid AND p.proname = 'brokerdb_touch_updated_at')",
            &[],
        )
        .await?;
    let missing: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert!(
        missing.is_empty(),
        "tables without the updated_at trigger: {missing:?}"
    );
    Ok(())
}

/// Tenant `t_a` with one row in each append-only table.
async fn seed_append_only_rows(admin: &tokio_postgres::Client) -> TestResult {
    admin
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A')")
        .await?;
    seed_audit_event(admin, "t_a").await?;
    seed_ssrf_decision(admin, "t_a").await
}

async fn seed_audit_event(client: &tokio_postgres::Client, tenant: &str) -> TestResult {
    client
        .execute(
            r"INSERT INTO audit_events (event_id, tenant_id, timestamp, correlation_id, event_type, event_json)
              VALUES ('ev_' || $1, $1, now(), 'corr', 'execute', '{}')",
            &[&tenant],
        )
        .await?;
    Ok(())
}

async fn seed_ssrf_decision(client: &tokio_postgres::Client, tenant: &str) -> TestResult {
    client
        .execute(
            r"INSERT INTO ssrf_guard_decisions (event_id, timestamp, tenant_id, workload_id, integration_id,
                 template_id, template_version, destination_host, destination_port, resolved_ips,
                 decision, reason_code, correlation_id)
              VALUES ('ssrf_' || $1, now(), $1, 'w', 'i', 'tpl_x', 1, 'api.example.com', 443,
                      ARRAY['93.184.216.34'], 'allowed', 'invalid_input', 'corr')",
            &[&tenant],
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn the_runtime_role_has_no_update_or_delete_grant_on_audit_tables() -> TestResult {
    let db = database().await;
    let admin = db.admin().await;
    seed_append_only_rows(&admin).await?;
    let mut app = db.runtime().await;
    for table in APPEND_ONLY {
        for stmt in [
            format!("UPDATE {table} SET correlation_id = 'x'"),
            format!("DELETE FROM {table}"),
        ] {
            let tx = app.transaction().await?;
            tx.execute("SELECT set_config('brokerdb.tenant_id', 't_a', true)", &[])
                .await?;
            let err = tx
                .batch_execute(&stmt)
                .await
                .err()
                .ok_or(format!("{stmt} succeeded as brokerdb_app"))?;
            assert_eq!(
                db_message(&err),
                format!("permission denied for table {table}"),
                "{stmt}"
            );
            tx.rollback().await?;
        }
        // Appending is allowed.
        let grants = admin
            .query_one(
                "SELECT has_any_column_privilege('brokerdb_app', $1, 'INSERT'), has_table_privilege('brokerdb_app', $1, 'SELECT')",
                &[&table],
            )
            .await?;
        assert!(
            grants.get::<_, bool>(0) && grants.get::<_, bool>(1),
            "{table}: runtime must append and read"
        );
    }
    Ok(())
}

#[tokio::test]
async fn append_only_triggers_fire_even_for_a_superuser() -> TestResult {
    let db = database().await;
    let admin = db.admin().await;
    seed_append_only_rows(&admin).await?;
    for table in APPEND_ONLY {
        for stmt in [
            format!("UPDATE {table} SET correlation_id = 'x'"),
            format!("DELETE FROM {table}"),
            format!("TRUNCATE {table}"),
        ] {
            let err = admin
                .batch_execute(&stmt)
                .await
                .err()
                .ok_or(format!("{stmt} succeeded as superuser"))?;
            assert_eq!(
                db_message(&err),
                format!("{table} is append-only"),
                "{stmt}"
            );
        }
        let count: i64 = admin
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await?
            .get(0);
        assert_eq!(count, 1, "{table} lost its row");
    }
    Ok(())
}

/// Every table `brokerdb_forbid_mutation()` guards, with what it refuses: (table, row UPDATE, row
/// DELETE, TRUNCATE), each fired BEFORE. A new append-only table is added here.
const FORBID_MUTATION_FACTS: &str = r"
SELECT c.relname::text,
       bool_or(t.tgtype & 1 = 1 AND t.tgtype & 2 = 2 AND t.tgtype & 16 = 16),
       bool_or(t.tgtype & 1 = 1 AND t.tgtype & 2 = 2 AND t.tgtype & 8 = 8),
       bool_or(t.tgtype & 1 = 0 AND t.tgtype & 2 = 2 AND t.tgtype & 32 = 32)
  FROM pg_trigger t
  JOIN pg_proc p ON p.oid = t.tgfoid AND p.proname = 'brokerdb_forbid_mutation'
  JOIN pg_class c ON c.oid = t.tgrelid
 WHERE t.tgenabled <> 'D'
 GROUP BY 1 ORDER BY 1";

#[tokio::test]
async fn the_append_only_tables_refuse_update_delete_and_truncate_by_trigger() -> TestResult {
    let db = database().await;
    let rows = db.admin().await.query(FORBID_MUTATION_FACTS, &[]).await?;
    let facts: Vec<(String, bool, bool, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let expected: Vec<(String, bool, bool, bool)> = [
        "audit_events",
        "audit_seals",
        "db_repair_runs",
        // The project store's MCP audit log (the `projects` migration set).
        "mcp_audit_log",
        "ssrf_guard_decisions",
        "system_audit_events",
        "system_audit_seals",
    ]
    .into_iter()
    .map(|t| (t.to_owned(), true, true, true))
    .collect();
    assert_eq!(facts, expected, "(table, UPDATE, DELETE, TRUNCATE refused)");
    Ok(())
}

/// PostgreSQL enums the code only names inside SQL (no Rust type reads or writes them).
const SQL_ONLY_ENUMS: &[&str] = &["template_invalidation_outbox_status", "template_status"];

/// PostgreSQL enums of the `projects` migration set: crate brokerdb-projects checks its own.
const PROJECT_STORE_ENUMS: &[&str] = &["artifact_type", "mcp_result", "webhook_source"];

#[tokio::test]
async fn every_rust_label_enum_has_the_labels_of_its_postgresql_enum_in_order() -> TestResult {
    let db = database().await;
    let rows = db
        .admin()
        .await
        .query(
            "SELECT t.typname::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
             FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
             WHERE t.typnamespace = 'public'::regnamespace GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await?;
    let in_db: std::collections::BTreeMap<String, Vec<String>> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut covered = std::collections::BTreeSet::new();
    for (pg_type, labels) in brokerdb::model::PG_ENUMS {
        let pg_type = pg_type.ok_or("a label enum in PG_ENUMS names no PostgreSQL type")?;
        assert_eq!(
            in_db.get(pg_type).map(Vec::as_slice),
            Some(
                labels
                    .iter()
                    .map(|l| (*l).to_owned())
                    .collect::<Vec<_>>()
                    .as_slice()
            ),
            "{pg_type}"
        );
        covered.insert(pg_type.to_owned());
    }
    let uncovered: Vec<&String> = in_db
        .keys()
        .filter(|t| {
            !covered.contains(*t)
                && !SQL_ONLY_ENUMS.contains(&t.as_str())
                && !PROJECT_STORE_ENUMS.contains(&t.as_str())
        })
        .collect();
    assert!(
        uncovered.is_empty(),
        "PostgreSQL enums without a label enum: {uncovered:?}"
    );
    Ok(())
}

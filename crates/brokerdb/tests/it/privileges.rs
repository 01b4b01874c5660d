//! The privilege model, asserted as invariants: each runtime role's exact privileges, no
//! SECURITY DEFINER function without a safe search_path, nothing owned or creatable by a runtime
//! role, and the owner-escalation attack of the security review replayed as each runtime role.
//! Adding a grant or a definer function means changing this file.

use brokerdb::audit;
use brokerdb::conninfo::ConnInfo;
use brokerdb::db::{ConnectError, PoolRole, pool};
use brokerdb::prelude::*;
use brokerdb_testkit::{TestDatabase, database};

use crate::support::{Error, TestResult, db_message, seeded, sqlstate, tenant, text};

/// Every privilege `$1` holds in this database, one line per object, sorted.
const PRIVILEGES: &str = r"WITH r AS (SELECT $1::text AS role),
tbl AS (
  SELECT 'table ' || c.relname || ': ' || string_agg(p.priv, ', ' ORDER BY p.priv) AS line
  FROM pg_class c CROSS JOIN unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p(priv), r
  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r','p','v','m','f')
    AND has_table_privilege(r.role, c.oid, p.priv)
  GROUP BY c.relname),
col AS (
  SELECT 'columns ' || x.relname || ' ' || x.priv || ': ' || x.cols AS line FROM (
   SELECT c.relname, p.priv, string_agg(a.attname, ', ' ORDER BY a.attnum) cols
   FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
   CROSS JOIN unnest(ARRAY['SELECT','INSERT','UPDATE','REFERENCES']) p(priv), r
   WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r','p','v','m','f')
     AND NOT has_table_privilege(r.role, c.oid, p.priv) AND has_column_privilege(r.role, c.oid, a.attnum, p.priv)
   GROUP BY 1,2) x),
seq AS (
  SELECT 'sequence ' || c.relname || ': ' || string_agg(p.priv, ', ' ORDER BY p.priv)
  FROM pg_class c CROSS JOIN unnest(ARRAY['USAGE','SELECT','UPDATE']) p(priv), r
  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S' AND has_sequence_privilege(r.role, c.oid, p.priv)
  GROUP BY c.relname),
fn AS (
  SELECT 'function ' || p.oid::regprocedure::text || ': EXECUTE' FROM pg_proc p, r
  WHERE p.pronamespace = 'public'::regnamespace AND has_function_privilege(r.role, p.oid, 'EXECUTE')),
sch AS (
  SELECT 'schema ' || n.nspname || ': ' || string_agg(p.priv, ', ' ORDER BY p.priv)
  FROM pg_namespace n CROSS JOIN unnest(ARRAY['USAGE','CREATE']) p(priv), r
  WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND has_schema_privilege(r.role, n.oid, p.priv)
  GROUP BY n.nspname),
dbp AS (
  SELECT 'database: ' || string_agg(p.priv, ', ' ORDER BY p.priv)
  FROM unnest(ARRAY['CONNECT','TEMPORARY','CREATE']) p(priv), r
  WHERE has_database_privilege(r.role, current_database(), p.priv))
SELECT * FROM tbl UNION ALL SELECT * FROM col UNION ALL SELECT * FROM seq UNION ALL SELECT * FROM fn UNION ALL SELECT * FROM sch UNION ALL SELECT * FROM dbp ORDER BY 1";

/// What `brokerdb_app` (the tenant scope) may do, and nothing more.
const RUNTIME_PRIVILEGES: &[&str] = &[
    "columns audit_events INSERT: event_id, tenant_id, timestamp, workload_id, integration_id, correlation_id, event_type, decision, action_group, risk_tier, upstream_status_code, latency_ms, event_json",
    "database: CONNECT",
    "schema public: USAGE",
    "table approval_requests: DELETE, INSERT, SELECT, UPDATE",
    "table artifacts: DELETE, INSERT, SELECT, UPDATE",
    "table audit_events: SELECT",
    "table audit_redaction_profiles: DELETE, INSERT, SELECT, UPDATE",
    "table brokerdb_schema_migrations: SELECT",
    "table crypto_verification_defaults: DELETE, INSERT, SELECT, UPDATE",
    "table enrollment_tokens: DELETE, INSERT, SELECT, UPDATE",
    "table human_user_roles: DELETE, INSERT, SELECT, UPDATE",
    "table human_users: DELETE, INSERT, SELECT, UPDATE",
    "table integrations: DELETE, INSERT, SELECT, UPDATE",
    "table mcp_audit_log: INSERT, SELECT",
    "table policy_rules: DELETE, INSERT, SELECT, UPDATE",
    "table projects: DELETE, INSERT, SELECT, UPDATE",
    "table secret_versions: DELETE, INSERT, SELECT, UPDATE",
    "table secrets: DELETE, INSERT, SELECT, UPDATE",
    "table ssrf_guard_decisions: INSERT, SELECT",
    "table template_invalidation_outbox: DELETE, INSERT, SELECT, UPDATE",
    "table template_versions: DELETE, INSERT, SELECT, UPDATE",
    "table tenants: SELECT, UPDATE",
    "table webhook_events: DELETE, INSERT, SELECT, UPDATE",
    "table workload_sessions: DELETE, INSERT, SELECT, UPDATE",
    "table workloads: DELETE, INSERT, SELECT, UPDATE",
];

/// What `brokerdb_system` (the system scope, BYPASSRLS) may do, and nothing more.
const SYSTEM_PRIVILEGES: &[&str] = &[
    "columns api_tokens UPDATE: last_used_at, revoked_at",
    "columns audit_events INSERT: event_id, tenant_id, timestamp, workload_id, integration_id, correlation_id, event_type, decision, action_group, risk_tier, upstream_status_code, latency_ms, event_json",
    "columns jobs UPDATE: status, attempts, run_at, locked_until, lock_token, last_error, updated_at, finished_at",
    "columns system_audit_events INSERT: event_id, timestamp, actor, action, correlation_id, event_json",
    "database: CONNECT",
    "schema public: USAGE",
    "table admin_access_requests: DELETE, INSERT, SELECT, UPDATE",
    "table admin_identities: DELETE, INSERT, SELECT, UPDATE",
    "table admin_identity_role_bindings: DELETE, INSERT, SELECT, UPDATE",
    "table admin_identity_tenant_scopes: DELETE, INSERT, SELECT, UPDATE",
    "table admin_signup_policy: DELETE, INSERT, SELECT, UPDATE",
    "table api_tokens: INSERT, SELECT",
    "table approval_requests: DELETE, INSERT, SELECT, UPDATE",
    "table artifacts: DELETE, INSERT, SELECT, UPDATE",
    "table audit_events: SELECT",
    "table audit_redaction_profiles: DELETE, INSERT, SELECT, UPDATE",
    "table audit_sealer_lock: SELECT, UPDATE",
    "table audit_seals: INSERT, SELECT",
    "table brokerdb_schema_migrations: SELECT",
    "table crypto_verification_defaults: DELETE, INSERT, SELECT, UPDATE",
    "table db_repair_runs: INSERT, SELECT",
    "table enrollment_tokens: DELETE, INSERT, SELECT, UPDATE",
    "table human_user_roles: DELETE, INSERT, SELECT, UPDATE",
    "table human_users: DELETE, INSERT, SELECT, UPDATE",
    "table integrations: DELETE, INSERT, SELECT, UPDATE",
    "table jobs: DELETE, INSERT, SELECT",
    "table manifest_keyset_metadata: DELETE, INSERT, SELECT, UPDATE",
    "table manifest_signing_keys: DELETE, INSERT, SELECT, UPDATE",
    "table mcp_audit_log: INSERT, SELECT",
    "table policy_rules: DELETE, INSERT, SELECT, UPDATE",
    "table projects: DELETE, INSERT, SELECT, UPDATE",
    "table secret_versions: DELETE, INSERT, SELECT, UPDATE",
    "table secrets: DELETE, INSERT, SELECT, UPDATE",
    "table ssrf_guard_decisions: INSERT, SELECT",
    "table system_audit_events: SELECT",
    "table system_audit_seals: INSERT, SELECT",
    "table template_invalidation_outbox: DELETE, INSERT, SELECT, UPDATE",
    "table template_versions: DELETE, INSERT, SELECT, UPDATE",
    "table tenants: DELETE, INSERT, SELECT, UPDATE",
    "table webhook_events: DELETE, INSERT, SELECT, UPDATE",
    "table workload_sessions: DELETE, INSERT, SELECT, UPDATE",
    "table workloads: DELETE, INSERT, SELECT, UPDATE",
];

async fn privileges_of(
    db: &TestDatabase,
    role: &str,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = db.admin().await.query(PRIVILEGES, &[&role]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[tokio::test]
async fn the_tenant_role_holds_exactly_its_privileges() -> TestResult {
    let db = database().await;
    assert_eq!(
        privileges_of(&db, "brokerdb_app").await?,
        RUNTIME_PRIVILEGES
    );
    Ok(())
}

#[tokio::test]
async fn the_system_role_holds_exactly_its_privileges() -> TestResult {
    let db = database().await;
    assert_eq!(
        privileges_of(&db, "brokerdb_system").await?,
        SYSTEM_PRIVILEGES
    );
    Ok(())
}

#[tokio::test]
async fn every_security_definer_function_pins_a_search_path_ending_in_pg_temp() -> TestResult {
    let db = database().await;
    let rows = db
        .admin()
        .await
        .query(
            "SELECT p.oid::regprocedure::text, p.prosecdef,
                    (SELECT c FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
             FROM pg_proc p
             WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
               AND (p.prosecdef OR p.proconfig IS NOT NULL)
             ORDER BY 1",
            &[],
        )
        .await?;
    let mut definers = Vec::new();
    for row in &rows {
        let (name, definer, path): (String, bool, Option<String>) =
            (row.get(0), row.get(1), row.get(2));
        if definer {
            definers.push(name.clone());
        }
        assert_eq!(
            path.as_deref(),
            Some("search_path=pg_catalog, public, pg_temp"),
            "{name}: a function that pins its search_path must search pg_temp last"
        );
    }
    assert!(
        definers.is_empty(),
        "no function runs as its owner; a new one must pin its search_path: {definers:?}"
    );
    let unpinned: i64 = db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM pg_proc p WHERE p.prosecdef
               AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                               WHERE c LIKE 'search_path=%' AND c LIKE '%pg_temp')",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(
        unpinned, 0,
        "SECURITY DEFINER without pg_temp last, anywhere"
    );
    Ok(())
}

#[tokio::test]
async fn no_runtime_role_owns_creates_or_inherits_anything() -> TestResult {
    let db = database().await;
    let row = db
        .admin()
        .await
        .query_one(
            "SELECT
               (SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname IN ('brokerdb_app', 'brokerdb_system'))
             + (SELECT count(*) FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner WHERE r.rolname IN ('brokerdb_app', 'brokerdb_system'))
             + (SELECT count(*) FROM pg_type t JOIN pg_roles r ON r.oid = t.typowner WHERE r.rolname IN ('brokerdb_app', 'brokerdb_system'))
             + (SELECT count(*) FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE r.rolname IN ('brokerdb_app', 'brokerdb_system'))
             + (SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname IN ('brokerdb_app', 'brokerdb_system')),
             (SELECT count(*) FROM pg_namespace n, pg_roles r
               WHERE r.rolname IN ('brokerdb_app', 'brokerdb_system') AND has_schema_privilege(r.oid, n.oid, 'CREATE')),
             (SELECT count(*) FROM pg_roles r
               WHERE r.rolname IN ('brokerdb_app', 'brokerdb_system')
                 AND has_database_privilege(r.oid, current_database(), 'TEMPORARY')),
             (SELECT count(*) FROM pg_roles r
               WHERE r.rolname IN ('brokerdb_app', 'brokerdb_system')
                 AND pg_has_role(r.oid, 'brokerdb_owner', 'MEMBER')),
             (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'brokerdb_owner'),
             (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'brokerdb_app'),
             (SELECT rolsuper FROM pg_roles WHERE rolname = 'brokerdb_system')",
            &[],
        )
        .await?;
    let facts: (i64, i64, i64, i64, bool, bool, bool) = (
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
        row.get(6),
    );
    assert_eq!(
        facts,
        (0, 0, 0, 0, false, false, false),
        "(owned objects, schemas creatable, TEMPORARY, owner membership, owner can log in, \
         runtime bypasses RLS, system is superuser)"
    );
    Ok(())
}

/// The review's attack, first step: a runtime role plants a temporary table to shadow one a
/// privileged function uses. Refused outright.
#[tokio::test]
async fn a_runtime_role_cannot_create_the_temporary_table_the_attack_needs() -> TestResult {
    let db = database().await;
    for client in [db.runtime().await, db.system().await] {
        let err = client
            .batch_execute(
                "CREATE TEMP TABLE audit_chain_heads (tenant_id text, chain_seq bigint, hash text)",
            )
            .await
            .err()
            .ok_or("a runtime role created a temporary table")?;
        assert_eq!(sqlstate(&err), Some("42501"));
        assert!(
            db_message(&err).starts_with("permission denied to create temporary tables"),
            "{err}"
        );
    }
    Ok(())
}

/// Even where a DBA wrongly granted TEMPORARY back, the attack goes nowhere: an append runs no
/// trigger and no function as another role, so a shadow of the seals table in the appender's
/// session is never touched, and the event is sealed in the real chain.
#[tokio::test]
async fn the_shadow_table_attack_with_temporary_regranted_runs_nothing_and_uses_the_real_seals()
-> TestResult {
    let (test_db, db) = seeded().await?;
    let admin = test_db.admin().await;
    let grant = format!(
        "GRANT TEMPORARY ON DATABASE \"{}\" TO brokerdb_app, brokerdb_system",
        test_db.name()
    );
    admin.batch_execute(&grant).await?;
    let payload = |seals: &str| {
        format!(
            "CREATE TEMP TABLE {seals} (tenant_id text, chain_seq bigint, event_id text, prev_hash text, hash text);
             GRANT ALL ON {seals} TO PUBLIC;
             CREATE FUNCTION pg_temp.evil() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 ALTER TABLE public.workloads DISABLE ROW LEVEL SECURITY;
                 GRANT DELETE ON public.audit_events TO brokerdb_app;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER evil BEFORE INSERT ON {seals} FOR EACH ROW EXECUTE FUNCTION pg_temp.evil();"
        )
    };
    // The tenant role shadows the tenant seals and appends its own event on that session.
    let runtime = test_db.runtime().await;
    runtime.batch_execute(&payload("audit_seals")).await?;
    runtime
        .batch_execute(
            "BEGIN; SELECT set_config('brokerdb.tenant_id', 't_a', true);
             INSERT INTO audit_events (event_id, tenant_id, timestamp, correlation_id, event_type, event_json)
             VALUES ('evt_attack_app', 't_a', now(), 'c', 'execute', '{}');
             COMMIT;",
        )
        .await?;
    let shadowed: i64 = runtime
        .query_one("SELECT count(*) FROM pg_temp.audit_seals", &[])
        .await?
        .get(0);
    // The system role does the same with the system seals.
    let system = test_db.system().await;
    system.batch_execute(&payload("system_audit_seals")).await?;
    system
        .batch_execute(
            "INSERT INTO system_audit_events (event_id, timestamp, actor, action, correlation_id, event_json)
             VALUES ('evt_attack_system', now(), 'a', 'x', 'c', '{}')",
        )
        .await?;
    let shadowed_system: i64 = system
        .query_one("SELECT count(*) FROM pg_temp.system_audit_seals", &[])
        .await?
        .get(0);
    audit::seal_pending(&db.system(), audit::DEFAULT_BATCH).await?;
    assert_eq!(
        (shadowed, shadowed_system),
        (0, 0),
        "the shadow tables were never used"
    );
    let row = admin
        .query_one(
            "SELECT (SELECT relrowsecurity FROM pg_class WHERE oid = 'public.workloads'::regclass),
                    has_table_privilege('brokerdb_app', 'public.audit_events', 'DELETE'),
                    (SELECT count(*) FROM audit_seals WHERE event_id = 'evt_attack_app'),
                    (SELECT count(*) FROM system_audit_seals WHERE event_id = 'evt_attack_system')",
            &[],
        )
        .await?;
    let outcome: (bool, bool, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        outcome,
        (true, false, 1, 1),
        "(RLS still on, no DELETE gained, both events sealed in the real chains)"
    );
    let opts = audit::VerifyOptions::default();
    assert!(
        audit::verify_tenant_chain(&db.system(), &tenant("t_a")?, &opts)
            .await?
            .is_valid()
    );
    assert!(
        audit::verify_system_chain(&db.system(), &opts)
            .await?
            .is_valid()
    );
    Ok(())
}

/// A throwaway login role with `attributes`, dropped by the caller.
async fn throwaway_role(db: &TestDatabase, attributes: &str) -> Result<(String, ConnInfo), Error> {
    let name = format!("brokerdb_test_{:016x}", rand::random::<u64>());
    // The name is generated here; the attributes are literals of this file.
    db.admin()
        .await
        .batch_execute(&format!("CREATE ROLE {name} LOGIN {attributes}"))
        .await?;
    let mut cfg = db.admin_config();
    cfg.config.user(&name);
    Ok((name, cfg))
}

async fn drop_role(db: &TestDatabase, name: &str) -> Result<(), tokio_postgres::Error> {
    db.admin()
        .await
        .batch_execute(&format!("DROP OWNED BY {name}; DROP ROLE {name}"))
        .await
}

async fn connect_with(runtime: &ConnInfo, system: &ConnInfo) -> Result<Db, Error> {
    let (runtime, system) = (pool::build(runtime, 1)?, pool::build(system, 1)?);
    Ok(Db::from_pools(runtime, system, Default::default(), CursorKey::random()).await?)
}

fn refused(result: Result<Db, Error>) -> Option<(PoolRole, String)> {
    match result.err()?.downcast_ref::<ConnectError>()? {
        e @ ConnectError::UnsafeRole { pool, .. } => Some((*pool, e.to_string())),
        _ => None,
    }
}

#[tokio::test]
async fn db_connect_refuses_a_superuser_runtime_pool_saying_which_role_to_use() -> TestResult {
    let db = database().await;
    let (system, admin) = (db.system_config(), db.admin_config());
    let (pool, message) =
        refused(connect_with(&admin, &system).await).ok_or("superuser runtime pool accepted")?;
    assert_eq!(pool, PoolRole::Runtime);
    assert!(
        message.starts_with(&format!(
            "the runtime pool connects to database {} as postgres, a superuser, which ignores row-level security",
            db.name()
        )) && message.ends_with("connect it as brokerdb_app (created by `brokerdb migrate`)"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn db_connect_refuses_pools_whose_roles_would_switch_isolation_off() -> TestResult {
    let db = database().await;
    let (runtime, system, admin) = (db.runtime_config(), db.system_config(), db.admin_config());
    let (bypass, bypass_cfg) = throwaway_role(&db, "BYPASSRLS").await?;
    let (member, member_cfg) = throwaway_role(&db, "IN ROLE brokerdb_owner").await?;
    let (owner, owner_cfg) = throwaway_role(&db, "").await?;
    db.admin()
        .await
        .batch_execute(&format!("CREATE TABLE public.owned_by_test (x int); ALTER TABLE public.owned_by_test OWNER TO {owner}"))
        .await?;
    let cases = [
        (
            &bypass_cfg,
            &system,
            PoolRole::Runtime,
            "a role with BYPASSRLS",
        ),
        (
            &member_cfg,
            &system,
            PoolRole::Runtime,
            "a member of brokerdb_owner",
        ),
        (
            &owner_cfg,
            &system,
            PoolRole::Runtime,
            "the owner of the schema's tables",
        ),
        (&runtime, &admin, PoolRole::System, "a superuser"),
        (
            &runtime,
            &runtime,
            PoolRole::System,
            "a role without BYPASSRLS",
        ),
    ];
    let mut outcomes = Vec::new();
    for (r, s, expected_pool, problem) in cases {
        let got = refused(connect_with(r, s).await);
        outcomes.push(
            got.as_ref()
                .map(|(p, m)| (*p == expected_pool, m.contains(problem))),
        );
    }
    for name in [&bypass, &member, &owner] {
        drop_role(&db, name).await?;
    }
    assert_eq!(
        outcomes,
        vec![Some((true, true)); 5],
        "each wrong role refused, naming why"
    );
    Ok(())
}

#[tokio::test]
async fn db_connect_accepts_pools_of_the_runtime_and_system_roles() -> TestResult {
    let db = database().await;
    assert!(
        connect_with(&db.runtime_config(), &db.system_config())
            .await
            .is_ok(),
        "the right roles are accepted"
    );
    Ok(())
}

#[tokio::test]
async fn a_runtime_role_cannot_block_migrate_with_a_lock() -> TestResult {
    let db = database().await;
    let runtime = db.runtime().await;
    // The advisory lock key migrate used before: holding it no longer matters.
    runtime
        .batch_execute("SELECT pg_advisory_lock(7093854870116131938)")
        .await?;
    let err = runtime
        .batch_execute("BEGIN; LOCK TABLE brokerdb_migration_lock IN ACCESS SHARE MODE")
        .await
        .err()
        .ok_or("the runtime role locked the migration lock table")?;
    assert_eq!(sqlstate(&err), Some("42501"));
    let mut admin = db.admin().await;
    let applied = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        brokerdb::migrate::apply_pending(&mut admin),
    )
    .await
    .map_err(|_| "migrate waited for a lock the runtime role holds")??;
    assert!(applied.is_empty());
    Ok(())
}

#[tokio::test]
async fn appends_through_the_library_still_work_for_both_roles_with_no_function_privilege()
-> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    db.tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                let event = AuditEvent::generated(
                    tx.tenant_id().clone(),
                    AuditEventType::Execute,
                    text("c"),
                );
                audit::append(tx, &event).await
            })
        })
        .await?;
    db.system()
        .transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                audit::append_system(tx, &SystemAuditEvent::new("x.y", text("adm"), text("c")))
                    .await
            })
        })
        .await?;
    let sealed = audit::seal_pending(&db.system(), audit::DEFAULT_BATCH).await?;
    assert_eq!((sealed.tenant_links, sealed.system_links), (1, 1));
    Ok(())
}

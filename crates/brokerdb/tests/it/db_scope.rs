//! The tenant and system scopes, and SQLSTATE mapping, against real PostgreSQL.

use brokerdb::db::{Db, ErrorCode};
use brokerdb::prelude::*;
use brokerdb_testkit::database;

use crate::TestResult;

pub use crate::support::{SEED, seeded, tenant};

#[tokio::test]
async fn a_scoped_query_without_where_tenant_id_sees_only_its_tenant() -> TestResult {
    let (_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let rows = db
        .tenant(&a)
        .query("SELECT user_id FROM human_users ORDER BY user_id", &[])
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids, ["u_a1", "u_a2"]);
    let b = tenant("t_b")?;
    let n = db
        .tenant(&b)
        .execute("UPDATE human_users SET enabled = FALSE", &[])
        .await?;
    assert_eq!(n, 1, "tenant B's update touched another tenant's rows");
    let count: i64 = db
        .system()
        .query("SELECT count(*) FROM human_users WHERE enabled", &[])
        .await?[0]
        .get(0);
    assert_eq!(count, 2, "the system scope sees every tenant");
    Ok(())
}

#[tokio::test]
async fn repeated_scoped_reads_on_pooled_connections_never_leak_the_tenant() -> TestResult {
    let (_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    for i in 0..20 {
        let t = if i % 2 == 0 { &a } else { &b };
        let rows = db
            .tenant(t)
            .query("SELECT DISTINCT tenant_id FROM human_users", &[])
            .await?;
        let seen: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(seen, [t.as_str()], "iteration {i}");
    }
    Ok(())
}

#[tokio::test]
async fn constraint_violations_map_to_their_codes_without_values() -> TestResult {
    let (_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let dup = db
        .tenant(&a)
        .execute("INSERT INTO human_users (user_id, tenant_id, email) VALUES ('u_new', 't_a', 'a1@example.com')", &[])
        .await
        .err()
        .ok_or("duplicate email accepted")?;
    assert_eq!(dup.code(), ErrorCode::UniqueViolation);
    assert_eq!(
        dup.to_string(),
        "unique_violation: another row has the same email"
    );
    assert!(!dup.to_string().contains("a1@example.com"));

    let fk = db
        .tenant(&a)
        .execute(
            "INSERT INTO enrollment_tokens (token_hash, workload_id, tenant_id, expires_at)
             VALUES (repeat('b', 64), 'w_missing', 't_a', now() + interval '1 hour')",
            &[],
        )
        .await
        .err()
        .ok_or("dangling workload accepted")?;
    assert_eq!(fk.code(), ErrorCode::IntegrityViolation);

    let check = db
        .tenant(&a)
        .execute(
            "INSERT INTO enrollment_tokens (token_hash, workload_id, tenant_id, expires_at)
             VALUES ('not-a-hash', 'w_missing', 't_a', now() + interval '1 hour')",
            &[],
        )
        .await
        .err()
        .ok_or("bad token hash accepted")?;
    assert_eq!(check.code(), ErrorCode::ValidationError, "{check}");

    // Text PostgreSQL cannot store, and a value too large for its index: bad input, never
    // `unexpected_error`, and the value is not in the message.
    let users = brokerdb::repo::users::CreateHumanUser {
        user_id: None,
        email: brokerdb::model::Email::parse("nul@example.com")?,
        roles: vec!["admin".into()],
        enabled: None,
        display_name: Some(brokerdb::model::NonEmptyString::new(
            "display_name",
            "s3cret\0x",
        )?),
        oidc_subject: None,
        oidc_issuer: None,
    };
    let nul = brokerdb::repo::users::create(&mut db.tenant(&a), &users)
        .await
        .err()
        .ok_or("NUL accepted")?;
    assert_eq!(nul.code(), ErrorCode::ValidationError, "{nul}");
    assert!(!nul.to_string().contains("s3cret"));
    let huge = brokerdb::repo::users::CreateHumanUser {
        display_name: Some(brokerdb::model::NonEmptyString::new(
            "display_name",
            &rand_text(20_000),
        )?),
        email: brokerdb::model::Email::parse("huge@example.com")?,
        ..users
    };
    let big = brokerdb::repo::users::create(&mut db.tenant(&a), &huge)
        .await
        .err()
        .ok_or("a display name too large for its index was accepted")?;
    assert_eq!(big.code(), ErrorCode::ValidationError, "{big}");
    Ok(())
}

/// `n` characters that do not compress (a b-tree entry stays about as large as the text).
fn rand_text(n: usize) -> String {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + u8::try_from(x % 26).unwrap_or(0))
        })
        .collect()
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable() -> TestResult {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host("127.0.0.1")
        .port(1)
        .user("brokerdb_app")
        .dbname("x");
    let pool = brokerdb::db::pool::build(&cfg.into(), 1)?;
    let err = Db::from_pools(
        pool.clone(),
        pool,
        Default::default(),
        brokerdb::db::CursorKey::random(),
    )
    .await
    .err()
    .ok_or("connected to port 1")?;
    assert_eq!(err.code(), ErrorCode::Unavailable);
    assert!(matches!(err, brokerdb::db::ConnectError::Connect { .. }));
    // The driver's reason travels as the source, for the operator.
    let reason = std::error::Error::source(&err).map(|e| format!("{e:?}"));
    assert!(
        reason.as_deref().is_some_and(|r| r.contains("onnect")),
        "{reason:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_parameter_of_the_wrong_type_is_unexpected_not_unavailable() -> TestResult {
    let (_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let err = db
        .tenant(&a)
        .query("SELECT user_id FROM human_users LIMIT $1::int", &[&"ten"])
        .await
        .err()
        .ok_or("a text parameter was accepted for an int")?;
    assert_eq!(err.code(), ErrorCode::UnexpectedError, "{err}");
    assert_eq!(
        err.to_string(),
        "unexpected_error: database client error: error serializing parameter 0"
    );
    Ok(())
}

/// Collects formatted log output for one test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn statement_tracing_logs_sql_and_duration_but_never_parameter_values() -> TestResult {
    let test_db = database().await;
    test_db.admin().await.batch_execute(SEED).await?;
    let db = test_db
        .db_with(brokerdb::db::DbSettings {
            trace_statements: true,
            ..Default::default()
        })
        .await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let a = tenant("t_a")?;
    let secret = "hunter2-secret-value";
    db.tenant(&a)
        .query(
            "SELECT user_id FROM human_users WHERE email = $1",
            &[&secret],
        )
        .await?;

    let logs = String::from_utf8(captured.0.lock().map_err(|_| "poisoned")?.clone())?;
    assert!(
        logs.contains("SELECT user_id FROM human_users WHERE email = $1"),
        "{logs}"
    );
    assert!(logs.contains("elapsed_us="), "{logs}");
    assert!(
        !logs.contains(secret),
        "a parameter value reached the log: {logs}"
    );
    assert!(
        !logs.contains("t_a"),
        "the tenant id parameter reached the log: {logs}"
    );
    Ok(())
}

#[tokio::test]
async fn a_database_that_was_never_migrated_says_so() -> TestResult {
    let test_db = brokerdb_testkit::empty_database().await;
    let db = test_db.db().await;
    let err = brokerdb::repo::users::get_by_id(
        &mut db.tenant(&tenant("t_a")?),
        &brokerdb::model::UserId::parse("u_1")?,
    )
    .await
    .err()
    .ok_or("a query on an empty database succeeded")?;
    assert_eq!(
        (err.code(), err.to_string()),
        (
            ErrorCode::DependencyMissing,
            "dependency_missing: schema not migrated: run `brokerdb migrate`".to_owned()
        )
    );
    Ok(())
}

#[tokio::test]
async fn db_connect_wires_both_roles_from_one_admin_url_and_refuses_a_superuser_runtime_url()
-> TestResult {
    use brokerdb::db::{ConnectError, ConnectOptions, Exec, PoolRole};
    let test_db = database().await;
    let db = Db::connect(ConnectOptions::from_admin_url(&test_db.admin_url())?).await?;
    let t = tenant("t_a")?;
    let runtime_user: String = db
        .tenant(&t)
        .query("SELECT current_user::text", &[])
        .await?[0]
        .get(0);
    let system_user: String = db.system().query("SELECT current_user::text", &[]).await?[0].get(0);
    assert_eq!(
        (runtime_user.as_str(), system_user.as_str()),
        ("brokerdb_app", "brokerdb_system")
    );
    let admin = test_db.admin_url();
    let refused = Db::connect(ConnectOptions::from_role_urls(&admin, &admin)?)
        .await
        .err()
        .ok_or("a superuser runtime URL was accepted")?;
    assert!(
        matches!(
            refused,
            ConnectError::UnsafeRole {
                pool: PoolRole::Runtime,
                ..
            }
        ),
        "{refused}"
    );
    let malformed = ConnectOptions::from_admin_url("postgres://u:s3cret@h:notaport/db")
        .err()
        .ok_or("a malformed URL was accepted")?;
    assert!(!format!("{malformed:?} {malformed}").contains("s3cret"));
    Ok(())
}

/// The named statements the session of the connection that runs this holds.
const PREPARED_HERE: &str = "SELECT count(*) FROM pg_prepared_statements";

/// `StatementMode::Unnamed` (for PgBouncer in transaction mode): every scope and transactions
/// work, enum columns decode (the connection resolved the database's types when it was made),
/// and no named statement is left on the server; the default mode keeps its prepared ones.
#[tokio::test]
async fn unnamed_statements_serve_every_scope_and_leave_nothing_prepared() -> TestResult {
    use brokerdb::db::{DbSettings, StatementMode, TxOptions};
    use tokio_postgres::types::{FromSql, Kind, Type};

    /// The label of a value of any enum type: decodes only when the type was resolved.
    struct Label(String);
    impl<'a> FromSql<'a> for Label {
        fn from_sql(
            _: &Type,
            raw: &'a [u8],
        ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
            Ok(Self(std::str::from_utf8(raw)?.to_owned()))
        }
        fn accepts(ty: &Type) -> bool {
            matches!(ty.kind(), Kind::Enum(_))
        }
    }

    let test_db = database().await;
    test_db.admin().await.batch_execute(SEED).await?;
    test_db
        .admin()
        .await
        .batch_execute("INSERT INTO human_user_roles (tenant_id, user_id, role) VALUES ('t_a', 'u_a1', 'admin')")
        .await?;
    let unnamed = test_db
        .db_with(DbSettings {
            statement_mode: StatementMode::Unnamed,
            ..Default::default()
        })
        .await;
    let a = tenant("t_a")?;
    for _ in 0..3 {
        let ids: Vec<String> = unnamed
            .tenant(&a)
            .query("SELECT user_id FROM human_users ORDER BY user_id", &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(ids, ["u_a1", "u_a2"]);
    }
    let roles: Vec<String> = unnamed
        .tenant(&a)
        .query(
            "SELECT role FROM human_user_roles WHERE user_id = $1",
            &[&"u_a1"],
        )
        .await?
        .iter()
        .map(|r| r.get::<_, Label>(0).0)
        .collect();
    assert_eq!(roles, ["admin"]);
    let touched = unnamed
        .system()
        .execute(
            "UPDATE human_users SET enabled = FALSE WHERE user_id = $1",
            &[&"u_b1"],
        )
        .await?;
    assert_eq!(touched, 1);
    let mut tx = unnamed.tenant(&a).begin(&TxOptions::default()).await?;
    let n = tx
        .execute(
            "UPDATE human_users SET enabled = FALSE WHERE tenant_id = $1",
            &[&"t_a"],
        )
        .await?;
    let left: i64 = tx.query(PREPARED_HERE, &[]).await?[0].get(0);
    tx.commit().await?;
    assert_eq!(
        (n, left),
        (2, 0),
        "updated rows, named statements in the session"
    );
    let left: i64 = unnamed.system().query(PREPARED_HERE, &[]).await?[0].get(0);
    assert_eq!(
        left, 0,
        "named statements left in the system pool's session"
    );

    // Built from the direct settings (the test kit's `db()` follows BROKERDB_TEST_PGBOUNCER).
    let prepared = Db::from_pools(
        brokerdb::db::pool::build(&test_db.runtime_config(), 1)?,
        brokerdb::db::pool::build(&test_db.system_config(), 1)?,
        DbSettings::default(),
        brokerdb::db::CursorKey::random(),
    )
    .await?;
    let kept: i64 = prepared.tenant(&a).query(PREPARED_HERE, &[]).await?[0].get(0);
    assert!(
        kept >= 2,
        "the default mode prepares the setting and the statement: {kept}"
    );
    Ok(())
}

/// In the default (prepared) mode a tenant-scoped statement goes out with its `set_config` in
/// one batch ending in one `Sync`: one implicit transaction. The tenant holds for the statement,
/// a write commits with it, a failed statement leaves nothing behind, and the connection goes
/// back to the pool idle with no tenant set, so the next user of that connection (here a raw
/// checkout of the same one-connection pool) sees no tenant.
#[tokio::test]
async fn a_scoped_statement_and_its_tenant_end_together_on_one_connection() -> TestResult {
    use brokerdb::db::DbSettings;

    let test_db = database().await;
    test_db.admin().await.batch_execute(SEED).await?;
    let runtime = brokerdb::db::pool::build(&test_db.runtime_config(), 1)?;
    let db = Db::from_pools(
        runtime.clone(),
        brokerdb::db::pool::build(&test_db.system_config(), 1)?,
        DbSettings::default(),
        brokerdb::db::CursorKey::random(),
    )
    .await?;
    let a = tenant("t_a")?;
    let seen: Option<String> = db
        .tenant(&a)
        .query("SELECT current_setting('brokerdb.tenant_id', true)", &[])
        .await?[0]
        .get(0);
    assert_eq!(
        seen.as_deref(),
        Some("t_a"),
        "the tenant during the statement"
    );
    let n = db
        .tenant(&a)
        .execute("UPDATE human_users SET display_name = 'renamed'", &[])
        .await?;
    assert_eq!(n, 2, "tenant A's two users");
    let err = db
        .tenant(&a)
        .execute(
            "INSERT INTO human_users (user_id, tenant_id, email) \
             VALUES ('u_a9', 't_a', 'a9@example.com'), ('u_a10', 't_a', 'a1@example.com')",
            &[],
        )
        .await
        .err()
        .ok_or("a duplicate email was inserted")?;
    assert_eq!(err.code(), ErrorCode::UniqueViolation);

    let raw = runtime.get().await?;
    let row = raw
        .query_one(
            "SELECT current_setting('brokerdb.tenant_id', true), \
                    (SELECT count(*) FROM human_users)",
            &[],
        )
        .await?;
    let (left, visible): (Option<String>, i64) = (row.get(0), row.get(1));
    assert!(
        left.as_deref().unwrap_or("").is_empty(),
        "the tenant outlived its statement: {left:?}"
    );
    assert_eq!(visible, 0, "rows visible with no tenant set");
    drop(raw);
    let names: Vec<(String, String)> = db
        .system()
        .query(
            "SELECT user_id, display_name FROM human_users WHERE tenant_id = 't_a' ORDER BY user_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get::<_, Option<String>>(1).unwrap_or_default()))
        .collect();
    assert_eq!(
        names,
        [
            ("u_a1".to_owned(), "renamed".to_owned()),
            ("u_a2".to_owned(), "renamed".to_owned())
        ],
        "the update committed and the failed insert left no row"
    );
    Ok(())
}

//! Fixtures and assertions every test module of this binary shares.

use brokerdb::db::{Db, DbError, ErrorCode};
use brokerdb::model::{NonEmptyString, TenantId};
use brokerdb_testkit::{TestDatabase, database};

/// Test result: any error fails the test with its message.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Any error, boxed.
pub type Error = Box<dyn std::error::Error>;

/// Two tenants, `t_a` with users `u_a1`, `u_a2` and `t_b` with `u_b1`.
pub const SEED: &str = r"
INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'Tenant A'), ('t_b', 'Tenant B');
INSERT INTO human_users (user_id, tenant_id, email) VALUES
  ('u_a1', 't_a', 'a1@example.com'), ('u_a2', 't_a', 'a2@example.com'), ('u_b1', 't_b', 'b1@example.com');
";

/// A tenant id from a literal.
pub fn tenant(id: &str) -> Result<TenantId, Error> {
    Ok(id.parse::<TenantId>()?)
}

/// A non-empty string from a literal.
pub fn text(s: &str) -> NonEmptyString {
    NonEmptyString::new("test", s).unwrap_or_else(|_| unreachable!("non-empty literal"))
}

/// A fresh database with [`SEED`], and a `Db` on it.
pub async fn seeded() -> Result<(TestDatabase, Db), Error> {
    let db = database().await;
    db.admin().await.batch_execute(SEED).await?;
    let handle = db.db().await;
    Ok((db, handle))
}

/// The error code of a result (`None` when it succeeded).
pub fn code<T>(result: Result<T, DbError>) -> Option<ErrorCode> {
    result.err().map(|e| e.code())
}

/// Asserts that `$result` failed with `ErrorCode::$code` (optionally with a message).
#[macro_export]
macro_rules! assert_code {
    ($result:expr, $code:ident $(, $($msg:tt)+)?) => {
        assert_eq!(
            $crate::support::code($result),
            Some(brokerdb::db::ErrorCode::$code)
            $(, $($msg)+)?
        )
    };
}

/// The SQLSTATE of a database error, if it is one.
pub fn sqlstate(err: &tokio_postgres::Error) -> Option<&str> {
    err.code().map(tokio_postgres::error::SqlState::code)
}

/// The server's message of a database error (without the "db error:" prefix).
pub fn db_message(err: &tokio_postgres::Error) -> String {
    err.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| err.to_string())
}

/// Rows in `table`, counted as the superuser (past row-level security).
pub async fn count_rows(db: &TestDatabase, table: &str) -> Result<i64, tokio_postgres::Error> {
    let sql = format!("SELECT count(*) FROM {table}");
    Ok(db.admin().await.query_one(&sql, &[]).await?.get(0))
}

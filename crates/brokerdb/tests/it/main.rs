//! Integration tests of the schema and the migration runner, against real PostgreSQL.

mod audit_chain;
mod cross_tenant;
mod db_scope;
mod db_tx;
mod isolation;
mod migrations;
mod privileges;
mod repo_admin;
mod repo_approvals;
mod repo_audit_events;
mod repo_audit_profiles;
mod repo_enrollment_tokens;
mod repo_integrations;
mod repo_policy_rules;
mod repo_secrets;
mod repo_sessions;
mod repo_templates;
mod repo_tenants;
mod repo_users;
mod repo_workloads;
mod schema;
mod tls;

/// Test result: any error fails the test with its message.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

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
pub async fn count_rows(
    db: &brokerdb_testkit::TestDatabase,
    table: &str,
) -> Result<i64, tokio_postgres::Error> {
    let sql = format!("SELECT count(*) FROM {table}");
    Ok(db.admin().await.query_one(&sql, &[]).await?.get(0))
}

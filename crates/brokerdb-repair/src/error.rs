//! What can go wrong in the console, apart from a guard's refusal.

use crate::guard::GuardError;

/// A console error. None carries SQL parameter values or secrets.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// A guard refused the request.
    #[error(transparent)]
    Guard(#[from] GuardError),
    /// No playbook has this id.
    #[error("no repair playbook has the id {0}")]
    UnknownPlaybook(String),
    /// A shipped playbook is malformed (caught by the registry's unit tests).
    #[error("repair playbook {file} is malformed: {reason}")]
    Registry {
        /// The playbook's file.
        file: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A statement failed the lint.
    #[error(transparent)]
    Lint(#[from] crate::lint::LintError),
    /// PostgreSQL could not be reached or refused a catalog query.
    #[error("database: {0}")]
    Database(String),
    /// The run ledger could not be read or written.
    #[error("run ledger: {0}")]
    Ledger(#[from] brokerdb::db::DbError),
}

impl RepairError {
    /// A database error as text: the server's code and message, never parameter values (the
    /// console binds none).
    pub fn database(err: &tokio_postgres::Error) -> Self {
        Self::Database(match err.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => err.to_string(),
        })
    }
}

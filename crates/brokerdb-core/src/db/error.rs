//! The library's error: one enum, stable codes, SQLSTATEs mapped at one boundary.
//!
//! Messages never contain SQL, parameter values or secrets: only codes, field names and fixed
//! text. Constraint names are schema internals: they are mapped to the field they guard
//! (`constraints.rs`) and logged at debug level only. A database error's own message (which can quote values in its detail) is never
//! copied into a [`DbError`].

use std::borrow::Cow;

use tokio_postgres::error::SqlState;

use crate::scalar::ValidationError;

/// The stable code of every failure: eight domain codes shared with the broker's other services
/// and the HTTP API, plus `unavailable` and `timeout` for infrastructure. Callers branch on the
/// code, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Input rejected; nothing was written.
    ValidationError,
    /// A row the operation requires does not exist.
    NotFound,
    /// A unique index rejected the write.
    UniqueViolation,
    /// The write contradicts existing state (or lost a race after retries).
    Conflict,
    /// Referential integrity failure.
    IntegrityViolation,
    /// The entity's lifecycle forbids the change.
    StateTransitionInvalid,
    /// A required capability is absent.
    DependencyMissing,
    /// The database could not be reached or the connection was lost.
    Unavailable,
    /// A statement or lock timeout expired.
    Timeout,
    /// Anything else.
    UnexpectedError,
}

impl ErrorCode {
    /// The snake_case code, as the HTTP API and the other services spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationError => "validation_error",
            Self::NotFound => "not_found",
            Self::UniqueViolation => "unique_violation",
            Self::Conflict => "conflict",
            Self::IntegrityViolation => "integrity_violation",
            Self::StateTransitionInvalid => "state_transition_invalid",
            Self::DependencyMissing => "dependency_missing",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::UnexpectedError => "unexpected_error",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every failure of the library. `Clone`, so one failed load can be reported to every caller
/// that waited on it (the read cache's single flight).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// Input rejected before any I/O (or by a CHECK constraint).
    #[error("validation_error: {0}")]
    Validation(#[from] ValidationError),
    /// A required row does not exist (or belongs to another tenant).
    #[error("not_found: {entity} not found")]
    NotFound {
        /// What was looked for.
        entity: &'static str,
    },
    /// A unique index rejected the write: another row (of this tenant or, for globally unique
    /// business keys, of any tenant: the error is the same) has the same value.
    #[error("unique_violation: another row has the same {field}")]
    UniqueViolation {
        /// The field (or comma-separated fields) the violated constraint guards.
        field: Cow<'static, str>,
    },
    /// Row-level security refused the write: the row it would create or update belongs to
    /// another tenant (an upsert that met another tenant's row). Repositories report it as the
    /// unique violation it stands for, so it tells the caller no more than any conflict.
    #[error("conflict: the write conflicts with an existing row")]
    RowSecurity,
    /// The write contradicts existing state.
    #[error("conflict: {message}")]
    Conflict {
        /// Fixed text saying what conflicts.
        message: Cow<'static, str>,
    },
    /// A serialization failure or deadlock (SQLSTATE 40001 / 40P01). Retried by a closure
    /// transaction (`transaction`, `try_transaction`, `atomic` on a scope); reported with code
    /// `conflict` when retries are exhausted.
    #[error("conflict: concurrent transactions collided (serialization failure or deadlock)")]
    Contention,
    /// Referential integrity failure: the row the field refers to does not exist (or is not
    /// visible to the caller's tenant).
    #[error("integrity_violation: {field} refers to nothing")]
    IntegrityViolation {
        /// The field holding the reference.
        field: Cow<'static, str>,
    },
    /// The lifecycle forbids the change.
    #[error("state_transition_invalid: {message}")]
    StateTransitionInvalid {
        /// Fixed text naming the transition.
        message: Cow<'static, str>,
    },
    /// A required capability is absent.
    #[error("dependency_missing: {what}")]
    DependencyMissing {
        /// What is missing.
        what: &'static str,
    },
    /// The database is unreachable or the connection was lost.
    #[error("unavailable: {message}")]
    Unavailable {
        /// Fixed text (never connection strings).
        message: Cow<'static, str>,
    },
    /// A statement or lock timeout expired.
    #[error("timeout: {message}")]
    Timeout {
        /// Which timeout.
        message: Cow<'static, str>,
    },
    /// Anything else.
    #[error("unexpected_error: {message}")]
    Unexpected {
        /// Fixed text; for database errors, the SQLSTATE.
        message: Cow<'static, str>,
    },
}

impl DbError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Validation(_) => ErrorCode::ValidationError,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::UniqueViolation { .. } => ErrorCode::UniqueViolation,
            Self::Conflict { .. } | Self::Contention | Self::RowSecurity => ErrorCode::Conflict,
            Self::IntegrityViolation { .. } => ErrorCode::IntegrityViolation,
            Self::StateTransitionInvalid { .. } => ErrorCode::StateTransitionInvalid,
            Self::DependencyMissing { .. } => ErrorCode::DependencyMissing,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
            Self::Timeout { .. } => ErrorCode::Timeout,
            Self::Unexpected { .. } => ErrorCode::UnexpectedError,
        }
    }

    /// True for failures a new attempt of the whole transaction may cure.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Contention)
    }

    /// A `not_found` error for `entity`.
    pub fn not_found(entity: &'static str) -> Self {
        Self::NotFound { entity }
    }

    /// A statement that always returns a row (`INSERT … RETURNING`) returned none: a bug or a
    /// concurrent schema change, never an answer about the caller's data.
    pub fn returned_nothing() -> Self {
        Self::Unexpected {
            message: "a statement that returns a row returned none".into(),
        }
    }

    /// A validation error on `field`.
    pub fn validation(field: &'static str, message: &'static str) -> Self {
        Self::Validation(ValidationError::new(field, message))
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        match err {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            // Every connection is busy: the pool is saturated, the database may be fine.
            deadpool_postgres::PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => {
                Self::Timeout {
                    message: "timed out waiting for a free database connection".into(),
                }
            }
            deadpool_postgres::PoolError::Timeout(_) => Self::Unavailable {
                message: "timed out connecting to the database".into(),
            },
            _ => Self::Unavailable {
                message: "no database connection available".into(),
            },
        }
    }
}

/// The one place SQLSTATEs become codes.
impl From<tokio_postgres::Error> for DbError {
    fn from(err: tokio_postgres::Error) -> Self {
        let Some(db) = err.as_db_error() else {
            return client_error(&err);
        };
        let constraint = db.constraint().unwrap_or("");
        let code = db.code();
        match code {
            c if *c == SqlState::UNIQUE_VIOLATION => {
                tracing::debug!(constraint, "unique violation");
                Self::UniqueViolation {
                    field: super::constraints::unique_field(constraint).into(),
                }
            }
            c if *c == SqlState::INSUFFICIENT_PRIVILEGE
                && db
                    .message()
                    .starts_with("new row violates row-level security policy") =>
            {
                Self::RowSecurity
            }
            c if *c == SqlState::FOREIGN_KEY_VIOLATION => {
                tracing::debug!(constraint, "foreign key violation");
                Self::IntegrityViolation {
                    field: super::constraints::foreign_key_field(constraint).into(),
                }
            }
            c if *c == SqlState::CHECK_VIOLATION => {
                tracing::debug!(constraint, "check violation");
                Self::Validation(ValidationError::new(
                    super::constraints::check_field(constraint),
                    "is outside what the schema allows",
                ))
            }
            // A text value PostgreSQL cannot store (a NUL character, or bytes the encoding has
            // no character for): bad input, not a server fault. The message names no value.
            c if *c == SqlState::CHARACTER_NOT_IN_REPERTOIRE
                || *c == SqlState::UNTRANSLATABLE_CHARACTER =>
            {
                Self::Validation(ValidationError::new(
                    "text",
                    "contains a character that cannot be stored (such as NUL)",
                ))
            }
            // A value too large for an index entry or a field (e.g. a 10 kB display name in a
            // b-tree): bad input too.
            c if *c == SqlState::PROGRAM_LIMIT_EXCEEDED
                || *c == SqlState::STRING_DATA_RIGHT_TRUNCATION =>
            {
                Self::Validation(ValidationError::new(
                    "text",
                    "is larger than the schema can store",
                ))
            }
            c if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
            {
                Self::Contention
            }
            c if *c == SqlState::UNDEFINED_TABLE
                || *c == SqlState::UNDEFINED_FUNCTION
                || *c == SqlState::UNDEFINED_OBJECT =>
            {
                Self::DependencyMissing {
                    what: "schema not migrated: run `brokerdb migrate`",
                }
            }
            c if *c == SqlState::QUERY_CANCELED => Self::Timeout {
                message: "statement timeout".into(),
            },
            c if *c == SqlState::LOCK_NOT_AVAILABLE => Self::Timeout {
                message: "lock timeout".into(),
            },
            c if c.code().starts_with("08")
                || c.code().starts_with("28")
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::TOO_MANY_CONNECTIONS =>
            {
                Self::Unavailable {
                    message: format!("database unavailable (SQLSTATE {})", c.code()).into(),
                }
            }
            c => Self::Unexpected {
                message: format!("database error (SQLSTATE {})", c.code()).into(),
            },
        }
    }
}

/// An error raised by the driver, not the server. The connection is unusable (`unavailable`)
/// when the driver says it is closed or when an I/O or TLS error lies underneath; anything else
/// (a parameter or column type mismatch) is a bug, `unexpected_error`. Classified by the error's
/// sources, never by its wording; the description names a kind and an index or column name,
/// never a value.
fn client_error(err: &tokio_postgres::Error) -> DbError {
    let mut sources = std::iter::successors(std::error::Error::source(err), |e| e.source());
    let transport = sources.any(|e| e.is::<std::io::Error>() || e.is::<rustls::Error>());
    if err.is_closed() || transport {
        DbError::Unavailable {
            message: "database connection failed or was lost".into(),
        }
    } else {
        DbError::Unexpected {
            message: format!("database client error: {err}").into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_spec_spelling() {
        assert_eq!(DbError::Contention.code().as_str(), "conflict");
        assert_eq!(
            DbError::not_found("workload").to_string(),
            "not_found: workload not found"
        );
        assert_eq!(
            ErrorCode::StateTransitionInvalid.to_string(),
            "state_transition_invalid"
        );
    }
}

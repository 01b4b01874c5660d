//! The adapters' error: the same stable codes as [`ErrorCode`](crate::db::ErrorCode), Redis failures
//! mapped at one boundary.
//!
//! Messages never contain keys, values or Redis' own error text (a script error can echo its
//! arguments): only fixed text and, for server errors, the reply's error code (`ERR`,
//! `WRONGTYPE`, ...).

use std::borrow::Cow;

use crate::db::{DbError, ErrorCode};
use crate::scalar::ValidationError;

/// Every failure of a Redis adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// Input rejected before any Redis I/O.
    #[error("validation_error: {0}")]
    Validation(#[from] ValidationError),
    /// The write contradicts existing state (an enrollment token issued twice).
    #[error("conflict: {message}")]
    Conflict {
        /// Fixed text saying what conflicts.
        message: Cow<'static, str>,
    },
    /// A required capability is absent (no pub/sub connection source was given).
    #[error("dependency_missing: {what}")]
    DependencyMissing {
        /// What is missing.
        what: &'static str,
    },
    /// Redis is down, unreachable, or did not answer within the command timeout.
    #[error("unavailable: {message}")]
    Unavailable {
        /// Fixed text.
        message: Cow<'static, str>,
    },
    /// Anything else: an unexpected script reply, an unacknowledged SET, a Redis error reply.
    #[error("unexpected_error: {message}")]
    Unexpected {
        /// Fixed text.
        message: Cow<'static, str>,
    },
}

impl AdapterError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Validation(_) => ErrorCode::ValidationError,
            Self::Conflict { .. } => ErrorCode::Conflict,
            Self::DependencyMissing { .. } => ErrorCode::DependencyMissing,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
            Self::Unexpected { .. } => ErrorCode::UnexpectedError,
        }
    }

    /// A validation error on `field`.
    pub fn invalid(field: &'static str, message: &'static str) -> Self {
        Self::Validation(ValidationError::new(field, message))
    }

    /// An `unexpected_error` with fixed text.
    pub fn unexpected(message: &'static str) -> Self {
        Self::Unexpected {
            message: message.into(),
        }
    }

    /// The command timeout expired.
    pub fn timed_out() -> Self {
        Self::Unavailable {
            message: "redis did not answer within the command timeout".into(),
        }
    }
}

/// The one place Redis client errors become codes: anything about reaching the server (I/O,
/// refused or dropped connections, timeouts, cluster down or resharding, loading, no master) is
/// `unavailable`; everything else (error replies, type mismatches) is `unexpected_error`.
impl From<redis::RedisError> for AdapterError {
    fn from(err: redis::RedisError) -> Self {
        use redis::{ErrorKind, ServerErrorKind as S};
        let unreachable = err.is_io_error()
            || err.is_connection_refusal()
            || err.is_connection_dropped()
            || err.is_timeout()
            || matches!(
                err.kind(),
                ErrorKind::ClusterConnectionNotFound
                    | ErrorKind::Server(
                        S::BusyLoading
                            | S::TryAgain
                            | S::ClusterDown
                            | S::MasterDown
                            | S::Moved
                            | S::Ask
                            | S::ReadOnly
                    )
            );
        if unreachable {
            return Self::Unavailable {
                message: "redis connection failed or was lost".into(),
            };
        }
        let message = match err.code() {
            Some(code) => format!("redis replied with an error ({code})").into(),
            None => match err.kind() {
                ErrorKind::UnexpectedReturnType | ErrorKind::Parse => {
                    "redis reply has an unexpected type".into()
                }
                _ => "redis client error".into(),
            },
        };
        Self::Unexpected { message }
    }
}

impl From<redis::ParsingError> for AdapterError {
    fn from(_: redis::ParsingError) -> Self {
        Self::unexpected("redis reply has an unexpected type")
    }
}

/// For callers that mix repositories and adapters behind one error type.
impl From<AdapterError> for DbError {
    fn from(err: AdapterError) -> Self {
        match err {
            AdapterError::Validation(v) => DbError::Validation(v),
            AdapterError::Conflict { message } => DbError::Conflict { message },
            AdapterError::DependencyMissing { what } => DbError::DependencyMissing { what },
            AdapterError::Unavailable { message } => DbError::Unavailable { message },
            AdapterError::Unexpected { message } => DbError::Unexpected { message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_failures_are_unavailable_and_replies_unexpected() {
        let io: redis::RedisError =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused").into();
        assert_eq!(AdapterError::from(io).code(), ErrorCode::Unavailable);
        let reply = redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, "x"));
        assert_eq!(AdapterError::from(reply).code(), ErrorCode::UnexpectedError);
        assert_eq!(AdapterError::timed_out().code().as_str(), "unavailable");
    }
}

//! Why a console operation did not happen, and how the API and the CLI show it.
//!
//! In the API's error envelope: a guard's refusal keeps its status and code
//! ([`GuardError::status`], [`GuardError::code`]: 401 `unauthenticated`, 409 `ENV_DISABLED`,
//! 403 `forbidden`, 409 `HASH_MISMATCH`); a missing admin connection is 503 `unavailable`; an
//! invalid input is 422 `validation_error` naming the field; an unknown playbook is 404
//! `not_found`. The CLI prints a guard's refusal and exits 2.

use std::borrow::Cow;

use axum::http::StatusCode;
use brokerdb::db::DbError;
use brokerdb_repair::{GuardError, RepairError};

use crate::api::ApiError;
use crate::api::request::current_request_id;

/// The message of [`OpsError::Unavailable`].
pub const UNAVAILABLE: &str = "the repair console needs the admin (owner or superuser) \
     connection: set DATABASE_URL (or use the embedded cluster); it is not available when only \
     DATABASE_RUNTIME_URL and DATABASE_SYSTEM_URL are given";

/// A console operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A guard refused (401, 409 `ENV_DISABLED`, 403, 409 `HASH_MISMATCH`).
    #[error(transparent)]
    Guard(#[from] GuardError),
    /// No admin connection is configured (503).
    #[error("{UNAVAILABLE}")]
    Unavailable,
    /// An input is invalid (422 naming the field).
    #[error("{field} {message}")]
    Invalid {
        /// The field, as the API names it (`repairId`, `expectedHash`, `limit`, …).
        field: &'static str,
        /// What is wrong; never quotes the value.
        message: Cow<'static, str>,
    },
    /// No playbook has the requested id (404).
    #[error("no repair playbook has this id")]
    UnknownPlaybook,
    /// The console failed (the database, the registry).
    #[error(transparent)]
    Repair(RepairError),
    /// The run ledger could not be read.
    #[error("run ledger: {0}")]
    Ledger(#[from] DbError),
}

impl OpsError {
    /// A 422 on `field`.
    pub fn invalid(field: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    /// The guard's refusal, when this is one.
    pub fn guard(&self) -> Option<&GuardError> {
        match self {
            Self::Guard(g) => Some(g),
            _ => None,
        }
    }
}

impl From<RepairError> for OpsError {
    fn from(e: RepairError) -> Self {
        match e {
            RepairError::Guard(g) => Self::Guard(g),
            RepairError::UnknownPlaybook(_) => Self::UnknownPlaybook,
            RepairError::Ledger(db) => Self::Ledger(db),
            other => Self::Repair(other),
        }
    }
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::Guard(g) => {
                let status = StatusCode::from_u16(g.status()).unwrap_or(StatusCode::FORBIDDEN);
                ApiError::new(status, g.code(), g.to_string())
            }
            OpsError::Unavailable => ApiError::unavailable(UNAVAILABLE),
            OpsError::Invalid { field, message } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_error",
                message,
            )
            .with_field(field),
            OpsError::UnknownPlaybook => ApiError::not_found("repair playbook"),
            OpsError::Ledger(db) => db.into(),
            OpsError::Repair(RepairError::Database(message)) => {
                tracing::warn!(request_id = %current_request_id(), error = %message, "repair console: database");
                ApiError::unavailable("the database did not answer the repair console; retry later")
            }
            OpsError::Repair(other) => {
                tracing::error!(request_id = %current_request_id(), error = %other, "repair console failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "unexpected_error",
                    "the request failed; the service log has its request id",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_their_status_and_code() {
        let cases = [
            (
                OpsError::Guard(GuardError::Unauthenticated),
                401,
                "unauthenticated",
            ),
            (
                OpsError::Guard(GuardError::EnvDisabled {
                    env: "production".into(),
                }),
                409,
                "ENV_DISABLED",
            ),
            (OpsError::Guard(GuardError::Forbidden), 403, "forbidden"),
            (
                RepairError::Guard(GuardError::HashMismatch { id: "R-001".into() }).into(),
                409,
                "HASH_MISMATCH",
            ),
            (OpsError::Unavailable, 503, "unavailable"),
            (
                OpsError::invalid("repairId", "is required"),
                422,
                "validation_error",
            ),
            (
                RepairError::UnknownPlaybook("R-999".into()).into(),
                404,
                "not_found",
            ),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(err);
            assert_eq!((api.status().as_u16(), api.code()), (status, code));
        }
    }
}

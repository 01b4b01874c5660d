//! The one error envelope of every non-2xx response: `{"error": {code, message, field?,
//! requestId}}`, and the mapping of the library's error codes to HTTP statuses.
//!
//! Messages are the library's fixed texts or this module's: they never quote a value, a query
//! parameter or SQL. An unexpected error is logged once (with its request id) and answered with
//! an opaque 500.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use brokerdb::db::{DbError, ErrorCode};
use brokerdb::model::ValidationError;
use brokerdb_redis::AdapterError;
use serde::Serialize;
use utoipa::ToSchema;

use super::request::current_request_id;

/// A failed request, as the client sees it.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    field: Option<String>,
    retry_after: Option<u64>,
}

/// The body of every non-2xx response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// What went wrong.
    pub error: ErrorBody,
}

/// What went wrong: a stable code, fixed text, the offending field when there is one, and the
/// request's id (as in the `x-request-id` response header and the service's log).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable code: `validation_error`, `unauthenticated`, `forbidden`, `not_found`,
    /// `unique_violation`, `conflict`, `state_transition_invalid`, `integrity_violation`,
    /// `rate_limited`, `unavailable`, `timeout`, `unexpected_error`.
    pub code: String,
    /// Human-readable text; never quotes input values.
    pub message: String,
    /// The request field (body path, query or path parameter, header) at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request's id.
    pub request_id: String,
}

impl ApiError {
    /// An error with `status`, `code` and fixed `message`.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Names the request field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400 `validation_error` on `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_error", message).with_field(field)
    }

    /// 401 `unauthenticated` (with `WWW-Authenticate`).
    pub fn unauthenticated(message: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found` for `what`.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 429 `rate_limited`, retry after `seconds`.
    pub fn rate_limited(seconds: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests for this token; retry later",
        );
        e.retry_after = Some(seconds.max(1));
        e
    }

    /// 503 `unavailable`.
    pub fn unavailable(message: &'static str) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 504 `timeout`.
    pub fn timeout(message: &'static str) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The request field at fault, if named.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The same error answered with `status`.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The response, with `request_id` in the body.
    pub fn into_response_with_id(self, request_id: &str) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code.to_owned(),
                message: self.message.into_owned(),
                field: self.field,
                request_id: request_id.to_owned(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"brokerdb\""),
            );
        }
        if let Some(seconds) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let id = current_request_id();
        self.into_response_with_id(&id)
    }
}

/// `snake_case` path segments of the library's field names in the API's `camelCase`
/// (`display_name` → `displayName`, `ip_allowlist[2]` → `ipAllowlist[2]`).
pub fn camel_field(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::invalid(camel_field(&e.field), e.message)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        let status = match e.code() {
            ErrorCode::ValidationError => {
                if let DbError::Validation(v) = e {
                    return v.into();
                }
                StatusCode::BAD_REQUEST
            }
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::UniqueViolation
            | ErrorCode::Conflict
            | ErrorCode::StateTransitionInvalid => StatusCode::CONFLICT,
            ErrorCode::IntegrityViolation => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Unavailable | ErrorCode::DependencyMissing => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
            _ => {
                tracing::error!(request_id = %current_request_id(), error = %e, "request failed unexpectedly");
                return Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "unexpected_error",
                    "the request failed; the service log has its request id",
                );
            }
        };
        let code = e.code().as_str();
        // The library's messages are fixed texts with field names (never values); they start
        // with the code, which the envelope already carries.
        let text = e.to_string();
        let message = text
            .strip_prefix(code)
            .and_then(|m| m.strip_prefix(": "))
            .unwrap_or(&text)
            .to_owned();
        let mut out = Self::new(status, code, message);
        if let DbError::UniqueViolation { field } | DbError::IntegrityViolation { field } = &e {
            out.field = Some(camel_field(field));
        }
        out
    }
}

impl From<AdapterError> for ApiError {
    fn from(e: AdapterError) -> Self {
        tracing::warn!(request_id = %current_request_id(), error = %e, "Redis adapter failed");
        Self::unavailable("a backing service is unavailable; retry later")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_fields_become_camel_case() {
        assert_eq!(camel_field("display_name"), "displayName");
        assert_eq!(camel_field("ip_allowlist[2]"), "ipAllowlist[2]");
        assert_eq!(camel_field("email"), "email");
    }

    #[test]
    fn library_codes_map_to_their_statuses() {
        let cases = [
            (DbError::not_found("user"), 404, "not_found"),
            (
                DbError::UniqueViolation {
                    field: "email".into(),
                },
                409,
                "unique_violation",
            ),
            (
                DbError::IntegrityViolation {
                    field: "workload_id".into(),
                },
                422,
                "integrity_violation",
            ),
            (
                DbError::StateTransitionInvalid {
                    message: "x".into(),
                },
                409,
                "state_transition_invalid",
            ),
            (
                DbError::Timeout {
                    message: "x".into(),
                },
                504,
                "timeout",
            ),
            (
                DbError::Unavailable {
                    message: "x".into(),
                },
                503,
                "unavailable",
            ),
            (
                DbError::validation("display_name", "is too long"),
                400,
                "validation_error",
            ),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(err);
            assert_eq!((api.status().as_u16(), api.code()), (status, code));
        }
        let v = ApiError::from(DbError::validation("display_name", "is too long"));
        assert_eq!(v.field.as_deref(), Some("displayName"));
        assert_eq!(v.message, "is too long");
    }
}

//! What every handler shares on the wire: the lengths free text may have and the check that
//! enforces them (the library checks the rest), and the answer of a create.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;

/// Longest email, in characters.
pub const MAX_EMAIL: usize = 320;

/// Longest display name or other short free text, in characters.
pub const MAX_TEXT: usize = 200;

/// `value` if it has at most `max` characters, else a 400 naming `field`.
pub fn bounded<'a>(field: &'static str, value: &'a str, max: usize) -> Result<&'a str, ApiError> {
    if value.chars().count() > max {
        Err(ApiError::invalid(
            field,
            format!("must be at most {max} characters"),
        ))
    } else {
        Ok(value)
    }
}

/// 201 Created with `body` and `Location: location` (the new resource's path).
pub fn created(location: &str, body: impl Serialize) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

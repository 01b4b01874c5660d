//! What every wire type shares: the patterns and lengths the OpenAPI document states for ids,
//! emails and free text, and the check that enforces a length (the library checks the rest).

use super::error::ApiError;

/// A business id: 1..=128 characters of `[A-Za-z0-9._-]`.
pub const ID_PATTERN: &str = "^[A-Za-z0-9._-]{1,128}$";

/// An email address as the library accepts it.
pub const EMAIL_PATTERN: &str = "^([A-Za-z0-9_'+-]+\\.)*[A-Za-z0-9_'+-]*[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9-]*\\.)+[A-Za-z]{2,}$";

/// Free text that must not be blank (it is trimmed).
pub const TEXT_PATTERN: &str = "\\S";

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

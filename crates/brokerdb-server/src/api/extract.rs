//! Strict request parsing: JSON bodies and query strings whose unknown fields, wrong types,
//! malformed syntax and oversize bodies are 4xx errors naming the field, never echoing a value.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body of type `T`: `Content-Type: application/json`, at most the service's body limit,
/// unknown fields refused (the wire types deny them).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// A query string of type `T` (all parameters optional, unknown ones refused).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

const NUL_MESSAGE: &str = "must not contain NUL characters";

/// The path (`a.b[0]`) of the first string or key in `v` holding a NUL character, which
/// PostgreSQL text cannot store.
fn nul_at(v: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => {
            Some(if path.is_empty() { "body".into() } else { path })
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(if path.is_empty() {
                    "body".into()
                } else {
                    path.clone()
                })
            } else {
                nul_at(item, at)
            }
        }),
        _ => None,
    }
}

/// A path parameter of type `T`; a segment that cannot be decoded is a 400 naming `path`.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|_| ApiError::invalid("path", "a path parameter is not valid"))
    }
}

/// The field a serde message about field `name` refers to, at `path`.
fn at(path: &str, name: &str) -> String {
    if path == "." || path.is_empty() {
        name.to_owned()
    } else if path == name || path.ends_with(&format!(".{name}")) {
        path.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The field and fixed message for a serde error at `path` (`.` when at the top).
fn field_error(path: &str, inner: &str) -> ApiError {
    // serde's messages name the field for these (from our own types' names, not input
    // values); every other message may quote input, so it is replaced by fixed text.
    let named = |prefix: &str| {
        inner
            .strip_prefix(prefix)
            .map(|rest| rest.split('`').next().unwrap_or_default().to_owned())
    };
    if let Some(name) = named("unknown field `") {
        return ApiError::invalid(at(path, &name), "is not a known field");
    }
    if let Some(name) = named("missing field `") {
        return ApiError::invalid(at(path, &name), "is required");
    }
    if let Some(name) = named("duplicate field `") {
        return ApiError::invalid(at(path, &name), "is given more than once");
    }
    let field = if path == "." || path.is_empty() {
        "body"
    } else {
        path
    };
    ApiError::invalid(field.to_owned(), "has the wrong type or an invalid value")
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "validation_error",
                "the body must be JSON (Content-Type: application/json)",
            )
            .with_field("content-type"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "validation_error",
                    "the body is larger than the service accepts",
                )
                .with_field("body")
            } else {
                ApiError::invalid("body", "could not be read")
            }
        })?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::invalid("body", "must be a JSON object"));
        }
        // JSON can carry a NUL only as the escape `\u0000`: bodies without it (nearly all) are
        // deserialized in one pass; the others are parsed to a tree first to name the field.
        let value = if bytes.windows(6).any(|w| w == b"\\u0000") {
            let tree: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|_| ApiError::invalid("body", "is not well-formed JSON"))?;
            if let Some(at) = nul_at(&tree, String::new()) {
                return Err(ApiError::invalid(at, NUL_MESSAGE));
            }
            serde_path_to_error::deserialize(tree)
                .map_err(|e| field_error(&e.path().to_string(), &e.inner().to_string()))?
        } else {
            let mut de = serde_json::Deserializer::from_slice(&bytes);
            let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let inner = e.inner();
                if inner.is_syntax() || inner.is_eof() {
                    ApiError::invalid("body", "is not well-formed JSON")
                } else {
                    field_error(&e.path().to_string(), &inner.to_string())
                }
            })?;
            de.end()
                .map_err(|_| ApiError::invalid("body", "is not well-formed JSON"))?;
            value
        };
        Ok(Self(value))
    }
}

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if key.contains('\0') || value.contains('\0') {
                let field = if key.contains('\0') {
                    "query"
                } else {
                    key.as_ref()
                };
                return Err(ApiError::invalid(field.to_owned(), NUL_MESSAGE));
            }
        }
        let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Self)
            .map_err(|e| field_error(&e.path().to_string(), &e.inner().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_become_field_errors_without_values() {
        let e = field_error(".", "unknown field `sneaky`, expected one of `a`, `b`");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let e = format!("{e:?}");
        assert!(
            e.contains("sneaky") && e.contains("is not a known field"),
            "{e}"
        );
        let e = format!(
            "{:?}",
            field_error("roles[0]", "invalid type: string \"s3cret\", expected x")
        );
        assert!(!e.contains("s3cret") && e.contains("roles[0]"), "{e}");
    }
}

//! `/v1/keys/manifest`: the published manifest verification keyset (a JWK set of public keys;
//! never a private key or its reference), for any valid token, tenant or system.
//!
//! The keyset is global data, read in the system scope. It is published once its metadata is
//! persisted (`brokerdb::repo::secrets::keyset::persist_metadata`): before that, or with no
//! active or retired key, the answer is 404. The response carries a strong `ETag` computed from
//! its own bytes (lower-case hex SHA-256, quoted), so it changes exactly when the body does; a
//! request whose `If-None-Match` matches it is answered 304 without a body.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use brokerdb::repo::secrets::manifest_keys::{Curve, KeyType, ManifestKey, ManifestKeyAlg};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::auth::Principal;
use super::error::{ApiError, ErrorEnvelope};
use crate::app::AppState;

/// How long a client or cache may reuse the keyset without asking again, in seconds
/// (`Cache-Control: max-age`). Short, so a revoked key stops being trusted within a minute; a
/// client revalidates cheaply with `If-None-Match` (304).
pub const KEYSET_MAX_AGE_SECONDS: u32 = 60;

/// JWK key type.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum KeyTypeName {
    /// Octet key pair (Ed25519).
    #[serde(rename = "OKP")]
    Okp,
    /// Elliptic curve (P-256).
    #[serde(rename = "EC")]
    Ec,
}

/// JWK curve.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum CurveName {
    /// Ed25519.
    Ed25519,
    /// NIST P-256.
    #[serde(rename = "P-256")]
    P256,
}

/// Signature algorithm.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum AlgName {
    /// Ed25519 signatures.
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

/// JWK `use`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum KeyUseName {
    /// Signatures.
    #[serde(rename = "sig")]
    Sig,
}

/// One public verification key, as a JWK (RFC 7517 member names).
#[derive(Debug, Serialize, ToSchema)]
pub struct ManifestKeyOut {
    /// Key id.
    pub kid: String,
    /// Key type.
    pub kty: KeyTypeName,
    /// Curve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<CurveName>,
    /// Public x coordinate (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public y coordinate (base64url, EC only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Algorithm.
    pub alg: AlgName,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub key_use: KeyUseName,
}

impl From<ManifestKey> for ManifestKeyOut {
    fn from(k: ManifestKey) -> Self {
        Self {
            kid: k.kid,
            kty: match k.kty {
                KeyType::Okp => KeyTypeName::Okp,
                KeyType::Ec => KeyTypeName::Ec,
            },
            crv: k.crv.map(|c| match c {
                Curve::Ed25519 => CurveName::Ed25519,
                Curve::P256 => CurveName::P256,
            }),
            x: k.x,
            y: k.y,
            alg: match k.alg {
                ManifestKeyAlg::EdDSA => AlgName::EdDSA,
                ManifestKeyAlg::ES256 => AlgName::ES256,
            },
            key_use: KeyUseName::Sig,
        }
    }
}

/// The published keyset (a JWK set).
#[derive(Debug, Serialize, ToSchema)]
pub struct ManifestKeysetOut {
    /// The active key first, then retired keys, newest first (revoked keys never).
    pub keys: Vec<ManifestKeyOut>,
}

/// The strong entity tag of `body`: its lower-case hex SHA-256, quoted.
fn entity_tag(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Sha256::digest(body)))
}

/// Whether `If-None-Match` matches `etag` (RFC 9110 §13.1.2: `*`, or any listed tag under weak
/// comparison, i.e. ignoring a `W/` prefix).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// The manifest verification keyset, for any valid token. `ETag` and `Cache-Control:
/// max-age=60` on 200 and 304.
#[utoipa::path(
    get,
    path = "/v1/keys/manifest",
    tag = "keys",
    params(("If-None-Match" = Option<String>, Header, description = "An ETag of an earlier answer")),
    responses(
        (status = 200, description = "The keyset", body = ManifestKeysetOut,
         headers(("etag" = String, description = "Strong ETag of this body"),
                 ("cache-control" = String, description = "max-age=60"))),
        (status = 304, description = "Unchanged since the ETag given in If-None-Match (no body)",
         headers(("etag" = String, description = "The current ETag"),
                 ("cache-control" = String, description = "max-age=60"))),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 404, description = "No keyset is published", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn manifest(
    State(state): State<AppState>,
    _principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Global data: the system scope, whatever the token's tenant.
    let published = state
        .api
        .cache
        .manifest_keyset()
        .await?
        .ok_or_else(|| ApiError::not_found("manifest keyset"))?;
    let body = ManifestKeysetOut {
        keys: published
            .manifest_keys
            .keys
            .iter()
            .cloned()
            .map(ManifestKeyOut::from)
            .collect(),
    };
    let bytes = serde_json::to_vec(&body).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_error",
            "the keyset could not be encoded",
        )
    })?;
    let etag = entity_tag(&bytes);
    let mut response = if none_match(&headers, &etag) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(bytes));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    let out = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("max-age={KEYSET_MAX_AGE_SECONDS}")) {
        out.insert(header::CACHE_CONTROL, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_uses_weak_comparison_and_lists() {
        let etag = entity_tag(b"{}");
        assert_eq!(etag.len(), 66);
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).ok()?);
            Some(none_match(&h, &etag))
        };
        assert_eq!(with(&etag), Some(true));
        assert_eq!(with(&format!("W/{etag}")), Some(true));
        assert_eq!(with(&format!("\"x\", {etag}")), Some(true));
        assert_eq!(with("*"), Some(true));
        assert_eq!(with("\"x\""), Some(false));
        assert!(!none_match(&HeaderMap::new(), &etag));
    }
}

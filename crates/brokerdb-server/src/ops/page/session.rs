//! The browser's sign-in: the API token a person pasted, kept in a cookie that only this
//! console's pages receive.
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page can
//! make the browser send it) and scoped to `Path=/ops/db/repairs`. It has no `Max-Age`: it ends
//! with the browser session, and the token's own expiry and revocation apply on every request,
//! since the token is verified again each time. It is not marked `Secure` because the service
//! itself serves plain HTTP; behind a TLS-terminating proxy, mark it there.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};

/// The cookie's name.
pub const COOKIE_NAME: &str = "brokerdb_ops_token";

/// The path the cookie is sent to: the console's pages and forms.
pub const COOKIE_PATH: &str = "/ops/db/repairs";

/// The longest token kept in the cookie (tokens are far shorter).
const MAX_TOKEN_LEN: usize = 512;

/// Whether `token` may be stored as a cookie value as is: 1..=512 characters, each a visible
/// ASCII character other than `"`, `,`, `;` and `\` (RFC 6265's cookie-octet).
pub fn storable(token: &str) -> bool {
    (1..=MAX_TOKEN_LEN).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'))
}

/// The token in the request's console cookie, if there is one.
pub fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| storable(value))
}

/// The `Set-Cookie` value that signs the browser in with `token` (`None` when the token cannot
/// be a cookie value; see [`storable`]).
pub fn sign_in(token: &str) -> Option<HeaderValue> {
    if !storable(token) {
        return None;
    }
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={token}; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict"
    ))
    .ok()
}

/// The `Set-Cookie` value that signs the browser out (an expired, empty cookie).
pub fn sign_out() -> HeaderValue {
    HeaderValue::from_static(
        "brokerdb_ops_token=; Path=/ops/db/repairs; Max-Age=0; HttpOnly; SameSite=Strict",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_strict_and_scoped() {
        let value = sign_in("bdb_abc_DEF-123").and_then(|v| v.to_str().ok().map(str::to_owned));
        assert_eq!(
            value.as_deref(),
            Some(
                "brokerdb_ops_token=bdb_abc_DEF-123; Path=/ops/db/repairs; HttpOnly; SameSite=Strict"
            )
        );
        let out = sign_out();
        let out = out.to_str().unwrap_or_default();
        assert!(out.starts_with(&format!("{COOKIE_NAME}=;")), "{out}");
        assert!(out.contains(&format!("Path={COOKIE_PATH}")), "{out}");
        assert!(out.contains("Max-Age=0"), "{out}");
    }

    #[test]
    fn tokens_that_cannot_be_cookie_values_are_refused() {
        for bad in [
            "",
            "a b",
            "a;b",
            "a,b",
            "a\"b",
            "a\\b",
            "é",
            &"x".repeat(513),
        ] {
            assert!(sign_in(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_token_is_read_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("a=1; brokerdb_ops_token=bdb_x_y; b=2"),
        );
        assert_eq!(token(&headers).as_deref(), Some("bdb_x_y"));
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1"));
        headers.append(COOKIE, HeaderValue::from_static("brokerdb_ops_token=t2"));
        assert_eq!(token(&headers).as_deref(), Some("t2"));
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("brokerdb_ops_token="));
        assert_eq!(token(&headers), None);
        assert_eq!(token(&HeaderMap::new()), None);
    }
}

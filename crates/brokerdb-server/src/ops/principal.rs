//! Who calls the console (guard 1's input).
//!
//! Over HTTP the principal is the subject of a valid API bearer token (any tenant or system
//! token, any role), or, when no bearer token is presented and `REPAIR_TRUST_PROXY_HEADER` is
//! true, the value of the trusted proxy header. A bearer token that is unknown, expired or
//! revoked is no principal (it never falls back to the header), and neither is a header that
//! is repeated, empty, not visible ASCII or longer than [`MAX_PRINCIPAL`] characters (the ledger's bound on `executed_by`). On the
//! command line the principal is the OS user, `os:<user>`.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::api::ApiError;
use crate::api::request::set_principal;
use crate::app::AppState;

/// The longest principal a proxy header may carry, in characters.
pub const MAX_PRINCIPAL: usize = 200;

/// The principal of an API token (the token's subject), or `None` for a token that is unknown,
/// expired or revoked. A valid token counts against its rate limit (429 beyond it); a database
/// or Redis that does not answer is 503. For the HTML page, which reads the token from a cookie.
pub async fn principal_from_token(
    state: &AppState,
    token: &str,
) -> Result<Option<String>, ApiError> {
    let token = token.trim();
    if token.is_empty() {
        return Ok(None);
    }
    let Some(principal) = state.api.tokens.authenticate(&state.db, token).await? else {
        return Ok(None);
    };
    set_principal(&principal.token_id);
    state.api.rate_limit.check(&principal.token_id).await?;
    Ok(Some(principal.subject.into_inner()))
}

/// The value of the trusted proxy header, when the service trusts one and the request carries
/// it exactly once with a usable value.
pub fn proxy_principal(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = state.ops.proxy_header()?;
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?.trim();
    (!value.is_empty() && value.chars().count() <= MAX_PRINCIPAL).then(|| value.to_owned())
}

/// The bearer token of an `Authorization: Bearer <token>` header: `Some(None)` when the header
/// is a bearer one without a usable token, `None` when there is no bearer header.
fn bearer(headers: &HeaderMap) -> Option<Option<&str>> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    Some((!token.is_empty()).then_some(token))
}

/// The principal of a request's headers: its bearer token's subject, or (without a bearer
/// token) the trusted proxy header's value; `None` when neither names one.
pub async fn principal_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<String>, ApiError> {
    match bearer(headers) {
        Some(Some(token)) => principal_from_token(state, token).await,
        Some(None) => Ok(None),
        None => Ok(proxy_principal(state, headers)),
    }
}

/// The principal of a JSON request, or `None` (guard 1 then answers 401). Extracting it fails
/// only when the token store does not answer (503) or the token's rate limit is reached (429).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsolePrincipal(pub Option<String>);

impl FromRequestParts<AppState> for ConsolePrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        principal_from_headers(state, &parts.headers)
            .await
            .map(ConsolePrincipal)
    }
}

/// The CLI's principal: `os:<user>` for the user the process runs as (`os:uid-<n>` when the
/// user has no name).
pub fn os_principal() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => format!("os:{}", user.name),
        _ => format!("os:uid-{uid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(authorization) {
            h.insert(AUTHORIZATION, v);
        }
        h
    }

    #[test]
    fn only_bearer_authorization_counts_as_a_token() {
        assert_eq!(bearer(&headers("Bearer abc")), Some(Some("abc")));
        assert_eq!(bearer(&headers("bearer  abc ")), Some(Some("abc")));
        assert_eq!(bearer(&headers("Bearer ")), Some(None));
        assert_eq!(bearer(&headers("Bearer")), Some(None));
        assert_eq!(bearer(&headers("Basic dXNlcjpwdw==")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn the_os_principal_is_prefixed() {
        assert!(os_principal().starts_with("os:"));
    }
}

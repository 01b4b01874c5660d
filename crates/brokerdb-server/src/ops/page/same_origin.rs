//! The console's CSRF defence in depth, on top of its `SameSite=Strict` cookie: a form sent with
//! POST must come from this server's own pages. When the browser sends an `Origin` header it
//! must name this server (`http://` or `https://` followed by the request's `Host`); without
//! `Origin`, a `Referer` header, when present, must start with that origin. A request with
//! neither header (some privacy settings strip both) is let through: the cookie's `SameSite`
//! attribute already keeps it off cross-site requests.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN, REFERER};

/// Why a form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CrossOrigin {
    /// `Origin` names another site (or is `null`).
    #[error("the form was sent from another origin")]
    Origin,
    /// `Referer` is a page of another site.
    #[error("the form was sent from a page of another origin")]
    Referer,
    /// The request has no usable `Host` to compare with.
    #[error("the request has no Host header to compare the form's origin with")]
    NoHost,
}

/// The origin part (`scheme://host[:port]`) of a URL, lower-cased; `None` when it has none.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// Whether `origin` is this server's, as the request's `host` names it.
fn is_own(origin: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

/// Checks a state-changing form's `Origin` / `Referer` against the request's `Host` (or, for a
/// request without one, the authority of its URI, `uri_authority`).
pub fn check(headers: &HeaderMap, uri_authority: Option<&str>) -> Result<(), CrossOrigin> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let origin = headers.get(ORIGIN);
    let referer = headers.get(REFERER);
    if origin.is_none() && referer.is_none() {
        return Ok(());
    }
    let host = text(HOST)
        .or(uri_authority)
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(CrossOrigin::NoHost)?;
    if origin.is_some() {
        return match text(ORIGIN).and_then(origin_of) {
            Some(o) if is_own(&o, host) => Ok(()),
            _ => Err(CrossOrigin::Origin),
        };
    }
    match text(REFERER).and_then(origin_of) {
        Some(o) if is_own(&o, host) => Ok(()),
        _ => Err(CrossOrigin::Referer),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(axum::http::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                name.clone(),
                HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
            );
        }
        map
    }

    fn check_(h: &HeaderMap) -> Result<(), CrossOrigin> {
        check(h, None)
    }

    #[test]
    fn own_origin_passes_and_others_are_refused() {
        let host = (HOST, "127.0.0.1:8080");
        for ok in [
            "http://127.0.0.1:8080",
            "https://127.0.0.1:8080",
            "HTTP://127.0.0.1:8080",
        ] {
            assert_eq!(
                check_(&headers(&[host.clone(), (ORIGIN, ok)])),
                Ok(()),
                "{ok}"
            );
        }
        for bad in [
            "http://127.0.0.1:8081",
            "http://evil.example",
            "null",
            "http://127.0.0.1:8080.evil.example",
            "",
        ] {
            assert_eq!(
                check_(&headers(&[host.clone(), (ORIGIN, bad)])),
                Err(CrossOrigin::Origin),
                "{bad}"
            );
        }
    }

    #[test]
    fn origin_wins_over_referer() {
        let h = headers(&[
            (HOST, "localhost:3000"),
            (ORIGIN, "http://evil.example"),
            (REFERER, "http://localhost:3000/ops/db/repairs"),
        ]);
        assert_eq!(check_(&h), Err(CrossOrigin::Origin));
    }

    #[test]
    fn referer_is_checked_without_origin() {
        let host = (HOST, "localhost:3000");
        assert_eq!(
            check_(&headers(&[
                host.clone(),
                (REFERER, "http://localhost:3000/ops/db/repairs?x=1")
            ])),
            Ok(())
        );
        for bad in [
            "http://localhost:3001/ops/db/repairs",
            "http://localhost:3000@evil.example/",
            "/ops/db/repairs",
        ] {
            assert_eq!(
                check_(&headers(&[host.clone(), (REFERER, bad)])),
                Err(CrossOrigin::Referer),
                "{bad}"
            );
        }
    }

    #[test]
    fn neither_header_passes_and_a_missing_host_fails_closed() {
        assert_eq!(check_(&headers(&[(HOST, "localhost")])), Ok(()));
        assert_eq!(check_(&HeaderMap::new()), Ok(()));
        assert_eq!(
            check_(&headers(&[(ORIGIN, "http://localhost")])),
            Err(CrossOrigin::NoHost)
        );
        assert_eq!(
            check(&headers(&[(ORIGIN, "http://localhost")]), Some("localhost")),
            Ok(())
        );
    }
}

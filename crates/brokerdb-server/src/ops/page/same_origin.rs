//! The console's CSRF defence in depth, on top of its `SameSite=Strict` cookie: a form sent with
//! POST must come from this server's own pages. When the browser sends an `Origin` header it
//! must name this server (`http://` or `https://` followed by the request's `Host`); without
//! `Origin`, a `Referer` header, when present, must start with that origin. A request with
//! neither header (some privacy settings strip both) is let through: the cookie's `SameSite`
//! attribute already keeps it off cross-site requests.
//!
//! Behind a reverse proxy that rewrites `Host` (the browser's origin is `https://ops.example.com`,
//! the service sees `Host: 10.0.0.5:8080`), the browser's origin never names the request's host:
//! the origins listed in `REPAIR_PUBLIC_ORIGINS` ([`PublicOrigins`]) are accepted as this
//! server's too.

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

/// Origins (`scheme://host[:port]`) under which browsers reach the console through a reverse
/// proxy, accepted besides the request's own `Host` (`REPAIR_PUBLIC_ORIGINS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicOrigins(Vec<String>);

/// A `REPAIR_PUBLIC_ORIGINS` entry that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "REPAIR_PUBLIC_ORIGINS entry {position} is not an origin: expected http:// or https:// \
     followed by a host and an optional port, nothing else (e.g. https://ops.example.com)"
)]
pub struct BadOrigin {
    /// The entry's 1-based position in the list (its text is not repeated).
    pub position: usize,
}

impl PublicOrigins {
    /// Parses a comma-separated list (blank entries ignored; each one lower-cased). Each entry
    /// must be exactly an origin: `http` or `https`, a host, an optional port, and no user,
    /// path, query or fragment (a trailing `/` is tolerated).
    pub fn parse(list: &str) -> Result<Self, BadOrigin> {
        let mut origins = Vec::new();
        for (i, entry) in list.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let bare = entry.strip_suffix('/').unwrap_or(entry);
            let origin = origin_of(bare)
                .filter(|o| o.len() == bare.len())
                .filter(|o| o.starts_with("http://") || o.starts_with("https://"))
                .filter(|o| !o.contains(char::is_whitespace))
                .ok_or(BadOrigin { position: i + 1 })?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(Self(origins))
    }

    /// The origins, lower-cased.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    fn contains(&self, origin: &str) -> bool {
        self.0.iter().any(|o| o == origin)
    }
}

/// Checks a state-changing form's `Origin` / `Referer` against the request's `Host` (or, for a
/// request without one, the authority of its URI, `uri_authority`) and the configured `public`
/// origins.
pub fn check(
    headers: &HeaderMap,
    uri_authority: Option<&str>,
    public: &PublicOrigins,
) -> Result<(), CrossOrigin> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let origin = headers.get(ORIGIN);
    let referer = headers.get(REFERER);
    if origin.is_none() && referer.is_none() {
        return Ok(());
    }
    let host = text(HOST)
        .or(uri_authority)
        .map(str::trim)
        .filter(|h| !h.is_empty());
    let accepted = |o: &str| public.contains(o) || host.is_some_and(|h| is_own(o, h));
    if host.is_none() && public.as_slice().is_empty() {
        return Err(CrossOrigin::NoHost);
    }
    if origin.is_some() {
        return match text(ORIGIN).and_then(origin_of) {
            Some(o) if accepted(&o) => Ok(()),
            _ => Err(CrossOrigin::Origin),
        };
    }
    match text(REFERER).and_then(origin_of) {
        Some(o) if accepted(&o) => Ok(()),
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
        check_with(h, &PublicOrigins::default())
    }

    fn check_with(h: &HeaderMap, public: &PublicOrigins) -> Result<(), CrossOrigin> {
        check(h, None, public)
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
            check(
                &headers(&[(ORIGIN, "http://localhost")]),
                Some("localhost"),
                &PublicOrigins::default()
            ),
            Ok(())
        );
    }

    #[test]
    fn a_public_origin_is_accepted_behind_a_host_rewriting_proxy_and_nothing_else_is() {
        let public =
            PublicOrigins::parse(" https://Ops.Example.com/ , ,http://ops.example.com:8443")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            public.as_slice(),
            ["https://ops.example.com", "http://ops.example.com:8443"]
        );
        // The proxy rewrote Host to the service's own address.
        let host = (HOST, "10.0.0.5:8080");
        for ok in ["https://ops.example.com", "HTTP://OPS.EXAMPLE.COM:8443"] {
            assert_eq!(
                check_with(&headers(&[host.clone(), (ORIGIN, ok)]), &public),
                Ok(())
            );
        }
        assert_eq!(
            check_with(
                &headers(&[
                    host.clone(),
                    (REFERER, "https://ops.example.com/ops/db/repairs")
                ]),
                &public
            ),
            Ok(())
        );
        // The request's own host is still accepted; other origins are not.
        assert_eq!(
            check_with(
                &headers(&[host.clone(), (ORIGIN, "http://10.0.0.5:8080")]),
                &public
            ),
            Ok(())
        );
        for bad in [
            "https://ops.example.com:444",
            "http://ops.example.com",
            "null",
        ] {
            assert_eq!(
                check_with(&headers(&[host.clone(), (ORIGIN, bad)]), &public),
                Err(CrossOrigin::Origin),
                "{bad}"
            );
        }
        // Without Host, the public origins are all there is to compare with.
        assert_eq!(
            check_with(&headers(&[(ORIGIN, "https://ops.example.com")]), &public),
            Ok(())
        );
        assert_eq!(
            check_with(&headers(&[(ORIGIN, "https://evil.example")]), &public),
            Err(CrossOrigin::Origin)
        );
    }

    #[test]
    fn a_public_origins_entry_must_be_exactly_an_origin() {
        assert_eq!(PublicOrigins::parse(""), Ok(PublicOrigins::default()));
        for (list, position) in [
            ("ops.example.com", 1),
            ("https://ops.example.com,ftp://ops.example.com", 2),
            ("https://ops.example.com/ops", 1),
            ("https://ops.example.com?x=1", 1),
            ("https://user@ops.example.com", 1),
            ("https://", 1),
            ("https://ops example.com", 1),
        ] {
            assert_eq!(
                PublicOrigins::parse(list),
                Err(BadOrigin { position }),
                "{list}"
            );
        }
    }
}

//! The console's HTML: minijinja templates embedded in the binary (`templates/ops/`), rendered
//! with HTML autoescaping on for every template; printing an undefined value is an error (an
//! absent optional field only tests false), so a typo in a template fails its unit test instead
//! of printing nothing.

use std::sync::OnceLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::Serialize;

/// The templates, by name (each `ops/<file>` under `templates/`).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "ops/base.html",
        include_str!("../../../templates/ops/base.html"),
    ),
    (
        "ops/sign_in.html",
        include_str!("../../../templates/ops/sign_in.html"),
    ),
    (
        "ops/message.html",
        include_str!("../../../templates/ops/message.html"),
    ),
    (
        "ops/list.html",
        include_str!("../../../templates/ops/list.html"),
    ),
    (
        "ops/preview.html",
        include_str!("../../../templates/ops/preview.html"),
    ),
    (
        "ops/result.html",
        include_str!("../../../templates/ops/result.html"),
    ),
    (
        "ops/runs.html",
        include_str!("../../../templates/ops/runs.html"),
    ),
];

/// Headers on every page: no caching (pages show schema state and run ids), no framing, no
/// script or remote resource at all (the page needs none; its only style is inline), forms only
/// to this server.
const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
];

/// The templates, parsed once.
fn environment() -> Result<&'static Environment<'static>, String> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("template {name}: {e}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// A refusal or failure as the page shows it: `"<status> — <message>"`, and what to do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The HTTP status of the response.
    pub status: u16,
    /// What happened, as a sentence.
    pub message: String,
    /// What to do about it, if there is something to say.
    pub hint: Option<String>,
    /// The stable code of a guard's refusal (`HASH_MISMATCH`, …), when it is one.
    #[serde(skip)]
    pub code: Option<&'static str>,
}

impl Alert {
    /// An alert with `status` and `message` (its first letter capitalised and a full stop
    /// added when it has no final punctuation).
    pub fn new(status: StatusCode, message: impl AsRef<str>) -> Self {
        Self {
            status: status.as_u16(),
            message: sentence(message.as_ref()),
            hint: None,
            code: None,
        }
    }

    /// The same alert with `hint`.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same alert with the refusal's stable `code`.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The status as an HTTP status (500 when it is not one).
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// `text` with its first letter upper-case and a final full stop when it has none.
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?', '…']) {
        out.push('.');
    }
    out
}

/// What every page shows around its content: the title (the page's one `<h1>`), the
/// environment, who is signed in and how, and an alert.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Frame {
    /// The page's title and heading.
    pub title: String,
    /// `BROKERDB_ENV` as configured, when known.
    pub environment: Option<String>,
    /// The principal, when one is known.
    pub principal: Option<String>,
    /// Whether the principal came from the sign-in cookie (so signing out means something).
    pub signed_in_with_cookie: bool,
    /// A refusal or failure to show above the content.
    pub error: Option<Alert>,
}

#[derive(Serialize)]
struct Context<'a, T: Serialize> {
    #[serde(flatten)]
    frame: &'a Frame,
    #[serde(flatten)]
    page: T,
}

/// Renders `template` with `frame` and the page's own values, to HTML.
pub fn render_html<T: Serialize>(template: &str, frame: &Frame, page: T) -> Result<String, String> {
    let env = environment()?;
    let tmpl = env
        .get_template(template)
        .map_err(|e| format!("template {template}: {e}"))?;
    tmpl.render(Value::from(Serde(Context { frame, page })))
        .map_err(|e| format!("template {template}: {e:#}"))
}

/// An HTML page with `status`, or a 500 text answer when the template cannot be rendered (a
/// bug that the templates' unit tests catch).
pub fn page<T: Serialize>(
    status: StatusCode,
    template: &str,
    frame: &Frame,
    values: T,
) -> Response {
    match render_html(template, frame, values) {
        Ok(html) => {
            let mut response = (status, html).into_response();
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            for (name, value) in SECURITY_HEADERS {
                headers.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot render a repair console page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered; the service log says why",
            )
                .into_response()
        }
    }
}

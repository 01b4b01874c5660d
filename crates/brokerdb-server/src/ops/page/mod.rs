//! The repair console's web page, `/ops/db/repairs`: server-rendered HTML with plain forms (no
//! script), over the same operations as the JSON API ([`super::service`]), so the guards are
//! the same ones, in the same order.
//!
//! The flow: sign in (paste an API token) → the playbooks → Preview (a POST form; the plan, the
//! hash, what is missing before and what executing would restore) → Execute (a form where the
//! person types or pastes the hash; nothing is pre-filled) → the result (status, run id,
//! summary, what was missing before and after) → the run history, newest first.
//!
//! Authentication: the sign-in cookie ([`session`]) holding an API token that is verified again
//! on every request, or the trusted proxy header when the console trusts one. Every POST form's
//! `Origin` / `Referer` must be this server's ([`same_origin`]), on top of the cookie's
//! `SameSite=Strict`. A refusal is shown as `"<status> — <message>"` with that status on the
//! response.

mod backend;
pub mod same_origin;
pub mod session;
pub mod views;

#[cfg(test)]
mod tests;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use self::backend::Caller;
use self::views::{Alert, Frame, page};
use crate::app::AppState;
use crate::ops::service::Authorized;
use crate::ops::wire::{ExecuteOut, RunStatusOut};

/// The page's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ops/db/repairs", get(index))
        .route("/ops/db/repairs/sign-in", post(sign_in))
        .route("/ops/db/repairs/sign-out", post(sign_out))
        .route("/ops/db/repairs/runs", get(runs))
        .route("/ops/db/repairs/{id}/preview", post(preview))
        .route("/ops/db/repairs/{id}/execute", post(execute))
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
struct SignInForm {
    token: String,
}

/// The execute form.
#[derive(Debug, Deserialize)]
struct ExecuteForm {
    expected_hash: String,
}

/// The run history's query: the page size and the cursor of the page.
#[derive(Debug, Deserialize)]
struct RunsQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Runs per page of the history, unless the link says otherwise.
const RUNS_PER_PAGE: i64 = 25;

/// The frame of a page titled `title` for `caller`.
fn frame(state: &AppState, caller: &Caller, title: impl Into<String>) -> Frame {
    Frame {
        title: title.into(),
        environment: Some(backend::environment(state)),
        principal: caller.principal.clone(),
        signed_in_with_cookie: caller.via_cookie,
        error: None,
    }
}

/// A page that only shows `alert`, titled `title`, with the alert's status.
fn refusal(state: &AppState, caller: &Caller, title: &str, alert: Alert) -> Response {
    if alert.status == StatusCode::UNAUTHORIZED.as_u16() {
        return sign_in_page(state, caller, alert);
    }
    let status = alert.status_code();
    let mut frame = frame(state, caller, title);
    frame.error = Some(alert);
    page(status, "ops/message.html", &frame, ())
}

/// The sign-in page with `alert` (401).
fn sign_in_page(state: &AppState, caller: &Caller, alert: Alert) -> Response {
    let alert = if caller.stale_cookie {
        Alert::new(
            StatusCode::UNAUTHORIZED,
            "your sign-in has ended: its token is unknown, expired or revoked",
        )
        .with_hint("Sign in again with a valid token.")
    } else {
        alert
    };
    let mut frame = frame(state, caller, "Sign in to the repair console");
    let status = alert.status_code();
    frame.error = Some(alert);
    let mut response = page(status, "ops/sign_in.html", &frame, ());
    if caller.stale_cookie {
        response
            .headers_mut()
            .insert(SET_COOKIE, session::sign_out());
    }
    response
}

/// 303 to the playbooks, optionally setting a cookie.
fn to_index(cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(LOCATION, HeaderValue::from_static("/ops/db/repairs"));
    if let Some(cookie) = cookie {
        headers.insert(SET_COOKIE, cookie);
    }
    response
}

/// The refusal (403) of a form that came from another origin, checked before anything else is
/// looked at; `None` when the form may proceed.
fn cross_origin(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Option<Response> {
    let refused = same_origin::check(
        headers,
        uri.authority().map(|a| a.as_str()),
        state.ops.public_origins(),
    )
    .err()?;
    let alert = Alert::new(StatusCode::FORBIDDEN, refused.to_string()).with_hint(
        "Forms of the repair console are accepted only from its own pages. Open the console at \
         this server's address and send the form from there.",
    );
    let mut frame = frame(state, &Caller::default(), "Refused");
    frame.error = Some(alert);
    Some(page(StatusCode::FORBIDDEN, "ops/message.html", &frame, ()))
}

/// A form or link that could not be read: 400.
fn unreadable(state: &AppState, caller: &Caller, title: &str, what: &str) -> Response {
    refusal(
        state,
        caller,
        title,
        Alert::new(
            StatusCode::BAD_REQUEST,
            format!("the {what} could not be read"),
        )
        .with_hint("Start again from the console's page."),
    )
}

/// Who calls, past guards 1–3; otherwise the refusal's page (the sign-in form for 401).
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    title: &str,
) -> Result<(Caller, Authorized), Response> {
    let caller = backend::caller(state, headers)
        .await
        .map_err(|alert| refusal(state, &Caller::default(), title, alert))?;
    match backend::authorize(state, &caller) {
        Ok(who) => Ok((caller, who)),
        Err(alert) => Err(refusal(state, &caller, title, alert)),
    }
}

/// `GET /ops/db/repairs`: the playbooks, or the sign-in form.
async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let title = "Database repair console";
    let (caller, who) = match signed_in(&state, &headers, title).await {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    match backend::list(&state, &who) {
        Ok(playbooks) => page(
            StatusCode::OK,
            "ops/list.html",
            &frame(&state, &caller, title),
            serde_json::json!({ "playbooks": playbooks }),
        ),
        Err(alert) => refusal(&state, &caller, title, alert),
    }
}

/// `POST /ops/db/repairs/sign-in`: verifies the token, then keeps it in the cookie.
async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    if let Some(refused) = cross_origin(&state, &headers, &uri) {
        return refused;
    }
    let nobody = Caller::default();
    let Ok(Form(form)) = form else {
        return unreadable(&state, &nobody, "Sign in", "form");
    };
    let token = form.token.trim();
    let unknown = || {
        Alert::new(
            StatusCode::UNAUTHORIZED,
            "the token is unknown, expired or revoked",
        )
        .with_hint("Paste the whole token, as `brokerdb token create` printed it.")
    };
    if !session::storable(token) {
        return sign_in_page(&state, &nobody, unknown());
    }
    match backend::verify_token(&state, token).await {
        Ok(true) => to_index(session::sign_in(token)),
        Ok(false) => sign_in_page(&state, &nobody, unknown()),
        Err(alert) => refusal(&state, &nobody, "Sign in", alert),
    }
}

/// `POST /ops/db/repairs/sign-out`: forgets the cookie.
async fn sign_out(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(refused) = cross_origin(&state, &headers, &uri) {
        return refused;
    }
    to_index(Some(session::sign_out()))
}

/// `POST /ops/db/repairs/{id}/preview`: the plan and the hash to confirm.
async fn preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Some(refused) = cross_origin(&state, &headers, &uri) {
        return refused;
    }
    let (caller, who) = match signed_in(&state, &headers, &format!("Preview of {id}")).await {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    preview_page(&state, &caller, &who, &id, None).await
}

/// The preview of `id`; with `alert`, the refusal of an execution shown above it (and its
/// status on the response).
async fn preview_page(
    state: &AppState,
    caller: &Caller,
    who: &Authorized,
    id: &str,
    alert: Option<Alert>,
) -> Response {
    let title = format!("Preview of {id}");
    match backend::preview(state, who, id).await {
        Ok(preview) => {
            let status = alert.as_ref().map_or(StatusCode::OK, Alert::status_code);
            let mut frame = frame(state, caller, title);
            frame.error = alert;
            page(
                status,
                "ops/preview.html",
                &frame,
                serde_json::json!({ "preview": preview }),
            )
        }
        Err(refused) => refusal(state, caller, &title, alert.unwrap_or(refused)),
    }
}

/// `POST /ops/db/repairs/{id}/execute`: runs the playbook when the typed hash matches; a
/// mismatch shows the preview again under the 409.
async fn execute(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<ExecuteForm>, FormRejection>,
) -> Response {
    if let Some(refused) = cross_origin(&state, &headers, &uri) {
        return refused;
    }
    let title = format!("Execution of {id}");
    let (caller, who) = match signed_in(&state, &headers, &title).await {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    let Ok(Form(form)) = form else {
        return unreadable(&state, &caller, &title, "form");
    };
    match backend::execute(&state, &who, &id, &form.expected_hash).await {
        Ok(outcome) => {
            let title = format!("{id}: {}", outcome_word(&outcome));
            page(
                StatusCode::OK,
                "ops/result.html",
                &frame(&state, &caller, title),
                serde_json::json!({ "outcome": outcome }),
            )
        }
        Err(alert) if alert.code == Some("HASH_MISMATCH") => {
            let alert = alert
                .with_hint("Copy the hash shown under “Hash to confirm” below and execute again.");
            preview_page(&state, &caller, &who, &id, Some(alert)).await
        }
        Err(alert) => refusal(&state, &caller, &title, alert),
    }
}

/// `SUCCESS` or `FAILED`, as the result page's title says it.
fn outcome_word(outcome: &ExecuteOut) -> &'static str {
    match outcome.status {
        RunStatusOut::Success => "SUCCESS",
        RunStatusOut::Failed => "FAILED",
    }
}

/// The link to the history page after the one whose last row gave `cursor`.
fn next_page_link(limit: i64, cursor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if limit != RUNS_PER_PAGE {
        query.append_pair("limit", &limit.to_string());
    }
    query.append_pair("cursor", cursor);
    format!("/ops/db/repairs/runs?{}", query.finish())
}

/// `GET /ops/db/repairs/runs[?cursor=…][&limit=…]`: the run ledger, newest first.
async fn runs(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> Response {
    let title = "Run history";
    let (caller, who) = match signed_in(&state, &headers, title).await {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    let Ok(Query(query)) = query else {
        return unreadable(&state, &caller, title, "page link");
    };
    let limit = query.limit.unwrap_or(RUNS_PER_PAGE);
    match backend::runs(&state, &who, limit, query.cursor.as_deref()).await {
        Ok(runs) => page(
            StatusCode::OK,
            "ops/runs.html",
            &frame(&state, &caller, title),
            serde_json::json!({
                "runs": runs.items,
                "next": runs.next_cursor.map(|cursor| next_page_link(limit, &cursor)),
                "first_page": query.cursor.is_none(),
            }),
        ),
        Err(alert) => refusal(&state, &caller, title, alert),
    }
}

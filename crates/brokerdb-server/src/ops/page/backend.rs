//! The page's view of the console's shared operations ([`crate::ops::service`]) and principal
//! ([`crate::ops::principal`]): who is calling (the sign-in cookie's token, or the trusted proxy
//! header), and each operation's failure as an [`Alert`] with its HTTP status.

use axum::http::{HeaderMap, StatusCode};
use brokerdb_repair::GuardError;

use super::session;
use super::views::Alert;
use crate::api::ApiError;
use crate::api::request::current_request_id;
use crate::app::AppState;
use crate::ops::error::UNAVAILABLE;
use crate::ops::principal::{principal_from_token, proxy_principal};
use crate::ops::service::Authorized;
use crate::ops::wire::{ExecuteOut, PreviewOut, RepairSummary, RunsOut};
use crate::ops::{OpsError, service};

/// Who is calling, as far as the page can tell.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The principal, when one is known (guard 1 refuses without it).
    pub principal: Option<String>,
    /// It came from the sign-in cookie (so the page offers to sign out).
    pub via_cookie: bool,
    /// The request carried a sign-in cookie whose token is no longer valid (the page asks to
    /// sign in again and clears it).
    pub stale_cookie: bool,
}

/// The request's caller: the sign-in cookie's token when it is valid, otherwise the trusted
/// proxy header's user (when the console trusts one). A token store that does not answer, or a
/// token over its rate limit, is an alert (503, 429).
pub async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, Alert> {
    let mut caller = Caller::default();
    if let Some(token) = session::token(headers) {
        match principal_from_token(state, &token).await {
            Ok(Some(principal)) => {
                caller.principal = Some(principal);
                caller.via_cookie = true;
                return Ok(caller);
            }
            Ok(None) => caller.stale_cookie = true,
            Err(e) => return Err(api_alert(&e)),
        }
    }
    caller.principal = proxy_principal(state, headers);
    Ok(caller)
}

/// Whether `token` is a valid API token (any subject: the guards decide what it may do).
pub async fn verify_token(state: &AppState, token: &str) -> Result<bool, Alert> {
    principal_from_token(state, token)
        .await
        .map(|p| p.is_some())
        .map_err(|e| api_alert(&e))
}

/// `BROKERDB_ENV` as the console sees it (`unset` when it is not set).
pub fn environment(state: &AppState) -> String {
    state.ops.guards().deployment_env().to_owned()
}

/// Guards 1–3 for `caller`.
pub fn authorize(state: &AppState, caller: &Caller) -> Result<Authorized, Alert> {
    service::authorize(&state.ops, caller.principal.as_deref()).map_err(alert)
}

/// The playbooks.
pub fn list(state: &AppState, who: &Authorized) -> Result<Vec<RepairSummary>, Alert> {
    service::list_as(&state.ops, who)
        .map(|out| out.repairs)
        .map_err(alert)
}

/// The preview of `id`.
pub async fn preview(state: &AppState, who: &Authorized, id: &str) -> Result<PreviewOut, Alert> {
    service::preview_as(&state.ops, who, id)
        .await
        .map_err(alert)
}

/// Executes `id` confirmed by `hash`, recording this request's id in the ledger.
pub async fn execute(
    state: &AppState,
    who: &Authorized,
    id: &str,
    hash: &str,
) -> Result<ExecuteOut, Alert> {
    service::execute_as(&state.ops, who, id, hash.trim(), &current_request_id())
        .await
        .map_err(alert)
}

/// A page of the run ledger, newest first.
pub async fn runs(
    state: &AppState,
    who: &Authorized,
    limit: i64,
    cursor: Option<&str>,
) -> Result<RunsOut, Alert> {
    service::runs_as(&state.ops, &state.db, who, Some(limit), cursor)
        .await
        .map_err(alert)
}

/// The alert of a refusal from the API's token handling (429, 503).
fn api_alert(e: &ApiError) -> Alert {
    let status = e.status();
    let message = match status {
        StatusCode::TOO_MANY_REQUESTS => "this token has reached its request limit; wait a minute",
        StatusCode::SERVICE_UNAVAILABLE => {
            "the service cannot check the token right now; retry later"
        }
        _ => "the token could not be checked; the service log has the request id",
    };
    Alert::new(status, message)
}

/// How the page shows an operation's failure.
pub fn alert(e: OpsError) -> Alert {
    match e {
        OpsError::Guard(g) => guard_alert(&g),
        OpsError::Unavailable => Alert::new(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
        OpsError::Invalid { field, message } => {
            let what = match field {
                "repairId" => "the playbook id",
                "expectedHash" => "the hash to confirm",
                other => other,
            };
            Alert::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{what} {message}"),
            )
        }
        OpsError::UnknownPlaybook => {
            Alert::new(StatusCode::NOT_FOUND, "no repair playbook has this id")
                .with_hint("Pick one from the list of playbooks.")
        }
        other => {
            // The API's mapping decides the status and logs what it must (never a value).
            let status = ApiError::from(other).status();
            if status.is_client_error() {
                // Only the history's limit and cursor reach the ledger as input.
                Alert::new(status, "the page link is not valid")
                    .with_hint("Start again from the newest runs.")
            } else if status == StatusCode::INTERNAL_SERVER_ERROR {
                Alert::new(
                    status,
                    "the request failed; the service log has its request id",
                )
            } else {
                Alert::new(
                    status,
                    "the database did not answer the repair console; retry later",
                )
            }
        }
    }
}

/// A guard's refusal with its status, its message and what to do.
fn guard_alert(g: &GuardError) -> Alert {
    let status = StatusCode::from_u16(g.status()).unwrap_or(StatusCode::FORBIDDEN);
    let alert = Alert::new(status, g.to_string()).with_code(g.code());
    match g {
        GuardError::Unauthenticated => alert.with_hint("Sign in with an API token."),
        GuardError::EnvDisabled { .. } => alert.with_hint(
            "Nothing can be previewed or repaired from this service. Use the console of a \
             staging or development deployment.",
        ),
        GuardError::Forbidden => alert.with_hint(
            "Ask an operator to add your token's subject to BROKERDB_REPAIR_ADMINS, or sign out \
             and sign in with another token.",
        ),
        GuardError::HashMismatch { .. } => alert,
    }
}

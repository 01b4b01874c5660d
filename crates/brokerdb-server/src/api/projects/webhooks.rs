//! `POST /v1/projects/{projectId}/webhooks/{source}`: webhook intake. The caller is a tenant
//! token (the tenant comes from it); the delivery is authenticated by its
//! `X-Hub-Signature-256` under the project's webhook secret before anything is stored
//! ([`brokerdb_projects::intake::accept_webhook`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_projects::WebhookSource;
use brokerdb_projects::intake;
use brokerdb_projects::webhooks::ReceiveOutcome;
use serde::Serialize;
use utoipa::ToSchema;

use super::project_id;
use crate::api::auth::Principal;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::ApiPath;
use crate::app::AppState;

/// The header naming the sender's event type.
pub const EVENT_HEADER: &str = "x-github-event";
/// The header carrying the payload's signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// What became of a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAcceptedOut {
    /// The stored event: new, or the one this delivery duplicates.
    pub event_id: String,
    /// `created`, `duplicate_in_flight` or `duplicate_after_processed`.
    pub outcome: String,
    /// The artifact-scan job of a new `push` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_job_id: Option<i64>,
}

/// The raw JSON body, verbatim (the signature covers its exact bytes): `Content-Type:
/// application/json` (415 otherwise), at most the service's body limit (413 beyond).
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
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
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| {
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
            })
    }
}

fn outcome_label(outcome: ReceiveOutcome) -> &'static str {
    match outcome {
        ReceiveOutcome::Created => "created",
        ReceiveOutcome::DuplicateInFlight => "duplicate_in_flight",
        ReceiveOutcome::DuplicateAfterProcessed => "duplicate_after_processed",
    }
}

/// Receives a webhook delivery for a project of the caller's tenant (role `operator`). The
/// signature is checked before anything is stored (401, nothing stored, when it is missing or
/// wrong, or the project has no webhook secret); the same payload delivered again while the
/// first is in flight or after it was processed creates nothing. A new `push` gets one
/// artifact-scan job.
#[utoipa::path(
    post,
    path = "/v1/projects/{projectId}/webhooks/{source}",
    tag = "projects",
    params(
        ("projectId" = String, Path, description = "The project's id"),
        ("source" = String, Path, description = "`github`, `gitlab` or `bitbucket`"),
        ("X-GitHub-Event" = String, Header, description = "The event type (`push`, `pull_request`, …)"),
        ("X-Hub-Signature-256" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of the raw body under the project's webhook secret"),
    ),
    request_body(content = Object, content_type = "application/json", description = "The sender's payload, verbatim"),
    responses(
        (status = 202, description = "Accepted (new or duplicate)", body = WebhookAcceptedOut),
        (status = 400, description = "The id, source or event header is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token, or the signature is missing or wrong", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such project in the tenant", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn receive(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((id, source)): ApiPath<(String, String)>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Operator)?;
    let id = project_id(&id)?;
    let source = WebhookSource::parse(&source)?;
    let event_type = headers
        .get(EVENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.chars().count() <= 100)
        .ok_or_else(|| {
            ApiError::invalid(
                "X-GitHub-Event",
                "must name the event type (1..100 characters)",
            )
        })?;
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let accepted = intake::accept_webhook(
        &state.db,
        &state.projects.secret_key,
        tenant,
        &id,
        source,
        event_type,
        signature,
        &body,
    )
    .await?;
    let out = WebhookAcceptedOut {
        event_id: accepted.event.event_id.to_string(),
        outcome: outcome_label(accepted.outcome).to_owned(),
        scan_job_id: accepted.scan_job,
    };
    Ok((StatusCode::ACCEPTED, Json(out)).into_response())
}

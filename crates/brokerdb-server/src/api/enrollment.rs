//! Enrollment tokens: one-time tokens a workload exchanges for its first certificate. Issuing
//! one (`POST /v1/workloads/{workloadId}/enrollment-tokens`) generates a random token, stores
//! only its SHA-256 and answers the token once; consuming one (`POST
//! /v1/enrollment-tokens/consume`) succeeds for exactly one caller.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use brokerdb::audit;
use brokerdb::db::TxOptions;
use brokerdb::model::{Timestamp, TokenHash};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::enrollment_tokens::{self, EnrollmentTokenRecord, IssueEnrollmentToken};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::actions::action_event;
use super::auth::Principal;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath};
use super::wire::bounded;
use super::workloads::workload_id;
use crate::app::AppState;

/// Lifetime of a token when the request gives none: one hour.
const DEFAULT_TTL_SECONDS: i64 = 3600;
/// Shortest lifetime accepted.
const MIN_TTL_SECONDS: i64 = 60;
/// Longest lifetime accepted: seven days.
const MAX_TTL_SECONDS: i64 = 7 * 24 * 3600;
/// The longest token text a consumer may present (issued tokens are 67 characters).
const MAX_TOKEN_CHARS: usize = 256;

/// SHA-256 hex of a token's text, as stored.
fn hash_of(token: &str) -> Result<TokenHash, ApiError> {
    Ok(TokenHash::parse(&hex::encode(Sha256::digest(
        token.as_bytes(),
    )))?)
}

/// What to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueEnrollmentTokenIn {
    /// Lifetime in seconds, 60..=604800 (default 3600). Send `{}` for the default.
    pub ttl_seconds: Option<i64>,
}

/// An issued token. `token` is shown only in this response: the service keeps only its hash.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentTokenIssuedOut {
    /// The one-time token (`et_` + 64 hex digits) to hand to the workload.
    pub token: String,
    /// The workload it enrols.
    pub workload_id: String,
    /// Issue time (RFC 3339, milliseconds, UTC).
    pub created_at: String,
    /// The token cannot be consumed from this instant on.
    pub expires_at: String,
}

/// Issues a one-time enrollment token for a workload of the caller's tenant (role
/// `operator`). The token is random (256 bits); only its SHA-256 is stored, and the token is in
/// this response only (`Cache-Control: no-store`). An `enrollment_token.issued` audit event
/// naming the token's subject is written in the same transaction.
#[utoipa::path(
    post,
    path = "/v1/workloads/{workloadId}/enrollment-tokens",
    tag = "enrollment",
    params(("workloadId" = String, Path, description = "The workload's id")),
    request_body = IssueEnrollmentTokenIn,
    responses(
        (status = 201, description = "Issued; the token is shown only here", body = EnrollmentTokenIssuedOut),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such workload in the tenant", body = ErrorEnvelope),
        (status = 409, description = "A token with the same hash exists (retry)", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn issue(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<IssueEnrollmentTokenIn>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Operator)?.clone();
    let id = workload_id(&id)?;
    let ttl = body.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::invalid(
            "ttlSeconds",
            "must be an integer from 60 to 604800",
        ));
    }
    let created_at = Timestamp::now();
    let expires_at = Timestamp::from_unix_millis(created_at.unix_millis() + ttl * 1000)
        .map_err(|e| ApiError::from(e.with_field("ttlSeconds")))?;
    let token = format!("et_{}", hex::encode(rand::random::<[u8; 32]>()));
    let input = IssueEnrollmentToken {
        token_hash: hash_of(&token)?,
        workload_id: id.clone(),
        expires_at,
        created_at: Some(created_at),
    };
    let mut event = action_event(
        &principal,
        "enrollment_token.issued",
        [
            ("workload_id", id.as_str().into()),
            ("expires_at", expires_at.to_string().into()),
        ],
    )?;
    event.workload_id = Some(id);
    let record = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (input, event) = (input.clone(), event.clone());
            Box::pin(async move {
                let record = enrollment_tokens::issue(tx, &input).await?;
                audit::append(tx, &event).await?;
                Ok(record)
            })
        })
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let out = EnrollmentTokenIssuedOut {
        token,
        workload_id: record.workload_id.to_string(),
        created_at: record.created_at.to_string(),
        expires_at: record.expires_at.to_string(),
    };
    Ok((StatusCode::CREATED, headers, Json(out)).into_response())
}

/// A token to consume.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsumeEnrollmentTokenIn {
    /// The token as issued.
    pub token: String,
    /// When given, the token must belong to this workload.
    pub workload_id: Option<String>,
}

/// A consumed token (never its value or hash).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentTokenConsumedOut {
    /// The workload the token enrols.
    pub workload_id: String,
    /// The tenant (the caller's).
    pub tenant_id: String,
    /// Issue time (RFC 3339, milliseconds, UTC).
    pub created_at: String,
    /// Its expiry.
    pub expires_at: String,
    /// When it was consumed: now.
    pub used_at: String,
}

impl From<EnrollmentTokenRecord> for EnrollmentTokenConsumedOut {
    fn from(r: EnrollmentTokenRecord) -> Self {
        Self {
            workload_id: r.workload_id.to_string(),
            tenant_id: r.tenant_id.to_string(),
            created_at: r.created_at.to_string(),
            expires_at: r.expires_at.to_string(),
            used_at: r.used_at.unwrap_or(r.created_at).to_string(),
        }
    }
}

/// Consumes an enrollment token of the caller's tenant (role `operator`): of any number of
/// concurrent consumers of one token exactly one gets 200; every other — and any token that is
/// unknown, already used, expired, another tenant's or (with `workloadId`) another workload's —
/// gets the same 404. An `enrollment_token.consumed` audit event naming the token's subject is
/// written in the same transaction as the consumption.
#[utoipa::path(
    post,
    path = "/v1/enrollment-tokens/consume",
    tag = "enrollment",
    request_body = ConsumeEnrollmentTokenIn,
    responses(
        (status = 200, description = "Consumed by this request", body = EnrollmentTokenConsumedOut),
        (status = 400, description = "The body is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No usable token: unknown, used, expired or another workload's", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn consume(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ConsumeEnrollmentTokenIn>,
) -> Result<Json<EnrollmentTokenConsumedOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Operator)?.clone();
    if body.token.is_empty() {
        return Err(ApiError::invalid("token", "cannot be empty"));
    }
    bounded("token", &body.token, MAX_TOKEN_CHARS)?;
    let hash = hash_of(&body.token)?;
    let workload = body.workload_id.as_deref().map(workload_id).transpose()?;
    let event = action_event(&principal, "enrollment_token.consumed", [])?;
    let record = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (hash, workload, mut event) = (hash.clone(), workload.clone(), event.clone());
            Box::pin(async move {
                let record =
                    enrollment_tokens::consume_once(tx, &hash, workload.as_ref(), Timestamp::now())
                        .await?;
                if let Some(m) = event.metadata.as_mut() {
                    m.insert(
                        "workload_id".into(),
                        Value::from(record.workload_id.as_str()),
                    );
                }
                event.workload_id = Some(record.workload_id.clone());
                audit::append(tx, &event).await?;
                Ok(record)
            })
        })
        .await?;
    Ok(Json(record.into()))
}

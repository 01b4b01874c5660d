//! `/v1/secrets/{secretId}`: encrypted secret envelopes — the versions of a secret (metadata
//! only), writing a new version from an envelope the client encrypted, and choosing the active
//! version.
//!
//! No response of these routes carries the ciphertext, the IV, the authentication tag, the AAD
//! or the wrapped data key: only the version's metadata (number, owner, type, key id,
//! algorithms, time). The service never sees plaintext: the client encrypts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brokerdb::audit;
use brokerdb::db::{DbError, IsolationLevel, TxOptions};
use brokerdb::model::{IntegrationId, SecretRef};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::secrets::envelopes::{
    self, NewSecretVersion, SecretEnvelope, SecretEnvelopeVersion, SecretType,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::actions::action_event;
use super::auth::Principal;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath};
use crate::app::AppState;

/// The kind of credential a secret holds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretTypeName {
    /// A static API key.
    ApiKey,
    /// An OAuth refresh token.
    OauthRefreshToken,
}

impl SecretTypeName {
    fn of(t: SecretType) -> Self {
        match t {
            SecretType::ApiKey => Self::ApiKey,
            SecretType::OauthRefreshToken => Self::OauthRefreshToken,
        }
    }

    /// The library's value.
    pub fn model(self) -> SecretType {
        match self {
            Self::ApiKey => SecretType::ApiKey,
            Self::OauthRefreshToken => SecretType::OauthRefreshToken,
        }
    }
}

/// The library names a secret `secret_ref`; this API calls it `secretId`. Renames the field of
/// a library error accordingly (other fields are left alone).
pub(crate) fn secret_fields(e: DbError) -> DbError {
    let rename = |field: &str| -> Option<&'static str> {
        match field {
            "secret_ref" => Some("secret_id"),
            _ => None,
        }
    };
    match e {
        DbError::UniqueViolation { field } => DbError::UniqueViolation {
            field: rename(&field).map(Into::into).unwrap_or(field),
        },
        DbError::IntegrityViolation { field } => DbError::IntegrityViolation {
            field: rename(&field).map(Into::into).unwrap_or(field),
        },
        DbError::Validation(v) => match rename(&v.field) {
            Some(f) => DbError::Validation(v.with_field(f)),
            None => DbError::Validation(v),
        },
        other => other,
    }
}

/// One version of a secret: metadata only, never the encrypted material.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersionOut {
    /// The secret.
    pub secret_id: String,
    /// The integration owning the secret.
    pub integration_id: String,
    /// Kind of credential.
    pub secret_type: SecretTypeName,
    /// 1, 2, 3, … with no gap.
    pub version: i32,
    /// Whether this is the secret's active version.
    pub active: bool,
    /// Id of the key-encryption key that wrapped the data key.
    pub key_id: String,
    /// Content encryption algorithm (`A256GCM`).
    pub content_encryption_alg: String,
    /// How the data key is wrapped.
    pub key_encryption_alg: String,
    /// When the version was written (RFC 3339, milliseconds, UTC).
    pub created_at: String,
}

impl SecretVersionOut {
    fn of(v: SecretEnvelopeVersion, active_version: Option<i32>) -> Self {
        Self {
            secret_id: v.secret_ref.to_string(),
            integration_id: v.integration_id.to_string(),
            secret_type: SecretTypeName::of(v.secret_type),
            active: active_version == Some(v.version),
            version: v.version,
            key_id: v.envelope.key_id,
            content_encryption_alg: v.envelope.content_encryption_alg,
            key_encryption_alg: v.envelope.key_encryption_alg,
            created_at: v.created_at.to_string(),
        }
    }
}

/// Every version of a secret, by version ascending (metadata only).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersionListOut {
    /// The secret.
    pub secret_id: String,
    /// The version in use.
    pub active_version: i32,
    /// The versions.
    pub items: Vec<SecretVersionOut>,
}

fn secret_id(text: &str) -> Result<SecretRef, ApiError> {
    SecretRef::parse(text).map_err(|_| ApiError::invalid("secretId", "is not a valid secret id"))
}

/// The versions of a secret of the caller's tenant, metadata only (404 for a missing secret or
/// another tenant's).
#[utoipa::path(
    get,
    path = "/v1/secrets/{secretId}/versions",
    tag = "secrets",
    params(("secretId" = String, Path, description = "The secret's id")),
    responses(
        (status = 200, description = "The secret's versions (metadata only)", body = SecretVersionListOut),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such secret in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list_versions(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SecretVersionListOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = secret_id(&id)?;
    // One snapshot: the active pointer and the versions agree.
    let snapshot = TxOptions {
        isolation: IsolationLevel::RepeatableRead,
        read_only: true,
        ..TxOptions::DEFAULT
    };
    let (active, versions) = state
        .db
        .tenant(tenant)
        .transaction(&snapshot, move |tx| {
            let id = id.clone();
            Box::pin(async move {
                let active = envelopes::get_active(tx, &id).await?.map(|v| v.version);
                let versions = envelopes::list_versions(tx, &id).await?;
                Ok((active, versions))
            })
        })
        .await?;
    let (Some(active_version), Some(first)) = (active, versions.first()) else {
        return Err(ApiError::not_found("secret"));
    };
    Ok(Json(SecretVersionListOut {
        secret_id: first.secret_ref.to_string(),
        active_version,
        items: versions
            .into_iter()
            .map(|v| SecretVersionOut::of(v, active))
            .collect(),
    }))
}

/// An envelope the client encrypted: AES-256-GCM ciphertext with its wrapped data key. Its
/// `Debug` shows only the key id and wrapping algorithm.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvelopeIn {
    /// The key-encryption key's id: 1..128 characters of `[A-Za-z0-9._:-]`.
    pub key_id: String,
    /// Always `A256GCM`.
    pub content_encryption_alg: String,
    /// How the data key is wrapped (non-empty).
    pub key_encryption_alg: String,
    /// Canonical base64 of 1..16 384 bytes.
    pub wrapped_data_key_b64: String,
    /// The IV (non-empty).
    pub iv_b64: String,
    /// Canonical base64 of 1..1 048 576 bytes.
    pub ciphertext_b64: String,
    /// The GCM tag (non-empty).
    pub auth_tag_b64: String,
    /// Canonical base64 of 1..16 384 bytes, when there is AAD.
    pub aad_b64: Option<String>,
}

impl std::fmt::Debug for EnvelopeIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeIn")
            .field("key_id", &self.key_id)
            .field("key_encryption_alg", &self.key_encryption_alg)
            .finish_non_exhaustive()
    }
}

/// A new version of a secret.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSecretVersionIn {
    /// The owning integration (of the caller's tenant); fixed once the secret exists.
    pub integration_id: String,
    /// Kind of credential; fixed once the secret exists.
    pub secret_type: SecretTypeName,
    /// The encrypted material.
    pub envelope: EnvelopeIn,
}

/// Writes the next version of a secret from a client-encrypted envelope and makes it active
/// (role `admin`); the first version creates the secret. The answer is the version's metadata,
/// never the envelope. An `admin_action` audit event naming the token's subject is written in
/// the same transaction.
#[utoipa::path(
    post,
    path = "/v1/secrets/{secretId}/versions",
    tag = "secrets",
    params(("secretId" = String, Path, description = "The secret's id")),
    request_body = CreateSecretVersionIn,
    responses(
        (status = 201, description = "Written and active (metadata only)", body = SecretVersionOut),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 409, description = "The secret belongs to another integration or type, the id is taken, or the integration already has another secret", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 422, description = "No such integration in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn create_version(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateSecretVersionIn>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let id = secret_id(&id)?;
    let integration = IntegrationId::parse(&body.integration_id)
        .map_err(|_| ApiError::invalid("integrationId", "is not a valid integration id"))?;
    let e = body.envelope;
    let input = NewSecretVersion {
        secret_ref: id.clone(),
        integration_id: integration.clone(),
        secret_type: body.secret_type.model(),
        envelope: SecretEnvelope {
            key_id: e.key_id,
            content_encryption_alg: e.content_encryption_alg,
            key_encryption_alg: e.key_encryption_alg,
            wrapped_data_key_b64: e.wrapped_data_key_b64,
            iv_b64: e.iv_b64,
            ciphertext_b64: e.ciphertext_b64,
            auth_tag_b64: e.auth_tag_b64,
            aad_b64: e.aad_b64,
        },
        created_at: None,
    };
    // Checked before the transaction, so a bad envelope is a 400 naming its field.
    input.envelope.validated()?;
    let event = action_event(
        &principal,
        "secret.version_created",
        [
            ("secret_ref", id.as_str().into()),
            ("integration_id", integration.as_str().into()),
        ],
    )?;
    let written = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (input, mut event) = (input.clone(), event.clone());
            Box::pin(async move {
                let written = envelopes::create_version(tx, &input).await?;
                if let Some(m) = event.metadata.as_mut() {
                    m.insert("version".into(), written.version.into());
                }
                audit::append(tx, &event).await?;
                Ok(written)
            })
        })
        .await
        .map_err(secret_fields)?;
    let version = written.version;
    Ok((
        StatusCode::CREATED,
        Json(SecretVersionOut::of(written, Some(version))),
    )
        .into_response())
}

/// Which version of the secret is used.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetActiveVersionIn {
    /// An existing version (older ones allowed: rollback).
    pub version: i32,
}

/// Points the secret's active version at an existing version (role `admin`; older ones
/// allowed: rollback), with an audit event naming the token's subject in the same transaction.
#[utoipa::path(
    put,
    path = "/v1/secrets/{secretId}/active-version",
    tag = "secrets",
    params(("secretId" = String, Path, description = "The secret's id")),
    request_body = SetActiveVersionIn,
    responses(
        (status = 200, description = "The now active version (metadata only)", body = SecretVersionOut),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such secret or version in the tenant", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn set_active_version(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SetActiveVersionIn>,
) -> Result<Json<SecretVersionOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let id = secret_id(&id)?;
    let version = body.version;
    if version < 1 {
        return Err(ApiError::invalid("version", "must be an integer ≥ 1"));
    }
    let event = action_event(
        &principal,
        "secret.active_version_set",
        [
            ("secret_ref", id.as_str().into()),
            ("version", version.into()),
        ],
    )?;
    let active = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (id, event) = (id.clone(), event.clone());
            Box::pin(async move {
                envelopes::set_active_version(tx, &id, version).await?;
                let active = envelopes::get_active(tx, &id)
                    .await?
                    .ok_or(DbError::not_found("secret version"))?;
                audit::append(tx, &event).await?;
                Ok(active)
            })
        })
        .await?;
    Ok(Json(SecretVersionOut::of(active, Some(version))))
}

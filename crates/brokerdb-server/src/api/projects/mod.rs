//! `/v1/projects`: the project store over HTTP — projects ([`crud`]), their artifacts
//! ([`artifacts`]), webhook intake ([`webhooks`]) and the MCP audit log ([`mcp_log`]). Every
//! route acts in the token's tenant; another tenant's project is a 404.

pub mod artifacts;
pub mod crud;
pub mod mcp_log;
pub mod webhooks;

use brokerdb::model::TenantId;
use brokerdb_projects::intake::IntakeError;
use brokerdb_projects::projects::{self, Project};
use brokerdb_projects::{ProjectId, ProjectsError, SecretKey};

use super::error::ApiError;
use super::request::current_request_id;
use crate::app::AppState;

/// What the project routes share: the key that encrypts webhook secrets at rest.
#[derive(Clone, Debug)]
pub struct ProjectsState {
    /// Encrypts and decrypts webhook secrets (`PROJECT_SECRET_KEY`).
    pub secret_key: SecretKey,
}

impl Default for ProjectsState {
    /// A random key: secrets stored under it cannot be read after a restart.
    fn default() -> Self {
        Self {
            secret_key: SecretKey::random(),
        }
    }
}

impl From<ProjectsError> for ApiError {
    fn from(e: ProjectsError) -> Self {
        match e {
            ProjectsError::Db(e) => e.into(),
            other => {
                tracing::error!(request_id = %current_request_id(), error = %other, "project store failed");
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "unexpected_error",
                    "the request failed; the service log has its request id",
                )
            }
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::BadSignature(_) => {
                ApiError::unauthenticated("the webhook signature is missing or does not match")
                    .with_field("x-hub-signature-256")
            }
            IntakeError::NoSecret => ApiError::unauthenticated(
                "the project has no webhook secret: deliveries cannot be authenticated",
            ),
            IntakeError::Store(e) => e.into(),
            _ => ApiError::unavailable("the delivery could not be stored; retry later"),
        }
    }
}

/// A project id from the path, 400 naming `projectId` when malformed.
pub(crate) fn project_id(text: &str) -> Result<ProjectId, ApiError> {
    ProjectId::parse(text).map_err(|_| ApiError::invalid("projectId", "is not a valid project id"))
}

/// The project of the caller's tenant, or 404.
pub(crate) async fn existing(
    state: &AppState,
    tenant: &TenantId,
    id: &ProjectId,
) -> Result<Project, ApiError> {
    projects::get(&mut state.db.tenant(tenant), id)
        .await?
        .ok_or_else(|| ApiError::not_found("project"))
}

/// A cursor of at most 1000 characters, else 400.
pub(crate) fn checked_cursor(cursor: Option<String>) -> Result<Option<String>, ApiError> {
    match cursor {
        Some(c) if c.len() > 1000 => Err(ApiError::invalid("cursor", "is not a valid cursor")),
        c => Ok(c),
    }
}

//! `/v1/admin/…`: the global control-plane admin data — admin identities (with their role
//! bindings and tenant scopes) and admin access requests. System tokens with role `admin` only.
//!
//! Every change here is audited by the library itself: each repository function appends a
//! system audit event in its own transaction, with the token's subject as actor and the request
//! id as correlation id; the handlers write no second event.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brokerdb::db::DbError;
use brokerdb::model::{
    AccessRequestId, IdentityId, NonEmptyString, TenantId, UserRole, ValidationError,
};
use brokerdb::repo::admin::access_requests::{self, AccessRequestStatus, AdminAccessRequest};
use brokerdb::repo::admin::identities::{self, AdminUser, IdentityStatus};
use brokerdb::repo::admin::listing::{self, AdminListQuery, AdminPage};
use brokerdb::repo::admin::{Actor, AdminPrincipal, AdminSessionPrincipal};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Principal;
use super::error::{ApiError, ErrorEnvelope, camel_field};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::request::current_request_id;
use super::wire::{MAX_TEXT, bounded, created};
use crate::app::AppState;

/// An admin role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminRoleName {
    /// Full control.
    Owner,
    /// Administration.
    Admin,
    /// Read-only audit access.
    Auditor,
    /// Day-to-day operation.
    Operator,
}

impl AdminRoleName {
    fn of(role: UserRole) -> Self {
        match role {
            UserRole::Owner => Self::Owner,
            UserRole::Admin => Self::Admin,
            UserRole::Auditor => Self::Auditor,
            UserRole::Operator => Self::Operator,
        }
    }

    fn model(self) -> UserRole {
        match self {
            Self::Owner => UserRole::Owner,
            Self::Admin => UserRole::Admin,
            Self::Auditor => UserRole::Auditor,
            Self::Operator => UserRole::Operator,
        }
    }

    fn labels(roles: &[Self]) -> Vec<String> {
        roles
            .iter()
            .map(|r| r.model().as_str().to_owned())
            .collect()
    }
}

/// An admin identity's status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityStatusName {
    /// May sign in.
    Active,
    /// Awaiting activation.
    Pending,
    /// May not sign in.
    Disabled,
}

impl IdentityStatusName {
    fn of(status: IdentityStatus) -> Self {
        match status {
            IdentityStatus::Active => Self::Active,
            IdentityStatus::Pending => Self::Pending,
            IdentityStatus::Disabled => Self::Disabled,
        }
    }

    fn model(self) -> IdentityStatus {
        match self {
            Self::Active => IdentityStatus::Active,
            Self::Pending => IdentityStatus::Pending,
            Self::Disabled => IdentityStatus::Disabled,
        }
    }
}

/// Where an admin access request stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessRequestStatusName {
    /// Open.
    Pending,
    /// Granted.
    Approved,
    /// Refused.
    Denied,
    /// Withdrawn.
    Canceled,
}

impl AccessRequestStatusName {
    fn of(status: AccessRequestStatus) -> Self {
        match status {
            AccessRequestStatus::Pending => Self::Pending,
            AccessRequestStatus::Approved => Self::Approved,
            AccessRequestStatus::Denied => Self::Denied,
            AccessRequestStatus::Canceled => Self::Canceled,
        }
    }

    fn model(self) -> AccessRequestStatus {
        match self {
            Self::Pending => AccessRequestStatus::Pending,
            Self::Approved => AccessRequestStatus::Approved,
            Self::Denied => AccessRequestStatus::Denied,
            Self::Canceled => AccessRequestStatus::Canceled,
        }
    }
}

/// A decision on a pending access request.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessDecision {
    /// Grant it.
    Approved,
    /// Refuse it.
    Denied,
    /// Withdraw it.
    Canceled,
}

impl AccessDecision {
    fn model(self) -> AccessRequestStatus {
        match self {
            Self::Approved => AccessRequestStatus::Approved,
            Self::Denied => AccessRequestStatus::Denied,
            Self::Canceled => AccessRequestStatus::Canceled,
        }
    }
}

/// An admin identity with its role bindings and tenant scopes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminIdentityOut {
    /// Business id.
    pub identity_id: String,
    /// OIDC issuer.
    pub issuer: String,
    /// OIDC subject.
    pub subject: String,
    /// Lower-case email.
    pub email: String,
    /// Display name, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Status.
    pub status: IdentityStatusName,
    /// Role bindings: at least one, sorted.
    pub roles: Vec<AdminRoleName>,
    /// Tenant scopes, sorted.
    pub tenant_ids: Vec<String>,
    /// Creation time (RFC 3339, milliseconds, UTC).
    pub created_at: String,
    /// Last change (RFC 3339, milliseconds, UTC).
    pub updated_at: String,
}

impl From<AdminUser> for AdminIdentityOut {
    fn from(u: AdminUser) -> Self {
        Self {
            identity_id: u.identity_id.to_string(),
            issuer: u.issuer,
            subject: u.subject,
            email: u.email,
            name: u.name,
            status: IdentityStatusName::of(u.status),
            roles: u.roles.into_iter().map(AdminRoleName::of).collect(),
            tenant_ids: u.tenant_ids,
            created_at: u.created_at.to_string(),
            updated_at: u.updated_at.to_string(),
        }
    }
}

/// An admin access request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessRequestOut {
    /// Business id.
    pub request_id: String,
    /// OIDC issuer of the requester.
    pub issuer: String,
    /// OIDC subject of the requester.
    pub subject: String,
    /// Lower-case email.
    pub email: String,
    /// Display name, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Requested roles: at least one, sorted.
    pub requested_roles: Vec<AdminRoleName>,
    /// Requested tenant scopes, sorted (not checked for existence).
    pub requested_tenant_ids: Vec<String>,
    /// Status.
    pub status: AccessRequestStatusName,
    /// The decision's reason if given, else the request's; absent when neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When it was decided (RFC 3339, milliseconds, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// Creation time (RFC 3339, milliseconds, UTC).
    pub created_at: String,
    /// Last change (RFC 3339, milliseconds, UTC).
    pub updated_at: String,
}

impl From<AdminAccessRequest> for AccessRequestOut {
    fn from(r: AdminAccessRequest) -> Self {
        Self {
            request_id: r.request_id.to_string(),
            issuer: r.issuer,
            subject: r.subject,
            email: r.email,
            name: r.name,
            requested_roles: r
                .requested_roles
                .into_iter()
                .map(AdminRoleName::of)
                .collect(),
            requested_tenant_ids: r.requested_tenant_ids,
            status: AccessRequestStatusName::of(r.status),
            reason: r.reason,
            decided_by: r.decided_by,
            decided_at: r.decided_at.map(|t| t.to_string()),
            created_at: r.created_at.to_string(),
            updated_at: r.updated_at.to_string(),
        }
    }
}

/// A keyset page of admin identities, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminIdentityPageOut {
    /// This page's identities.
    pub items: Vec<AdminIdentityOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A keyset page of access requests, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessRequestPageOut {
    /// This page's requests.
    pub items: Vec<AccessRequestOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Query parameters of `GET /v1/admin/identities` (all optional, combined with AND; unknown
/// ones are refused).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IdentityListQuery {
    /// Only identities with this status.
    pub status: Option<IdentityStatusName>,
    /// Only identities scoped to this tenant.
    pub tenant_id: Option<String>,
    /// Only identities holding this role.
    pub role: Option<AdminRoleName>,
    /// Case-insensitive substring of email, name or subject (not blank).
    pub search: Option<String>,
    /// Identities per page, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    #[param(max_length = 1000)]
    pub cursor: Option<String>,
}

/// Query parameters of `GET /v1/admin/access-requests` (all optional, combined with AND;
/// unknown ones are refused).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessRequestListQuery {
    /// Only requests with this status.
    pub status: Option<AccessRequestStatusName>,
    /// Only requests asking for this tenant.
    pub tenant_id: Option<String>,
    /// Only requests asking for this role.
    pub role: Option<AdminRoleName>,
    /// Case-insensitive substring of email, name, subject or request id (not blank).
    pub search: Option<String>,
    /// Requests per page, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    #[param(max_length = 1000)]
    pub cursor: Option<String>,
}

/// The library's listing query with the common filters checked (the status is mapped by the
/// caller).
fn list_query<S>(
    tenant_id: Option<&str>,
    role: Option<AdminRoleName>,
    search: Option<&String>,
    limit: Option<i64>,
    cursor: Option<&String>,
) -> Result<AdminListQuery<S>, ApiError> {
    if let Some(q) = search {
        bounded("search", q, MAX_TEXT)?;
    }
    if cursor.is_some_and(|c| c.len() > 1000) {
        return Err(ApiError::invalid(
            "cursor",
            "is not a valid cursor for this list",
        ));
    }
    Ok(AdminListQuery {
        status: None,
        tenant_id: tenant_id
            .map(|t| {
                TenantId::parse(t)
                    .map(TenantId::into_inner)
                    .map_err(|_| ApiError::invalid("tenantId", "is not a valid tenant id"))
            })
            .transpose()?,
        role: role.map(AdminRoleName::model),
        search: search.cloned(),
        limit,
        cursor: cursor.cloned(),
    })
}

/// Who acts: the token's subject, under the request's id (the library writes it into its own
/// audit event).
fn actor(principal: &Principal) -> Result<Actor, ApiError> {
    Ok(Actor {
        actor: principal.subject.clone(),
        correlation_id: NonEmptyString::new("correlation_id", &current_request_id())?,
    })
}

/// A library validation error whose field starts with `from` (`tenant_ids`, `roles`) renamed
/// to the request's field `to`, in camelCase.
fn renamed(e: ValidationError, renames: &[(&str, &str)]) -> ApiError {
    ApiError::invalid(field_of(&e.field, renames), e.message)
}

/// The request's name of the library's field `field`.
fn field_of(field: &str, renames: &[(&str, &str)]) -> String {
    renames
        .iter()
        .find_map(|(from, to)| field.strip_prefix(from).map(|rest| format!("{to}{rest}")))
        .unwrap_or_else(|| camel_field(field))
}

/// A library error, with the unknown-tenant message (which lists the ids) replaced by fixed
/// text and the field renamed as [`renamed`] does.
fn library_error(e: DbError, renames: &[(&str, &str)]) -> ApiError {
    match e {
        DbError::Validation(v) if v.field == "tenant_ids" => ApiError::invalid(
            field_of(&v.field, renames),
            "names a tenant that does not exist",
        ),
        DbError::Validation(v) => renamed(v, renames),
        other => other.into(),
    }
}

fn identity_id(text: &str) -> Result<IdentityId, ApiError> {
    IdentityId::parse(text)
        .map_err(|_| ApiError::invalid("identityId", "is not a valid identity id"))
}

fn request_id(text: &str) -> Result<AccessRequestId, ApiError> {
    AccessRequestId::parse(text)
        .map_err(|_| ApiError::invalid("requestId", "is not a valid access request id"))
}

/// Admin identities, newest first, filtered, in keyset pages (a system token with role
/// `admin`).
#[utoipa::path(
    get,
    path = "/v1/admin/identities",
    tag = "admin",
    params(IdentityListQuery),
    responses(
        (status = 200, description = "A page of identities", body = AdminIdentityPageOut),
        (status = 400, description = "A parameter is unknown or invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list_identities(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<IdentityListQuery>,
) -> Result<Json<AdminIdentityPageOut>, ApiError> {
    principal.require_system()?;
    let q = AdminListQuery {
        status: query.status.map(IdentityStatusName::model),
        ..list_query(
            query.tenant_id.as_deref(),
            query.role,
            query.search.as_ref(),
            query.limit,
            query.cursor.as_ref(),
        )?
    };
    let AdminPage { items, next_cursor } =
        listing::list_identities(&mut state.db.system(), &q).await?;
    Ok(Json(AdminIdentityPageOut {
        items: items.into_iter().map(AdminIdentityOut::from).collect(),
        next_cursor,
    }))
}

/// A new admin identity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateIdentityIn {
    /// Business id (default: generated, `adm_` + 32 hex digits).
    pub identity_id: Option<String>,
    /// OIDC issuer (an absolute URL).
    pub issuer: String,
    /// OIDC subject; `(issuer, subject)` is unique.
    pub subject: String,
    /// Email (stored lower-case).
    pub email: String,
    /// Optional display name.
    pub name: Option<String>,
    /// At least one role, no duplicates.
    pub roles: Vec<AdminRoleName>,
    /// Tenant scopes: existing tenant ids, no duplicates (default none).
    #[serde(default)]
    pub tenant_ids: Vec<String>,
    /// Default `active`.
    pub status: Option<IdentityStatusName>,
}

/// Creates an admin identity with its role bindings and tenant scopes (a system token with role
/// `admin`); the library writes the system audit event `admin_identity.created` naming the
/// token's subject in the same transaction.
#[utoipa::path(
    post,
    path = "/v1/admin/identities",
    tag = "admin",
    request_body = CreateIdentityIn,
    responses(
        (status = 201, description = "Created", body = AdminIdentityOut,
         headers(("location" = String, description = "The new identity's URL"))),
        (status = 400, description = "The body is invalid or names an unknown tenant", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 409, description = "The id or (issuer, subject) is taken", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn create_identity(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateIdentityIn>,
) -> Result<Response, ApiError> {
    principal.require_system()?;
    let id = body.identity_id.as_deref().map(identity_id).transpose()?;
    let renames = [("tenant_ids", "tenantIds")];
    let admin = AdminPrincipal::normalize(&AdminSessionPrincipal {
        subject: body.subject,
        issuer: body.issuer,
        email: body.email,
        name: body.name,
        roles: AdminRoleName::labels(&body.roles),
        tenant_ids: body.tenant_ids,
    })
    .map_err(|e| renamed(e, &renames))?;
    let user = identities::create(
        &mut state.db.system(),
        id.as_ref().map(IdentityId::as_str),
        &admin,
        body.status.map(IdentityStatusName::model),
        &actor(&principal)?,
    )
    .await
    .map_err(|e| library_error(e, &renames))?;
    Ok(created(
        &format!("/v1/admin/identities/{}", user.identity_id),
        AdminIdentityOut::from(user),
    ))
}

/// One admin identity (a system token with role `admin`).
#[utoipa::path(
    get,
    path = "/v1/admin/identities/{identityId}",
    tag = "admin",
    params(("identityId" = String, Path, description = "The identity's id")),
    responses(
        (status = 200, description = "The identity", body = AdminIdentityOut),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 404, description = "No such identity", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn get_identity(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AdminIdentityOut>, ApiError> {
    principal.require_system()?;
    let id = identity_id(&id)?;
    identities::get(&mut state.db.system(), &id)
        .await?
        .map(|u| Json(u.into()))
        .ok_or_else(|| ApiError::not_found("admin identity"))
}

/// An identity's new status.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityStatusIn {
    /// The new status.
    pub status: IdentityStatusName,
}

/// Sets an identity's status (a system token with role `admin`); the same status changes and
/// writes nothing. The last active owner cannot leave `active` (409). The library writes the
/// system audit event `admin_identity.status_changed` naming the token's subject.
#[utoipa::path(
    patch,
    path = "/v1/admin/identities/{identityId}/status",
    tag = "admin",
    params(("identityId" = String, Path, description = "The identity's id")),
    request_body = IdentityStatusIn,
    responses(
        (status = 200, description = "The identity with its status", body = AdminIdentityOut),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 404, description = "No such identity", body = ErrorEnvelope),
        (status = 409, description = "It is the last active owner", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn update_identity_status(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<IdentityStatusIn>,
) -> Result<Json<AdminIdentityOut>, ApiError> {
    principal.require_system()?;
    let id = identity_id(&id)?;
    let user = identities::update_status(
        &mut state.db.system(),
        &id,
        body.status.model(),
        &actor(&principal)?,
    )
    .await?;
    Ok(Json(user.into()))
}

/// An identity's new role bindings and/or tenant scopes (at least one of them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityBindingsIn {
    /// The whole new role set: at least one, no duplicates (absent: unchanged).
    pub roles: Option<Vec<AdminRoleName>>,
    /// The whole new set of tenant scopes: existing tenant ids, no duplicates (absent:
    /// unchanged).
    pub tenant_ids: Option<Vec<String>>,
}

/// Replaces an identity's role bindings and/or tenant scopes (a system token with role
/// `admin`); unchanged sets write nothing. The last active owner cannot lose `owner` (409). The
/// library writes the system audit event `admin_identity.bindings_changed` naming the token's
/// subject.
#[utoipa::path(
    put,
    path = "/v1/admin/identities/{identityId}/bindings",
    tag = "admin",
    params(("identityId" = String, Path, description = "The identity's id")),
    request_body = IdentityBindingsIn,
    responses(
        (status = 200, description = "The identity with its bindings", body = AdminIdentityOut),
        (status = 400, description = "The body or id is invalid, or names an unknown tenant", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 404, description = "No such identity", body = ErrorEnvelope),
        (status = 409, description = "It is the last active owner", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn update_identity_bindings(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<IdentityBindingsIn>,
) -> Result<Json<AdminIdentityOut>, ApiError> {
    principal.require_system()?;
    let id = identity_id(&id)?;
    if body.roles.is_none() && body.tenant_ids.is_none() {
        return Err(ApiError::invalid("body", "must set roles or tenantIds"));
    }
    let roles = body.roles.as_deref().map(AdminRoleName::labels);
    let user = identities::update_bindings(
        &mut state.db.system(),
        &id,
        roles.as_deref(),
        body.tenant_ids.as_deref(),
        &actor(&principal)?,
    )
    .await
    .map_err(|e| library_error(e, &[("tenant_ids", "tenantIds")]))?;
    Ok(Json(user.into()))
}

/// Admin access requests, newest first, filtered, in keyset pages (a system token with role
/// `admin`).
#[utoipa::path(
    get,
    path = "/v1/admin/access-requests",
    tag = "admin",
    params(AccessRequestListQuery),
    responses(
        (status = 200, description = "A page of access requests", body = AccessRequestPageOut),
        (status = 400, description = "A parameter is unknown or invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list_access_requests(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AccessRequestListQuery>,
) -> Result<Json<AccessRequestPageOut>, ApiError> {
    principal.require_system()?;
    let q = AdminListQuery {
        status: query.status.map(AccessRequestStatusName::model),
        ..list_query(
            query.tenant_id.as_deref(),
            query.role,
            query.search.as_ref(),
            query.limit,
            query.cursor.as_ref(),
        )?
    };
    let AdminPage { items, next_cursor } =
        listing::list_access_requests(&mut state.db.system(), &q).await?;
    Ok(Json(AccessRequestPageOut {
        items: items.into_iter().map(AccessRequestOut::from).collect(),
        next_cursor,
    }))
}

/// A new access request, filed on behalf of an OIDC principal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAccessRequestIn {
    /// Business id (default: generated, `aar_` + 32 hex digits).
    pub request_id: Option<String>,
    /// OIDC issuer of the requester (an absolute URL).
    pub issuer: String,
    /// OIDC subject of the requester; one pending request per `(issuer, subject)`.
    pub subject: String,
    /// Email (stored lower-case).
    pub email: String,
    /// Optional display name.
    pub name: Option<String>,
    /// At least one role, no duplicates.
    pub requested_roles: Vec<AdminRoleName>,
    /// Tenant ids asked for, no duplicates (not checked for existence; default none).
    #[serde(default)]
    pub requested_tenant_ids: Vec<String>,
    /// Why the access is needed.
    pub reason: Option<String>,
}

/// Files a pending access request (a system token with role `admin`); the library writes the
/// system audit event `admin_access_request.created`, with the token's subject as actor.
#[utoipa::path(
    post,
    path = "/v1/admin/access-requests",
    tag = "admin",
    request_body = CreateAccessRequestIn,
    responses(
        (status = 201, description = "Created", body = AccessRequestOut),
        (status = 400, description = "The body is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 409, description = "The id is taken, or the principal has a pending request", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn create_access_request(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateAccessRequestIn>,
) -> Result<Response, ApiError> {
    principal.require_system()?;
    let id = body.request_id.as_deref().map(request_id).transpose()?;
    let renames = [
        ("tenant_ids", "requestedTenantIds"),
        ("roles", "requestedRoles"),
    ];
    let requester = AdminPrincipal::normalize(&AdminSessionPrincipal {
        subject: body.subject,
        issuer: body.issuer,
        email: body.email,
        name: body.name,
        roles: AdminRoleName::labels(&body.requested_roles),
        tenant_ids: body.requested_tenant_ids,
    })
    .map_err(|e| renamed(e, &renames))?;
    let request = access_requests::create(
        &mut state.db.system(),
        id.as_ref().map(AccessRequestId::as_str),
        &requester,
        body.reason.as_deref(),
        &actor(&principal)?,
    )
    .await
    .map_err(|e| library_error(e, &renames))?;
    Ok((StatusCode::CREATED, Json(AccessRequestOut::from(request))).into_response())
}

/// A decision on a pending access request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransitionIn {
    /// The decision.
    pub status: AccessDecision,
    /// Why (optional).
    pub reason: Option<String>,
}

/// Decides a pending access request (a system token with role `admin`): deciding it again with
/// the same status returns it unchanged; any other change of a decided request is 409. The
/// token's subject is recorded as `decidedBy` and, by the library's system audit event
/// `admin_access_request.decided`, as actor.
#[utoipa::path(
    post,
    path = "/v1/admin/access-requests/{requestId}/transition",
    tag = "admin",
    params(("requestId" = String, Path, description = "The request's id")),
    request_body = TransitionIn,
    responses(
        (status = 200, description = "The request with its decision", body = AccessRequestOut),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a system token with role admin", body = ErrorEnvelope),
        (status = 404, description = "No such request", body = ErrorEnvelope),
        (status = 409, description = "The request was already decided otherwise", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn transition_access_request(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TransitionIn>,
) -> Result<Json<AccessRequestOut>, ApiError> {
    principal.require_system()?;
    let id = request_id(&id)?;
    let request = access_requests::transition(
        &mut state.db.system(),
        id.as_str(),
        body.status.model(),
        body.reason.as_deref(),
        None,
        &actor(&principal)?,
    )
    .await?;
    Ok(Json(request.into()))
}

//! `/v1/users`: the tenant's human users — the filtered, sorted, paged list (offset pages with a
//! total, or keyset pages for depth), one user, creating a user, replacing a user's roles.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use brokerdb::audit;
use brokerdb::db::TxOptions;
use brokerdb::db::paging::{Direction, PageRequest, Sort};
use brokerdb::model::{Email, NonEmptyString, Timestamp, UserId, UserRole};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::users::{self, CreateHumanUser, HumanUser, ReplaceRoles, UserFilter, UserSort};
use brokerdb_cache::Resource;
use chrono::{NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::actions::action_event;
use super::auth::Principal;
use super::cache::bust;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::request::current_request_id;
use super::wire::{MAX_EMAIL, MAX_TEXT, bounded, created};
use crate::app::AppState;

/// A human user of the tenant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserOut {
    /// Business id.
    pub user_id: String,
    /// The tenant (the caller's).
    pub tenant_id: String,
    /// Email, unique per tenant regardless of case.
    pub email: String,
    /// Display name, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Roles, unique and sorted.
    pub roles: Vec<RoleName>,
    /// Whether the user may sign in.
    pub is_active: bool,
    /// OIDC subject, when linked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_subject: Option<String>,
    /// OIDC issuer, when linked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_issuer: Option<String>,
    /// Creation time (RFC 3339, milliseconds, UTC).
    pub created_at: String,
}

/// A user role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    /// Full control.
    Owner,
    /// Administration.
    Admin,
    /// Read-only audit access.
    Auditor,
    /// Day-to-day operation.
    Operator,
}

impl RoleName {
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
}

impl From<HumanUser> for UserOut {
    fn from(u: HumanUser) -> Self {
        Self {
            user_id: u.user_id.to_string(),
            tenant_id: u.tenant_id.to_string(),
            email: u.email,
            display_name: u.display_name,
            roles: u.roles.into_iter().map(RoleName::of).collect(),
            is_active: u.enabled,
            oidc_subject: u.oidc_subject,
            oidc_issuer: u.oidc_issuer,
            created_at: u.created_at.to_string(),
        }
    }
}

/// An offset page: seed 001's envelope, plus whether `total` is an estimate.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPageOut {
    /// This page's users.
    pub items: Vec<UserOut>,
    /// Page number, from 1.
    pub page: u32,
    /// Page size (1..=100).
    pub page_size: u32,
    /// Users matching the filters: exact up to the service's exact-total limit (1,000 by
    /// default), the planner's estimate beyond it.
    pub total: u64,
    /// `ceil(total / pageSize)`.
    pub total_pages: u64,
    /// True when `total` is an estimate.
    pub total_is_estimate: bool,
}

/// A keyset page (with `cursor` or `limit`): items and the cursor of the next page.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSliceOut {
    /// This page's users.
    pub items: Vec<UserOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The users list: an offset page, or a keyset page when `cursor` or `limit` is given.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum UserListOut {
    /// Offset page.
    Page(UserPageOut),
    /// Keyset page.
    Slice(UserSliceOut),
}

/// Sort field of the users list.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SortFieldParam {
    /// Creation time (default).
    CreatedAt,
    /// Email.
    Email,
    /// Display name.
    DisplayName,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortDirectionParam {
    /// Ascending.
    Asc,
    /// Descending (default).
    Desc,
}

/// Query parameters of `GET /v1/users` (all optional; unknown ones are refused).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Page number, from 1 (default 1). Not with `cursor`/`limit`.
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size, 1..=100 (default 50). Not with `cursor`/`limit`.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
    /// Case-insensitive substring of email or display name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only active (true) or inactive (false) users.
    pub is_active: Option<bool>,
    /// Only users holding this role.
    #[param(inline)]
    pub role_id: Option<RoleName>,
    /// Created at or after: a date (`2024-01-01`, midnight UTC) or an RFC 3339 date-time.
    pub created_from: Option<String>,
    /// Created up to: a date (`2024-12-31`, the whole day included) or an RFC 3339 date-time
    /// (exclusive).
    pub created_to: Option<String>,
    /// Sort field (default `createdAt`).
    #[param(inline)]
    pub sort_field: Option<SortFieldParam>,
    /// Sort direction (default `desc`).
    #[param(inline)]
    pub sort_direction: Option<SortDirectionParam>,
    /// Keyset paging: the `nextCursor` of the previous page.
    #[param(max_length = 1000)]
    pub cursor: Option<String>,
    /// Keyset paging: users per page, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// `2024-01-01` (midnight UTC, or the next midnight when `end_of_day`) or an RFC 3339
/// date-time.
fn date_or_time(field: &'static str, text: &str, end_of_day: bool) -> Result<Timestamp, ApiError> {
    let bad = || {
        ApiError::invalid(
            field,
            "must be a date (YYYY-MM-DD) or an RFC 3339 date-time",
        )
    };
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let date = if end_of_day {
            date.succ_opt().ok_or_else(bad)?
        } else {
            date
        };
        let midnight = date.and_hms_opt(0, 0, 0).ok_or_else(bad)?;
        return Timestamp::from_datetime(Utc.from_utc_datetime(&midnight)).map_err(|_| bad());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| Timestamp::from_datetime(t.with_timezone(&Utc)).ok())
        .ok_or_else(bad)
}

impl UserListQuery {
    fn filter(&self) -> Result<UserFilter, ApiError> {
        if let Some(q) = &self.q {
            bounded("q", q, MAX_TEXT)?;
        }
        Ok(UserFilter {
            q: self.q.clone(),
            enabled: self.is_active,
            role: self.role_id.map(RoleName::model),
            created_from: self
                .created_from
                .as_deref()
                .map(|t| date_or_time("createdFrom", t, false))
                .transpose()?,
            created_to: self
                .created_to
                .as_deref()
                .map(|t| date_or_time("createdTo", t, true))
                .transpose()?,
        })
    }

    fn sort(&self) -> Sort<UserSort> {
        Sort {
            field: match self.sort_field.unwrap_or(SortFieldParam::CreatedAt) {
                SortFieldParam::CreatedAt => UserSort::CreatedAt,
                SortFieldParam::Email => UserSort::Email,
                SortFieldParam::DisplayName => UserSort::DisplayName,
            },
            direction: match self.sort_direction.unwrap_or(SortDirectionParam::Desc) {
                SortDirectionParam::Asc => Direction::Asc,
                SortDirectionParam::Desc => Direction::Desc,
            },
        }
    }
}

/// The users of the caller's tenant, filtered and sorted: an offset page with its total, or —
/// with `cursor` or `limit` — a keyset page for reading deep.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    params(UserListQuery),
    responses(
        (status = 200, description = "A page of users", body = UserListOut),
        (status = 400, description = "A parameter is unknown or invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<UserListQuery>,
) -> Result<Json<UserListOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let filter = query.filter()?;
    let sort = query.sort();
    let mut scope = state.db.tenant(tenant);
    if query.cursor.is_some() || query.limit.is_some() {
        if query.page.is_some() || query.page_size.is_some() {
            return Err(ApiError::invalid(
                "cursor",
                "keyset paging (cursor, limit) cannot be combined with page or pageSize",
            ));
        }
        let slice = users::list_after(
            &mut scope,
            &filter,
            sort,
            query.limit.unwrap_or(50),
            query.cursor.as_deref(),
        )
        .await?;
        return Ok(Json(UserListOut::Slice(UserSliceOut {
            items: slice.items.into_iter().map(UserOut::from).collect(),
            next_cursor: slice.next_cursor,
        })));
    }
    let request = PageRequest::new(query.page.unwrap_or(1), query.page_size.unwrap_or(50))?;
    let page = users::list(&mut scope, &filter, sort, request).await?;
    Ok(Json(UserListOut::Page(UserPageOut {
        page: page.page,
        page_size: page.page_size,
        total: page.total,
        total_pages: page.total_pages,
        total_is_estimate: page.total_is_estimate,
        items: page.items.into_iter().map(UserOut::from).collect(),
    })))
}

fn user_id(text: &str) -> Result<UserId, ApiError> {
    UserId::parse(text).map_err(|_| ApiError::invalid("userId", "is not a valid user id"))
}

/// One user of the caller's tenant (404 for another tenant's).
#[utoipa::path(
    get,
    path = "/v1/users/{userId}",
    tag = "users",
    params(("userId" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = UserOut),
        (status = 400, description = "The id is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such user in the tenant", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Auditor)?;
    let id = user_id(&id)?;
    state
        .api
        .cache
        .user(tenant, &id)
        .await?
        .map(|u| Json(std::sync::Arc::unwrap_or_clone(u).into()))
        .ok_or_else(|| ApiError::not_found("user"))
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUserIn {
    /// Business id (default: generated, `u_` + 32 hex digits).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    pub user_id: Option<String>,
    /// Email, unique per tenant regardless of case.
    #[schema(
        max_length = 320,
        pattern = "^([A-Za-z0-9_'+-]+\\.)*[A-Za-z0-9_'+-]*[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9-]*\\.)+[A-Za-z]{2,}$"
    )]
    pub email: String,
    /// At least one role, no duplicates.
    #[schema(min_items = 1, max_items = 4)]
    pub roles: Vec<RoleName>,
    /// Default true.
    pub is_active: Option<bool>,
    /// Optional display name (not blank; trimmed).
    #[schema(max_length = 200, pattern = "\\S")]
    pub display_name: Option<String>,
    /// Optional OIDC subject (not blank; trimmed).
    #[schema(max_length = 200, pattern = "\\S")]
    pub oidc_subject: Option<String>,
    /// Optional OIDC issuer (not blank; trimmed).
    #[schema(max_length = 200, pattern = "\\S")]
    pub oidc_issuer: Option<String>,
}

fn optional_text(
    field: &'static str,
    v: Option<&String>,
) -> Result<Option<NonEmptyString>, ApiError> {
    v.map(|s| {
        let s = bounded(field, s, MAX_TEXT)?;
        NonEmptyString::new(field, s).map_err(ApiError::from)
    })
    .transpose()
}

/// Creates a user in the caller's tenant (role `admin`); an `admin_action` audit event naming
/// the token's subject is written in the same transaction.
#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "users",
    request_body = CreateUserIn,
    responses(
        (status = 201, description = "Created", body = UserOut,
         headers(("location" = String, description = "The new user's URL"))),
        (status = 400, description = "The body is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 409, description = "The id or email is taken", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateUserIn>,
) -> Result<Response, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?.clone();
    let input = CreateHumanUser {
        user_id: body.user_id.as_deref().map(user_id).transpose()?,
        email: Email::parse(bounded("email", &body.email, MAX_EMAIL)?)
            .map_err(|e| ApiError::from(e.with_field("email")))?,
        roles: body
            .roles
            .iter()
            .map(|r| r.model().as_str().to_owned())
            .collect(),
        enabled: body.is_active,
        display_name: optional_text("displayName", body.display_name.as_ref())?,
        oidc_subject: optional_text("oidcSubject", body.oidc_subject.as_ref())?,
        oidc_issuer: optional_text("oidcIssuer", body.oidc_issuer.as_ref())?,
    };
    let new_id = input.user_id.clone().unwrap_or_else(UserId::generate);
    let event = action_event(
        &principal,
        "user.created",
        [("user_id", new_id.as_str().into())],
    )?;
    let input = CreateHumanUser {
        user_id: Some(new_id),
        ..input
    };
    let user = state
        .db
        .tenant(&tenant)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (input, event) = (input.clone(), event.clone());
            Box::pin(async move {
                let user = users::create(tx, &input).await?;
                audit::append(tx, &event).await?;
                Ok(user)
            })
        })
        .await?;
    // Committed: a cached "no such user" must go.
    bust(&state, &tenant, &[Resource::Users]).await;
    Ok(created(
        &format!("/v1/users/{}", user.user_id),
        UserOut::from(user),
    ))
}

/// A user's new role set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplaceRolesIn {
    /// At least one role, no duplicates.
    #[schema(min_items = 1, max_items = 4)]
    pub roles: Vec<RoleName>,
}

/// Replaces a user's whole role set (role `admin`), with an audit event naming the token's
/// subject in the same transaction.
#[utoipa::path(
    put,
    path = "/v1/users/{userId}/roles",
    tag = "users",
    params(("userId" = String, Path, description = "The user's id")),
    request_body = ReplaceRolesIn,
    responses(
        (status = 200, description = "The user with its new roles", body = UserOut),
        (status = 400, description = "The body or id is invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "The token may not do this", body = ErrorEnvelope),
        (status = 404, description = "No such user in the tenant", body = ErrorEnvelope),
        (status = 413, description = "The body is too large", body = ErrorEnvelope),
        (status = 415, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 429, description = "The token's rate limit is reached", body = ErrorEnvelope),
        (status = 503, description = "A backing service is unavailable", body = ErrorEnvelope),
        (status = 504, description = "The request timed out", body = ErrorEnvelope),
    ),
    security(("bearer" = []))
)]
pub async fn replace_roles(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReplaceRolesIn>,
) -> Result<Json<UserOut>, ApiError> {
    let tenant = principal.tenant_as(ApiTokenRole::Admin)?;
    let id = user_id(&id)?;
    let change = ReplaceRoles {
        roles: body
            .roles
            .iter()
            .map(|r| r.model().as_str().to_owned())
            .collect(),
        actor: principal.subject.clone(),
        correlation_id: NonEmptyString::new("correlation_id", &current_request_id())?,
    };
    // Its own transaction, committed when it returns.
    let user = users::update_roles(&mut state.db.tenant(tenant), &id, &change).await?;
    bust(&state, tenant, &[Resource::Users]).await;
    Ok(Json(user.into()))
}

//! Human users of a tenant and their roles, and the users list: offset pages
//! (`{items, page, pageSize, total, totalPages}`) with filters and an allowlisted sort, and a
//! keyset variant for deep paging. All in the tenant scope.

use serde::Serialize;
use tokio_postgres::Row;

use crate::audit::{self, AuditEvent, AuditEventType};
use crate::db::paging::{Direction, Page, PageRequest, Sort, SortField, contains_pattern};
use crate::db::{DbError, Exec, TenantExec, TxOptions};
use crate::model::{Email, NonEmptyString, TenantId, Timestamp, UserId, UserRole, ValidationError};

const REPO: &str = "users";

macro_rules! cols {
    () => {
        "u.user_id, u.tenant_id, u.email, u.display_name, u.oidc_subject, u.oidc_issuer, u.enabled, u.created_at, \
         ARRAY(SELECT r.role::text FROM human_user_roles r WHERE r.tenant_id = u.tenant_id AND r.user_id = u.user_id ORDER BY 1) AS roles"
    };
}
/// `$1` search pattern, `$2` enabled, `$3` role, `$4` created_from (inclusive), `$5` created_to (exclusive).
macro_rules! filters {
    () => {
        "($1::text IS NULL OR u.email ILIKE $1 OR u.display_name ILIKE $1) \
         AND ($2::bool IS NULL OR u.enabled = $2) \
         AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM human_user_roles r WHERE r.tenant_id = u.tenant_id \
              AND r.user_id = u.user_id AND r.role = $3::text::user_role)) \
         AND ($4::timestamptz IS NULL OR u.created_at >= $4) AND ($5::timestamptz IS NULL OR u.created_at < $5)"
    };
}
/// Offset page: `$6` limit, `$7` offset.
macro_rules! page_sql {
    ($order:literal) => {
        concat!(
            "SELECT ",
            cols!(),
            ", count(*) OVER () AS total FROM human_users u WHERE ",
            filters!(),
            " ORDER BY ",
            $order,
            " LIMIT $6 OFFSET $7"
        )
    };
}
/// Keyset page: `$6` last key (text, cast), `$7` last user_id, `$8` limit.
macro_rules! keyset_sql {
    ($key:literal, $cast:literal, $cmp:literal, $order:literal) => {
        concat!(
            "SELECT ",
            cols!(),
            " FROM human_users u WHERE ",
            filters!(),
            " AND ($6::text IS NULL OR (",
            $key,
            ", u.user_id) ",
            $cmp,
            " ($6::text",
            $cast,
            ", $7::text)) ORDER BY ",
            $order,
            " LIMIT $8"
        )
    };
}

const COUNT: &str = concat!("SELECT count(*) FROM human_users u WHERE ", filters!());
const BY_ID: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM human_users u WHERE u.user_id = $1"
);
const CREATE: &str = "WITH u AS (
       INSERT INTO human_users (user_id, tenant_id, email, display_name, oidc_subject, oidc_issuer, enabled)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *),
     r AS (INSERT INTO human_user_roles (tenant_id, user_id, role)
           SELECT u.tenant_id, u.user_id, role::user_role FROM u, unnest($8::text[]) AS role RETURNING role)
     SELECT u.user_id, u.tenant_id, u.email, u.display_name, u.oidc_subject, u.oidc_issuer, u.enabled, u.created_at,
            ARRAY(SELECT role::text FROM r ORDER BY 1) AS roles FROM u";
const LOCK_USER: &str = "SELECT 1 FROM human_users WHERE user_id = $1 FOR UPDATE";
const DELETE_ROLES: &str = "DELETE FROM human_user_roles WHERE user_id = $1";
const INSERT_ROLES: &str = "INSERT INTO human_user_roles (tenant_id, user_id, role)
     SELECT $2, $1, role::user_role FROM unnest($3::text[]) AS role";

/// The `HumanUser` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HumanUser {
    /// Business id.
    pub user_id: UserId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Email, unique per tenant.
    pub email: String,
    /// Roles, unique and sorted.
    pub roles: Vec<UserRole>,
    /// Enabled flag.
    pub enabled: bool,
    /// Omitted when unset or empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Omitted when unset or empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_subject: Option<String>,
    /// Omitted when unset or empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_issuer: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

fn from_row(row: &Row) -> Result<HumanUser, DbError> {
    let roles = super::stored_roles(&row.try_get::<_, Vec<String>>(8)?)?;
    Ok(HumanUser {
        user_id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
        email: row.try_get(2)?,
        display_name: non_empty(row.try_get(3)?),
        oidc_subject: non_empty(row.try_get(4)?),
        oidc_issuer: non_empty(row.try_get(5)?),
        enabled: row.try_get(6)?,
        created_at: row.try_get(7)?,
        roles,
    })
}

fn labels(roles: &[UserRole]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

/// `CreateHumanUserInput` (the tenant is the scope's).
#[derive(Debug, Clone)]
pub struct CreateHumanUser {
    /// Defaults to `u_<32 hex>`.
    pub user_id: Option<UserId>,
    /// Email (format-checked), unique per tenant.
    pub email: Email,
    /// Role labels; at least one, no duplicates.
    pub roles: Vec<String>,
    /// Defaults to true.
    pub enabled: Option<bool>,
    /// Optional, non-empty.
    pub display_name: Option<NonEmptyString>,
    /// Optional, non-empty.
    pub oidc_subject: Option<NonEmptyString>,
    /// Optional, non-empty.
    pub oidc_issuer: Option<NonEmptyString>,
}

/// Creates a user and its roles in one statement (atomic). Unknown tenant →
/// `integrity_violation`; duplicate id or `(tenant, email)` → `unique_violation`.
pub async fn create(
    exec: &mut impl TenantExec,
    input: &CreateHumanUser,
) -> Result<HumanUser, DbError> {
    let roles = UserRole::normalize_set(input.roles.iter().map(String::as_str))?;
    let user_id = input.user_id.clone().unwrap_or_else(UserId::generate);
    let text = |v: &Option<NonEmptyString>| v.as_ref().map(|s| s.as_str().to_owned());
    let params = (
        text(&input.display_name),
        text(&input.oidc_subject),
        text(&input.oidc_issuer),
    );
    let enabled = input.enabled.unwrap_or(true);
    let tenant = exec.tenant_id().clone();
    exec.op(REPO, "create")
        .query_one(
            CREATE,
            &[
                &user_id,
                &tenant,
                &input.email.as_str(),
                &params.0,
                &params.1,
                &params.2,
                &enabled,
                &labels(&roles),
            ],
            from_row,
        )
        .await
}

/// A user of the executor's tenant, or `None` (also for another tenant's user).
pub async fn get_by_id(
    exec: &mut impl TenantExec,
    user_id: &UserId,
) -> Result<Option<HumanUser>, DbError> {
    exec.op(REPO, "get_by_id")
        .query_opt(BY_ID, &[user_id], from_row)
        .await
}

/// What [`update_roles`] does: the new role set, who does it and the request it belongs to.
#[derive(Debug, Clone)]
pub struct ReplaceRoles {
    /// Role labels; at least one, no duplicates.
    pub roles: Vec<String>,
    /// Who replaces them (an admin identity id), recorded in the audit event.
    pub actor: NonEmptyString,
    /// Trace id of the request.
    pub correlation_id: NonEmptyString,
}

/// Replaces the user's whole role set atomically (the user row is locked first, so concurrent
/// replacements serialize) and appends an `admin_action` audit event in the same transaction:
/// both commit or neither does. Unknown (or another tenant's) user → `not_found`.
pub async fn update_roles(
    exec: &mut impl TenantExec,
    user_id: &UserId,
    change: &ReplaceRoles,
) -> Result<HumanUser, DbError> {
    let roles = UserRole::normalize_set(change.roles.iter().map(String::as_str))?;
    let user = user_id.clone();
    let mut event = AuditEvent::generated(
        exec.tenant_id().clone(),
        AuditEventType::AdminAction,
        change.correlation_id.clone(),
    );
    event.message = Some("user roles replaced".into());
    let mut metadata = serde_json::Map::new();
    metadata.insert("action".into(), "user.roles_replaced".into());
    metadata.insert("actor".into(), change.actor.as_str().into());
    metadata.insert("user_id".into(), user_id.as_str().into());
    metadata.insert("roles".into(), labels(&roles).into());
    event.metadata = Some(metadata);
    exec.op(REPO, "update_roles")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (user, roles, event) = (user.clone(), labels(&roles), event.clone());
            Box::pin(async move {
                if tx.query_opt(LOCK_USER, &[&user]).await?.is_none() {
                    return Err(DbError::not_found("user"));
                }
                let tenant = tx.tenant_id().clone();
                tx.execute(DELETE_ROLES, &[&user]).await?;
                tx.execute(INSERT_ROLES, &[&user, &tenant, &roles]).await?;
                audit::append(tx, &event).await?;
                let row = tx.query_opt(BY_ID, &[&user]).await?;
                row.as_ref()
                    .map(from_row)
                    .unwrap_or_else(|| Err(DbError::not_found("user")))
            })
        })
        .await
}

/// Sortable fields of the users list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    /// Creation time.
    CreatedAt,
    /// Email (byte order).
    Email,
    /// Display name (missing sorts as empty).
    DisplayName,
}

impl SortField for UserSort {
    const ALL: &'static [Self] = &[Self::CreatedAt, Self::Email, Self::DisplayName];
    fn name(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::Email => "email",
            Self::DisplayName => "display_name",
        }
    }
}

/// Filters of the users list; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Case-insensitive substring of email or display name (bound, wildcards escaped).
    pub q: Option<String>,
    /// Enabled flag.
    pub enabled: Option<bool>,
    /// Has this role.
    pub role: Option<UserRole>,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created before.
    pub created_to: Option<Timestamp>,
}

impl UserFilter {
    fn pattern(&self) -> Option<String> {
        self.q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(contains_pattern)
    }
}

fn page_sql(sort: Sort<UserSort>) -> &'static str {
    match (sort.field, sort.direction) {
        (UserSort::CreatedAt, Direction::Asc) => page_sql!("u.created_at ASC, u.user_id ASC"),
        (UserSort::CreatedAt, Direction::Desc) => page_sql!("u.created_at DESC, u.user_id DESC"),
        (UserSort::Email, Direction::Asc) => page_sql!("u.email ASC, u.user_id ASC"),
        (UserSort::Email, Direction::Desc) => page_sql!("u.email DESC, u.user_id DESC"),
        (UserSort::DisplayName, Direction::Asc) => {
            page_sql!("COALESCE(u.display_name, '') ASC, u.user_id ASC")
        }
        (UserSort::DisplayName, Direction::Desc) => {
            page_sql!("COALESCE(u.display_name, '') DESC, u.user_id DESC")
        }
    }
}

fn keyset_sql(sort: Sort<UserSort>) -> &'static str {
    match (sort.field, sort.direction) {
        (UserSort::CreatedAt, Direction::Asc) => keyset_sql!(
            "u.created_at",
            "::timestamptz",
            ">",
            "u.created_at ASC, u.user_id ASC"
        ),
        (UserSort::CreatedAt, Direction::Desc) => keyset_sql!(
            "u.created_at",
            "::timestamptz",
            "<",
            "u.created_at DESC, u.user_id DESC"
        ),
        (UserSort::Email, Direction::Asc) => {
            keyset_sql!("u.email", "", ">", "u.email ASC, u.user_id ASC")
        }
        (UserSort::Email, Direction::Desc) => {
            keyset_sql!("u.email", "", "<", "u.email DESC, u.user_id DESC")
        }
        (UserSort::DisplayName, Direction::Asc) => {
            keyset_sql!(
                "COALESCE(u.display_name, '')",
                "",
                ">",
                "COALESCE(u.display_name, '') ASC, u.user_id ASC"
            )
        }
        (UserSort::DisplayName, Direction::Desc) => {
            keyset_sql!(
                "COALESCE(u.display_name, '')",
                "",
                "<",
                "COALESCE(u.display_name, '') DESC, u.user_id DESC"
            )
        }
    }
}

/// One offset page of the scope's users: `{items, page, pageSize, total, totalPages}`.
/// `PageRequest::default()` is page 1 of 50; the maximum page size is 100.
pub async fn list(
    exec: &mut impl TenantExec,
    filter: &UserFilter,
    sort: Sort<UserSort>,
    page: PageRequest,
) -> Result<Page<HumanUser>, DbError> {
    let q = filter.pattern();
    let role = filter.role.map(UserRole::as_str);
    exec.op(REPO, "list")
        .offset_page(
            page_sql(sort),
            COUNT,
            &[
                &q,
                &filter.enabled,
                &role,
                &filter.created_from,
                &filter.created_to,
            ],
            page,
            from_row,
        )
        .await
}

/// A keyset page: items and the cursor of the next page (absent on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSlice {
    /// This page's users.
    pub items: Vec<HumanUser>,
    /// Opaque; pass back to get the next page. Bound to the tenant and the sort.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn sort_key(user: &HumanUser, field: UserSort) -> String {
    match field {
        UserSort::CreatedAt => user.created_at.to_string(),
        UserSort::Email => user.email.clone(),
        UserSort::DisplayName => user.display_name.clone().unwrap_or_default(),
    }
}

/// Keyset paging over the same filters and sorts, for deep pages: `limit` 1..=100; `cursor`
/// from the previous slice (a tampered, malformed, other-sort or other-tenant cursor →
/// `validation_error`). Fetches `limit + 1` rows, so the last page has no cursor.
pub async fn list_after(
    exec: &mut impl TenantExec,
    filter: &UserFilter,
    sort: Sort<UserSort>,
    limit: i64,
    cursor: Option<&str>,
) -> Result<UserSlice, DbError> {
    if !(1..=100).contains(&limit) {
        return Err(ValidationError::new("limit", "must be an integer from 1 to 100").into());
    }
    let key = exec.db().cursor_key().clone();
    let tenant = exec.tenant_id().clone();
    let after = cursor
        .map(|c| key.decode(tenant.as_str(), &sort.tag(), c))
        .transpose()?;
    let (last_key, last_id) = match after.as_deref() {
        Some([k, id]) => (Some(k.clone()), Some(id.clone())),
        Some(_) => {
            return Err(
                ValidationError::new("cursor", "is not a valid cursor for this list").into(),
            );
        }
        None => (None, None),
    };
    let q = filter.pattern();
    let role = filter.role.map(UserRole::as_str);
    let fetch = limit + 1;
    let mut items = exec
        .op(REPO, "list_after")
        .query_all(
            keyset_sql(sort),
            &[
                &q,
                &filter.enabled,
                &role,
                &filter.created_from,
                &filter.created_to,
                &last_key,
                &last_id,
                &fetch,
            ],
            from_row,
        )
        .await?;
    let more = items.len() as i64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = match items.last() {
        Some(last) if more => Some(key.encode(
            tenant.as_str(),
            &sort.tag(),
            &[sort_key(last, sort.field), last.user_id.to_string()],
        )),
        _ => None,
    };
    Ok(UserSlice { items, next_cursor })
}

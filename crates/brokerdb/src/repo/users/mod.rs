//! Human users of a tenant and their roles, and the users list: offset pages
//! (`{items, page, pageSize, total, totalPages}`) with filters and an allowlisted sort, and a
//! keyset variant for deep paging. All in the tenant scope.

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use crate::audit::{self, AuditEvent, AuditEventType};
use crate::db::{DbError, Exec, TenantExec, TxOptions};
use crate::model::{Email, NonEmptyString, TenantId, Timestamp, UserId, UserRole};

mod list;

#[doc(hidden)]
pub use list::{Bound as UserListValues, UserListSql, shape_sql};
pub use list::{
    UserFilter, UserSlice, UserSort, list, list_after, list_after_statement_text,
    list_statement_texts,
};

const REPO: &str = "users";

macro_rules! cols {
    () => {
        "u.user_id, u.tenant_id, u.email, u.display_name, u.oidc_subject, u.oidc_issuer, u.enabled, u.created_at, \
         ARRAY(SELECT r.role::text FROM human_user_roles r WHERE r.tenant_id = u.tenant_id AND r.user_id = u.user_id ORDER BY 1) AS roles"
    };
}
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

/// The `HumanUser` record (absent optional fields read back as `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Omitted when unset or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_subject: Option<String>,
    /// Omitted when unset or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

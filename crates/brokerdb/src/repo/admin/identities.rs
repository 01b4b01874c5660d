//! Admin identities, their role bindings and tenant scopes, and the last-owner guard.

use serde::Serialize;
use tokio_postgres::Row;

use super::listing::ListingSql;
use super::{Actor, AdminPrincipal, REPO, audit};
use crate::db::{DbError, Exec, SystemExec, SystemTx, TxOptions};
use crate::model::{
    IdentityId, Timestamp, UserRole, ValidationError, normalize_unique_list, trimmed_non_empty,
};

macro_rules! identity_cols {
    () => {
        "i.identity_id, i.issuer, i.subject, i.email, i.name, i.status::text,
         ARRAY(SELECT b.role::text FROM admin_identity_role_bindings b WHERE b.identity_id = i.identity_id ORDER BY 1),
         ARRAY(SELECT s.tenant_id FROM admin_identity_tenant_scopes s WHERE s.identity_id = i.identity_id ORDER BY 1),
         i.created_at, i.updated_at"
    };
}
const BY_ID: &str = concat!(
    "SELECT ",
    identity_cols!(),
    " FROM admin_identities i WHERE i.identity_id = $1"
);
const BY_PRINCIPAL: &str = concat!(
    "SELECT ",
    identity_cols!(),
    " FROM admin_identities i WHERE i.issuer = $1 AND i.subject = $2"
);
/// The identities listing's shapes (see [`super::listing`]): the page's identities are read
/// first (in index order, stopping at the limit) and their roles and tenants are fetched for
/// those rows only.
pub(super) const LISTING: ListingSql = ListingSql {
    name: "admin_identities",
    inner: "SELECT i.identity_id, i.issuer, i.subject, i.email, i.name, i.status, i.created_at, \
            i.updated_at FROM admin_identities i",
    conditions: [
        "i.status = ${n}::text::admin_identity_status",
        "EXISTS (SELECT 1 FROM admin_identity_tenant_scopes s \
         WHERE s.identity_id = i.identity_id AND s.tenant_id = ${n})",
        "EXISTS (SELECT 1 FROM admin_identity_role_bindings b \
         WHERE b.identity_id = i.identity_id AND b.role = ${n}::text::user_role)",
        "(i.email ILIKE ${n} OR i.name ILIKE ${n} OR i.subject ILIKE ${n})",
    ],
    cursor: "(i.created_at, i.identity_id) < (${at}::timestamptz, ${id}::text)",
    order: "i.created_at DESC, i.identity_id DESC",
    outer: concat!("SELECT ", identity_cols!(), " FROM ({inner}) i"),
};
const UNKNOWN_TENANTS: &str = "SELECT t FROM unnest($1::text[]) AS t WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = t) ORDER BY 1";
const INSERT: &str =
    "INSERT INTO admin_identities (identity_id, issuer, subject, email, name, status)
     VALUES ($1, $2, $3, $4, $5, $6::text::admin_identity_status)";
const INSERT_ROLES: &str = "INSERT INTO admin_identity_role_bindings (identity_id, role) SELECT $1, r::user_role FROM unnest($2::text[]) AS r";
const INSERT_SCOPES: &str = "INSERT INTO admin_identity_tenant_scopes (identity_id, tenant_id) SELECT $1, t FROM unnest($2::text[]) AS t";
const DELETE_ROLES: &str = "DELETE FROM admin_identity_role_bindings WHERE identity_id = $1";
const DELETE_SCOPES: &str = "DELETE FROM admin_identity_tenant_scopes WHERE identity_id = $1";
const LOCK: &str = "SELECT 1 FROM admin_identities WHERE identity_id = $1 FOR UPDATE";
/// Locks every active owner (in id order, so concurrent demotions serialize instead of both
/// seeing the other as the remaining owner) and returns their ids.
const LOCK_ACTIVE_OWNERS: &str = "SELECT i.identity_id FROM admin_identities i
     WHERE i.status = 'active' AND EXISTS (SELECT 1 FROM admin_identity_role_bindings b
           WHERE b.identity_id = i.identity_id AND b.role = 'owner')
     ORDER BY i.identity_id FOR UPDATE";
const SET_STATUS: &str =
    "UPDATE admin_identities SET status = $2::text::admin_identity_status WHERE identity_id = $1";

pub use crate::model::IdentityStatus;

/// `AdminUser`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminUser {
    /// Business id.
    pub identity_id: IdentityId,
    /// OIDC issuer.
    pub issuer: String,
    /// OIDC subject.
    pub subject: String,
    /// Lower-case email.
    pub email: String,
    /// Omitted when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Status.
    pub status: IdentityStatus,
    /// At least one, sorted.
    pub roles: Vec<UserRole>,
    /// Sorted.
    pub tenant_ids: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

pub(super) fn from_row(row: &Row) -> Result<AdminUser, DbError> {
    let roles = crate::repo::stored_roles(&row.try_get::<_, Vec<String>>(6)?)?;
    let status: String = row.try_get(5)?;
    Ok(AdminUser {
        identity_id: row.try_get(0)?,
        issuer: row.try_get(1)?,
        subject: row.try_get(2)?,
        email: row.try_get(3)?,
        name: row
            .try_get::<_, Option<String>>(4)?
            .filter(|n| !n.is_empty()),
        status: IdentityStatus::parse(&status).map_err(|_| DbError::Unexpected {
            message: "stored identity status violates its contract".into(),
        })?,
        roles,
        tenant_ids: row.try_get(7)?,
        created_at: row.try_get(8)?,
        updated_at: row.try_get(9)?,
    })
}

fn labels(roles: &[UserRole]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

async fn load(tx: &mut SystemTx, id: &IdentityId) -> Result<Option<AdminUser>, DbError> {
    tx.query_opt(BY_ID, &[id])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Refuses tenant ids that name no tenant. The message is fixed: it never quotes the ids (a
/// caller's input), only how many are unknown.
async fn check_tenants_exist(tx: &mut SystemTx, tenant_ids: &[String]) -> Result<(), DbError> {
    let unknown: Vec<String> = tx
        .query(UNKNOWN_TENANTS, &[&tenant_ids])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ValidationError::new(
            "tenant_ids",
            format!("names {} tenant id(s) that do not exist", unknown.len()),
        )
        .into())
    }
}

/// Refuses a change that leaves no other active owner (`state_transition_invalid`).
async fn guard_last_owner(tx: &mut SystemTx, id: &IdentityId) -> Result<(), DbError> {
    let owners: Vec<String> = tx
        .query(LOCK_ACTIVE_OWNERS, &[])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if owners.iter().any(|o| o != id.as_str()) {
        Ok(())
    } else {
        Err(DbError::StateTransitionInvalid {
            message: "the last active owner cannot stop being an active owner".into(),
        })
    }
}

fn is_active_owner(user: &AdminUser) -> bool {
    user.status == IdentityStatus::Active && user.roles.contains(&UserRole::Owner)
}

/// Creates an identity with its role bindings and tenant scopes atomically; every tenant id must
/// exist (else `validation_error` listing the unknown ones). `identity_id` defaults to
/// `adm_<32 hex>`, `status` to active. Duplicate `(issuer, subject)` or id → `unique_violation`.
pub async fn create(
    exec: &mut impl SystemExec,
    identity_id: Option<&str>,
    principal: &AdminPrincipal,
    status: Option<IdentityStatus>,
    who: &Actor,
) -> Result<AdminUser, DbError> {
    let id = match identity_id {
        Some(given) => IdentityId::parse(given)?,
        None => IdentityId::generate(),
    };
    let (p, who, status) = (
        principal.clone(),
        who.clone(),
        status.unwrap_or(IdentityStatus::Active),
    );
    exec.op(REPO, "create_identity")
        .atomic(&TxOptions::DEFAULT, move |tx| {
        let (id, p, who) = (id.clone(), p.clone(), who.clone());
        Box::pin(async move {
            check_tenants_exist(tx, &p.tenant_ids).await?;
            tx.execute(
                INSERT,
                &[
                    &id,
                    &p.issuer,
                    &p.subject,
                    &p.email,
                    &p.name,
                    &status.as_str(),
                ],
            )
            .await?;
            tx.execute(INSERT_ROLES, &[&id, &labels(&p.roles)]).await?;
            tx.execute(INSERT_SCOPES, &[&id, &p.tenant_ids]).await?;
            audit(tx, &who, "admin_identity.created", serde_json::json!({ "identity_id": id.as_str(), "roles": labels(&p.roles), "tenant_ids": p.tenant_ids })).await?;
            load(tx, &id)
                .await?
                .ok_or(DbError::not_found("admin identity"))
        })
    })
        .await
}

/// An identity by id, or `None`.
pub async fn get(
    exec: &mut impl SystemExec,
    identity_id: &IdentityId,
) -> Result<Option<AdminUser>, DbError> {
    let id = identity_id.clone();
    exec.op(REPO, "get_identity")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let id = id.clone();
            Box::pin(async move { load(tx, &id).await })
        })
        .await
}

/// The identity of an OIDC principal (exact, case-sensitive), or `None`. `issuer` must be an
/// absolute URL; both are trimmed and must not be empty.
pub async fn find_by_issuer_subject(
    exec: &mut impl SystemExec,
    issuer: &str,
    subject: &str,
) -> Result<Option<AdminUser>, DbError> {
    let issuer = trimmed_non_empty("issuer", issuer)?.to_owned();
    url::Url::parse(&issuer)
        .map_err(|_| ValidationError::new("issuer", "must be an absolute URL"))?;
    let subject = trimmed_non_empty("subject", subject)?.to_owned();
    exec.op(REPO, "find_identity")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (issuer, subject) = (issuer.clone(), subject.clone());
            Box::pin(async move {
                tx.query_opt(BY_PRINCIPAL, &[&issuer, &subject])
                    .await?
                    .as_ref()
                    .map(from_row)
                    .transpose()
            })
        })
        .await
}

/// Sets the status. Missing → `not_found`; the same status → unchanged, nothing written; an
/// active owner leaving `active` when no other active owner remains → `state_transition_invalid`.
pub async fn update_status(
    exec: &mut impl SystemExec,
    identity_id: &IdentityId,
    status: IdentityStatus,
    who: &Actor,
) -> Result<AdminUser, DbError> {
    let (id, who) = (identity_id.clone(), who.clone());
    exec.op(REPO, "update_identity_status")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (id, who) = (id.clone(), who.clone());
            Box::pin(async move {
                tx.query_opt(LOCK, &[&id])
                    .await?
                    .ok_or(DbError::not_found("admin identity"))?;
                let current = load(tx, &id)
                    .await?
                    .ok_or(DbError::not_found("admin identity"))?;
                if current.status == status {
                    return Ok(current);
                }
                if is_active_owner(&current) {
                    guard_last_owner(tx, &id).await?;
                }
                tx.execute(SET_STATUS, &[&id, &status.as_str()]).await?;
                audit(
                    tx,
                    &who,
                    "admin_identity.status_changed",
                    serde_json::json!({ "identity_id": id.as_str(), "status": status.as_str() }),
                )
                .await?;
                load(tx, &id)
                    .await?
                    .ok_or(DbError::not_found("admin identity"))
            })
        })
        .await
}

/// Replaces the given set(s): `roles` (≥ 1) and/or `tenant_ids` (all must exist); at least one is
/// required. Unchanged sets → no write. An active owner losing `owner` with no other active owner
/// → `state_transition_invalid`. Missing identity → `not_found`.
pub async fn update_bindings(
    exec: &mut impl SystemExec,
    identity_id: &IdentityId,
    roles: Option<&[String]>,
    tenant_ids: Option<&[String]>,
    who: &Actor,
) -> Result<AdminUser, DbError> {
    if roles.is_none() && tenant_ids.is_none() {
        return Err(ValidationError::new("patch", "must set roles or tenant_ids").into());
    }
    let roles = roles
        .map(|r| UserRole::normalize_set(r.iter().map(String::as_str)))
        .transpose()?;
    let tenants = tenant_ids
        .map(|t| normalize_unique_list("tenant_ids", t.iter().map(String::as_str)))
        .transpose()?;
    let (id, who) = (identity_id.clone(), who.clone());
    exec.op(REPO, "update_identity_bindings")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (id, who, roles, tenants) =
                (id.clone(), who.clone(), roles.clone(), tenants.clone());
            Box::pin(async move { rebind(tx, &id, roles, tenants, &who).await })
        })
        .await
}

async fn rebind(
    tx: &mut SystemTx,
    id: &IdentityId,
    roles: Option<Vec<UserRole>>,
    tenants: Option<Vec<String>>,
    who: &Actor,
) -> Result<AdminUser, DbError> {
    tx.query_opt(LOCK, &[id])
        .await?
        .ok_or(DbError::not_found("admin identity"))?;
    let current = load(tx, id)
        .await?
        .ok_or(DbError::not_found("admin identity"))?;
    if let Some(t) = &tenants {
        check_tenants_exist(tx, t).await?;
    }
    let roles = roles.filter(|r| r != &current.roles);
    let tenants = tenants.filter(|t| t != &current.tenant_ids);
    if roles.is_none() && tenants.is_none() {
        return Ok(current);
    }
    if let Some(r) = &roles {
        if is_active_owner(&current) && !r.contains(&UserRole::Owner) {
            guard_last_owner(tx, id).await?;
        }
        tx.execute(DELETE_ROLES, &[id]).await?;
        let roles = labels(r);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [id, &roles];
        tx.execute(INSERT_ROLES, &params).await?;
    }
    if let Some(t) = &tenants {
        tx.execute(DELETE_SCOPES, &[id]).await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [id, t];
        tx.execute(INSERT_SCOPES, &params).await?;
    }
    let details = serde_json::json!({ "identity_id": id.as_str(), "roles": roles.as_deref().map(labels), "tenant_ids": tenants });
    audit(tx, who, "admin_identity.bindings_changed", details).await?;
    load(tx, id)
        .await?
        .ok_or(DbError::not_found("admin identity"))
}

/// Finds the identity of `(issuer, subject)` (missing → `not_found`) and replaces its roles and,
/// if given, tenant ids, in one transaction.
pub async fn upsert_role_bindings(
    exec: &mut impl SystemExec,
    issuer: &str,
    subject: &str,
    roles: &[String],
    tenant_ids: Option<&[String]>,
    who: &Actor,
) -> Result<AdminUser, DbError> {
    let issuer = trimmed_non_empty("issuer", issuer)?.to_owned();
    url::Url::parse(&issuer)
        .map_err(|_| ValidationError::new("issuer", "must be an absolute URL"))?;
    let subject = trimmed_non_empty("subject", subject)?.to_owned();
    let roles = UserRole::normalize_set(roles.iter().map(String::as_str))?;
    let tenants = tenant_ids
        .map(|t| normalize_unique_list("tenant_ids", t.iter().map(String::as_str)))
        .transpose()?;
    let who = who.clone();
    exec.op(REPO, "upsert_role_bindings")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (issuer, subject, roles, tenants, who) = (
                issuer.clone(),
                subject.clone(),
                roles.clone(),
                tenants.clone(),
                who.clone(),
            );
            Box::pin(async move {
                let row = tx
                    .query_opt(BY_PRINCIPAL, &[&issuer, &subject])
                    .await?
                    .ok_or(DbError::not_found("admin identity"))?;
                let id: IdentityId = row.try_get(0)?;
                rebind(tx, &id, Some(roles), tenants, &who).await
            })
        })
        .await
}

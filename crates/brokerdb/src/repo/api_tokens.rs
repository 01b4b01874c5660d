//! API tokens of the HTTP data service: bearer tokens shown once and stored only as their
//! SHA-256 hash, each with a public id, a role, an optional tenant, a subject (the principal
//! recorded as actor in audit events), an optional expiry and the time it was last used.
//!
//! A token reads `bdb_<token_id>_<secret>`: the id is public (lists, revocation), the secret is
//! 32 random bytes. Only `sha256(token)` is stored, so the table cannot authenticate anybody.
//! Tokens are global data, looked up before the tenant is known: system scope throughout. A
//! token with a tenant acts in that tenant only; a token without one (a *system token*) manages
//! tenants and global admin data. Creating and revoking write a system audit event in the same
//! transaction.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio_postgres::Row;

use crate::audit::{self, SystemAuditEvent};
use crate::db::{DbError, Exec, SystemExec, TxOptions};
use crate::model::{NonEmptyString, TenantId, Timestamp, ValidationError};

const REPO: &str = "api_tokens";
const INSERT: &str = "INSERT INTO api_tokens (token_id, token_sha256, tenant_id, role, subject, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING token_id, tenant_id, role, subject, created_at, expires_at, last_used_at, revoked_at";
const BY_HASH: &str =
    "SELECT token_id, tenant_id, role, subject, created_at, expires_at, last_used_at, revoked_at
     FROM api_tokens WHERE token_sha256 = $1";
const TOUCH: &str = "UPDATE api_tokens SET last_used_at = date_trunc('milliseconds', now())
     WHERE token_id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')";
const LIST_ALL: &str =
    "SELECT token_id, tenant_id, role, subject, created_at, expires_at, last_used_at, revoked_at
     FROM api_tokens ORDER BY created_at DESC, token_id DESC LIMIT $1";
const LIST_TENANT: &str =
    "SELECT token_id, tenant_id, role, subject, created_at, expires_at, last_used_at, revoked_at
     FROM api_tokens WHERE tenant_id = $1 ORDER BY created_at DESC, token_id DESC LIMIT $2";
const REVOKE: &str = "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, date_trunc('milliseconds', now()))
     WHERE token_id = $1
     RETURNING token_id, tenant_id, role, subject, created_at, expires_at, last_used_at, revoked_at";

/// The most tokens [`list`] returns.
pub const LIST_LIMIT: i64 = 1000;

/// What a token may do. Ordered: each role may do everything of the roles after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiTokenRole {
    /// Reads only.
    Auditor,
    /// Reads, and runs workflows (approvals, enrollment).
    Operator,
    /// Everything, including configuration writes.
    Admin,
}

impl ApiTokenRole {
    /// Every role, weakest first.
    pub const ALL: [Self; 3] = [Self::Auditor, Self::Operator, Self::Admin];

    /// The stored label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auditor => "auditor",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    /// Parses a label (`admin`, `operator`, `auditor`).
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| ValidationError::new("role", "must be one of admin, operator, auditor"))
    }

    /// True if this role may do what `needed` may.
    pub fn allows(self, needed: Self) -> bool {
        self >= needed
    }
}

impl fmt::Display for ApiTokenRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Public id (the part after `bdb_` in the token).
    pub token_id: String,
    /// The tenant it acts in; `None` for a system token.
    pub tenant_id: Option<TenantId>,
    /// What it may do.
    pub role: ApiTokenRole,
    /// The principal, recorded as actor in audit events.
    pub subject: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// After this instant it no longer authenticates.
    pub expires_at: Option<Timestamp>,
    /// When it last authenticated (updated at most once a minute).
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked; a revoked token never authenticates again.
    pub revoked_at: Option<Timestamp>,
}

impl ApiToken {
    /// True if the token authenticates at `now`: not revoked, not expired.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

fn from_row(row: &Row) -> Result<ApiToken, DbError> {
    let role: String = row.try_get(2)?;
    Ok(ApiToken {
        token_id: row.try_get(0)?,
        tenant_id: row.try_get(1)?,
        role: ApiTokenRole::parse(&role).map_err(|_| DbError::Unexpected {
            message: "stored api token has an unknown role".into(),
        })?,
        subject: row.try_get(3)?,
        created_at: row.try_get(4)?,
        expires_at: row.try_get(5)?,
        last_used_at: row.try_get(6)?,
        revoked_at: row.try_get(7)?,
    })
}

/// A token's secret text, as shown once at creation. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// The whole token, for the one time it is shown.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(REDACTED)")
    }
}

/// What [`create`] stores.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    /// The tenant it acts in; `None` makes a system token.
    pub tenant_id: Option<TenantId>,
    /// What it may do.
    pub role: ApiTokenRole,
    /// The principal, recorded as actor in audit events.
    pub subject: NonEmptyString,
    /// Optional expiry (must be in the future).
    pub expires_at: Option<Timestamp>,
}

/// A created token: the stored record and the secret, shown once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The stored record.
    pub token: ApiToken,
    /// The bearer token text (`bdb_<token_id>_<secret>`).
    pub secret: TokenSecret,
}

/// SHA-256 of a presented token's text, as stored.
pub fn token_hash(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

/// Who acts on tokens, as recorded in the system audit event: the actor (a subject or `cli`)
/// and the request's trace id.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Who does it.
    pub actor: NonEmptyString,
    /// Trace id of the request (the CLI uses its own).
    pub correlation_id: NonEmptyString,
}

fn event(action: &'static str, by: &Actor, token: &ApiToken) -> SystemAuditEvent {
    let mut details = Map::new();
    details.insert("token_id".into(), Value::from(token.token_id.as_str()));
    details.insert("role".into(), Value::from(token.role.as_str()));
    details.insert(
        "tenant_id".into(),
        token
            .tenant_id
            .as_ref()
            .map_or(Value::Null, |t| Value::from(t.as_str())),
    );
    details.insert("subject".into(), Value::from(token.subject.as_str()));
    let mut event = SystemAuditEvent::new(action, by.actor.clone(), by.correlation_id.clone());
    event.details = details;
    event
}

/// Creates a token and appends an `api_token.created` system event (by `by`) in the same
/// transaction. Unknown tenant → `integrity_violation`; an expiry not in the future →
/// `validation_error`. The secret is in the result only: it is never stored or logged.
pub async fn create(
    exec: &mut impl SystemExec,
    new: &NewApiToken,
    by: &Actor,
) -> Result<IssuedToken, DbError> {
    if new.expires_at.is_some_and(|at| at <= Timestamp::now()) {
        return Err(ValidationError::new("expires_at", "must be in the future").into());
    }
    let token_id = hex::encode(rand::random::<[u8; 6]>());
    let secret = TokenSecret(format!(
        "bdb_{token_id}_{}",
        hex::encode(rand::random::<[u8; 32]>())
    ));
    let hash = token_hash(secret.expose()).to_vec();
    let (new, by) = (new.clone(), by.clone());
    let token = exec
        .op(REPO, "create")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (token_id, hash, new, by) =
                (token_id.clone(), hash.clone(), new.clone(), by.clone());
            Box::pin(async move {
                let row = tx
                    .query_opt(
                        INSERT,
                        &[
                            &token_id,
                            &hash,
                            &new.tenant_id,
                            &new.role.as_str(),
                            &new.subject.as_str(),
                            &new.expires_at,
                        ],
                    )
                    .await?
                    .ok_or_else(DbError::returned_nothing)?;
                let token = from_row(&row)?;
                audit::append_system(tx, &event("api_token.created", &by, &token)).await?;
                Ok(token)
            })
        })
        .await?;
    Ok(IssuedToken { token, secret })
}

/// The active token whose text is `presented`, or `None` (unknown, malformed, revoked or
/// expired: the caller cannot tell which, and neither can anyone it answers). Cheap: one
/// indexed read of the hash.
pub async fn authenticate(
    exec: &mut impl SystemExec,
    presented: &str,
) -> Result<Option<ApiToken>, DbError> {
    if !presented.starts_with("bdb_") || presented.len() > 200 {
        return Ok(None);
    }
    let hash = token_hash(presented).to_vec();
    let token = exec
        .op(REPO, "authenticate")
        .query_opt(BY_HASH, &[&hash], from_row)
        .await?;
    Ok(token.filter(|t| t.is_active(Timestamp::now())))
}

/// Records that `token_id` was just used (at most one write a minute per token).
pub async fn touch(exec: &mut impl SystemExec, token_id: &str) -> Result<(), DbError> {
    exec.op(REPO, "touch").execute(TOUCH, &[&token_id]).await?;
    Ok(())
}

/// The newest [`LIST_LIMIT`] tokens, of one tenant or of all (system tokens included).
pub async fn list(
    exec: &mut impl SystemExec,
    tenant: Option<&TenantId>,
) -> Result<Vec<ApiToken>, DbError> {
    let op = exec.op(REPO, "list");
    match tenant {
        Some(t) => op.query_all(LIST_TENANT, &[t, &LIST_LIMIT], from_row).await,
        None => op.query_all(LIST_ALL, &[&LIST_LIMIT], from_row).await,
    }
}

/// Revokes a token (idempotent: a revoked token keeps its first revocation time) and appends an
/// `api_token.revoked` system event in the same transaction. Unknown id → `not_found`.
pub async fn revoke(
    exec: &mut impl SystemExec,
    token_id: &str,
    by: &Actor,
) -> Result<ApiToken, DbError> {
    let (token_id, by) = (token_id.to_owned(), by.clone());
    exec.op(REPO, "revoke")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (token_id, by) = (token_id.clone(), by.clone());
            Box::pin(async move {
                let row = tx
                    .query_opt(REVOKE, &[&token_id])
                    .await?
                    .ok_or_else(|| DbError::not_found("api token"))?;
                let token = from_row(&row)?;
                audit::append_system(tx, &event("api_token.revoked", &by, &token)).await?;
                Ok(token)
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse_their_labels() -> Result<(), ValidationError> {
        assert!(ApiTokenRole::Admin.allows(ApiTokenRole::Operator));
        assert!(ApiTokenRole::Operator.allows(ApiTokenRole::Auditor));
        assert!(!ApiTokenRole::Auditor.allows(ApiTokenRole::Operator));
        for role in ApiTokenRole::ALL {
            assert_eq!(ApiTokenRole::parse(role.as_str())?, role);
        }
        assert!(ApiTokenRole::parse("root").is_err());
        Ok(())
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let secret = TokenSecret("bdb_abc_123".into());
        assert_eq!(format!("{secret:?}"), "TokenSecret(REDACTED)");
    }
}

//! The admin signup policy (a singleton row).

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::{Actor, REPO, audit};
use crate::db::{DbError, Exec, SystemExec, TxOptions};
use crate::model::{Timestamp, ValidationError, normalize_unique_list, trim};

const GET_OR_CREATE: &str = "WITH ins AS (
       INSERT INTO admin_signup_policy (id, updated_by) VALUES ('default', 'system') ON CONFLICT (id) DO NOTHING
       RETURNING new_user_mode::text, require_verified_email, allowed_email_domains, updated_at, updated_by)
     SELECT * FROM ins
     UNION ALL
     SELECT new_user_mode::text, require_verified_email, allowed_email_domains, updated_at, updated_by
       FROM admin_signup_policy WHERE id = 'default' AND NOT EXISTS (SELECT 1 FROM ins)";
const UPSERT: &str = "INSERT INTO admin_signup_policy (id, new_user_mode, require_verified_email, allowed_email_domains, updated_by, updated_at)
     VALUES ('default', $1::text::admin_new_user_mode, COALESCE($2, TRUE), COALESCE($3, '{}'::text[]), $4, $5)
     ON CONFLICT (id) DO UPDATE SET new_user_mode = EXCLUDED.new_user_mode,
       require_verified_email = COALESCE($2, admin_signup_policy.require_verified_email),
       allowed_email_domains = COALESCE($3, admin_signup_policy.allowed_email_domains),
       updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
     RETURNING new_user_mode::text, require_verified_email, allowed_email_domains, updated_at, updated_by";

pub use crate::model::NewUserMode;

/// `AdminSignupPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminSignupPolicy {
    /// Allowed or blocked.
    pub new_user_mode: NewUserMode,
    /// Require a verified email.
    pub require_verified_email: bool,
    /// Lower-case domains, unique, sorted.
    pub allowed_email_domains: Vec<String>,
    /// Last change.
    pub updated_at: Timestamp,
    /// Who made it.
    pub updated_by: String,
}

/// `AdminSignupPolicyUpdateRequest`: `new_user_mode` always written, the others only if given.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupPolicyUpdate {
    /// Required.
    pub new_user_mode: NewUserMode,
    /// Written only when present.
    #[serde(default)]
    pub require_verified_email: Option<bool>,
    /// Written only when present; each entry a bare ASCII host.
    #[serde(default)]
    pub allowed_email_domains: Option<Vec<String>>,
}

fn from_row(row: &Row) -> Result<AdminSignupPolicy, DbError> {
    let mode: String = row.try_get(0)?;
    Ok(AdminSignupPolicy {
        new_user_mode: if mode == "allowed" {
            NewUserMode::Allowed
        } else {
            NewUserMode::Blocked
        },
        require_verified_email: row.try_get(1)?,
        allowed_email_domains: row.try_get(2)?,
        updated_at: row.try_get(3)?,
        updated_by: row.try_get(4)?,
    })
}

/// The email-domain rule: trimmed, lower-cased, no `@`, a host whose canonical URL form is the
/// entry itself (no port, no trailing dot, no non-ASCII); then unique and sorted.
pub fn normalize_email_domains(domains: &[String]) -> Result<Vec<String>, ValidationError> {
    let lowered: Vec<String> = domains
        .iter()
        .map(|d| trim(d).to_ascii_lowercase())
        .collect();
    for (i, d) in lowered.iter().enumerate() {
        let canonical = url::Url::parse(&format!("https://{d}/"))
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        if d.is_empty()
            || d.contains('@')
            || d.ends_with('.')
            || canonical.as_deref() != Some(d.as_str())
        {
            return Err(ValidationError::new(
                format!("allowed_email_domains[{i}]"),
                "must be a bare ASCII domain",
            ));
        }
    }
    normalize_unique_list("allowed_email_domains", lowered.iter().map(String::as_str))
}

/// The policy, created with the fail-closed defaults (blocked, verified email required, no
/// domains) if the row is missing.
pub async fn get(exec: &mut impl SystemExec) -> Result<AdminSignupPolicy, DbError> {
    exec.op(REPO, "get_signup_policy")
        .query_one(GET_OR_CREATE, &[], from_row)
        .await
}

/// Writes the policy (see [`SignupPolicyUpdate`]); `updated_at` defaults to now. Audited.
pub async fn set(
    exec: &mut impl SystemExec,
    update: &SignupPolicyUpdate,
    updated_at: Option<Timestamp>,
    who: &Actor,
) -> Result<AdminSignupPolicy, DbError> {
    let domains = update
        .allowed_email_domains
        .as_deref()
        .map(normalize_email_domains)
        .transpose()?;
    let (update, who, at) = (
        update.clone(),
        who.clone(),
        updated_at.unwrap_or_else(Timestamp::now),
    );
    exec.op(REPO, "set_signup_policy")
        .atomic(&TxOptions::DEFAULT, move |tx| {
        let (update, who, domains) = (update.clone(), who.clone(), domains.clone());
        Box::pin(async move {
            let mode = update.new_user_mode.as_str();
            let rows = tx
                .query(
                    UPSERT,
                    &[
                        &mode,
                        &update.require_verified_email,
                        &domains,
                        &who.actor.as_str(),
                        &at,
                    ],
                )
                .await?;
            let policy = rows
                .first()
                .map(from_row)
                .unwrap_or_else(|| Err(DbError::returned_nothing()))?;
            audit(tx, &who, "admin_signup_policy.set", serde_json::json!({ "new_user_mode": mode, "allowed_email_domains": policy.allowed_email_domains })).await?;
            Ok(policy)
        })
    })
        .await
}

//! Repositories: one module per aggregate, each a few functions that take the scope they run in.
//!
//! The executor in each signature says whose rows a call can touch: `&mut impl TenantExec` (the
//! runtime role under row-level security: another tenant's row is simply "not found") or
//! `&mut impl SystemExec` (BYPASSRLS, only for lookups made before the tenant is known, sweeps
//! and global admin data; each such function says why). Given the scope, a function runs its
//! statement(s) on its own; given a transaction of that scope ([`crate::db::TenantTx`],
//! [`crate::db::SystemTx`]), every statement runs on it, so any functions of one scope compose
//! in one transaction. Functions of several statements that must be atomic use
//! `exec.op(…).atomic(…)`: their own transaction on a scope, the caller's otherwise.

pub mod admin;
pub mod api_tokens;
pub mod approvals;
pub mod audit_events;
pub mod enrollment_tokens;
pub mod integrations;
pub mod policy_rules;
pub mod secrets;
pub mod sessions;
pub mod templates;
pub mod tenants;
pub mod users;
pub mod workloads;

use crate::db::DbError;
use crate::model::UserRole;

/// A stored role set, sorted by label: a label that is not a role, or an empty set, means the
/// stored row breaks its contract (`unexpected_error`).
pub(crate) fn stored_roles(labels: &[String]) -> Result<Vec<UserRole>, DbError> {
    let broken = || DbError::Unexpected {
        message: "stored role set violates its contract".into(),
    };
    let mut roles = labels
        .iter()
        .map(|l| UserRole::parse(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| broken())?;
    if roles.is_empty() {
        return Err(broken());
    }
    roles.sort_by_key(|r| r.as_str());
    Ok(roles)
}

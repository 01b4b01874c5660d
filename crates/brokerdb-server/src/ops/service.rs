//! The console's operations, one function each, shared by the JSON API, the HTML page and the
//! CLI: guards 1–3 first ([`authorize`]), then the inputs, then the work. Each operation also
//! has an `_as` form that takes an [`Authorized`] caller, for handlers that must pass the guards
//! before they parse a body.

use brokerdb::db::Db;
use brokerdb::repair_runs;
use brokerdb_repair::guard::check_hash;
use brokerdb_repair::{ExecuteRequest, Registry, RepairConsole, RepairError};

use super::error::OpsError;
use super::state::OpsState;
use super::wire::{ExecuteOut, PreviewOut, RepairListOut, RepairSummary, RunOut, RunsOut};

/// A caller that passed guards 1–3 (only [`authorize`] makes one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    principal: String,
}

impl Authorized {
    /// The principal, as recorded in the ledger's `executed_by`.
    pub fn principal(&self) -> &str {
        &self.principal
    }
}

/// Guards 1–3, in order: a principal (401), an environment that allows repairs (409
/// `ENV_DISABLED`), a principal in the admin allowlist (403).
pub fn authorize(ops: &OpsState, principal: Option<&str>) -> Result<Authorized, OpsError> {
    let principal = ops.guards().check(principal)?;
    Ok(Authorized {
        principal: principal.to_owned(),
    })
}

/// The console, or 503 when the admin connection is not configured.
fn console(ops: &OpsState) -> Result<&RepairConsole, OpsError> {
    ops.console().ok_or(OpsError::Unavailable)
}

/// `id` when it is `R-NNN`, else 422 on `repairId`.
pub fn repair_id(id: &str) -> Result<&str, OpsError> {
    let ok = id.len() == 5 && id.starts_with("R-") && id[2..].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(id)
    } else {
        Err(OpsError::invalid(
            "repairId",
            "must be a playbook id such as R-001",
        ))
    }
}

/// `hash` when it is 64 hex digits, else 422 on `expectedHash`.
pub fn expected_hash(hash: &str) -> Result<&str, OpsError> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash)
    } else {
        Err(OpsError::invalid(
            "expectedHash",
            "must be the playbook's hash: 64 hex digits",
        ))
    }
}

/// Every playbook, in registry order.
pub fn list(ops: &OpsState, principal: Option<&str>) -> Result<RepairListOut, OpsError> {
    list_as(ops, &authorize(ops, principal)?)
}

/// [`list`] for a caller that passed the guards.
pub fn list_as(ops: &OpsState, _who: &Authorized) -> Result<RepairListOut, OpsError> {
    let console = console(ops)?;
    Ok(RepairListOut {
        repairs: console
            .registry()
            .list()
            .iter()
            .map(RepairSummary::from)
            .collect(),
    })
}

/// What executing playbook `id` would do (no writes).
pub async fn preview(
    ops: &OpsState,
    principal: Option<&str>,
    id: &str,
) -> Result<PreviewOut, OpsError> {
    preview_as(ops, &authorize(ops, principal)?, id).await
}

/// [`preview`] for a caller that passed the guards: 422 for a malformed id, 404 for an unknown
/// one, then 503 without the admin connection.
pub async fn preview_as(
    ops: &OpsState,
    _who: &Authorized,
    id: &str,
) -> Result<PreviewOut, OpsError> {
    let id = repair_id(id)?;
    Registry::builtin()?.get(id)?;
    Ok(console(ops)?.preview(id).await?.into())
}

/// Executes playbook `id` confirmed by `hash` (guard 4), recording the principal, the
/// deployment environment and `request_id` in the run ledger.
pub async fn execute(
    ops: &OpsState,
    principal: Option<&str>,
    id: &str,
    hash: &str,
    request_id: &str,
) -> Result<ExecuteOut, OpsError> {
    execute_as(ops, &authorize(ops, principal)?, id, hash, request_id).await
}

/// [`execute`] for a caller that passed guards 1–3: 422 for a malformed id or hash, 404 for an
/// unknown id, 409 `HASH_MISMATCH`, then 503 without the admin connection.
pub async fn execute_as(
    ops: &OpsState,
    who: &Authorized,
    id: &str,
    hash: &str,
    request_id: &str,
) -> Result<ExecuteOut, OpsError> {
    let id = repair_id(id)?;
    let hash = expected_hash(hash)?;
    check_hash(Registry::builtin()?.get(id)?, hash)?;
    let request = ExecuteRequest {
        id: id.to_owned(),
        expected_hash: hash.to_owned(),
        executed_by: who.principal.clone(),
        deployment_env: ops.guards().deployment_env().to_owned(),
        request_id: request_id.to_owned(),
    };
    // The run goes on in a task of its own: if the request is cancelled (the client leaves,
    // API_REQUEST_TIMEOUT passes), the run still finishes or rolls back, and is recorded.
    let console = console(ops)?.clone();
    let run = tokio::spawn(async move { console.execute(&request).await });
    let outcome = run.await.map_err(|e| {
        OpsError::Repair(RepairError::Database(format!(
            "the repair task stopped: {e}"
        )))
    })??;
    Ok(outcome.into())
}

/// The run ledger, newest first: `limit` 1..=200 (default 100), `cursor` the previous page's
/// `nextCursor` (a bad limit or cursor is a 400 `validation_error` naming it).
pub async fn runs(
    ops: &OpsState,
    db: &Db,
    principal: Option<&str>,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<RunsOut, OpsError> {
    runs_as(ops, db, &authorize(ops, principal)?, limit, cursor).await
}

/// [`runs`] for a caller that passed the guards.
pub async fn runs_as(
    ops: &OpsState,
    db: &Db,
    _who: &Authorized,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<RunsOut, OpsError> {
    console(ops)?;
    let page = repair_runs::list(&mut db.system(), limit, cursor).await?;
    Ok(RunsOut {
        items: page.items.into_iter().map(RunOut::from).collect(),
        next_cursor: page.next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::settings::ConsoleSettings;
    use brokerdb_repair::{GuardError, Guards};

    fn ops(env: Option<&str>, admins: Option<&str>) -> Result<OpsState, OpsError> {
        let settings = ConsoleSettings {
            guards: Guards::new(env, admins),
            ..ConsoleSettings::disabled()
        };
        Ok(OpsState::new(settings, None)?)
    }

    #[test]
    fn the_first_failing_guard_answers() -> Result<(), OpsError> {
        let prod = ops(Some("production"), Some("alice"))?;
        let staging = ops(Some("staging"), Some("alice"))?;
        let guard = |r: Result<RepairListOut, OpsError>| r.err().and_then(|e| e.guard().cloned());
        assert_eq!(guard(list(&prod, None)), Some(GuardError::Unauthenticated));
        assert!(matches!(
            guard(list(&prod, Some("mallory"))),
            Some(GuardError::EnvDisabled { .. })
        ));
        assert_eq!(
            guard(list(&staging, Some("mallory"))),
            Some(GuardError::Forbidden)
        );
        // Past the guards, a console without the admin connection is unavailable.
        assert!(matches!(
            list(&staging, Some("alice")),
            Err(OpsError::Unavailable)
        ));
        Ok(())
    }

    #[test]
    fn ids_and_hashes_are_checked_before_any_work() {
        assert!(repair_id("R-001").is_ok());
        for bad in ["", "R-1", "r-001", "R-0001", "X-001", "R-00a"] {
            assert!(repair_id(bad).is_err(), "{bad}");
        }
        assert!(expected_hash(&"aB".repeat(32)).is_ok());
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert!(expected_hash(bad).is_err(), "{bad}");
        }
    }
}

//! Preview and execution of a playbook against the live database.

use std::time::Duration;

use brokerdb::conninfo::ConnInfo;
use serde::Serialize;

use crate::doctor::DoctorReport;
use crate::error::RepairError;
use crate::playbook::Registry;

/// How an execution is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairSettings {
    /// `statement_timeout` of each repair statement.
    pub statement_timeout: Duration,
    /// `lock_timeout` of each repair statement.
    pub lock_timeout: Duration,
    /// How many characters of a statement a preview shows.
    pub preview_chars: usize,
}

impl Default for RepairSettings {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(60),
            lock_timeout: Duration::from_secs(5),
            preview_chars: 240,
        }
    }
}

/// One statement of a preview's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanStep {
    /// 1-based position.
    pub position: usize,
    /// The statement, cut to the preview length.
    pub sql: String,
    /// Whether `sql` was cut.
    pub truncated: bool,
}

/// What executing a playbook would do; computed without any write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// The playbook's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: String,
    /// The hash to confirm on execute.
    pub hash: String,
    /// How many statements it runs.
    pub statement_count: usize,
    /// The objects required before it runs.
    pub required_before: Vec<String>,
    /// Those of them missing now (the execution would fail its pre check).
    pub required_before_missing: Vec<String>,
    /// The objects it promises after.
    pub required_after: Vec<String>,
    /// Those of them missing now (what it would restore).
    pub required_after_missing: Vec<String>,
    /// The statements, cut for display.
    pub plan: Vec<PlanStep>,
}

/// A run's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Every statement ran and the post check passed; committed.
    Success,
    /// Refused by the pre check, a statement or the post check; rolled back.
    Failed,
}

/// An execution request that passed guards 1–3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecuteRequest {
    /// The playbook's id.
    pub id: String,
    /// The hash the caller confirmed (guard 4).
    pub expected_hash: String,
    /// The principal (a token's subject, a proxy's user, or `os:<user>` for the CLI).
    pub executed_by: String,
    /// `BROKERDB_ENV` as configured.
    pub deployment_env: String,
    /// The request's correlation id.
    pub request_id: String,
}

/// What an execution did; it is also the ledger row's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairOutcome {
    /// `SUCCESS` or `FAILED`.
    pub status: RunStatus,
    /// The ledger row's id.
    pub repair_run_id: uuid::Uuid,
    /// One line for people.
    pub summary: String,
    /// Objects of `required_before` missing before the run.
    pub pre_missing: Vec<String>,
    /// Objects of `required_after` missing after the run.
    pub post_missing: Vec<String>,
    /// Why it failed (`PRECONDITION_FAILED`, `STATEMENT_FAILED`, `POSTCONDITION_FAILED`).
    pub error_code: Option<String>,
    /// A bounded message (no SQL values).
    pub error_message: Option<String>,
}

/// The console: the registry and the admin connection it repairs through.
#[derive(Debug, Clone)]
pub struct RepairConsole {
    admin: ConnInfo,
    settings: RepairSettings,
    registry: &'static Registry,
}

impl RepairConsole {
    /// A console over the builtin registry, repairing through `admin` (an owner or superuser
    /// connection; statements run as `brokerdb_owner`).
    pub fn new(admin: ConnInfo, settings: RepairSettings) -> Result<Self, RepairError> {
        Ok(Self {
            admin,
            settings,
            registry: Registry::builtin()?,
        })
    }

    /// The playbooks.
    pub fn registry(&self) -> &'static Registry {
        self.registry
    }

    /// The settings.
    pub fn settings(&self) -> &RepairSettings {
        &self.settings
    }

    /// The admin connection's settings.
    pub fn admin(&self) -> &ConnInfo {
        &self.admin
    }

    /// Compares the live schema with the one the migrations promise.
    pub async fn doctor(&self) -> Result<DoctorReport, RepairError> {
        Err(RepairError::Database("not built yet".into()))
    }

    /// What executing `id` would do; no writes.
    pub async fn preview(&self, id: &str) -> Result<Preview, RepairError> {
        let _ = self.registry.get(id)?;
        Err(RepairError::Database("not built yet".into()))
    }

    /// Runs the playbook: guard 4 (hash), then pre check, statements, post check in one
    /// transaction under an advisory lock, then the ledger row.
    pub async fn execute(&self, request: &ExecuteRequest) -> Result<RepairOutcome, RepairError> {
        let playbook = self.registry.get(&request.id)?;
        crate::guard::check_hash(playbook, &request.expected_hash)?;
        Err(RepairError::Database("not built yet".into()))
    }
}

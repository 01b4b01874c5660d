//! The console's request and response bodies (camelCase JSON), shared by the JSON API, the
//! HTML page and the CLI.

use brokerdb::repair_runs::{RepairRun, RepairRunStatus};
use brokerdb_repair::{PlanStep, Playbook, Preview, RepairOutcome, RunStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One playbook of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepairSummary {
    /// `R-NNN`.
    pub id: String,
    /// One line.
    pub title: String,
    /// What it repairs and when to use it.
    pub description: String,
    /// SHA-256 of its canonical form (lower-case hex); confirm it on execute.
    pub hash: String,
    /// How many statements it runs.
    pub statement_count: usize,
    /// Objects that must exist before it runs (`kind:name`).
    pub required_before: Vec<String>,
    /// Objects it promises after (`kind:name`).
    pub required_after: Vec<String>,
}

impl From<&Playbook> for RepairSummary {
    fn from(p: &Playbook) -> Self {
        Self {
            id: p.id.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            hash: p.hash.clone(),
            statement_count: p.statements.len(),
            required_before: p.required_before.iter().map(ToString::to_string).collect(),
            required_after: p.required_after.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The registry, in its order (by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepairListOut {
    /// The playbooks.
    pub repairs: Vec<RepairSummary>,
}

/// Which playbook to preview.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewIn {
    /// The playbook's id, `R-NNN`.
    #[schema(pattern = "^R-[0-9]{3}$")]
    pub repair_id: String,
}

/// Which playbook to execute, confirmed by its hash.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecuteIn {
    /// The playbook's id, `R-NNN`.
    #[schema(pattern = "^R-[0-9]{3}$")]
    pub repair_id: String,
    /// The hash the preview showed (64 hex digits); another hash is refused with 409
    /// `HASH_MISMATCH`.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub expected_hash: String,
}

/// One statement of a preview's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanStepOut {
    /// 1-based position.
    pub position: usize,
    /// The statement, cut to the preview length.
    pub sql: String,
    /// Whether `sql` was cut.
    pub truncated: bool,
}

impl From<PlanStep> for PlanStepOut {
    fn from(s: PlanStep) -> Self {
        Self {
            position: s.position,
            sql: s.sql,
            truncated: s.truncated,
        }
    }
}

/// What executing a playbook would do, computed without any write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewOut {
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
    pub plan: Vec<PlanStepOut>,
}

impl From<Preview> for PreviewOut {
    fn from(p: Preview) -> Self {
        Self {
            id: p.id,
            title: p.title,
            description: p.description,
            hash: p.hash,
            statement_count: p.statement_count,
            required_before: p.required_before,
            required_before_missing: p.required_before_missing,
            required_after: p.required_after,
            required_after_missing: p.required_after_missing,
            plan: p.plan.into_iter().map(PlanStepOut::from).collect(),
        }
    }
}

/// A recorded run's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatusOut {
    /// Every statement ran and the post check passed; committed.
    Success,
    /// Refused by the pre check, a statement or the post check; rolled back.
    Failed,
}

impl From<RunStatus> for RunStatusOut {
    fn from(s: RunStatus) -> Self {
        match s {
            RunStatus::Success => Self::Success,
            RunStatus::Failed => Self::Failed,
        }
    }
}

/// What an execution did (recorded in the run ledger either way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteOut {
    /// `SUCCESS` or `FAILED`.
    pub status: RunStatusOut,
    /// The ledger row's id (a UUID).
    pub repair_run_id: String,
    /// One line for people.
    pub summary: String,
    /// Objects of `requiredBefore` missing before the run.
    pub pre_missing: Vec<String>,
    /// Objects of `requiredAfter` missing after the run.
    pub post_missing: Vec<String>,
    /// Why it failed: `PRECONDITION_FAILED`, `STATEMENT_FAILED` or `POSTCONDITION_FAILED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// A bounded message (no SQL values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl From<RepairOutcome> for ExecuteOut {
    fn from(o: RepairOutcome) -> Self {
        Self {
            status: o.status.into(),
            repair_run_id: o.repair_run_id.to_string(),
            summary: o.summary,
            pre_missing: o.pre_missing,
            post_missing: o.post_missing,
            error_code: o.error_code,
            error_message: o.error_message,
        }
    }
}

/// A recorded run of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunOut {
    /// The run's id (a UUID).
    pub id: String,
    /// The playbook.
    pub repair_id: String,
    /// The hash the caller confirmed.
    pub expected_hash: String,
    /// The playbook's own hash.
    pub actual_hash: String,
    /// When it was recorded (RFC 3339, milliseconds, UTC).
    pub executed_at: String,
    /// The principal that ran it.
    pub executed_by: String,
    /// `BROKERDB_ENV` at the time.
    pub deployment_env: String,
    /// SHA-256 over the applied migrations: which schema the run executed against.
    pub lawbook_hash: String,
    /// The request's correlation id.
    pub request_id: String,
    /// `SUCCESS` or `FAILED`.
    pub status: RunStatusOut,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// A bounded message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// One line for people.
    pub summary: String,
    /// Objects missing before the run.
    pub pre_missing: Vec<String>,
    /// Objects missing after the run.
    pub post_missing: Vec<String>,
}

impl From<RepairRun> for RunOut {
    fn from(r: RepairRun) -> Self {
        Self {
            id: r.id.to_string(),
            repair_id: r.repair_id,
            expected_hash: r.expected_hash,
            actual_hash: r.actual_hash,
            executed_at: r.executed_at.to_string(),
            executed_by: r.executed_by,
            deployment_env: r.deployment_env,
            lawbook_hash: r.lawbook_hash,
            request_id: r.request_id,
            status: match r.status {
                RepairRunStatus::Success => RunStatusOut::Success,
                RepairRunStatus::Failed => RunStatusOut::Failed,
            },
            error_code: r.error_code,
            error_message: r.error_message,
            summary: r.summary,
            pre_missing: r.pre_missing_tables,
            post_missing: r.post_missing_tables,
        }
    }
}

/// A keyset page of the run ledger, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunsOut {
    /// This page's runs.
    pub items: Vec<RunOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Query parameters of `GET /api/ops/db/repairs/runs` (all optional; unknown ones are refused).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Runs per page, 1..=200 (default 100).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    #[param(max_length = 1000)]
    pub cursor: Option<String>,
}

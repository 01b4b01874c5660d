//! Preview and execution of a playbook against the live database.

use std::time::Duration;

use brokerdb::conninfo::ConnInfo;
use brokerdb::repair_runs::{self, NewRepairRun};
use serde::Serialize;
use tokio_postgres::Transaction;

use crate::doctor::{self, DoctorReport};
use crate::error::RepairError;
use crate::guard::check_hash;
use crate::inspect;
use crate::playbook::{Playbook, Registry};

/// The advisory lock every execution holds for its transaction: executions serialize, so a
/// second one sees what the first committed.
pub const ADVISORY_LOCK_KEY: i64 = 0x6272_6f6b_7265_7061; // "brokrepa"

/// The longest error message kept in a run's record.
pub const MAX_ERROR_MESSAGE: usize = 500;

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

/// A run's result: `SUCCESS` (every statement ran and the post check passed; committed) or
/// `FAILED` (refused by the pre check, a statement or the post check; rolled back).
pub use brokerdb::repair_runs::RepairRunStatus as RunStatus;

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
    /// Objects of `required_after` that were missing before and are present after (empty when
    /// the run failed or there was nothing to do).
    pub restored: Vec<String>,
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

/// Why a run failed: its code and bounded message.
struct Failure {
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        if message.chars().count() > MAX_ERROR_MESSAGE {
            message = message.chars().take(MAX_ERROR_MESSAGE - 1).collect();
            message.push('…');
        }
        Self { code, message }
    }

    /// A database error: its message and SQLSTATE only (never its detail, which can quote
    /// row values).
    fn database(code: &'static str, context: &str, err: &tokio_postgres::Error) -> Self {
        let text = match err.as_db_error() {
            Some(db) => format!("{context}: {} ({})", db.message(), db.code().code()),
            None => format!("{context}: {err}"),
        };
        Self::new(code, text)
    }
}

/// What one attempt saw and did, before it is recorded.
struct Attempt {
    lawbook_hash: String,
    pre_missing: Vec<String>,
    post_missing: Vec<String>,
    restored: Vec<String>,
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

    async fn connect(&self) -> Result<tokio_postgres::Client, RepairError> {
        self.admin
            .connect()
            .await
            .map_err(|e| RepairError::Database(format!("cannot connect as the admin: {e}")))
    }

    /// Compares the live schema with the one the migrations promise.
    pub async fn doctor(&self) -> Result<DoctorReport, RepairError> {
        let client = self.connect().await?;
        let live = inspect::snapshot(&client).await?;
        Ok(doctor::diagnose(crate::expected::expected()?, &live))
    }

    /// What executing `id` would do, read in a read-only transaction: no writes.
    pub async fn preview(&self, id: &str) -> Result<Preview, RepairError> {
        let playbook = self.registry.get(id)?;
        let mut client = self.connect().await?;
        let tx = client
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(|e| RepairError::database(&e))?;
        let live = inspect::snapshot(&tx).await?;
        tx.rollback().await.map_err(|e| RepairError::database(&e))?;
        let limit = self.settings.preview_chars.max(1);
        let plan = playbook
            .statements
            .iter()
            .enumerate()
            .map(|(i, sql)| {
                let truncated = sql.chars().count() > limit;
                let mut shown: String = sql.chars().take(limit).collect();
                if truncated {
                    shown.push('…');
                }
                PlanStep {
                    position: i + 1,
                    sql: shown,
                    truncated,
                }
            })
            .collect();
        Ok(Preview {
            id: playbook.id.clone(),
            title: playbook.title.clone(),
            description: playbook.description.clone(),
            hash: playbook.hash.clone(),
            statement_count: playbook.statements.len(),
            required_before: strings(&playbook.required_before),
            required_before_missing: live.missing(&playbook.required_before),
            required_after: strings(&playbook.required_after),
            required_after_missing: live.missing(&playbook.required_after),
            plan,
        })
    }

    /// Runs the playbook: guard 4 (the hash; a mismatch is refused before any database work
    /// and is not recorded), then, in one transaction as `brokerdb_owner` under
    /// [`ADVISORY_LOCK_KEY`]: the pre check of `required_before`, every statement with the
    /// configured `statement_timeout` and `lock_timeout`, the post check of `required_after`,
    /// and the ledger row (with its system audit event), committed together. A failed run is
    /// rolled back and then recorded on its own with its error code and a bounded message.
    pub async fn execute(&self, request: &ExecuteRequest) -> Result<RepairOutcome, RepairError> {
        let playbook = self.registry.get(&request.id)?;
        check_hash(playbook, &request.expected_hash)?;
        let mut client = self.connect().await?;
        let run_id = uuid::Uuid::new_v4();
        // Read as the connecting role: the migration ledger belongs to whoever migrated.
        let lawbook_hash = repair_runs::lawbook_hash(&client).await?;
        let mut attempt = Attempt {
            lawbook_hash,
            pre_missing: Vec::new(),
            post_missing: Vec::new(),
            restored: Vec::new(),
        };
        let failure = {
            let tx = client
                .transaction()
                .await
                .map_err(|e| RepairError::database(&e))?;
            match self.attempt(&tx, playbook, &mut attempt).await {
                Ok(()) => {
                    let summary = success_summary(playbook, &attempt);
                    let run = self.new_run(request, playbook, run_id, &attempt, summary, None);
                    repair_runs::record(&tx, &run).await?;
                    tx.commit().await.map_err(|e| RepairError::database(&e))?;
                    return Ok(outcome(&run, attempt));
                }
                Err(failure) => {
                    // Dropping the transaction would roll it back too; say it explicitly.
                    if let Err(e) = tx.rollback().await {
                        tracing::warn!(error = %e, "cannot roll back a failed repair");
                    }
                    failure
                }
            }
        };
        let tx = client
            .transaction()
            .await
            .map_err(|e| RepairError::database(&e))?;
        set_owner_role(&tx)
            .await
            .map_err(|e| RepairError::database(&e))?;
        attempt.restored.clear();
        let summary = format!(
            "{} failed ({}); nothing was changed",
            playbook.id, failure.code
        );
        let run = self.new_run(request, playbook, run_id, &attempt, summary, Some(failure));
        repair_runs::record(&tx, &run).await?;
        tx.commit().await.map_err(|e| RepairError::database(&e))?;
        Ok(outcome(&run, attempt))
    }

    /// The work of one run inside `tx`; fills `attempt` as it goes.
    async fn attempt(
        &self,
        tx: &Transaction<'_>,
        playbook: &Playbook,
        attempt: &mut Attempt,
    ) -> Result<(), Failure> {
        set_owner_role(tx)
            .await
            .map_err(|e| Failure::database("DATABASE_ERROR", "cannot act as brokerdb_owner", &e))?;
        let statement_timeout = millis(self.settings.statement_timeout);
        let lock_timeout = millis(self.settings.lock_timeout);
        // The statement timeout also bounds the wait for a concurrent run's lock.
        tx.execute(
            "SELECT pg_catalog.set_config('statement_timeout', $1, true)",
            &[&statement_timeout],
        )
        .await
        .map_err(|e| Failure::database("DATABASE_ERROR", "cannot set the statement timeout", &e))?;
        tx.execute(
            "SELECT pg_catalog.pg_advisory_xact_lock($1)",
            &[&ADVISORY_LOCK_KEY],
        )
        .await
        .map_err(|e| Failure::database("LOCK_TIMEOUT", "another repair is still running", &e))?;
        tx.execute(
            "SELECT pg_catalog.set_config('lock_timeout', $1, true)",
            &[&lock_timeout],
        )
        .await
        .map_err(|e| Failure::database("DATABASE_ERROR", "cannot set the lock timeout", &e))?;
        let before = inspect::snapshot(tx)
            .await
            .map_err(|e| Failure::new("DATABASE_ERROR", e.to_string()))?;
        attempt.pre_missing = before.missing(&playbook.required_before);
        if !attempt.pre_missing.is_empty() {
            return Err(Failure::new(
                "PRECONDITION_FAILED",
                format!(
                    "{} required object(s) missing before the run: {}",
                    attempt.pre_missing.len(),
                    attempt.pre_missing.join(", ")
                ),
            ));
        }
        let missing_before = before.missing(&playbook.required_after);
        let total = playbook.statements.len();
        for (i, statement) in playbook.statements.iter().enumerate() {
            tx.batch_execute(statement).await.map_err(|e| {
                Failure::database(
                    "STATEMENT_FAILED",
                    &format!("statement {} of {total} failed", i + 1),
                    &e,
                )
            })?;
        }
        let after = inspect::snapshot(tx)
            .await
            .map_err(|e| Failure::new("DATABASE_ERROR", e.to_string()))?;
        attempt.post_missing = after.missing(&playbook.required_after);
        if !attempt.post_missing.is_empty() {
            return Err(Failure::new(
                "POSTCONDITION_FAILED",
                format!(
                    "{} required object(s) still missing after the run: {}",
                    attempt.post_missing.len(),
                    attempt.post_missing.join(", ")
                ),
            ));
        }
        attempt.restored = missing_before;
        Ok(())
    }

    fn new_run(
        &self,
        request: &ExecuteRequest,
        playbook: &Playbook,
        id: uuid::Uuid,
        attempt: &Attempt,
        summary: String,
        failure: Option<Failure>,
    ) -> NewRepairRun {
        let (status, error_code, error_message) = match failure {
            None => (RunStatus::Success, None, None),
            Some(f) => (RunStatus::Failed, Some(f.code.to_owned()), Some(f.message)),
        };
        NewRepairRun {
            id,
            repair_id: playbook.id.clone(),
            expected_hash: request.expected_hash.trim().to_owned(),
            actual_hash: playbook.hash.clone(),
            executed_by: request.executed_by.clone(),
            deployment_env: request.deployment_env.clone(),
            lawbook_hash: attempt.lawbook_hash.clone(),
            request_id: request.request_id.clone(),
            status,
            error_code,
            error_message,
            summary,
            pre_missing_tables: attempt.pre_missing.clone(),
            post_missing_tables: attempt.post_missing.clone(),
        }
    }
}

async fn set_owner_role(tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    // Constants: the role the migrations create, and a search path that nothing of another
    // role can shadow (pg_temp last; the playbooks name `public` objects, the catalogs first).
    tx.batch_execute(
        "SET LOCAL ROLE brokerdb_owner; SET LOCAL search_path = pg_catalog, public, pg_temp",
    )
    .await
}

fn millis(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

fn strings(objects: &[crate::objects::ObjectRef]) -> Vec<String> {
    objects.iter().map(ToString::to_string).collect()
}

fn success_summary(playbook: &Playbook, attempt: &Attempt) -> String {
    match attempt.restored.len() {
        0 => format!(
            "{} ran {} statements; nothing was missing, every required object is present",
            playbook.id,
            playbook.statements.len()
        ),
        n => {
            let shown: Vec<&str> = attempt
                .restored
                .iter()
                .take(5)
                .map(String::as_str)
                .collect();
            let more = if n > shown.len() {
                format!(" and {} more", n - shown.len())
            } else {
                String::new()
            };
            format!(
                "{} ran {} statements and restored {n} object(s): {}{more}",
                playbook.id,
                playbook.statements.len(),
                shown.join(", ")
            )
        }
    }
}

fn outcome(run: &NewRepairRun, attempt: Attempt) -> RepairOutcome {
    RepairOutcome {
        status: run.status,
        repair_run_id: run.id,
        summary: run.summary.clone(),
        pre_missing: attempt.pre_missing,
        post_missing: attempt.post_missing,
        restored: attempt.restored,
        error_code: run.error_code.clone(),
        error_message: run.error_message.clone(),
    }
}

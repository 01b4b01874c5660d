//! The run ledger of the database repair console: one append-only row per execution of a repair
//! playbook (table `db_repair_runs`, migration 0019), and the "lawbook hash" that pins which
//! schema a run was executed against.
//!
//! [`record`] runs on the console's admin connection (a superuser, or a member of
//! `brokerdb_owner` after `SET LOCAL ROLE brokerdb_owner`), so it takes a plain
//! [`GenericClient`] rather than a scope; [`list`] reads the ledger in the system scope. Nobody
//! may update, delete or truncate a row: triggers refuse it for every role, superusers included.

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;

use crate::audit::{SystemAuditEvent, append_system_with};
use crate::db::paging::checked_limit;
use crate::db::paging::{KeysetPage, decode_cursor};
use crate::db::{DbError, SystemExec};
use crate::migrate::MigrationSet;
use crate::model::{NonEmptyString, Timestamp, ValidationError};

/// The action of the system audit event [`record`] appends.
pub const AUDIT_ACTION: &str = "db_repair.run";
/// The longest `error_message` kept; a longer one is cut to this many characters.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 1000;
/// The longest `summary` kept; a longer one is cut to this many characters.
pub const MAX_SUMMARY_CHARS: usize = 1000;

const REPO: &str = "repair_runs";
const SORT_TAG: &str = "db_repair_runs:executed_at_desc,id_desc";
const PAGE: &str =
    "SELECT id, repair_id, expected_hash, actual_hash, executed_at, executed_by, deployment_env,
         lawbook_hash, request_id, status, error_code, error_message, summary, pre_missing_tables,
         post_missing_tables
     FROM db_repair_runs
     WHERE (executed_at, id) < (COALESCE($1, 'infinity'::timestamptz),
                                COALESCE($2, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
     ORDER BY executed_at DESC, id DESC LIMIT $3";
const INSERT: &str =
    "INSERT INTO db_repair_runs (id, repair_id, expected_hash, actual_hash, executed_by,
         deployment_env, lawbook_hash, request_id, status, error_code, error_message, summary,
         pre_missing_tables, post_missing_tables)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     RETURNING id, repair_id, expected_hash, actual_hash, executed_at, executed_by, deployment_env,
         lawbook_hash, request_id, status, error_code, error_message, summary, pre_missing_tables,
         post_missing_tables";
/// The ledger's rows of one migration set (`crate::migrate::LEDGER_TABLE`), in version order.
const APPLIED: &str = "SELECT version, checksum FROM brokerdb_schema_migrations
     WHERE set_name = $1 ORDER BY version";

/// Whether a repair run succeeded; stored and serialized as `SUCCESS` / `FAILED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RepairRunStatus {
    /// Every statement ran and the postcondition held.
    #[serde(rename = "SUCCESS")]
    Success,
    /// The run stopped (its `error_code` says why) and its changes were rolled back.
    #[serde(rename = "FAILED")]
    Failed,
}

impl RepairRunStatus {
    /// `SUCCESS` or `FAILED`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
        }
    }

    fn from_stored(s: &str) -> Result<Self, DbError> {
        match s {
            "SUCCESS" => Ok(Self::Success),
            "FAILED" => Ok(Self::Failed),
            _ => Err(DbError::Unexpected {
                message: "db_repair_runs holds an unknown status".into(),
            }),
        }
    }
}

impl std::fmt::Display for RepairRunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run to record. `executed_at` is the database's (the start of the recording transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRepairRun {
    /// The run's id (the console generates it).
    pub id: uuid::Uuid,
    /// The playbook, `R-` and three digits.
    pub repair_id: String,
    /// The hash the caller sent (kept as sent: 1..=200 visible ASCII characters).
    pub expected_hash: String,
    /// The playbook's own hash (64 lower-case hex).
    pub actual_hash: String,
    /// Who ran it (1..=200 characters, not blank).
    pub executed_by: String,
    /// The deployment environment (1..=64 characters).
    pub deployment_env: String,
    /// [`lawbook_hash`] of the database the run executed against (64 lower-case hex).
    pub lawbook_hash: String,
    /// The request's correlation id (1..=200 characters, not blank).
    pub request_id: String,
    /// Success or failure.
    pub status: RepairRunStatus,
    /// Why it failed (1..=64 characters): present exactly when `status` is `Failed`.
    pub error_code: Option<String>,
    /// A message for people; cut to [`MAX_ERROR_MESSAGE_CHARS`].
    pub error_message: Option<String>,
    /// One line for people; cut to [`MAX_SUMMARY_CHARS`].
    pub summary: String,
    /// Objects the playbook requires that were missing before the run.
    pub pre_missing_tables: Vec<String>,
    /// Objects the playbook promises that were missing after the run.
    pub post_missing_tables: Vec<String>,
}

/// A recorded run: every column of `db_repair_runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairRun {
    /// The run's id.
    pub id: uuid::Uuid,
    /// The playbook.
    pub repair_id: String,
    /// The hash the caller sent.
    pub expected_hash: String,
    /// The playbook's own hash.
    pub actual_hash: String,
    /// When it was recorded (the start of the recording transaction).
    pub executed_at: Timestamp,
    /// Who ran it.
    pub executed_by: String,
    /// The deployment environment.
    pub deployment_env: String,
    /// The lawbook hash of the database at the time.
    pub lawbook_hash: String,
    /// The request's correlation id.
    pub request_id: String,
    /// Success or failure.
    pub status: RepairRunStatus,
    /// Why it failed.
    pub error_code: Option<String>,
    /// The (bounded) message.
    pub error_message: Option<String>,
    /// The (bounded) summary.
    pub summary: String,
    /// Objects missing before the run.
    pub pre_missing_tables: Vec<String>,
    /// Objects missing after the run.
    pub post_missing_tables: Vec<String>,
}

/// Inserts the ledger row and appends a system audit event (action [`AUDIT_ACTION`], actor
/// `executed_by`, correlation id `request_id`, details `{runId, repairId, status, errorCode,
/// actualHash, deploymentEnv}`: no SQL and no values) through `client`. Pass the caller's
/// transaction so the row and the event commit together (on a plain connection they are two
/// statements). The event's timestamp is the row's `executed_at`, the database's clock, so the
/// audit table's skew check holds however long the transaction has run.
///
/// `error_message` and `summary` are cut to 1000 characters (and NUL characters, which
/// PostgreSQL cannot store, are dropped), so a long message never makes the insert fail. Any
/// other invalid field is a `validation_error` naming it, before any I/O; a duplicate `id` is
/// `unique_violation`.
pub async fn record(client: &impl GenericClient, run: &NewRepairRun) -> Result<RepairRun, DbError> {
    let checked = Checked::of(run)?;
    let status = run.status.as_str();
    let (pre, post) = (
        json_list(&run.pre_missing_tables),
        json_list(&run.post_missing_tables),
    );
    let row = client
        .query_opt(
            INSERT,
            &[
                &run.id,
                &run.repair_id,
                &run.expected_hash,
                &run.actual_hash,
                &run.executed_by,
                &run.deployment_env,
                &run.lawbook_hash,
                &run.request_id,
                &status,
                &run.error_code,
                &checked.error_message,
                &checked.summary,
                &pre,
                &post,
            ],
        )
        .await?
        .ok_or_else(DbError::returned_nothing)?;
    let stored = from_row(&row)?;
    let mut event = SystemAuditEvent::new(AUDIT_ACTION, checked.actor, checked.correlation_id);
    event.timestamp = stored.executed_at;
    event.details = audit_details(&stored);
    append_system_with(client, &event).await?;
    Ok(stored)
}

/// Recorded runs, newest first (`executed_at` desc, `id` desc); `limit` 1..=200 (default 100),
/// and the signed cursor of the previous page (a tampered or foreign cursor is a
/// `validation_error`). `next_cursor` is present only when another row exists.
pub async fn list(
    exec: &mut impl SystemExec,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<KeysetPage<RepairRun>, DbError> {
    let limit = checked_limit(limit)?;
    let key = exec.db().cursor_key().clone();
    let (at, id) = cursor_position(decode_cursor(&key, "", SORT_TAG, cursor)?)?;
    let fetch = limit + 1;
    let items = exec
        .op(REPO, "list")
        .query_all(PAGE, &[&at, &id, &fetch], from_row)
        .await?;
    Ok(KeysetPage::from_rows(
        &key,
        "",
        SORT_TAG,
        items,
        limit,
        |r| vec![r.executed_at.to_string(), r.id.to_string()],
    ))
}

/// The "lawbook hash": which schema a database has, as one value. It is the lower-case hex
/// SHA-256 of the broker's applied migrations read from the ledger table
/// `brokerdb_schema_migrations` (set `brokerdb`), one line per migration in ascending version
/// order, each `<version>:<checksum>\n` with the version in decimal without padding and the
/// checksum as the ledger holds it (the hex SHA-256 of the file's text), e.g.
/// `1:3f…\n2:9a…\n`. Two databases with the same applied files have the same lawbook hash; any
/// migration applied, missing or different changes it. An unmigrated database (no ledger) is
/// `dependency_missing`.
pub async fn lawbook_hash(client: &impl GenericClient) -> Result<String, DbError> {
    let rows = client.query(APPLIED, &[&MigrationSet::BROKER]).await?;
    let mut hasher = Sha256::new();
    for row in &rows {
        let (version, checksum): (i32, String) = (row.try_get(0)?, row.try_get(1)?);
        hasher.update(format!("{version}:{checksum}\n").as_bytes());
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The fields of a run as they are stored, once every rule holds.
struct Checked {
    actor: NonEmptyString,
    correlation_id: NonEmptyString,
    error_message: Option<String>,
    summary: String,
}

impl Checked {
    fn of(run: &NewRepairRun) -> Result<Self, ValidationError> {
        let repair_id = run.repair_id.as_bytes();
        if !(repair_id.len() == 5
            && repair_id.starts_with(b"R-")
            && repair_id[2..].iter().all(u8::is_ascii_digit))
        {
            return Err(invalid("repair_id", "must be R- and three digits"));
        }
        if !(1..=200).contains(&run.expected_hash.len())
            || !run.expected_hash.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(invalid(
                "expected_hash",
                "must be 1 to 200 visible ASCII characters",
            ));
        }
        for (field, value) in [
            ("actual_hash", &run.actual_hash),
            ("lawbook_hash", &run.lawbook_hash),
        ] {
            if !is_sha256_hex(value) {
                return Err(invalid(field, "must be 64 lower-case hex characters"));
            }
        }
        bounded("executed_by", &run.executed_by, 200)?;
        bounded("deployment_env", &run.deployment_env, 64)?;
        bounded("request_id", &run.request_id, 200)?;
        match (&run.error_code, run.status) {
            (Some(code), RepairRunStatus::Failed) => bounded("error_code", code, 64)?,
            (None, RepairRunStatus::Success) => {}
            (Some(_), RepairRunStatus::Success) => {
                return Err(invalid(
                    "error_code",
                    "must be absent when the run succeeded",
                ));
            }
            (None, RepairRunStatus::Failed) => {
                return Err(invalid("error_code", "is required when the run failed"));
            }
        }
        Ok(Self {
            actor: NonEmptyString::new("executed_by", &run.executed_by)?,
            correlation_id: NonEmptyString::new("request_id", &run.request_id)?,
            error_message: run
                .error_message
                .as_deref()
                .map(|m| storable(m, MAX_ERROR_MESSAGE_CHARS)),
            summary: storable(&run.summary, MAX_SUMMARY_CHARS),
        })
    }
}

fn invalid(field: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(field, message)
}

/// 1..=`max` characters, no NUL.
fn bounded(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    let chars = value.chars().count();
    if chars == 0 || chars > max || value.contains('\0') {
        return Err(ValidationError::new(
            field,
            format!("must be 1 to {max} characters (no NUL)"),
        ));
    }
    Ok(())
}

fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `text` without NUL characters, cut to at most `max` characters.
fn storable(text: &str, max: usize) -> String {
    text.chars().filter(|c| *c != '\0').take(max).collect()
}

fn json_list(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

/// What the audit event says about a run: identifiers and outcome, never SQL or values.
fn audit_details(run: &RepairRun) -> Map<String, Value> {
    let mut details = Map::new();
    details.insert("runId".into(), Value::String(run.id.to_string()));
    details.insert("repairId".into(), Value::String(run.repair_id.clone()));
    details.insert("status".into(), Value::String(run.status.as_str().into()));
    details.insert(
        "errorCode".into(),
        run.error_code.clone().map_or(Value::Null, Value::String),
    );
    details.insert("actualHash".into(), Value::String(run.actual_hash.clone()));
    details.insert(
        "deploymentEnv".into(),
        Value::String(run.deployment_env.clone()),
    );
    details
}

/// A cursor's `(executed_at, id)`.
fn cursor_position(
    values: Option<[String; 2]>,
) -> Result<(Option<Timestamp>, Option<uuid::Uuid>), ValidationError> {
    match values {
        None => Ok((None, None)),
        Some([at, id]) => Ok((
            Some(Timestamp::parse(&at).map_err(|e| e.with_field("cursor"))?),
            Some(uuid::Uuid::parse_str(&id).map_err(|_| {
                ValidationError::new("cursor", "is not a valid cursor for this list")
            })?),
        )),
    }
}

fn string_list(value: Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn from_row(r: &tokio_postgres::Row) -> Result<RepairRun, DbError> {
    let status: String = r.try_get(9)?;
    Ok(RepairRun {
        id: r.try_get(0)?,
        repair_id: r.try_get(1)?,
        expected_hash: r.try_get(2)?,
        actual_hash: r.try_get(3)?,
        executed_at: r.try_get(4)?,
        executed_by: r.try_get(5)?,
        deployment_env: r.try_get(6)?,
        lawbook_hash: r.try_get(7)?,
        request_id: r.try_get(8)?,
        status: RepairRunStatus::from_stored(&status)?,
        error_code: r.try_get(10)?,
        error_message: r.try_get(11)?,
        summary: r.try_get(12)?,
        pre_missing_tables: string_list(r.try_get(13)?),
        post_missing_tables: string_list(r.try_get(14)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> NewRepairRun {
        NewRepairRun {
            id: uuid::Uuid::nil(),
            repair_id: "R-001".into(),
            expected_hash: "a".repeat(64),
            actual_hash: "a".repeat(64),
            executed_by: "admin@example.com".into(),
            deployment_env: "staging".into(),
            lawbook_hash: "0".repeat(64),
            request_id: "req-1".into(),
            status: RepairRunStatus::Success,
            error_code: None,
            error_message: None,
            summary: "ok".into(),
            pre_missing_tables: vec![],
            post_missing_tables: vec![],
        }
    }

    type Change = fn(&mut NewRepairRun);

    fn field_of(run: &NewRepairRun) -> Option<String> {
        Checked::of(run).err().map(|e| e.field.to_string())
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(field_of(&run()), None);
        let cases: [(&str, Change); 9] = [
            ("repair_id", |r| r.repair_id = "R-01".into()),
            ("expected_hash", |r| r.expected_hash = "with space".into()),
            ("actual_hash", |r| r.actual_hash = "A".repeat(64)),
            ("lawbook_hash", |r| r.lawbook_hash = "0".repeat(63)),
            ("executed_by", |r| r.executed_by = "x".repeat(201)),
            ("deployment_env", |r| r.deployment_env = String::new()),
            ("request_id", |r| r.request_id = "   ".into()),
            ("error_code", |r| r.status = RepairRunStatus::Failed),
            ("error_code", |r| r.error_code = Some("E".into())),
        ];
        for (field, change) in cases {
            let mut r = run();
            change(&mut r);
            assert_eq!(field_of(&r).as_deref(), Some(field), "{field}");
        }
    }

    #[test]
    fn long_messages_are_cut_not_refused() -> Result<(), ValidationError> {
        let mut r = run();
        r.status = RepairRunStatus::Failed;
        r.error_code = Some("STATEMENT_FAILED".into());
        r.error_message = Some(format!("é\0{}", "x".repeat(5000)));
        r.summary = "s".repeat(1001);
        let checked = Checked::of(&r)?;
        let message = checked.error_message.unwrap_or_default();
        assert_eq!(message.chars().count(), 1000);
        assert!(message.starts_with("éx") && !message.contains('\0'));
        assert_eq!(checked.summary.chars().count(), 1000);
        Ok(())
    }

    #[test]
    fn status_serializes_as_stored() -> Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::to_string(&[RepairRunStatus::Success, RepairRunStatus::Failed])?,
            r#"["SUCCESS","FAILED"]"#
        );
        assert_eq!(RepairRunStatus::Failed.as_str(), "FAILED");
        Ok(())
    }
}

//! What a job is: its row ([`Job`]), its status, what [`super::enqueue`] takes ([`NewJob`]), the
//! lease a claim hands out ([`Lease`]) and the error a handler returns ([`JobError`]).

use std::fmt;
use std::time::Duration;

use serde_json::Value;
use tokio_postgres::Row;

use crate::db::DbError;
use crate::scalar::{TenantId, Timestamp, ValidationError};

/// A job's id (the table's identity column).
pub type JobId = i64;

/// Attempts a job gets unless [`NewJob::max_attempts`] says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 5;
/// The most attempts a job may be given.
pub const MAX_ATTEMPTS_LIMIT: i32 = 100;
/// The largest payload, as compact JSON text, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// A job's `last_error` keeps at most this many characters (the rest is cut, marked with `…`).
pub const MAX_ERROR_CHARS: usize = 2000;
/// The longest dedupe key.
pub const MAX_DEDUPE_KEY_CHARS: usize = 200;

/// Where a job is in its life (module docs of [`super`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobStatus {
    /// Waiting for its `run_at` and a worker.
    Queued,
    /// Claimed by a worker, under a lease.
    Running,
    /// Finished: a run succeeded.
    Succeeded,
    /// Finished: its attempts are spent (or it failed permanently); the last error is kept.
    Dead,
}

impl JobStatus {
    /// Every status, in the order of a job's life.
    pub const ALL: [Self; 4] = [Self::Queued, Self::Running, Self::Succeeded, Self::Dead];

    /// The stored label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
        }
    }

    /// Parses a label (`queued`, `running`, `succeeded`, `dead`).
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                ValidationError::new("status", "must be one of queued, running, succeeded, dead")
            })
    }

    /// True for `succeeded` and `dead`.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Dead)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// The queue: which handler runs it, and whose concurrency limit it counts against.
    pub queue: String,
    /// What it is, within its queue (the handler may branch on it).
    pub kind: String,
    /// Its arguments (never secrets: the table is readable by every operator of the CLI).
    pub payload: Value,
    /// The tenant it concerns, if one.
    pub tenant_id: Option<TenantId>,
    /// Its dedupe key, if it has one.
    pub dedupe_key: Option<String>,
    /// Where it is in its life.
    pub status: JobStatus,
    /// Runs started so far (a claim counts one).
    pub attempts: i32,
    /// Runs it may have in all.
    pub max_attempts: i32,
    /// When it is (or was) due.
    pub run_at: Timestamp,
    /// While `running`: when its lease ends.
    pub locked_until: Option<Timestamp>,
    /// The last failure's message (bounded), kept after a retry or death.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// Its last change.
    pub updated_at: Timestamp,
    /// When it succeeded or died.
    pub finished_at: Option<Timestamp>,
}

fn broken() -> DbError {
    DbError::Unexpected {
        message: "stored job violates its contract".into(),
    }
}

/// Maps a row of [`super::job_columns`].
pub(crate) fn from_row(row: &Row) -> Result<Job, DbError> {
    from_row_at(row, 0)
}

/// Maps the [`super::job_columns`] of a row that start at column `base`.
pub(crate) fn from_row_at(row: &Row, base: usize) -> Result<Job, DbError> {
    let status: String = row.try_get(base + 6)?;
    Ok(Job {
        id: row.try_get(base)?,
        queue: row.try_get(base + 1)?,
        kind: row.try_get(base + 2)?,
        payload: row.try_get(base + 3)?,
        tenant_id: row.try_get(base + 4)?,
        dedupe_key: row.try_get(base + 5)?,
        status: JobStatus::parse(&status).map_err(|_| broken())?,
        attempts: row.try_get(base + 7)?,
        max_attempts: row.try_get(base + 8)?,
        run_at: row.try_get(base + 9)?,
        locked_until: row.try_get(base + 10)?,
        last_error: row.try_get(base + 11)?,
        created_at: row.try_get(base + 12)?,
        updated_at: row.try_get(base + 13)?,
        finished_at: row.try_get(base + 14)?,
    })
}

/// Checks a queue, kind or schedule name: 1..=64 characters of `[a-z0-9_.-]`, starting with a
/// letter. The error names `field`, never the value.
pub fn check_name(field: &'static str, name: &str) -> Result<(), ValidationError> {
    let bytes = name.as_bytes();
    let ok = (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must be 1..64 characters of [a-z0-9_.-] starting with a letter",
        ))
    }
}

fn check_dedupe_key(key: &str) -> Result<(), ValidationError> {
    let ok = (1..=MAX_DEDUPE_KEY_CHARS).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "dedupe_key",
            "must be 1..200 visible ASCII characters",
        ))
    }
}

/// How [`super::enqueue`] treats a job whose key another job of the same queue already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dedupe {
    /// While a job of the queue with this key is `queued` or `running`, enqueueing returns it
    /// instead of adding a second one. Once it has finished, the key is free again.
    Unfinished(String),
    /// While any job of the queue with this key is stored (finished ones too, until
    /// [`super::purge`]d), enqueueing returns it: "this happens once" (a schedule's time slot).
    Kept(String),
}

impl Dedupe {
    /// The key.
    pub fn key(&self) -> &str {
        match self {
            Self::Unfinished(key) | Self::Kept(key) => key,
        }
    }
}

/// When a new job is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunAt {
    /// At once.
    #[default]
    Now,
    /// This long after the database's clock at enqueue time.
    After(Duration),
    /// At this instant.
    At(Timestamp),
}

/// A job to [`super::enqueue`]; build it with [`NewJob::new`] and the `with_…` methods.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The queue (1..=64 characters of `[a-z0-9_.-]`, starting with a letter).
    pub queue: String,
    /// The kind (same rule).
    pub kind: String,
    /// The arguments: at most [`MAX_PAYLOAD_BYTES`] as JSON text, and never secrets.
    pub payload: Value,
    /// The tenant it concerns (must exist: `integrity_violation` otherwise).
    pub tenant_id: Option<TenantId>,
    /// Its dedupe key, and how far it reaches.
    pub dedupe: Option<Dedupe>,
    /// Runs it may have in all, 1..=100 (default [`DEFAULT_MAX_ATTEMPTS`]).
    pub max_attempts: i32,
    /// When it is due.
    pub run_at: RunAt,
}

impl NewJob {
    /// A job of `queue` and `kind` with `payload`, due now, no tenant, no dedupe key,
    /// [`DEFAULT_MAX_ATTEMPTS`] attempts.
    pub fn new(queue: impl Into<String>, kind: impl Into<String>, payload: Value) -> Self {
        Self {
            queue: queue.into(),
            kind: kind.into(),
            payload,
            tenant_id: None,
            dedupe: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            run_at: RunAt::Now,
        }
    }

    /// The tenant the job concerns.
    #[must_use]
    pub fn with_tenant(mut self, tenant: TenantId) -> Self {
        self.tenant_id = Some(tenant);
        self
    }

    /// A dedupe key.
    #[must_use]
    pub fn with_dedupe(mut self, dedupe: Dedupe) -> Self {
        self.dedupe = Some(dedupe);
        self
    }

    /// Runs it may have in all.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: i32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Due this long after now (the database's clock).
    #[must_use]
    pub fn run_after(mut self, delay: Duration) -> Self {
        self.run_at = RunAt::After(delay);
        self
    }

    /// Due at `at`.
    #[must_use]
    pub fn run_at(mut self, at: Timestamp) -> Self {
        self.run_at = RunAt::At(at);
        self
    }

    /// Checks every rule before any I/O; returns the payload's JSON size.
    pub(crate) fn validate(&self) -> Result<(), ValidationError> {
        check_name("queue", &self.queue)?;
        check_name("kind", &self.kind)?;
        if let Some(dedupe) = &self.dedupe {
            check_dedupe_key(dedupe.key())?;
        }
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            return Err(ValidationError::new(
                "max_attempts",
                "must be an integer from 1 to 100",
            ));
        }
        let size = serde_json::to_vec(&self.payload)
            .map(|v| v.len())
            .map_err(|_| ValidationError::new("payload", "cannot be serialized"))?;
        if size > MAX_PAYLOAD_BYTES {
            return Err(ValidationError::new(
                "payload",
                "must be at most 65536 bytes of JSON",
            ));
        }
        Ok(())
    }
}

/// The right to settle one claimed run of a job: its id and the token of the claim. Settling
/// ([`super::complete`], [`super::fail`], [`super::heartbeat`]) with a lease whose job was
/// claimed again since is refused (`conflict`).
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    pub(crate) job_id: JobId,
    pub(crate) token: String,
    pub(crate) attempt: i32,
}

impl Lease {
    /// The job's id.
    pub fn job_id(&self) -> JobId {
        self.job_id
    }

    /// Which attempt this run is (1 for the first).
    pub fn attempt(&self) -> i32 {
        self.attempt
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("job_id", &self.job_id)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// Why a run failed: a message, kept as the job's `last_error` (cut to [`MAX_ERROR_CHARS`]
/// characters), and whether another attempt may help. **Never put a secret or a parameter value
/// in the message**: operators read it with `brokerdb jobs list`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    message: String,
    permanent: bool,
}

impl JobError {
    /// A failure another attempt may cure: the job is retried while it has attempts left.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    /// A failure no attempt will cure (bad payload, …): the job goes `dead` at once.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when no retry should be made.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The message as stored: at most [`MAX_ERROR_CHARS`] characters, control characters
    /// replaced by spaces.
    pub(crate) fn stored(&self) -> String {
        let clean = |c: char| if c.is_control() { ' ' } else { c };
        if self.message.chars().count() <= MAX_ERROR_CHARS {
            return self.message.chars().map(clean).collect();
        }
        let mut cut: String = self
            .message
            .chars()
            .take(MAX_ERROR_CHARS - 1)
            .map(clean)
            .collect();
        cut.push('…');
        cut
    }
}

/// Database errors carry codes and fixed text only (never values), so they are safe to keep. A
/// `validation_error` is permanent (the same input fails the same way); anything else may pass
/// on another attempt.
impl From<DbError> for JobError {
    fn from(err: DbError) -> Self {
        let permanent = err.code() == crate::db::ErrorCode::ValidationError;
        Self {
            message: err.to_string(),
            permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_the_rule() {
        for good in ["a", "sweep_sessions", "outbox.delivery-2", &"q".repeat(64)] {
            assert!(check_name("queue", good).is_ok(), "{good}");
        }
        for bad in ["", "Upper", "1st", "a b", "a:b", "é", &"q".repeat(65)] {
            assert!(check_name("queue", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_new_job_is_checked_before_any_io() {
        let ok = NewJob::new("q", "k", json!({"n": 1}));
        assert!(ok.validate().is_ok());
        let field = |j: NewJob| j.validate().err().map(|e| e.field.into_owned());
        assert_eq!(
            field(NewJob::new("Q", "k", json!({}))),
            Some("queue".into())
        );
        assert_eq!(field(NewJob::new("q", "", json!({}))), Some("kind".into()));
        assert_eq!(
            field(ok.clone().with_dedupe(Dedupe::Unfinished("a b".into()))),
            Some("dedupe_key".into())
        );
        assert_eq!(
            field(ok.clone().with_dedupe(Dedupe::Kept("k".repeat(201)))),
            Some("dedupe_key".into())
        );
        assert_eq!(
            field(ok.clone().with_max_attempts(0)),
            Some("max_attempts".into())
        );
        let big = json!({"blob": "x".repeat(MAX_PAYLOAD_BYTES)});
        assert_eq!(field(NewJob::new("q", "k", big)), Some("payload".into()));
    }

    #[test]
    fn errors_are_stored_bounded_and_on_one_line() {
        let long = JobError::new("e\n".repeat(MAX_ERROR_CHARS));
        let stored = long.stored();
        assert_eq!(stored.chars().count(), MAX_ERROR_CHARS);
        assert!(stored.ends_with('…') && !stored.contains('\n'));
        assert_eq!(JobError::permanent("boom").stored(), "boom");
        assert!(JobError::from(DbError::validation("x", "bad")).is_permanent());
        assert!(!JobError::from(DbError::Contention).is_permanent());
    }

    #[test]
    fn statuses_parse_their_labels() -> Result<(), ValidationError> {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str())?, s);
        }
        assert!(JobStatus::parse("done").is_err());
        assert!(JobStatus::Dead.is_finished() && !JobStatus::Running.is_finished());
        Ok(())
    }
}

//! One delivery round: claim, publish, mark, commit.

use std::future::Future;
use std::time::Duration;

use futures_util::future::join_all;

use crate::db::{Db, DbError, Exec, TxOptions};
use crate::model::{TenantId, Timestamp};
use crate::repo::templates::TemplateInvalidationSignal;

use super::RelaySettings;

const CLAIM: &str = "SELECT tenant_id, id, payload_json, attempts, created_at
     FROM template_invalidation_outbox
     WHERE status = 'pending' AND next_attempt_at <= now()
     ORDER BY next_attempt_at, created_at
     LIMIT $1
     FOR UPDATE SKIP LOCKED";

const MARK_DELIVERED: &str = "UPDATE template_invalidation_outbox o
     SET status = 'delivered', delivered_at = date_trunc('milliseconds', clock_timestamp()),
         attempts = o.attempts + 1, last_error = NULL
     FROM unnest($1::text[], $2::text[]) AS d(tenant_id, id)
     WHERE o.tenant_id = d.tenant_id AND o.id = d.id";

const MARK_FAILED: &str = "UPDATE template_invalidation_outbox o
     SET attempts = o.attempts + 1, last_error = f.error,
         status = CASE WHEN o.attempts + 1 >= $5 THEN 'failed'::template_invalidation_outbox_status
                       ELSE 'pending'::template_invalidation_outbox_status END,
         next_attempt_at = date_trunc('milliseconds', now()) + f.delay_ms * interval '1 millisecond'
     FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[]) AS f(tenant_id, id, error, delay_ms)
     WHERE o.tenant_id = f.tenant_id AND o.id = f.id
     RETURNING o.status = 'failed'";

const OLDEST_PENDING: &str =
    "SELECT EXTRACT(EPOCH FROM clock_timestamp() - min(created_at))::float8
     FROM template_invalidation_outbox WHERE status = 'pending'";

/// The longest `last_error` kept, in characters.
const MAX_ERROR_CHARS: usize = 500;

/// A claimed outbox row, as handed to the publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The tenant of the signal.
    pub tenant_id: TenantId,
    /// The row's id (stable across redeliveries: a consumer may use it to drop repeats).
    pub id: String,
    /// The signal exactly as it was stored.
    pub signal: TemplateInvalidationSignal,
    /// Attempts made before this one (0 on the first).
    pub attempts: i32,
    /// When the row was written.
    pub created_at: Timestamp,
}

/// Why a publish failed. The message is stored in the row's `last_error`, so it must never hold
/// a secret (an [`AdapterError`](https://docs.rs/brokerdb-redis)'s text does not).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PublishError {
    /// What went wrong (cut to 500 characters when stored).
    pub message: String,
}

impl PublishError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Where delivered rows go. Implemented for Redis pub/sub in `brokerdb-redis`
/// (`OutboxRedisPublisher`); anything that can announce a signal will do.
pub trait OutboxPublisher: Send + Sync {
    /// Publishes one message; `Ok` means it was handed over (the row is then marked delivered).
    fn publish(
        &self,
        message: &OutboxMessage,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// What one [`deliver_round`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Rows claimed.
    pub claimed: u64,
    /// Rows published and marked delivered.
    pub delivered: u64,
    /// Rows whose publish failed and that will be tried again later.
    pub retried: u64,
    /// Rows whose publish failed for the last allowed time (now `failed`).
    pub failed: u64,
    /// Rows claimed but not offered to the publisher because an earlier group of the batch had
    /// a failure (the publisher is likely down); they stay pending and due, untouched.
    pub skipped: u64,
}

/// Publishes in flight at once within a round: the Redis connection is multiplexed, so a batch
/// costs a few round trips instead of one per row.
const PUBLISH_CONCURRENCY: usize = 32;

/// The rows whose publish failed, with their errors and backoffs (columns of `MARK_FAILED`).
#[derive(Default)]
struct Failures {
    tenant_ids: Vec<String>,
    ids: Vec<String>,
    errors: Vec<String>,
    delays_ms: Vec<f64>,
}

/// Claims up to `settings.batch` due pending rows, publishes them (up to 32 at once, in claim
/// order) and records each outcome, in one system-role transaction (see the module doc). After a
/// group of publishes with a failure, the rest of the batch is left pending, untouched: a
/// publisher that is down should not burn every row's attempts in one round.
pub async fn deliver_round<P: OutboxPublisher>(
    db: &Db,
    publisher: &P,
    settings: &RelaySettings,
) -> Result<RoundReport, DbError> {
    let mut tx = db.system().begin(&TxOptions::DEFAULT).await?;
    let rows = tx
        .query(CLAIM, &[&i64::from(settings.batch.max(1))])
        .await?;
    let mut report = RoundReport {
        claimed: rows.len() as u64,
        ..RoundReport::default()
    };
    let messages = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let mut delivered: (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let mut failures = Failures::default();
    for (i, group) in messages.chunks(PUBLISH_CONCURRENCY).enumerate() {
        if !failures.ids.is_empty() {
            report.skipped = (messages.len() - i * PUBLISH_CONCURRENCY) as u64;
            break;
        }
        let outcomes = join_all(group.iter().map(|m| publisher.publish(m))).await;
        for (message, outcome) in group.iter().zip(outcomes) {
            let (tenant, id) = (message.tenant_id.as_str().to_owned(), message.id.clone());
            match outcome {
                Ok(()) => {
                    delivered.0.push(tenant);
                    delivered.1.push(id);
                }
                Err(e) => {
                    failures.tenant_ids.push(tenant);
                    failures.ids.push(id);
                    failures
                        .errors
                        .push(e.message.chars().take(MAX_ERROR_CHARS).collect());
                    failures
                        .delays_ms
                        .push(settings.backoff(message.attempts + 1).as_secs_f64() * 1_000.0);
                }
            }
        }
    }
    if !delivered.0.is_empty() {
        report.delivered = tx
            .execute(MARK_DELIVERED, &[&delivered.0, &delivered.1])
            .await?;
    }
    if !failures.ids.is_empty() {
        let max = i32::try_from(settings.max_attempts).unwrap_or(i32::MAX);
        let marked = tx
            .query(
                MARK_FAILED,
                &[
                    &failures.tenant_ids,
                    &failures.ids,
                    &failures.errors,
                    &failures.delays_ms,
                    &max,
                ],
            )
            .await?;
        for row in marked {
            if row.try_get::<_, bool>(0)? {
                report.failed += 1;
            } else {
                report.retried += 1;
            }
        }
    }
    tx.commit().await?;
    metrics::counter!("brokerdb_outbox_delivered_total").increment(report.delivered);
    metrics::counter!("brokerdb_outbox_retries_total").increment(report.retried);
    metrics::counter!("brokerdb_outbox_failed_total").increment(report.failed);
    Ok(report)
}

fn decode(row: &tokio_postgres::Row) -> Result<OutboxMessage, DbError> {
    let payload: serde_json::Value = row.try_get(2)?;
    let signal: TemplateInvalidationSignal =
        serde_json::from_value(payload).map_err(|_| DbError::Unexpected {
            message: "stored outbox payload violates its contract".into(),
        })?;
    Ok(OutboxMessage {
        tenant_id: row.try_get(0)?,
        id: row.try_get(1)?,
        signal,
        attempts: row.try_get(3)?,
        created_at: row.try_get(4)?,
    })
}

/// The age of the oldest undelivered (pending) row; `None` when every row was delivered or
/// failed. Also sets the `brokerdb_outbox_lag_seconds` gauge.
pub async fn lag(db: &Db) -> Result<Option<Duration>, DbError> {
    let row = db.system().query_opt(OLDEST_PENDING, &[]).await?;
    let secs = row
        .map(|r| r.try_get::<_, Option<f64>>(0))
        .transpose()?
        .flatten();
    metrics::gauge!("brokerdb_outbox_lag_seconds").set(secs.unwrap_or(0.0).max(0.0));
    Ok(secs.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

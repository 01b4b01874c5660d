//! Per-operation metrics, slow-operation counting, spans and statement tracing.

use std::future::Future;
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::warn::RateLimited;
use super::{Db, DbError};

static SLOW_WARNING: RateLimited = RateLimited::new(Duration::from_secs(60));

impl Db {
    /// Runs one repository operation: a `repo_op` span, the duration histogram
    /// `brokerdb_repo_op_duration_seconds{repo,op}`, `brokerdb_slow_ops_total{repo,op}` past the
    /// slow threshold, and `brokerdb_repo_errors_total{repo,op,code}` on failure.
    pub async fn observe<T>(
        &self,
        repo: &'static str,
        op: &'static str,
        fut: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, DbError> {
        let start = Instant::now();
        let out = fut
            .instrument(tracing::debug_span!("repo_op", repo, op))
            .await;
        let elapsed = start.elapsed();
        metrics::histogram!("brokerdb_repo_op_duration_seconds", "repo" => repo, "op" => op)
            .record(elapsed.as_secs_f64());
        if elapsed >= self.settings().slow_threshold {
            metrics::counter!("brokerdb_slow_ops_total", "repo" => repo, "op" => op).increment(1);
            if let Some(suppressed) = SLOW_WARNING.check() {
                tracing::warn!(
                    repo,
                    op,
                    elapsed_ms = elapsed.as_millis() as u64,
                    suppressed,
                    "slow repository operation"
                );
            }
        }
        if let Err(e) = &out {
            metrics::counter!("brokerdb_repo_errors_total", "repo" => repo, "op" => op, "code" => e.code().as_str())
                .increment(1);
        }
        out
    }

    /// Logs a statement's text and duration when statement tracing is on. SQL text here is
    /// always a constant of this crate; parameter values are never logged.
    pub(crate) fn trace_statement(&self, sql: &str, started: Instant) {
        if self.settings().trace_statements {
            tracing::info!(target: "brokerdb::sql", sql, elapsed_us = started.elapsed().as_micros() as u64, "statement");
        }
    }
}

//! The relay task: delivery rounds on an interval, with a stop handle.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::deliver::{OutboxPublisher, deliver_round, lag};
use crate::db::Db;

/// How the relay runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySettings {
    /// Pause between rounds when the outbox was drained (default 100 ms): the bound on how long
    /// a committed row waits before its first publish, when the relay is healthy.
    pub interval: Duration,
    /// Rows claimed per transaction (default 500).
    pub batch: u32,
    /// Publishes tried per row before it becomes `failed` (default 10).
    pub max_attempts: u32,
    /// Wait before the second attempt (default 1 s); doubled for each further one.
    pub backoff_base: Duration,
    /// Longest wait between two attempts (default 5 min).
    pub backoff_max: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(100),
            batch: 500,
            max_attempts: 10,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }
}

impl RelaySettings {
    /// The wait after the `attempt`-th failed attempt (1-based): `backoff_base · 2^(attempt−1)`,
    /// capped at `backoff_max`, less up to a fifth at random so failed rows do not come back
    /// in lockstep.
    pub fn backoff(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let full = self
            .backoff_base
            .saturating_mul(1_u32 << doublings)
            .min(self.backoff_max);
        let jitter = rand::random_range(0.0..=0.2);
        full.mul_f64(1.0 - jitter)
    }
}

/// A running relay; `stop` ends it after its current round (which commits first), `abort` as a
/// crash would (the round rolls back; its rows, published or not, are delivered again).
pub type RelayHandle = crate::task::TaskHandle;

/// Runs [`deliver_round`] until stopped: at once again while rounds come back full, otherwise
/// after `settings.interval` (after `settings.backoff_base` when a publish failed, so a publisher
/// that is down is not hammered). Database errors are logged, counted in
/// `brokerdb_outbox_relay_errors_total` and retried; they never end the task. Updates
/// `brokerdb_outbox_lag_seconds` after every round.
pub fn spawn_relay<P: OutboxPublisher + 'static>(
    db: Db,
    publisher: Arc<P>,
    settings: RelaySettings,
) -> RelayHandle {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let pause = match deliver_round(&db, publisher.as_ref(), &settings).await {
                Ok(r) if r.retried + r.failed > 0 => {
                    tracing::warn!(
                        delivered = r.delivered,
                        retried = r.retried,
                        failed = r.failed,
                        "publishing an outbox row failed; it will be retried"
                    );
                    Some(settings.backoff_base)
                }
                Ok(r) if r.claimed >= u64::from(settings.batch.max(1)) => None,
                Ok(_) => Some(settings.interval),
                Err(e) => {
                    metrics::counter!("brokerdb_outbox_relay_errors_total").increment(1);
                    tracing::warn!(error = %e, "outbox delivery round failed; retrying");
                    Some(settings.backoff_base)
                }
            };
            let _ = lag(&db).await;
            if *stopped.borrow() {
                return;
            }
            if let Some(pause) = pause {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stopped.changed() => return,
                }
            }
        }
    });
    crate::task::TaskHandle::new(stop, task)
}

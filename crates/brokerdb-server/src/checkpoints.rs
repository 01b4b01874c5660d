//! The service's periodic audit checkpoints and the age `/metrics` reports.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brokerdb::audit::{self, CheckpointSigner, checkpoint};
use brokerdb::db::Db;
use tokio::task::JoinHandle;

/// When the service last wrote a checkpoint (shared with the metrics route).
#[derive(Debug, Clone, Default)]
pub struct CheckpointClock {
    last: Arc<Mutex<Option<Instant>>>,
    started: Option<Instant>,
}

impl CheckpointClock {
    /// A clock for a service that writes checkpoints from now on.
    pub fn started_now() -> Self {
        Self {
            last: Arc::default(),
            started: Some(Instant::now()),
        }
    }

    fn record(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(Instant::now());
        }
    }

    /// Seconds since the last checkpoint (since start while none was written yet); `None` when
    /// this service does not write checkpoints.
    pub fn age(&self) -> Option<f64> {
        let started = self.started?;
        let last = self.last.lock().ok().and_then(|l| *l).unwrap_or(started);
        Some(last.elapsed().as_secs_f64())
    }
}

/// Writes a checkpoint file into `dir` now and then every `interval`, until the task is aborted.
/// A failed round is logged and counted (`brokerdb_audit_checkpoint_errors_total`); the age
/// gauge keeps growing until a round succeeds.
pub fn spawn(
    db: Db,
    signer: CheckpointSigner,
    dir: PathBuf,
    interval: Duration,
    clock: CheckpointClock,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match audit::create_checkpoints(&db.system(), &signer).await {
                Ok(checkpoints) => match checkpoint::write_checkpoints(&dir, &checkpoints) {
                    Ok(path) => {
                        clock.record();
                        tracing::info!(chains = checkpoints.len(), path = %path.display(), "wrote audit checkpoint");
                    }
                    Err(e) => {
                        metrics::counter!("brokerdb_audit_checkpoint_errors_total").increment(1);
                        tracing::warn!(error = %e, "cannot write the audit checkpoint");
                    }
                },
                Err(e) => {
                    metrics::counter!("brokerdb_audit_checkpoint_errors_total").increment(1);
                    tracing::warn!(error = %e, "cannot read the audit chain heads for a checkpoint");
                }
            }
            tokio::time::sleep(interval).await;
        }
    })
}

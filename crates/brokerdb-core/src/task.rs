//! The handle of a background task the library spawns (the audit sealer, the outbox relay, the
//! job worker and scheduler): a stop signal and the task itself.

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running background task. [`TaskHandle::stop`] asks it to stop and waits: it finishes the
/// round (batch, runs in flight) it is in, so what it did is committed. Dropping the handle also
/// asks it to stop, without waiting.
#[derive(Debug)]
pub struct TaskHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TaskHandle {
    /// A handle over `task`, which watches the receiver of `stop` and ends its work when it turns
    /// `true` (a domain crate spawning a background task of its own builds one with this).
    pub fn new(stop: watch::Sender<bool>, task: JoinHandle<()>) -> Self {
        Self { stop, task }
    }

    /// Asks the task to stop and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Ends the task at once, as a crash would: work in flight is cut off uncommitted and left
    /// to be done again (a sealer's batch is queued again, a relay's rows are published again, a
    /// job is claimed again after its lease).
    pub fn abort(self) {
        self.task.abort();
    }
}

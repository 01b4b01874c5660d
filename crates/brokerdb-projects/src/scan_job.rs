//! The `artifact-scan` background job: after a webhook delivery is stored, scan the project's
//! artifacts, on the core's PostgreSQL job queue ([`brokerdb_core::jobs`]).
//!
//! | | |
//! |---|---|
//! | queue | [`QUEUE`] = `artifact-scan` |
//! | kind | [`KIND`] = `artifact.scan` |
//! | payload | `{"tenantId":…,"projectId":…,"webhookEventId":…}` ([`ArtifactScan`]); the job's `tenant_id` is the tenant |
//! | attempts | [`MAX_ATTEMPTS`] = 3 |
//! | backoff | [`backoff()`]: 2 s doubling (2 s, then 4 s), capped at 60 s, with the core's equal jitter (a wait lies between half and all of that) |
//! | dedupe | [`Dedupe::Kept`] on the webhook event ([`dedupe_key`]): a redelivery of the same event returns the existing job, also once that job has finished (until it is purged) |
//!
//! **After the webhook event, not with it.** [`enqueue_artifact_scan`] takes any
//! [`SystemExec`], like [`brokerdb_core::jobs::enqueue`]: the jobs table is global data that only the
//! system role writes (the runtime role has no privilege on it), so a tenant transaction cannot
//! enqueue. The intake ([`crate::intake::accept_webhook`]) stores the event in its tenant
//! transaction, then enqueues the scan in a system transaction; the stored `received` event is
//! the durable record, and [`crate::intake::enqueue_missing_scans`] enqueues a scan a stopped
//! process missed (the dedupe key makes a repeat harmless).
//!
//! **Running it.** Register the handler with [`register_artifact_scan`], which gives the queue
//! its own backoff (`Worker::register_with_backoff`), whatever the worker's default is. Read the
//! payload with [`ArtifactScan::from_job`]: a payload that does not parse is a permanent error
//! (the job goes `dead` at once). Handlers run at least once per job: make the scan idempotent.

use std::time::Duration;

use brokerdb_core::db::{DbError, SystemExec};
use brokerdb_core::jobs::{
    self, Backoff, Dedupe, Enqueued, Handler, Job, JobError, NewJob, Worker,
};
use brokerdb_core::scalar::{TenantId, ValidationError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{ProjectId, WebhookEventId};

/// The queue.
pub const QUEUE: &str = "artifact-scan";
/// The job kind.
pub const KIND: &str = "artifact.scan";
/// Runs a scan job may have in all.
pub const MAX_ATTEMPTS: i32 = 3;
/// The wait after the first failed attempt (before jitter); it doubles per attempt.
pub const BACKOFF_BASE: Duration = Duration::from_secs(2);
/// The longest wait between attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// The waits between the attempts of a scan job: [`BACKOFF_BASE`] doubling, capped at
/// [`BACKOFF_MAX`].
pub fn backoff() -> Backoff {
    Backoff {
        base: BACKOFF_BASE,
        max: BACKOFF_MAX,
    }
}

/// A scan job's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactScan {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The project to scan.
    pub project_id: ProjectId,
    /// The webhook delivery that asked for it.
    pub webhook_event_id: WebhookEventId,
}

impl ArtifactScan {
    /// The payload of a claimed scan job. Another queue or kind, or a payload that does not
    /// parse (or names another tenant than the job's) → a permanent [`JobError`].
    pub fn from_job(job: &Job) -> Result<Self, JobError> {
        if job.queue != QUEUE || job.kind != KIND {
            return Err(JobError::permanent("not an artifact-scan job"));
        }
        let scan: Self = serde_json::from_value(job.payload.clone())
            .map_err(|_| JobError::permanent("the artifact-scan payload does not parse"))?;
        if job.tenant_id.as_ref() != Some(&scan.tenant_id) {
            return Err(JobError::permanent(
                "the artifact-scan payload names another tenant than its job",
            ));
        }
        Ok(scan)
    }
}

/// The dedupe key of the scan of `webhook_event` of `tenant`: `<tenant>:<event>` (webhook event
/// ids are unique per tenant only), or `#sha256=<hex of that>` when longer than the queue's
/// 200-character limit (neither id can contain `:` or `#`, so the two forms never meet).
pub fn dedupe_key(tenant: &TenantId, webhook_event: &WebhookEventId) -> String {
    let plain = format!("{}:{}", tenant.as_str(), webhook_event.as_str());
    if plain.len() <= jobs::MAX_DEDUPE_KEY_CHARS {
        plain
    } else {
        format!("#sha256={}", hex::encode(Sha256::digest(plain.as_bytes())))
    }
}

/// Enqueues the scan of `project` of `tenant` asked for by `webhook_event` (module docs), in
/// `exec` (the system role: a [`SystemTx`](brokerdb_core::db::SystemTx) or a system scope).
/// The same event again returns the existing job (`created: false`). An unknown tenant →
/// `integrity_violation`.
pub async fn enqueue_artifact_scan(
    exec: &mut impl SystemExec,
    tenant: &TenantId,
    project: &ProjectId,
    webhook_event: &WebhookEventId,
) -> Result<Enqueued, DbError> {
    let payload = ArtifactScan {
        tenant_id: tenant.clone(),
        project_id: project.clone(),
        webhook_event_id: webhook_event.clone(),
    };
    let payload = serde_json::to_value(&payload)
        .map_err(|_| DbError::from(ValidationError::new("payload", "cannot be serialized")))?;
    let job = NewJob::new(QUEUE, KIND, payload)
        .with_tenant(tenant.clone())
        .with_max_attempts(MAX_ATTEMPTS)
        .with_dedupe(Dedupe::Kept(dedupe_key(tenant, webhook_event)));
    jobs::enqueue(exec, &job).await
}

/// Registers `handler` for the [`QUEUE`] on `worker`, at most `concurrency` runs at once, with
/// the queue's [`backoff()`].
pub fn register_artifact_scan(
    worker: &mut Worker,
    concurrency: usize,
    handler: impl Handler,
) -> Result<&mut Worker, ValidationError> {
    worker.register_with_backoff(QUEUE, concurrency, backoff(), handler)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_keys_name_tenant_and_event_and_stay_within_the_limit() -> Result<(), ValidationError>
    {
        let t = TenantId::parse("t_a")?;
        let e = WebhookEventId::parse("whe_1")?;
        assert_eq!(dedupe_key(&t, &e), "t_a:whe_1");
        let long_t = TenantId::parse(&"t".repeat(128))?;
        let long_e = WebhookEventId::parse(&"e".repeat(128))?;
        let key = dedupe_key(&long_t, &long_e);
        assert!(key.starts_with("#sha256=") && key.len() == 8 + 64);
        Ok(())
    }
}

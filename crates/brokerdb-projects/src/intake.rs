//! Webhook intake: verify a delivery's signature, store it deduplicated, enqueue its scan.
//!
//! [`accept_webhook`] is the whole path of one delivery:
//! 1. the project's webhook secret is read in the tenant scope (another tenant's or an unknown
//!    project → `not_found`; a project without a secret refuses every delivery,
//!    [`IntakeError::NoSecret`]);
//! 2. the `X-Hub-Signature-256` header is checked ([`verify_github_signature`], HMAC-SHA256,
//!    constant-time) **before anything is stored**: a bad or missing signature stores nothing;
//! 3. the delivery is recorded with [`webhooks::receive`] (deduplicated by payload hash while in
//!    flight) and the project's `last_seen_at` is touched, in one tenant transaction, committed;
//! 4. for a `push` event that was [`ReceiveOutcome::Created`], the `artifact-scan` job is
//!    enqueued in a system transaction ([`scan_job::enqueue_artifact_scan`], deduplicated per
//!    tenant and event).
//!
//! **Crash safety.** Steps 3 and 4 are two transactions: the core's `jobs` table is writable by
//! the system role only, so a tenant transaction cannot enqueue. The committed `received` event
//! is the durable record: if the process stops between the two commits, the event has no job
//! yet. [`enqueue_missing_scans`] finds such events (`received` push events older than a grace
//! period with no scan job) and enqueues their scans; the dedupe key makes it idempotent, so it
//! can run at any time, on any number of instances. The worker runs it periodically
//! ([`crate::scan_sweep`]).

use std::time::Duration;

use brokerdb_core::db::{Db, DbError, Exec, TxOptions};
use brokerdb_core::jobs::JobId;
use brokerdb_core::scalar::TenantId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_postgres::Row;

use crate::error::ProjectsError;
use crate::ids::{ProjectId, WebhookEventId};
use crate::model::WebhookSource;
use crate::projects;
use crate::scan_job;
use crate::secret::{SecretBytes, SecretKey};
use crate::webhooks::{self, ReceiveOutcome, WebhookEvent};

/// The event type whose new deliveries get an artifact scan.
pub const PUSH_EVENT: &str = "push";
/// The prefix of the `X-Hub-Signature-256` header's value.
pub const SIGNATURE_PREFIX: &str = "sha256=";
/// Most events [`enqueue_missing_scans`] handles per call.
pub const SWEEP_BATCH: i64 = 500;

const REPO: &str = "webhook_intake";

/// `received` push events older than `$1` seconds whose plain dedupe key has no scan job.
/// (An event whose key is the hashed form is always returned; enqueueing it again is a no-op.)
const MISSING_SCANS: &str = "SELECT w.tenant_id, w.project_id, w.event_id FROM webhook_events w
     WHERE w.status = 'received' AND w.event_type = 'push'
       AND w.received_at < now() - make_interval(secs => $1)
       AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.queue = 'artifact-scan'
                        AND j.dedupe_key = w.tenant_id || ':' || w.event_id)
     ORDER BY w.received_at, w.event_id LIMIT $2";

/// Why a signature was refused (no byte of the secret, payload or header value appears here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header.
    #[error("the webhook signature header is missing")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("the webhook signature header is malformed")]
    Malformed,
    /// The signature does not match the payload under the project's secret.
    #[error("the webhook signature does not match")]
    Mismatch,
}

/// Checks a GitHub `X-Hub-Signature-256` header (`sha256=<hex HMAC-SHA256 of the raw payload>`)
/// against `payload` under `secret`; the comparison is constant-time.
pub fn verify_github_signature(
    secret: &SecretBytes,
    payload: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_sig = header
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(SignatureError::Malformed)?;
    if hex_sig.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(payload);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Hub-Signature-256` value of `payload` under `secret` (what a sender computes; tests,
/// seed data and clients use it).
pub fn github_signature(secret: &SecretBytes, payload: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let digest = match Hmac::<Sha256>::new_from_slice(secret.expose()) {
        Ok(mut mac) => {
            mac.update(payload);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("{SIGNATURE_PREFIX}{}", hex::encode(digest))
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// The signature is missing, malformed or wrong: nothing was stored.
    #[error(transparent)]
    BadSignature(#[from] SignatureError),
    /// The project has no webhook secret, so no delivery can be authenticated: nothing stored.
    #[error("the project has no webhook secret: deliveries cannot be authenticated")]
    NoSecret,
    /// A store failure, a validation error, or `not_found` for an unknown (or another tenant's)
    /// project.
    #[error(transparent)]
    Store(#[from] ProjectsError),
}

impl From<DbError> for IntakeError {
    fn from(e: DbError) -> Self {
        Self::Store(ProjectsError::Db(e))
    }
}

/// An accepted delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The stored event: new, in flight, or already processed.
    pub event: WebhookEvent,
    /// What [`webhooks::receive`] did.
    pub outcome: ReceiveOutcome,
    /// The scan job of a new `push` event (new, or the existing one of its dedupe key).
    pub scan_job: Option<JobId>,
}

/// Verifies, stores and (for a new `push`) schedules the scan of one webhook delivery to
/// `project` of `tenant` (module docs). Signature checks apply to every source: the header is
/// GitHub's `X-Hub-Signature-256` format.
#[allow(clippy::too_many_arguments)]
pub async fn accept_webhook(
    db: &Db,
    key: &SecretKey,
    tenant: &TenantId,
    project: &ProjectId,
    source: WebhookSource,
    event_type: &str,
    signature: Option<&str>,
    payload: &[u8],
) -> Result<Accepted, IntakeError> {
    let secret = match projects::find_webhook_secret(&mut db.tenant(tenant), key, project).await? {
        None => return Err(DbError::not_found("project").into()),
        Some(None) => return Err(IntakeError::NoSecret),
        Some(Some(secret)) => secret,
    };
    verify_github_signature(&secret, payload, signature)?;
    drop(secret);

    let received = db
        .tenant(tenant)
        .transaction(&TxOptions::DEFAULT, |tx| {
            let (project, event_type, payload) =
                (project.clone(), event_type.to_owned(), payload.to_vec());
            Box::pin(async move {
                let received =
                    webhooks::receive(tx, &project, source, &event_type, &payload).await?;
                projects::touch_last_seen(tx, &project).await?;
                Ok::<_, DbError>(received)
            })
        })
        .await?;

    let scan_job = match (received.outcome, received.event.event_type.as_str()) {
        (ReceiveOutcome::Created, PUSH_EVENT) => Some(
            enqueue_scan(
                db,
                tenant,
                &received.event.project_id,
                &received.event.event_id,
            )
            .await?,
        ),
        _ => None,
    };
    Ok(Accepted {
        event: received.event,
        outcome: received.outcome,
        scan_job,
    })
}

async fn enqueue_scan(
    db: &Db,
    tenant: &TenantId,
    project: &ProjectId,
    event: &WebhookEventId,
) -> Result<JobId, DbError> {
    db.system()
        .transaction(&TxOptions::DEFAULT, |tx| {
            let (tenant, project, event) = (tenant.clone(), project.clone(), event.clone());
            Box::pin(async move {
                let enqueued =
                    scan_job::enqueue_artifact_scan(tx, &tenant, &project, &event).await?;
                Ok::<_, DbError>(enqueued.job.id)
            })
        })
        .await
}

fn missing_row(r: &Row) -> Result<(TenantId, ProjectId, WebhookEventId), DbError> {
    Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
}

/// Enqueues the scan of every `received` push event (of any tenant) received more than
/// `older_than` ago that has no scan job — the deliveries whose process stopped between storing
/// the event and enqueueing its scan. Idempotent (the scan's dedupe key); at most
/// [`SWEEP_BATCH`] events per call. Returns how many jobs it created.
pub async fn enqueue_missing_scans(db: &Db, older_than: Duration) -> Result<usize, DbError> {
    let secs = older_than.as_secs_f64();
    let missing = db
        .system()
        .op(REPO, "missing_scans")
        .query_all(
            MISSING_SCANS,
            &[
                &secs as &(dyn tokio_postgres::types::ToSql + Sync),
                &SWEEP_BATCH,
            ],
            missing_row,
        )
        .await?;
    let mut created = 0;
    for (tenant, project, event) in missing {
        let enqueued =
            scan_job::enqueue_artifact_scan(&mut db.system(), &tenant, &project, &event).await?;
        if enqueued.created {
            created += 1;
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_signatures_verify_only_with_the_right_secret_and_payload() {
        let secret = SecretBytes::new(b"It's a Secret to Everybody".to_vec());
        // GitHub's documented example.
        let sig = github_signature(&secret, b"Hello, World!");
        assert_eq!(
            sig,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert_eq!(
            verify_github_signature(&secret, b"Hello, World!", Some(&sig)),
            Ok(())
        );
        let other = SecretBytes::new(b"other".to_vec());
        assert_eq!(
            verify_github_signature(&other, b"Hello, World!", Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github_signature(&secret, b"Hello, World?", Some(&sig)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github_signature(&secret, b"x", None),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "sha1=abc",
            "sha256=zz",
            &sig[..sig.len() - 2],
            &sig[7..],
        ] {
            assert_eq!(
                verify_github_signature(&secret, b"Hello, World!", Some(bad)),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}

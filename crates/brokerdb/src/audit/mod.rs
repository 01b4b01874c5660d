//! The audit trail: appends inside the caller's transaction, the sealer that chains them after
//! commit, signed checkpoints, and verification.
//!
//! [`append`] takes the executor the change runs on, so given the change's transaction the two
//! commit or roll back together, and an audit failure fails the whole operation (it is returned,
//! never swallowed).
//! The append is a plain insert (no chain work, no lock shared with other appenders, no trigger);
//! the database stamps the row with its writing transaction (`writer_xid`), and after commit the
//! sealer ([`seal_pending`],
//! [`spawn_sealer`]) gives it its chain position and hash (the model of Certificate
//! Transparency: append, then sequence and seal, within a maximum merge delay). Hashes are
//! computed in Rust ([`canonical`]), never by database functions. [`create_checkpoints`] signs
//! the chain heads with a key kept outside the database; [`verify_tenant_chain`] /
//! [`verify_system_chain`] recompute every link and hold the chains to those checkpoints.
//!
//! The tables are append-only three ways: no UPDATE/DELETE grant, triggers that refuse both
//! (superusers included), and the chains. `created_at` is set by the database (the runtime roles
//! cannot insert it) and `timestamp` must be within [`MAX_TIMESTAMP_SKEW`] of it, so events
//! cannot be backdated.
//!
//! [`append`] appends an [`AuditEvent`] (of the executor's tenant), [`append_system`] a
//! [`SystemAuditEvent`]; there is no other way in.

pub mod canonical;
pub mod checkpoint;
mod event;
mod seal;
mod system;
mod verify;

use serde_json::{Map, Value};

use crate::db::{DbError, SystemExec, TenantExec};
use crate::model::{EventId, NonEmptyString, Timestamp, ValidationError};

pub use crate::model::AuditEventType;
pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointKey, CheckpointSet, CheckpointSigner, create_checkpoints,
};
pub use event::{AuditDestination, AuditEvent, AuditPolicyRef};
#[doc(hidden)]
pub use seal::CLAIM_TENANT as SEAL_CLAIM_TENANT_SQL;
pub use seal::{
    DEFAULT_BATCH, DEFAULT_MAX_MERGE_DELAY, SealReport, SealerHandle, SealerSettings, seal_pending,
    spawn_sealer,
};
pub use system::{SystemAuditRecord, list_system_events};
pub use verify::{
    BreakKind, BrokenLink, ChainReport, VerifyOptions, chained_tenants, verify_system_chain,
    verify_tenant_chain,
};

/// How far an event's `timestamp` may be from the time the database stores it (`created_at`),
/// either way; a `CHECK` constraint refuses anything further (`validation_error` on the
/// `timestamp` field).
pub const MAX_TIMESTAMP_SKEW: std::time::Duration = std::time::Duration::from_secs(300);

const REPO: &str = "audit";
/// The statement of every tenant append: every content column of an event (`created_at` is the
/// database's; the sealer adds the chain link later). Public for the bench.
pub const APPEND_SQL: &str = "INSERT INTO audit_events (event_id, tenant_id, timestamp, workload_id, integration_id,
         correlation_id, event_type, decision, action_group, risk_tier, upstream_status_code, latency_ms, event_json)
     VALUES ($1, $2, $3, $4, $5, $6, $7::text::audit_event_type, $8::text::audit_decision, $9, $10::text::risk_tier, $11, $12, $13)";
const APPEND_SYSTEM: &str = "INSERT INTO system_audit_events (event_id, timestamp, actor, action, correlation_id, event_json)
     VALUES ($1, $2, $3, $4, $5, $6)";

/// A system (tenant-less) audit event: admin identities, signup policy, global keys.
#[derive(Debug, Clone)]
pub struct SystemAuditEvent {
    /// Unique id.
    pub event_id: EventId,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Who did it (an admin identity id or `system`).
    pub actor: NonEmptyString,
    /// What was done, e.g. `admin_identity.status_changed`.
    pub action: &'static str,
    /// Trace id of the request.
    pub correlation_id: NonEmptyString,
    /// Structured details (no secrets).
    pub details: Map<String, Value>,
}

impl SystemAuditEvent {
    /// An event now, with a generated id and no details.
    pub fn new(
        action: &'static str,
        actor: NonEmptyString,
        correlation_id: NonEmptyString,
    ) -> Self {
        Self {
            event_id: EventId::generate(),
            timestamp: Timestamp::now(),
            actor,
            action,
            correlation_id,
            details: Map::new(),
        }
    }
}

/// Appends `event` for the executor's tenant: in the caller's transaction when `exec` is a
/// [`TenantTx`](crate::db::TenantTx) (it commits or rolls back with the change it describes), or
/// as one statement. The event is validated first; its tenant must be the executor's
/// (`validation_error`). A duplicate `event_id` is `unique_violation` (appends are not
/// idempotent), an unknown tenant `integrity_violation`, a `timestamp` more than
/// [`MAX_TIMESTAMP_SKEW`] from the database's clock `validation_error`. The failure is returned,
/// never swallowed.
pub async fn append(exec: &mut impl TenantExec, event: &AuditEvent) -> Result<(), DbError> {
    event.validate()?;
    if event.tenant_id != *exec.tenant_id() {
        return Err(ValidationError::new("tenant_id", "does not match the tenant scope").into());
    }
    let json = event.to_json()?;
    let (kind, decision, tier) = (
        event.event_type.as_str(),
        event.decision.map(|d| d.as_str()),
        event.risk_tier.map(|r| r.as_str()),
    );
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 13] = [
        &event.event_id,
        &event.tenant_id,
        &event.timestamp,
        &event.workload_id,
        &event.integration_id,
        &event.correlation_id,
        &kind,
        &decision,
        &event.action_group,
        &tier,
        &event.upstream_status_code,
        &event.latency_ms,
        &json,
    ];
    exec.op(REPO, "append")
        .execute(APPEND_SQL, &params)
        .await
        .map_err(skew_error)?;
    Ok(())
}

/// Appends a system event, in the caller's system transaction or as one statement; failures as
/// for [`append`].
pub async fn append_system(
    exec: &mut impl SystemExec,
    event: &SystemAuditEvent,
) -> Result<(), DbError> {
    let details = Value::Object(event.details.clone());
    let (actor, correlation) = (event.actor.as_str(), event.correlation_id.as_str());
    exec.op(REPO, "append_system")
        .execute(
            APPEND_SYSTEM,
            &[
                &event.event_id,
                &event.timestamp,
                &actor,
                &event.action,
                &correlation,
                &details,
            ],
        )
        .await
        .map_err(skew_error)?;
    Ok(())
}

/// Appends a system event through a plain client (a connection or transaction of the caller's,
/// such as the repair console's admin connection) with the statement of [`append_system`] and its
/// error mapping. Given a transaction, the event commits or rolls back with it.
pub(crate) async fn append_system_with(
    client: &impl tokio_postgres::GenericClient,
    event: &SystemAuditEvent,
) -> Result<(), DbError> {
    let details = Value::Object(event.details.clone());
    let (actor, correlation) = (event.actor.as_str(), event.correlation_id.as_str());
    client
        .execute(
            APPEND_SYSTEM,
            &[
                &event.event_id,
                &event.timestamp,
                &actor,
                &event.action,
                &correlation,
                &details,
            ],
        )
        .await
        .map_err(|e| skew_error(e.into()))?;
    Ok(())
}

/// The skew constraints of migration 0010 (the only CHECK on `timestamp`), with a message that
/// says what the rule is.
fn skew_error(err: DbError) -> DbError {
    match err {
        DbError::Validation(v) if v.field == "timestamp" => ValidationError::new(
            "timestamp",
            "must be within 5 minutes of the time the event is stored",
        )
        .into(),
        other => other,
    }
}

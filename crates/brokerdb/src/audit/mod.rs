//! The audit trail: appends inside the caller's transaction, the sealer that chains them after
//! commit, signed checkpoints, and verification.
//!
//! An append takes `&mut Tx`, so a change and its audit row always commit or roll back
//! together, and an audit failure fails the whole operation (it is returned, never swallowed).
//! The append is a plain insert (no chain work, no lock shared with other appenders); a
//! statement trigger queues the row, and after commit the sealer ([`seal_pending`],
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
//! [`append_event_in`] appends a full [`AuditEvent`] (the spec's contract); [`append_in`] is the
//! short form for events a repository writes about its own changes ([`TenantAuditEvent`]).

pub mod canonical;
pub mod checkpoint;
mod event;
mod seal;
mod system;
mod verify;

use serde_json::{Map, Value};

use crate::db::{DbError, ScopeKey, TenantScope, Tx};
use crate::model::{EventId, NonEmptyString, Timestamp, ValidationError, WorkloadId};

pub use crate::model::AuditEventType;
pub use checkpoint::{
    Checkpoint, CheckpointError, CheckpointKey, CheckpointSet, CheckpointSigner, create_checkpoints,
};
pub use event::{AuditDestination, AuditEvent, AuditPolicyRef};
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

/// A tenant audit event to append (the tenant is the transaction's).
#[derive(Debug, Clone)]
pub struct TenantAuditEvent {
    /// Unique id; [`TenantAuditEvent::new`] generates `evt_<32 hex>`.
    pub event_id: EventId,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Trace id of the request.
    pub correlation_id: NonEmptyString,
    /// Kind.
    pub event_type: AuditEventType,
    /// Workload involved, if any.
    pub workload_id: Option<WorkloadId>,
    /// Human-readable summary (no secrets).
    pub message: Option<String>,
    /// Structured details (no secrets).
    pub metadata: Map<String, Value>,
}

impl TenantAuditEvent {
    /// An event of `event_type` now, with a generated id and no details.
    pub fn new(event_type: AuditEventType, correlation_id: NonEmptyString) -> Self {
        Self {
            event_id: generated_event_id(),
            timestamp: Timestamp::now(),
            correlation_id,
            event_type,
            workload_id: None,
            message: None,
            metadata: Map::new(),
        }
    }
}

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
            event_id: generated_event_id(),
            timestamp: Timestamp::now(),
            actor,
            action,
            correlation_id,
            details: Map::new(),
        }
    }
}

fn generated_event_id() -> EventId {
    let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
    EventId::parse(&id).unwrap_or_else(|_| unreachable!("a generated id is never blank"))
}

/// Appends a tenant event inside `tx`, which must be a tenant-scoped transaction; the event
/// belongs to that tenant. Commits or rolls back with `tx`.
pub async fn append_in(tx: &mut Tx<'_>, event: &TenantAuditEvent) -> Result<(), DbError> {
    let ScopeKey::Tenant(tenant) = tx.scope().clone() else {
        return Err(tenant_tx_required());
    };
    let mut full = AuditEvent::new(
        event.event_id.clone(),
        event.timestamp,
        tenant,
        event.correlation_id.clone(),
        event.event_type,
    );
    full.workload_id = event.workload_id.clone();
    full.message = event.message.clone();
    full.metadata = (!event.metadata.is_empty()).then(|| event.metadata.clone());
    append_event_in(tx, &full).await
}

fn tenant_tx_required() -> DbError {
    ValidationError::new(
        "transaction",
        "tenant events need a tenant-scoped transaction",
    )
    .into()
}

/// Appends `event` inside `tx`, a transaction of the event's tenant (another tenant's
/// transaction is a `validation_error`). Commits or rolls back with `tx`; a failure (duplicate
/// `event_id` → `unique_violation`, unknown tenant → `integrity_violation`) is returned.
pub async fn append_event_in(tx: &mut Tx<'_>, event: &AuditEvent) -> Result<(), DbError> {
    let ScopeKey::Tenant(tenant) = tx.scope().clone() else {
        return Err(tenant_tx_required());
    };
    let db = tx.db().clone();
    append_event(&db.tenant(&tenant), Some(tx), event).await
}

/// Appends `event` in `scope`: inside `tx` when given, else as one statement in its own
/// transaction (one round trip). The event's tenant must be the scope's.
pub(crate) async fn append_event(
    scope: &TenantScope<'_>,
    tx: Option<&mut Tx<'_>>,
    event: &AuditEvent,
) -> Result<(), DbError> {
    event.validate()?;
    if event.tenant_id != *scope.tenant_id() {
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
    scope
        .db()
        .observe(
            REPO,
            "append",
            crate::repo::execute_in(scope, tx, APPEND_SQL, &params),
        )
        .await
        .map_err(skew_error)?;
    Ok(())
}

/// The skew constraints of migration 0010, reported on the field they guard.
fn skew_error(err: DbError) -> DbError {
    match err {
        DbError::Validation(v)
            if v.field == "ck_audit_events_timestamp_near_created_at"
                || v.field == "ck_system_audit_events_timestamp_near_created_at" =>
        {
            ValidationError::new(
                "timestamp",
                "must be within 5 minutes of the time the event is stored",
            )
            .into()
        }
        other => other,
    }
}

/// Appends a system event inside `tx`, which must be a system-scope transaction.
pub async fn append_system_in(tx: &mut Tx<'_>, event: &SystemAuditEvent) -> Result<(), DbError> {
    if tx.scope() != &ScopeKey::System {
        return Err(ValidationError::new(
            "transaction",
            "system events need a system-scope transaction",
        )
        .into());
    }
    let details = Value::Object(event.details.clone());
    let (actor, correlation) = (event.actor.as_str(), event.correlation_id.as_str());
    let db = tx.db().clone();
    db.observe(
        REPO,
        "append_system",
        tx.execute(
            APPEND_SYSTEM,
            &[
                &event.event_id,
                &event.timestamp,
                &actor,
                &event.action,
                &correlation,
                &details,
            ],
        ),
    )
    .await
    .map_err(skew_error)?;
    Ok(())
}

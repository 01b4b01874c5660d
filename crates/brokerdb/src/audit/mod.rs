//! Audit appends on the hash chains of migration 0007, inside the caller's transaction, and
//! chain verification.
//!
//! An append takes `&mut Tx`, so a change and its audit row always commit or roll back
//! together, and an audit failure fails the whole operation (it is returned, never swallowed).
//! The chain links (`chain_seq`, `prev_hash`, `hash`) are filled by a database trigger that also
//! serializes appends per chain; this module never computes them itself.
//!
//! [`append_event_in`] appends a full [`AuditEvent`] (the spec's contract); [`append_in`] is the
//! short form for events a repository writes about its own changes ([`TenantAuditEvent`]).

mod event;
mod system;
mod verify;

use serde_json::{Map, Value};

use crate::db::{DbError, ScopeKey, TenantScope, Tx};
use crate::model::{EventId, NonEmptyString, Timestamp, ValidationError, WorkloadId};

pub use crate::model::AuditEventType;
pub use event::{AuditDestination, AuditEvent, AuditPolicyRef};
pub use system::{SystemAuditRecord, list_system_events};
pub use verify::{
    BrokenLink, ChainReport, chained_tenants, verify_system_chain, verify_tenant_chain,
};

const REPO: &str = "audit";
/// The statement of every tenant append: every column of an event (the trigger adds `chain_seq`,
/// `prev_hash`, `hash`). Public for the bench. Never turn it into `INSERT … ON CONFLICT`: the
/// link trigger fires before the conflict check, so a skipped row would leave a gap in the chain.
pub const APPEND_SQL: &str = "INSERT INTO audit_events (event_id, tenant_id, timestamp, workload_id, integration_id,
         correlation_id, event_type, decision, action_group, risk_tier, upstream_status_code, latency_ms, event_json)
     VALUES ($1, $2, $3, $4, $5, $6, $7::text::audit_event_type, $8::text::audit_decision, $9, $10::text::risk_tier, $11, $12, $13)
     RETURNING chain_seq, hash";
const APPEND_SYSTEM: &str = "INSERT INTO system_audit_events (event_id, timestamp, actor, action, correlation_id, event_json)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING chain_seq, hash";

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

/// Where an appended event landed in its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLink {
    /// Position in the chain (1-based).
    pub chain_seq: i64,
    /// This link's hash.
    pub hash: String,
}

fn generated_event_id() -> EventId {
    let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
    EventId::parse(&id).unwrap_or_else(|_| unreachable!("a generated id is never blank"))
}

fn link(rows: &[tokio_postgres::Row]) -> Result<AuditLink, DbError> {
    let row = rows.first().ok_or(DbError::Unexpected {
        message: "audit insert returned no row".into(),
    })?;
    Ok(AuditLink {
        chain_seq: row.try_get(0)?,
        hash: row.try_get(1)?,
    })
}

/// Appends a tenant event inside `tx`, which must be a tenant-scoped transaction; the event
/// belongs to that tenant. Commits or rolls back with `tx`.
pub async fn append_in(tx: &mut Tx<'_>, event: &TenantAuditEvent) -> Result<AuditLink, DbError> {
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
pub async fn append_event_in(tx: &mut Tx<'_>, event: &AuditEvent) -> Result<AuditLink, DbError> {
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
) -> Result<AuditLink, DbError> {
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
    let rows = scope
        .db()
        .observe(
            REPO,
            "append",
            crate::repo::query_in(scope, tx, APPEND_SQL, &params),
        )
        .await?;
    link(&rows)
}

/// Appends a system event inside `tx`, which must be a system-scope transaction.
pub async fn append_system_in(
    tx: &mut Tx<'_>,
    event: &SystemAuditEvent,
) -> Result<AuditLink, DbError> {
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
    let rows = db
        .observe(
            REPO,
            "append_system",
            tx.query(
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
        .await?;
    link(&rows)
}

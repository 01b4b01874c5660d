//! Audit appends on the hash chains of migration 0007, inside the caller's transaction, and
//! chain verification.
//!
//! An append takes `&mut Tx`, so a change and its audit row always commit or roll back
//! together, and an audit failure fails the whole operation (it is returned, never swallowed).
//! The chain links (`chain_seq`, `prev_hash`, `hash`) are filled by a database trigger that also
//! serializes appends per chain; this module never computes them itself.

mod verify;

use serde_json::{Map, Value};

use crate::db::{DbError, ScopeKey, Tx};
use crate::model::{EventId, NonEmptyString, Timestamp, ValidationError, WorkloadId};

pub use verify::{BrokenLink, ChainReport, verify_system_chain, verify_tenant_chain};

const REPO: &str = "audit";
const APPEND: &str = "INSERT INTO audit_events (event_id, tenant_id, timestamp, workload_id, correlation_id, event_type, event_json)
     VALUES ($1, $2, $3, $4, $5, $6::text::audit_event_type, $7) RETURNING chain_seq, hash";
const APPEND_SYSTEM: &str = "INSERT INTO system_audit_events (event_id, timestamp, actor, action, correlation_id, event_json)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING chain_seq, hash";

/// `AuditEventType` (PostgreSQL enum `audit_event_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEventType {
    /// A workload session was issued.
    SessionIssued,
    /// An upstream call was executed.
    Execute,
    /// A policy decision.
    PolicyDecision,
    /// An approval was requested.
    ApprovalCreated,
    /// An approval was decided.
    ApprovalDecided,
    /// A violation.
    Violation,
    /// A throttled request.
    Throttle,
    /// A sandbox alert.
    SandboxAlert,
    /// An administrative change.
    AdminAction,
}

impl AuditEventType {
    /// The enum label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionIssued => "session_issued",
            Self::Execute => "execute",
            Self::PolicyDecision => "policy_decision",
            Self::ApprovalCreated => "approval_created",
            Self::ApprovalDecided => "approval_decided",
            Self::Violation => "violation",
            Self::Throttle => "throttle",
            Self::SandboxAlert => "sandbox_alert",
            Self::AdminAction => "admin_action",
        }
    }
}

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
        return Err(ValidationError::new(
            "transaction",
            "tenant events need a tenant-scoped transaction",
        )
        .into());
    };
    let mut json = Map::new();
    json.insert("event_id".into(), event.event_id.as_str().into());
    json.insert("timestamp".into(), event.timestamp.to_string().into());
    json.insert("tenant_id".into(), tenant.as_str().into());
    json.insert(
        "correlation_id".into(),
        event.correlation_id.as_str().into(),
    );
    json.insert("event_type".into(), event.event_type.as_str().into());
    if let Some(w) = &event.workload_id {
        json.insert("workload_id".into(), w.as_str().into());
    }
    if let Some(m) = &event.message {
        json.insert("message".into(), m.as_str().into());
    }
    if !event.metadata.is_empty() {
        json.insert("metadata".into(), Value::Object(event.metadata.clone()));
    }
    let json = Value::Object(json);
    let (workload, correlation, kind) = (
        event.workload_id.as_ref(),
        event.correlation_id.as_str(),
        event.event_type.as_str(),
    );
    let db = tx.db().clone();
    let rows = db
        .observe(
            REPO,
            "append",
            tx.query(
                APPEND,
                &[
                    &event.event_id,
                    &tenant,
                    &event.timestamp,
                    &workload,
                    &correlation,
                    &kind,
                    &json,
                ],
            ),
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

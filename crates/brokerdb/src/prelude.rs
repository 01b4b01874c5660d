//! The common imports of a program using brokerdb: `use brokerdb::prelude::*;`.
//!
//! The executor traits are here because their methods (`query`, `execute`, `op`, `atomic`) are
//! only callable with the traits in scope.

pub use crate::audit::{AuditEvent, AuditEventType, SystemAuditEvent};
pub use crate::db::{
    CursorKey, Db, DbError, DbSettings, ErrorCode, Exec, IsolationLevel, SystemExec, SystemScope,
    SystemTx, TenantExec, TenantScope, TenantTx, TxError, TxFuture, TxOptions,
};
pub use crate::model::{
    ApprovalId, EventId, IdentityId, IntegrationId, NonEmptyString, PolicyId, SecretRef,
    TemplateId, TenantId, Timestamp, UserId, ValidationError, WorkloadId,
};

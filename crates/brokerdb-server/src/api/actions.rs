//! The audit event every mutating request writes, in the same transaction as its change: an
//! `admin_action` in the caller's tenant naming the action, the token's subject as actor, the
//! token's id and the request id as correlation id.

use brokerdb::audit::{AuditEvent, AuditEventType, SystemAuditEvent};
use brokerdb::model::NonEmptyString;
use serde_json::{Map, Value};

use super::auth::Principal;
use super::error::ApiError;
use super::request::current_request_id;

/// The event of `action` (e.g. `user.created`) by `principal`, with `details` (ids of what it
/// touched; never secrets) in its metadata.
pub fn action_event<'a>(
    principal: &Principal,
    action: &str,
    details: impl IntoIterator<Item = (&'a str, Value)>,
) -> Result<AuditEvent, ApiError> {
    let tenant = principal.tenant()?.clone();
    let correlation = NonEmptyString::new("correlation_id", &current_request_id())?;
    let mut event = AuditEvent::generated(tenant, AuditEventType::AdminAction, correlation);
    let mut metadata = Map::new();
    metadata.insert("action".into(), action.into());
    metadata.insert("actor".into(), principal.subject.as_str().into());
    metadata.insert("token_id".into(), principal.token_id.as_str().into());
    for (key, value) in details {
        metadata.insert(key.to_owned(), value);
    }
    event.message = Some(action.to_owned());
    event.metadata = Some(metadata);
    Ok(event)
}

/// The system (tenant-less) event of `action` (e.g. `tenant.created`) by `principal`, a system
/// token with role admin (else 403): the token's subject as actor, the request id as correlation
/// id, and the token's id and `details` (ids of what it touched; never secrets) as its details.
/// Append it with [`brokerdb::audit::append_system`] in the system transaction of the change.
pub fn system_action_event<'a>(
    principal: &Principal,
    action: &'static str,
    details: impl IntoIterator<Item = (&'a str, Value)>,
) -> Result<SystemAuditEvent, ApiError> {
    principal.require_system()?;
    let correlation = NonEmptyString::new("correlation_id", &current_request_id())?;
    let mut event = SystemAuditEvent::new(action, principal.subject.clone(), correlation);
    event
        .details
        .insert("token_id".into(), principal.token_id.as_str().into());
    for (key, value) in details {
        event.details.insert(key.to_owned(), value);
    }
    Ok(event)
}

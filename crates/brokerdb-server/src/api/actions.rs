//! The audit event every mutating request writes, in the same transaction as its change: an
//! `admin_action` in the caller's tenant naming the action, the token's subject as actor, the
//! token's id and the request id as correlation id.

use brokerdb::audit::{AuditEvent, AuditEventType};
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

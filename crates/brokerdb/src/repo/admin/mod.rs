//! Admin auth: global control-plane identities, their role and tenant bindings, access requests
//! and the signup policy.
//!
//! Everything here is global admin data, so every function takes a system executor (the runtime
//! role has no privilege on these tables): given a [`SystemTx`] it runs there, given the system
//! scope in a transaction of its own. Every write appends a system audit event in the same
//! transaction.

pub mod access_requests;
pub mod identities;
pub mod listing;
pub mod policy;
mod principal;

pub use principal::{AdminPrincipal, AdminSessionPrincipal};

use crate::audit::{self, SystemAuditEvent};
use crate::db::{DbError, SystemTx};
use crate::model::NonEmptyString;

const REPO: &str = "admin_auth";

/// Who makes a change and under which request id: recorded in the audit event.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The acting admin identity (or `system`).
    pub actor: NonEmptyString,
    /// Trace id of the request.
    pub correlation_id: NonEmptyString,
}

async fn audit(
    tx: &mut SystemTx,
    who: &Actor,
    action: &'static str,
    details: serde_json::Value,
) -> Result<(), DbError> {
    let mut event = SystemAuditEvent::new(action, who.actor.clone(), who.correlation_id.clone());
    if let serde_json::Value::Object(map) = details {
        event.details = map;
    }
    audit::append_system(tx, &event).await
}

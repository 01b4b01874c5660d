//! Transactions: several repositories and an audit event in one transaction, a deliberate
//! rollback with an error type of the caller's own, and the explicit begin/commit form.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run -p brokerdb-examples --example transaction
//! ```

use std::process::ExitCode;

use brokerdb::audit;
use brokerdb::db::ConnectOptions;
use brokerdb::db::paging::PageRequest;
use brokerdb::model::Email;
use brokerdb::prelude::*;
use brokerdb::repo::audit_events::{self, AuditQueryFilter};
use brokerdb::repo::integrations::{self, CreateOptions, IntegrationWrite};
use brokerdb::repo::templates::{self, Template};
use brokerdb::repo::{tenants, users, workloads};
use brokerdb_examples::Error;
use serde_json::json;

#[tokio::main]
async fn main() -> ExitCode {
    brokerdb_examples::run("transaction", |url| async move { transaction(&url).await }).await
}

async fn transaction(url: &str) -> Result<(), Error> {
    brokerdb_examples::migrate(url).await?;
    let db = Db::connect(ConnectOptions::from_admin_url(url)?).await?;
    let acme = TenantId::parse("t_acme")?;
    tenants::create(&mut db.system(), "Acme", Some(acme.clone())).await?;
    let scope = db.tenant(&acme);

    // 1. Several repositories in one transaction. A repository function takes the scope (then
    //    each call is its own transaction) or a transaction of that scope (then every statement
    //    runs in it). The closure's transaction commits when the closure returns Ok, rolls back
    //    when it returns Err (or panics, or the future is dropped), and is run again from the
    //    start after a serialization failure or deadlock. So the closure may run more than once,
    //    and its future cannot borrow from this function (the closure's type, generic over the
    //    transaction's lifetime, would need the borrow to be 'static): it moves in what it uses
    //    and clones it per attempt.
    let template = gmail_template()?;
    let (integration, workload) = scope
        .transaction(&TxOptions::default(), move |tx| {
            let template = template.clone();
            Box::pin(async move {
                // templates::create_version is itself atomic (a lock, a read, an insert): given
                // a transaction it runs inside it instead of opening its own.
                templates::create_version(tx, &template, Some("admin@example.com")).await?;
                let integration =
                    integrations::create(tx, &gmail_integration()?, &CreateOptions::default())
                        .await?;
                let workload =
                    workloads::create(tx, &workload_request("mailer")?, None, None).await?;
                // The audit row belongs to the change: it commits or rolls back with it.
                let mut event = AuditEvent::generated(
                    tx.tenant_id().clone(),
                    AuditEventType::AdminAction,
                    NonEmptyString::new("correlation_id", "req-setup-1")?,
                );
                event.integration_id = Some(integration.integration_id.clone());
                event.workload_id = Some(workload.workload_id.clone());
                event.message = Some("gmail integration set up".into());
                audit::append(tx, &event).await?;
                Ok((integration, workload))
            })
        })
        .await?;
    println!(
        "committed: template tpl_gmail v1, integration {}, workload {}, one audit event",
        integration.integration_id, workload.workload_id
    );
    report(&db, &acme).await?;

    // 2. A deliberate rollback. try_transaction takes the caller's own error type (anything a
    //    DbError converts into, implementing TxError), so "no" needs no fake database error.
    //    Whatever the closure wrote before it said no is rolled back.
    let outcome = scope
        .try_transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                workloads::create(tx, &workload_request("second-mailer")?, None, None).await?;
                // The transaction sees its own uncommitted insert.
                let workloads = workloads::list_by_tenant(tx, PageRequest::default()).await?;
                let integrations = integrations::list_by_tenant(tx, PageRequest::default()).await?;
                let mut event = AuditEvent::generated(
                    tx.tenant_id().clone(),
                    AuditEventType::AdminAction,
                    NonEmptyString::new("correlation_id", "req-setup-2")?,
                );
                event.message = Some("second workload added".into());
                audit::append(tx, &event).await?;
                // A rule of the application, checked inside the transaction: at most one
                // workload per integration on this plan.
                if workloads.total > integrations.total {
                    return Err(SetupError::PlanLimit {
                        workloads: workloads.total,
                        integrations: integrations.total,
                    });
                }
                Ok(())
            })
        })
        .await;
    match outcome {
        Err(e @ SetupError::PlanLimit { .. }) => println!(
            "rolled back on purpose ({e}): the second workload and its audit event are gone"
        ),
        Err(SetupError::Db(e)) => return Err(e.into()),
        Ok(()) => return Err("the plan limit did not stop the second workload".into()),
    }
    report(&db, &acme).await?;

    // 3. The explicit form: begin, run, commit. Without commit (an early return with `?`, a
    //    panic, or simply dropping it) the transaction rolls back. No retries here: the caller
    //    owns the transaction.
    let mut tx = scope.begin(&TxOptions::default()).await?;
    let user = users::create(&mut tx, &user_input("dana@example.com")?).await?;
    drop(tx); // not committed: rolled back
    let found = users::get_by_id(&mut db.tenant(&acme), &user.user_id).await?;
    println!(
        "explicit, dropped without commit: user {} {}",
        user.email,
        if found.is_none() { "is gone" } else { "EXISTS" }
    );
    if found.is_some() {
        return Err("a dropped transaction was committed".into());
    }

    let mut tx = scope.begin(&TxOptions::default()).await?;
    let user = users::create(&mut tx, &user_input("erin@example.com")?).await?;
    tx.commit().await?;
    let found = users::get_by_id(&mut db.tenant(&acme), &user.user_id).await?;
    println!(
        "explicit, committed: user {} {}",
        user.email,
        if found.is_some() {
            "exists"
        } else {
            "is MISSING"
        }
    );
    if found.is_none() {
        return Err("a committed user is missing".into());
    }
    Ok(())
}

/// The caller's error type for `try_transaction`: a database error, or the application's "no".
#[derive(Debug)]
enum SetupError {
    Db(DbError),
    PlanLimit { workloads: u64, integrations: u64 },
}

impl From<DbError> for SetupError {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

impl From<ValidationError> for SetupError {
    fn from(e: ValidationError) -> Self {
        Self::Db(e.into())
    }
}

impl TxError for SetupError {
    /// Lets the transaction see (and retry) a serialization failure inside.
    fn as_db_error(&self) -> Option<&DbError> {
        match self {
            Self::Db(e) => Some(e),
            Self::PlanLimit { .. } => None,
        }
    }
}

/// What the tenant has now: workloads, integrations and audit events.
async fn report(db: &Db, tenant: &TenantId) -> Result<(), Error> {
    let mut scope = db.tenant(tenant);
    let workloads = workloads::list_by_tenant(&mut scope, PageRequest::default()).await?;
    let integrations = integrations::list_by_tenant(&mut scope, PageRequest::default()).await?;
    let events = audit_events::query(&mut scope, &AuditQueryFilter::default()).await?;
    println!(
        "  {tenant} has {} workload(s), {} integration(s), {} audit event(s)",
        workloads.total,
        integrations.total,
        events.items.len()
    );
    Ok(())
}

fn gmail_template() -> Result<Template, ValidationError> {
    Template::from_json(json!({
        "template_id": "tpl_gmail", "version": 1, "provider": "google",
        "allowed_schemes": ["https"], "allowed_ports": [443],
        "allowed_hosts": ["gmail.googleapis.com"],
        "redirect_policy": {"mode": "deny"},
        "path_groups": [{
            "group_id": "gmail_send", "risk_tier": "high", "approval_mode": "none",
            "methods": ["POST"], "path_patterns": ["/gmail/v1/users/me/messages/send"],
            "query_allowlist": [], "header_forward_allowlist": ["content-type"],
            "body_policy": {"max_bytes": 1048576, "content_types": ["application/json"]}
        }],
        "network_safety": {"deny_private_ip_ranges": true, "deny_link_local": true,
            "deny_loopback": true, "deny_metadata_ranges": true, "dns_resolution_required": true}
    }))
}

fn gmail_integration() -> Result<IntegrationWrite, DbError> {
    let write = serde_json::from_value(json!({
        "provider": "google", "name": "Gmail (support inbox)", "template_id": "tpl_gmail",
        // Validated and never stored: secret material goes through the secret repository.
        "secret_material": {"type": "oauth_refresh_token", "value": "example-not-a-secret"}
    }));
    write.map_err(|_| ValidationError::new("integration", "does not match its contract").into())
}

fn workload_request(name: &str) -> Result<workloads::WorkloadCreateRequest, DbError> {
    let request = serde_json::from_value(json!({"name": name, "enrollment_mode": "broker_ca"}));
    request.map_err(|_| ValidationError::new("workload", "does not match its contract").into())
}

fn user_input(email: &str) -> Result<users::CreateHumanUser, ValidationError> {
    Ok(users::CreateHumanUser {
        user_id: None,
        email: Email::parse(email)?,
        roles: vec!["operator".into()],
        enabled: None,
        display_name: None,
        oidc_subject: None,
        oidc_issuer: None,
    })
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Db(e) => e.fmt(f),
            Self::PlanLimit {
                workloads,
                integrations,
            } => write!(
                f,
                "plan limit: {workloads} workloads for {integrations} integration(s)"
            ),
        }
    }
}

impl std::error::Error for SetupError {}

//! Writing the demo entities through the repositories: each in one transaction with its audit
//! event(s), after checking it is not there yet (an entity found is left alone). A unique
//! violation despite the check means a concurrent seed wrote it first: the write is tried once
//! more, and its check then finds the row.

use std::future::Future;
use std::time::Duration;

use brokerdb::audit::{self, AuditEvent, AuditPolicyRef, SystemAuditEvent};
use brokerdb::db::{Db, DbError, ErrorCode, TxOptions};
use brokerdb::model::{
    ApprovalId, ApprovalStatus, AuditDecision, AuditEventType, Email, EventId, IntegrationId,
    NonEmptyString, PolicyId, PolicyRuleType, TemplateId, Timestamp, UserId, ValidationError,
    WorkloadId,
};
use brokerdb::repo::approvals::{self, ApprovalSummary, NewApproval};
use brokerdb::repo::audit_events::{
    PolicyDecision, PolicyDecisionEvent, PolicyMatch, append_policy_decision,
};
use brokerdb::repo::integrations::{self, CreateOptions, IntegrationWrite, SecretMaterial};
use brokerdb::repo::policy_rules::{self, PolicyRule};
use brokerdb::repo::users::{self, CreateHumanUser};
use brokerdb::repo::workloads::{self, WorkloadCreateRequest, WorkloadUpdateRequest};
use brokerdb::repo::{templates, tenants};
use serde_json::{Map, Value};

use super::demo::{
    self, Api, CallOutcome, DemoApproval, DemoCall, DemoTenant, DemoUser, DemoWorkload,
};

/// What a write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Written by this run.
    Created,
    /// Already there; left alone.
    Present,
}

/// Runs `write` (which checks before writing) once more after a unique violation.
async fn once_more_on_unique<F, Fut>(write: F) -> Result<Outcome, DbError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Outcome, DbError>>,
{
    match write().await {
        Err(e) if e.code() == ErrorCode::UniqueViolation => write().await,
        other => other,
    }
}

fn correlation(tenant: &DemoTenant) -> Result<NonEmptyString, ValidationError> {
    NonEmptyString::new("correlation_id", &format!("seed-{}", tenant.id))
}

fn actor() -> Result<NonEmptyString, ValidationError> {
    NonEmptyString::new("actor", demo::ACTOR)
}

/// An `admin_action` event `evt_demo_<n>_<what>`: `{action, actor, <key>: <id>}`.
fn admin_event(
    tenant: &DemoTenant,
    what: &str,
    action: &str,
    key: &str,
    id: &str,
) -> Result<AuditEvent, ValidationError> {
    let mut event = AuditEvent::new(
        EventId::parse(&tenant.event_id(what))?,
        Timestamp::now(),
        tenant.id.clone(),
        correlation(tenant)?,
        AuditEventType::AdminAction,
    );
    event.message = Some(format!("{action} by the demo seed"));
    let mut metadata = Map::new();
    metadata.insert("action".into(), action.into());
    metadata.insert("actor".into(), demo::ACTOR.into());
    metadata.insert(key.into(), id.into());
    event.metadata = Some(metadata);
    Ok(event)
}

/// The tenant (system scope: a tenant cannot create itself) and a `tenant.created` system
/// audit event.
pub async fn tenant(db: &Db, tenant: &DemoTenant) -> Result<Outcome, DbError> {
    once_more_on_unique(|| {
        let t = tenant.clone();
        async move {
            db.system()
                .transaction(&TxOptions::DEFAULT, move |tx| {
                    let t = t.clone();
                    Box::pin(async move {
                        if tenants::get_by_id(tx, &t.id).await?.is_some() {
                            return Ok(Outcome::Present);
                        }
                        tenants::create(tx, &t.name, Some(t.id.clone())).await?;
                        let mut event =
                            SystemAuditEvent::new("tenant.created", actor()?, correlation(&t)?);
                        event.event_id = EventId::parse(&t.event_id("tenant"))?;
                        event
                            .details
                            .insert("tenant_id".into(), t.id.as_str().into());
                        event.details.insert("name".into(), t.name.clone().into());
                        audit::append_system(tx, &event).await?;
                        Ok(Outcome::Created)
                    })
                })
                .await
        }
    })
    .await
}

/// A user with its roles, and its `user.created` event.
pub async fn user(db: &Db, tenant: &DemoTenant, user: &DemoUser) -> Result<Outcome, DbError> {
    let non_empty = |field: &'static str, s: &str| NonEmptyString::new(field, s).map(Some);
    let (issuer, subject) = match &user.oidc {
        Some((issuer, subject)) => (
            non_empty("oidc_issuer", issuer)?,
            non_empty("oidc_subject", subject)?,
        ),
        None => (None, None),
    };
    let input = CreateHumanUser {
        user_id: Some(UserId::parse(&user.id)?),
        email: Email::parse(&user.email)?,
        roles: user.roles.iter().map(|r| (*r).to_owned()).collect(),
        enabled: Some(user.enabled),
        display_name: non_empty("display_name", &user.display_name)?,
        oidc_subject: subject,
        oidc_issuer: issuer,
    };
    once_more_on_unique(|| {
        let (t, input) = (tenant.clone(), input.clone());
        async move {
            db.tenant(&tenant.id)
                .transaction(&TxOptions::DEFAULT, move |tx| {
                    let (t, input) = (t.clone(), input.clone());
                    Box::pin(async move {
                        let Some(id) = input.user_id.clone() else {
                            return Err(ValidationError::new("user_id", "is required").into());
                        };
                        if users::get_by_id(tx, &id).await?.is_some() {
                            return Ok(Outcome::Present);
                        }
                        users::create(tx, &input).await?;
                        let what =
                            format!("user_{}", id.as_str().rsplit('_').next().unwrap_or("0"));
                        let event = admin_event(&t, &what, "user.created", "user_id", id.as_str())?;
                        audit::append(tx, &event).await?;
                        Ok(Outcome::Created)
                    })
                })
                .await
        }
    })
    .await
}

/// A workload (disabled after creation when the demo says so) and its `workload.created`
/// event.
pub async fn workload(db: &Db, tenant: &DemoTenant, w: &DemoWorkload) -> Result<Outcome, DbError> {
    let id = WorkloadId::parse(&w.id)?;
    let request = WorkloadCreateRequest {
        name: w.name.to_owned(),
        ip_allowlist: w.ip_allowlist.clone(),
        enrollment_mode: w.mode,
    };
    let enabled = w.enabled;
    once_more_on_unique(|| {
        let (t, id, request) = (tenant.clone(), id.clone(), request.clone());
        async move {
            db.tenant(&tenant.id)
                .transaction(&TxOptions::DEFAULT, move |tx| {
                    let (t, id, request) = (t.clone(), id.clone(), request.clone());
                    Box::pin(async move {
                        if workloads::get_by_id(tx, &id).await?.is_some() {
                            return Ok(Outcome::Present);
                        }
                        workloads::create(tx, &request, Some(id.clone()), None).await?;
                        if !enabled {
                            let off = WorkloadUpdateRequest {
                                enabled: Some(false),
                                ip_allowlist: None,
                            };
                            workloads::update(tx, &id, &off).await?;
                        }
                        let what = format!("workload_{}", request.name);
                        let mut event =
                            admin_event(&t, &what, "workload.created", "workload_id", id.as_str())?;
                        event.workload_id = Some(id);
                        audit::append(tx, &event).await?;
                        Ok(Outcome::Created)
                    })
                })
                .await
        }
    })
    .await
}

/// Version `version` of `api`'s template, published by the seed, and its `template.published`
/// event. A version is there when any version with its number is (active or disabled).
pub async fn template_version(
    db: &Db,
    tenant: &DemoTenant,
    api: &Api,
    version: i32,
) -> Result<Outcome, DbError> {
    let template = api.template(version)?;
    once_more_on_unique(|| {
        let (t, template) = (tenant.clone(), template.clone());
        async move {
            db.tenant(&tenant.id)
                .transaction(&TxOptions::DEFAULT, move |tx| {
                    let (t, template) = (t.clone(), template.clone());
                    Box::pin(async move {
                        let id: TemplateId = template.template_id.clone();
                        let existing = templates::list_versions(tx, &id).await?;
                        if existing.iter().any(|v| v.version == template.version) {
                            return Ok(Outcome::Present);
                        }
                        templates::create_version(tx, &template, Some(demo::ACTOR)).await?;
                        let what = format!("{}_v{}", id.as_str(), template.version);
                        let mut event = admin_event(
                            &t,
                            &what,
                            "template.published",
                            "template_id",
                            id.as_str(),
                        )?;
                        if let Some(m) = event.metadata.as_mut() {
                            m.insert("version".into(), template.version.into());
                        }
                        audit::append(tx, &event).await?;
                        Ok(Outcome::Created)
                    })
                })
                .await
        }
    })
    .await
}

/// `api`'s integration, following its template's latest version, and its
/// `integration.created` event. No secret is stored: the demo integrations have none bound.
pub async fn integration(db: &Db, tenant: &DemoTenant, api: &Api) -> Result<Outcome, DbError> {
    let id = IntegrationId::parse(&api.integration_id(tenant))?;
    let payload = IntegrationWrite {
        provider: api.provider.to_owned(),
        name: api.integration_name.to_owned(),
        template_id: TemplateId::parse(api.template_id)?,
        // Validated for its type by `create`, never stored.
        secret_material: SecretMaterial {
            kind: "api_key".into(),
            value: String::new(),
        },
    };
    let opts = CreateOptions {
        integration_id: Some(id.clone()),
        enabled: Some(api.enabled),
        ..CreateOptions::default()
    };
    once_more_on_unique(|| {
        let (t, id, payload, opts) = (tenant.clone(), id.clone(), payload.clone(), opts.clone());
        async move {
            db.tenant(&tenant.id)
                .transaction(&TxOptions::DEFAULT, move |tx| {
                    let (t, id, payload, opts) =
                        (t.clone(), id.clone(), payload.clone(), opts.clone());
                    Box::pin(async move {
                        if integrations::get_by_id(tx, &id).await?.is_some() {
                            return Ok(Outcome::Present);
                        }
                        integrations::create(tx, &payload, &opts).await?;
                        let what = format!("integration_{}", id.as_str());
                        let mut event = admin_event(
                            &t,
                            &what,
                            "integration.created",
                            "integration_id",
                            id.as_str(),
                        )?;
                        event.integration_id = Some(id);
                        audit::append(tx, &event).await?;
                        Ok(Outcome::Created)
                    })
                })
                .await
        }
    })
    .await
}

/// A policy rule and its `policy_rule.created` event. `policy_id` is the rule table's only
/// unique key, so a unique violation means the rule is there, possibly disabled since (which
/// the enabled-only lookup does not show): it is left alone.
pub async fn policy_rule(
    db: &Db,
    tenant: &DemoTenant,
    rule: &PolicyRule,
) -> Result<Outcome, DbError> {
    let id = PolicyId::parse(rule.policy_id.as_deref().unwrap_or_default())?;
    let integration = IntegrationId::parse(&rule.scope.integration_id)?;
    let (t, rule) = (tenant.clone(), rule.clone());
    let written = db
        .tenant(&tenant.id)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (t, id, integration, rule) =
                (t.clone(), id.clone(), integration.clone(), rule.clone());
            Box::pin(async move {
                if policy_rules::get(tx, &id).await?.is_some() {
                    return Ok(Outcome::Present);
                }
                policy_rules::create(tx, &rule, Some(demo::ACTOR)).await?;
                let what = id.as_str().replacen("pol_demo_", "policy_", 1);
                let mut event =
                    admin_event(&t, &what, "policy_rule.created", "policy_id", id.as_str())?;
                event.integration_id = Some(integration);
                event.action_group = Some(rule.scope.action_group.clone());
                audit::append(tx, &event).await?;
                Ok(Outcome::Created)
            })
        })
        .await;
    match written {
        Err(e) if e.code() == ErrorCode::UniqueViolation => Ok(Outcome::Present),
        other => other,
    }
}

/// An approval request, created `pending` with its `approval_created` event, then walked to
/// its final status with an `approval_decided` event per step (`execute` for the execution).
pub async fn approval(db: &Db, tenant: &DemoTenant, a: &DemoApproval) -> Result<Outcome, DbError> {
    let id = ApprovalId::parse(&a.id)?;
    let now = Timestamp::now();
    let expires_at = if a.expired {
        Timestamp::from_unix_millis(now.unix_millis() - 3_600_000)?
    } else {
        now.checked_add(Duration::from_secs(24 * 3600))
            .unwrap_or(now)
    };
    let request = NewApproval {
        approval_id: Some(id.clone()),
        correlation_id: correlation(tenant)?,
        expires_at,
        summary: ApprovalSummary {
            integration_id: a.descriptor.integration_id.clone(),
            action_group: a.group.to_owned(),
            risk_tier: a.risk,
            destination_host: a.host.to_owned(),
            method: a.descriptor.method.clone(),
            path: a.path.to_owned(),
        },
        canonical_descriptor: a.descriptor.clone(),
    };
    let (workload, integration) = (
        WorkloadId::parse(&a.descriptor.workload_id)?,
        IntegrationId::parse(&a.descriptor.integration_id)?,
    );
    let rule_id = format!(
        "pol_demo_{}_{}_{}_post",
        tenant.n,
        a.descriptor
            .integration_id
            .rsplit('_')
            .next()
            .unwrap_or_default(),
        a.group
    );
    let steps = a.steps();
    once_more_on_unique(|| {
        let (t, request, workload, integration, rule_id) = (
            tenant.clone(),
            request.clone(),
            workload.clone(),
            integration.clone(),
            rule_id.clone(),
        );
        async move {
            db.tenant(&tenant.id)
                .transaction(&TxOptions::DEFAULT, move |tx| {
                    let (t, request, workload, integration, rule_id) = (
                        t.clone(),
                        request.clone(),
                        workload.clone(),
                        integration.clone(),
                        rule_id.clone(),
                    );
                    Box::pin(async move {
                        let Some(id) = request.approval_id.clone() else {
                            return Err(ValidationError::new("approval_id", "is required").into());
                        };
                        if approvals::get_by_id(tx, &id).await?.is_some() {
                            return Ok(Outcome::Present);
                        }
                        let descriptor = request.canonical_descriptor.clone();
                        let (group, risk) = (
                            request.summary.action_group.clone(),
                            request.summary.risk_tier,
                        );
                        approvals::create_from_canonical_descriptor(tx, request).await?;
                        let event = |suffix: &str, kind, decision| -> Result<AuditEvent, DbError> {
                            let what = format!(
                                "{}_{suffix}",
                                id.as_str().replacen("apr_demo_", "approval_", 1)
                            );
                            let mut e = AuditEvent::new(
                                EventId::parse(&t.event_id(&what))?,
                                Timestamp::now(),
                                t.id.clone(),
                                correlation(&t)?,
                                kind,
                            );
                            e.workload_id = Some(workload.clone());
                            e.integration_id = Some(integration.clone());
                            e.action_group = Some(group.clone());
                            e.risk_tier = Some(risk);
                            e.decision = decision;
                            e.canonical_descriptor = Some(descriptor.clone());
                            e.policy = Some(AuditPolicyRef {
                                rule_id: Some(rule_id.clone()),
                                rule_type: PolicyRuleType::ApprovalRequired,
                                approval_id: Some(id.as_str().to_owned()),
                            });
                            Ok(e)
                        };
                        let created = event(
                            "created",
                            AuditEventType::ApprovalCreated,
                            Some(AuditDecision::ApprovalRequired),
                        )?;
                        audit::append(tx, &created).await?;
                        for step in steps {
                            approvals::transition(tx, &id, *step, None).await?;
                            let mut e = match step {
                                ApprovalStatus::Executed => {
                                    let mut e = event(
                                        "executed",
                                        AuditEventType::Execute,
                                        Some(AuditDecision::Allowed),
                                    )?;
                                    e.upstream_status_code = Some(200);
                                    e.latency_ms = Some(342);
                                    e
                                }
                                other => {
                                    let decision = match other {
                                        ApprovalStatus::Approved => AuditDecision::Allowed,
                                        _ => AuditDecision::Denied,
                                    };
                                    event(
                                        other.as_str(),
                                        AuditEventType::ApprovalDecided,
                                        Some(decision),
                                    )?
                                }
                            };
                            e.message = Some(format!("approval {}", step.as_str()));
                            let mut m = Map::new();
                            m.insert("status".into(), step.as_str().into());
                            if matches!(step, ApprovalStatus::Approved | ApprovalStatus::Denied) {
                                m.insert("decided_by".into(), format!("u_demo_{}_1", t.n).into());
                            }
                            e.metadata = Some(m);
                            audit::append(tx, &e).await?;
                        }
                        Ok(Outcome::Created)
                    })
                })
                .await
        }
    })
    .await
}

/// One call's `policy_decision` event and its `execute` (or `throttle`) event, in one
/// transaction. Audit events are the table's only unique key here: a unique violation means
/// the call is recorded already.
pub async fn call(db: &Db, tenant: &DemoTenant, c: &DemoCall) -> Result<Outcome, DbError> {
    let (decision, reason, rule_type) = match c.outcome {
        CallOutcome::Sent { .. } if c.group.ends_with("_write") => (
            AuditDecision::Allowed,
            "rate_limit_within",
            PolicyRuleType::RateLimit,
        ),
        CallOutcome::Sent { .. } => (
            AuditDecision::Allowed,
            "policy_allow",
            PolicyRuleType::Allow,
        ),
        CallOutcome::Throttled => (
            AuditDecision::Throttled,
            "rate_limit_exceeded",
            PolicyRuleType::RateLimit,
        ),
        CallOutcome::Denied => (
            AuditDecision::Denied,
            "integration_disabled",
            PolicyRuleType::Allow,
        ),
    };
    let method = c.descriptor.method.to_ascii_lowercase();
    let rule_id = format!("pol_demo_{}_{}_{}_{method}", tenant.n, c.api.slug, c.group);
    let decision_event = PolicyDecisionEvent {
        descriptor: c.descriptor.clone(),
        decision: PolicyDecision {
            decision,
            reason_code: reason.to_owned(),
            action_group: c.group.to_owned(),
            risk_tier: c.risk,
            policy_match: Some(PolicyMatch {
                policy_id: Some(rule_id),
                rule_type: Some(rule_type),
            }),
            trace: Value::Array(Vec::new()),
        },
        correlation_id: NonEmptyString::new("correlation_id", &format!("seed-{}", c.event_id))?,
        timestamp: Timestamp::now(),
        event_id: EventId::parse(&format!("{}_decision", c.event_id))?,
    };
    let mut outcome_event = decision_event.to_event()?;
    outcome_event.event_id = EventId::parse(&c.event_id)?;
    outcome_event.metadata = None;
    match c.outcome {
        CallOutcome::Sent { status, latency_ms } => {
            outcome_event.event_type = AuditEventType::Execute;
            outcome_event.upstream_status_code = Some(status);
            outcome_event.latency_ms = Some(latency_ms);
        }
        CallOutcome::Throttled => outcome_event.event_type = AuditEventType::Throttle,
        CallOutcome::Denied => outcome_event.event_type = AuditEventType::Violation,
    }
    let written = db
        .tenant(&tenant.id)
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (decision_event, outcome_event) = (decision_event.clone(), outcome_event.clone());
            Box::pin(async move {
                append_policy_decision(tx, &decision_event).await?;
                audit::append(tx, &outcome_event).await?;
                Ok(Outcome::Created)
            })
        })
        .await;
    match written {
        Err(e) if e.code() == ErrorCode::UniqueViolation => Ok(Outcome::Present),
        other => other,
    }
}

/// The tenant's demo project ([`demo::PROJECT_NAME`]), created with its webhook secret (encrypted
/// under `key`) and config unless a project of that name is there; its id either way.
pub async fn project(
    db: &Db,
    key: &brokerdb_projects::SecretKey,
    tenant: &DemoTenant,
) -> Result<(Outcome, brokerdb_projects::ProjectId), brokerdb_projects::ProjectsError> {
    use brokerdb_projects::projects::{self, NewProject};
    let mut scope = db.tenant(&tenant.id);
    let page = projects::list(&mut scope, Some(200), None).await?;
    if let Some(p) = page
        .items
        .into_iter()
        .find(|p| p.name == demo::PROJECT_NAME)
    {
        return Ok((Outcome::Present, p.project_id));
    }
    let mut config = Map::new();
    config.insert("prdFile".into(), Value::from("docs/prd.md"));
    let input = NewProject {
        name: demo::PROJECT_NAME.into(),
        repo_url: demo::PROJECT_REPO_URL.into(),
        webhook_secret: Some(brokerdb_projects::SecretBytes::new(
            demo::PROJECT_WEBHOOK_SECRET.as_bytes().to_vec(),
        )),
        config: Some(config),
    };
    let created = projects::create(&mut scope, key, &input).await?;
    Ok((Outcome::Created, created.project_id))
}

/// An artifact of the demo project, unless one is at its path already.
pub async fn artifact(
    db: &Db,
    tenant: &DemoTenant,
    project: &brokerdb_projects::ProjectId,
    input: &brokerdb_projects::artifacts::ArtifactInput,
) -> Result<Outcome, DbError> {
    use brokerdb_projects::artifacts;
    let mut scope = db.tenant(&tenant.id);
    if artifacts::get_by_path(&mut scope, project, &input.path)
        .await?
        .is_some()
    {
        return Ok(Outcome::Present);
    }
    artifacts::upsert(&mut scope, project, input).await?;
    Ok(Outcome::Created)
}

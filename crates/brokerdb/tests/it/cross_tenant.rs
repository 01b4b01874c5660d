//! One table over every tenant-scoped repository function: called in tenant A's scope, none
//! returns, changes or counts tenant B's rows.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use brokerdb::audit;
use brokerdb::db::paging::{PageRequest, Sort};
use brokerdb::model::{
    ApprovalStatus, AuditDecision, CanonicalRequestDescriptor, Email, RiskTier, SessionId,
    TokenHash,
};
use brokerdb::prelude::*;
use brokerdb::repo::approvals::{self, ApprovalRequest, NewApproval};
use brokerdb::repo::audit_events::{
    self, AuditQueryFilter, AuditRedactionProfile, PolicyDecision, PolicyDecisionEvent,
    SsrfGuardDecisionProjection,
};
use brokerdb::repo::enrollment_tokens::{self, IssueEnrollmentToken};
use brokerdb::repo::integrations::{
    self, CreateOptions, IntegrationUpdate, IntegrationWrite, SecretBinding, SecretMaterial,
};
use brokerdb::repo::policy_rules::{self, PolicyRule};
use brokerdb::repo::secrets::{
    CryptoDefaultsUpdate, NewSecretVersion, SecretEnvelope, SecretType, crypto_defaults, envelopes,
};
use brokerdb::repo::sessions::{self, SessionRecord};
use brokerdb::repo::templates::{self, Template, TemplateInvalidationSignal};
use brokerdb::repo::tenants;
use brokerdb::repo::users::{self, CreateHumanUser, ReplaceRoles, UserFilter, UserSort};
use brokerdb::repo::workloads::{
    self, EnrollmentMode, WorkloadCreateRequest, WorkloadUpdateRequest,
};
use brokerdb_testkit::{TestDatabase, database};
use serde_json::json;

use crate::support::{Error, TestResult, code, tenant, text};

/// What one case observed: a value (`"none"`, a count, …) or an outcome ([`outcome`]).
type Outcome<'a> = Pin<Box<dyn Future<Output = Result<String, DbError>> + 'a>>;

/// Tenant B's rows in every tenant table, as JSON text (the snapshot compared before/after).
const SNAPSHOT: &str = "SELECT string_agg(t::text, ',' ORDER BY t::text) FROM (
    SELECT row_to_json(x)::text AS t FROM tenants x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM workloads x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM human_users x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM human_user_roles x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM enrollment_tokens x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM workload_sessions x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM approval_requests x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM audit_events x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM audit_seals x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM ssrf_guard_decisions x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM audit_redaction_profiles x WHERE tenant_id = 't_b') s(t)";

/// Tenant B's rows in the tables of integrations, secrets, templates and policy rules.
const SNAPSHOT_II: &str = "SELECT string_agg(t::text, ',' ORDER BY t::text) FROM (
    SELECT row_to_json(x)::text AS t FROM integrations x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM secrets x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM secret_versions x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM crypto_verification_defaults x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM template_versions x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM template_invalidation_outbox x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM policy_rules x WHERE tenant_id = 't_b') s(t)";

/// Tenants `t_a` and `t_b`, nothing else.
async fn two_tenants() -> Result<(TestDatabase, Db), Error> {
    let test_db = database().await;
    test_db
        .admin()
        .await
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A'), ('t_b', 'B')")
        .await?;
    let db = test_db.db().await;
    Ok((test_db, db))
}

/// Runs `snapshot` as the superuser (past row-level security).
async fn snapshot(test_db: &TestDatabase, snapshot: &str) -> Result<Option<String>, Error> {
    Ok(test_db.admin().await.query_one(snapshot, &[]).await?.get(0))
}

/// `"ok"`, or the error code.
fn outcome<T>(r: Result<T, DbError>) -> String {
    code(r).map_or("ok", |c| c.as_str()).to_owned()
}

/// `"found"` or `"none"`.
fn found<T>(r: Option<T>) -> String {
    r.map_or("none".into(), |_| "found".into())
}

/// Runs every case and fails with the list of those whose outcome was not the expected one.
async fn assert_outcomes(cases: Vec<(&str, &str, Outcome<'_>)>) {
    let mut wrong = Vec::new();
    for (name, expected, outcome) in cases {
        let got = outcome.await.unwrap_or_else(|e| format!("error {e}"));
        if got != expected {
            wrong.push(format!("{name}: expected {expected}, got {got}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "cross-tenant leaks:\n{}",
        wrong.join("\n")
    );
}

/// A pending approval of tenant `t` for the worked descriptor of `model/descriptor_keys.rs`,
/// expiring in ten minutes (the fixture of `repo_approvals`, copied so this module compiles on
/// its own).
fn approval(t: &str, id: &str) -> Result<ApprovalRequest, Error> {
    let expires_at = Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 600_000)?;
    let descriptor: CanonicalRequestDescriptor = serde_json::from_value(json!({
        "tenant_id": t, "workload_id": "w_1", "integration_id": "int_1",
        "template_id": "tpl_gmail", "template_version": 1, "method": "POST",
        "canonical_url": "https://gmail.googleapis.com/gmail/v1/users/me/messages/send",
        "matched_path_group_id": "gmail_send", "normalized_headers": [], "query_keys": []
    }))?;
    Ok(ApprovalRequest::from_json(json!({
        "approval_id": id, "status": "pending", "expires_at": expires_at.to_string(),
        "correlation_id": "corr-1",
        "summary": {"integration_id": "int_1", "action_group": "gmail_send", "risk_tier": "high",
            "destination_host": " Gmail.GoogleAPIs.com:443 ", "method": "post",
            "path": "/gmail/v1/users/me/messages/send"},
        "canonical_descriptor": serde_json::to_value(descriptor)?
    }))?)
}

fn redaction_profile(t: &str) -> Result<AuditRedactionProfile, ValidationError> {
    AuditRedactionProfile::from_json(json!({"tenant_id": t, "profile_id": "p",
        "rules": {"message_action": "keep", "metadata_default_action": "keep",
            "metadata_key_actions": {}, "metadata_allow_keys": [], "sensitive_key_patterns": ["key"],
            "canonical_header_value_action": "mask", "policy_identifier_action": "keep",
            "max_depth": 2, "max_collection_size": 10, "max_string_length": 64}}))
}

fn admin_user(email: &str) -> Result<CreateHumanUser, Error> {
    Ok(CreateHumanUser {
        user_id: None,
        email: Email::parse(email)?,
        roles: vec!["admin".into()],
        enabled: None,
        display_name: None,
        oidc_subject: None,
        oidc_issuer: None,
    })
}

fn api_workload() -> WorkloadCreateRequest {
    WorkloadCreateRequest {
        name: "api".into(),
        ip_allowlist: None,
        enrollment_mode: EnrollmentMode::BrokerCa,
    }
}

#[tokio::test]
async fn no_tenant_scoped_function_reaches_another_tenants_rows() -> TestResult {
    let (test_db, db) = two_tenants().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let in_a = || db.tenant(&a);
    let mut sb = db.tenant(&b);

    // Tenant B's rows.
    let wb = workloads::create(&mut sb, &api_workload(), None, None).await?;
    workloads::create(&mut in_a(), &api_workload(), None, None).await?;
    let b_user = admin_user("b@example.com")?;
    let ub = users::create(&mut sb, &b_user).await?;
    let far = Timestamp::now()
        .checked_add(Duration::from_secs(3600))
        .ok_or("overflow")?;
    let hb = TokenHash::parse(&"b".repeat(64))?;
    let token = IssueEnrollmentToken {
        token_hash: hb.clone(),
        workload_id: wb.workload_id.clone(),
        expires_at: far,
        created_at: None,
    };
    enrollment_tokens::issue(&mut sb, &token).await?;
    let used = IssueEnrollmentToken {
        token_hash: TokenHash::parse(&"c".repeat(64))?,
        ..token.clone()
    };
    enrollment_tokens::issue(&mut sb, &used).await?;
    enrollment_tokens::consume_once(&mut sb, &used.token_hash, None, Timestamp::now()).await?;
    let session = SessionRecord {
        session_id: SessionId::parse("9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c")?,
        workload_id: wb.workload_id.clone(),
        tenant_id: b.clone(),
        cert_fingerprint256: text("fp"),
        token_hash: TokenHash::parse(&"d".repeat(64))?,
        expires_at: far,
        dpop_key_thumbprint: None,
        scopes: None,
    };
    sessions::upsert(&mut sb, &session).await?;
    let b_approval = approval("t_b", "apr_b")?;
    approvals::create(&mut sb, &b_approval).await?;
    let b_event = AuditEvent::generated(b.clone(), AuditEventType::Execute, text("adm_test"));
    audit::append(&mut sb, &b_event).await?;
    let mut b_ssrf: SsrfGuardDecisionProjection = serde_json::from_value(json!({
        "event_id": "evt_ssrf_b", "timestamp": "2026-01-01T00:00:00Z", "tenant_id": "t_b",
        "workload_id": "w_1", "integration_id": "int_1", "template_id": "tpl_x", "template_version": 1,
        "destination_host": "example.com", "destination_port": 443, "resolved_ips": ["93.184.216.34"],
        "decision": "denied", "reason_code": "redirect_denied", "correlation_id": "c"}))?;
    audit_events::append_ssrf_guard_decision(&mut sb, &b_ssrf).await?;
    let b_profile = redaction_profile("t_b")?;
    audit_events::upsert_redaction_profile(&mut sb, &b_profile).await?;
    let before = snapshot(&test_db, SNAPSHOT).await?;

    // What tenant A tries: B's ids, B's records, and its own records naming B's rows.
    let now = Timestamp::now();
    let session_in_a = SessionRecord {
        tenant_id: a.clone(),
        session_id: SessionId::parse("0b4a7c1e-2d3f-4a5b-8c6d-7e8f9a0b1c2d")?,
        token_hash: TokenHash::parse(&"e".repeat(64))?,
        ..session.clone()
    };
    let sort = Sort::<UserSort>::parse("email", "asc")?;
    let page = PageRequest::new(1, 100)?;
    let disable = WorkloadUpdateRequest {
        enabled: Some(false),
        ip_allowlist: None,
    };
    let token_in_a = IssueEnrollmentToken {
        token_hash: TokenHash::parse(&"f".repeat(64))?,
        ..token.clone()
    };
    let make_owner = ReplaceRoles {
        roles: vec!["owner".into()],
        actor: text("adm_test"),
        correlation_id: text("adm_test"),
    };
    // A projection in A's scope reusing B's event id.
    b_ssrf.tenant_id = a.clone();
    let a_event_named_like_b = AuditEvent {
        tenant_id: a.clone(),
        ..b_event.clone()
    };
    let b_tenant_filter = AuditQueryFilter {
        tenant_id: Some(b.clone()),
        ..Default::default()
    };
    let approval_id_b = b_approval.approval_id.clone();
    let new_approval_of_b = NewApproval {
        approval_id: None,
        correlation_id: b_approval.correlation_id.clone(),
        expires_at: b_approval.expires_at,
        summary: b_approval.summary.clone(),
        canonical_descriptor: b_approval.canonical_descriptor.clone(),
    };
    let decision_on_b = PolicyDecisionEvent {
        descriptor: b_approval.canonical_descriptor.clone(),
        decision: PolicyDecision {
            decision: AuditDecision::Denied,
            reason_code: "no_rule".into(),
            action_group: "gmail_send".into(),
            risk_tier: RiskTier::High,
            policy_match: None,
            trace: json!({}),
        },
        correlation_id: text("adm_test"),
        timestamp: now,
        event_id: EventId::parse("evt_decision_b")?,
    };
    let cases: Vec<(&str, &str, Outcome<'_>)> = vec![
        (
            "approvals::get_by_id",
            "none",
            Box::pin(async {
                Ok(found(
                    approvals::get_by_id(&mut in_a(), &approval_id_b).await?,
                ))
            }),
        ),
        (
            "approvals::transition",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    approvals::transition(
                        &mut in_a(),
                        &approval_id_b,
                        ApprovalStatus::Denied,
                        None,
                    )
                    .await,
                ))
            }),
        ),
        (
            "approvals::list",
            "0",
            Box::pin(async {
                Ok(approvals::list(&mut in_a(), None, None)
                    .await?
                    .len()
                    .to_string())
            }),
        ),
        (
            // At an instant past B's expiry: only row-level security keeps B's approval out.
            "approvals::expire_pending (B's id)",
            "0",
            Box::pin(async {
                let by = approvals::ExpiredBy {
                    actor: text("system"),
                    correlation_id: text("job-1"),
                };
                let later = Timestamp::parse("2999-01-01T00:00:00Z")?;
                Ok(approvals::expire_pending(
                    &mut in_a(),
                    std::slice::from_ref(&approval_id_b),
                    later,
                    &by,
                )
                .await?
                .len()
                .to_string())
            }),
        ),
        (
            "approvals::find_open (B's descriptor)",
            "validation_error",
            Box::pin(async {
                Ok(outcome(
                    approvals::find_open(&mut in_a(), &b_approval.canonical_descriptor).await,
                ))
            }),
        ),
        (
            "approvals::create (B's descriptor)",
            "validation_error",
            Box::pin(async { Ok(outcome(approvals::create(&mut in_a(), &b_approval).await)) }),
        ),
        (
            "approvals::create_from_canonical_descriptor (B's descriptor)",
            "validation_error",
            Box::pin(async {
                Ok(outcome(
                    approvals::create_from_canonical_descriptor(
                        &mut in_a(),
                        new_approval_of_b.clone(),
                    )
                    .await,
                ))
            }),
        ),
        (
            "audit_events::append_policy_decision (B's descriptor)",
            "validation_error",
            Box::pin(async {
                Ok(outcome(
                    audit_events::append_policy_decision(&mut in_a(), &decision_on_b).await,
                ))
            }),
        ),
        (
            "audit::append (B's event)",
            "validation_error",
            Box::pin(async { Ok(outcome(audit::append(&mut in_a(), &b_event).await)) }),
        ),
        (
            "audit::append (B's event id)",
            "unique_violation",
            Box::pin(async {
                Ok(outcome(
                    audit::append(&mut in_a(), &a_event_named_like_b).await,
                ))
            }),
        ),
        (
            "audit_events::query",
            "0",
            Box::pin(async {
                Ok(
                    audit_events::query(&mut in_a(), &AuditQueryFilter::default())
                        .await?
                        .items
                        .len()
                        .to_string(),
                )
            }),
        ),
        (
            "audit_events::query (tenant_id B)",
            "validation_error",
            Box::pin(async {
                Ok(outcome(
                    audit_events::query(&mut in_a(), &b_tenant_filter).await,
                ))
            }),
        ),
        (
            "audit_events::append_ssrf_guard_decision (B's event id)",
            "conflict",
            Box::pin(async {
                Ok(outcome(
                    audit_events::append_ssrf_guard_decision(&mut in_a(), &b_ssrf).await,
                ))
            }),
        ),
        (
            "audit_events::get_redaction_profile",
            "none",
            Box::pin(async {
                Ok(found(
                    audit_events::get_redaction_profile(&mut in_a()).await?,
                ))
            }),
        ),
        (
            "audit_events::upsert_redaction_profile (B's)",
            "validation_error",
            Box::pin(async {
                Ok(outcome(
                    audit_events::upsert_redaction_profile(&mut in_a(), &b_profile).await,
                ))
            }),
        ),
        (
            "tenants::get_own",
            "t_a",
            Box::pin(async {
                Ok(tenants::get_own(&mut in_a())
                    .await?
                    .map(|t| t.tenant_id.to_string())
                    .unwrap_or_default())
            }),
        ),
        (
            "workloads::get_by_id",
            "none",
            Box::pin(async {
                Ok(found(
                    workloads::get_by_id(&mut in_a(), &wb.workload_id).await?,
                ))
            }),
        ),
        (
            "workloads::get_own_by_san_uri",
            "none",
            Box::pin(async {
                Ok(found(
                    workloads::get_own_by_san_uri(&mut in_a(), &wb.mtls_san_uri).await?,
                ))
            }),
        ),
        (
            "workloads::update",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    workloads::update(&mut in_a(), &wb.workload_id, &disable).await,
                ))
            }),
        ),
        (
            "workloads::list_by_tenant",
            "1 total 1",
            Box::pin(async {
                let p = workloads::list_by_tenant(&mut in_a(), page).await?;
                Ok(format!("{} total {}", p.items.len(), p.total))
            }),
        ),
        (
            "enrollment_tokens::issue (B's workload)",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    enrollment_tokens::issue(&mut in_a(), &token_in_a).await,
                ))
            }),
        ),
        (
            "enrollment_tokens::consume_once",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    enrollment_tokens::consume_once(&mut in_a(), &hb, None, now).await,
                ))
            }),
        ),
        (
            "enrollment_tokens::has_consumed",
            "false",
            Box::pin(async {
                Ok(
                    enrollment_tokens::has_consumed_for_workload(&mut in_a(), &wb.workload_id)
                        .await?
                        .to_string(),
                )
            }),
        ),
        (
            "enrollment_tokens::invalidate_active",
            "0",
            Box::pin(async {
                Ok(
                    enrollment_tokens::invalidate_active(&mut in_a(), &wb.workload_id, now)
                        .await?
                        .to_string(),
                )
            }),
        ),
        (
            "sessions::upsert (B's record)",
            "validation_error",
            Box::pin(async { Ok(outcome(sessions::upsert(&mut in_a(), &session).await)) }),
        ),
        (
            "sessions::upsert (B's workload)",
            "integrity_violation",
            Box::pin(async { Ok(outcome(sessions::upsert(&mut in_a(), &session_in_a).await)) }),
        ),
        (
            "sessions::revoke_by_id",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    sessions::revoke_by_id(&mut in_a(), &session.session_id).await,
                ))
            }),
        ),
        (
            "users::get_by_id",
            "none",
            Box::pin(async { Ok(found(users::get_by_id(&mut in_a(), &ub.user_id).await?)) }),
        ),
        (
            "users::update_roles",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    users::update_roles(&mut in_a(), &ub.user_id, &make_owner).await,
                ))
            }),
        ),
        (
            "users::list",
            "0 total 0",
            Box::pin(async {
                let p = users::list(&mut in_a(), &UserFilter::default(), sort, page).await?;
                Ok(format!("{} total {}", p.items.len(), p.total))
            }),
        ),
        (
            "users::list_after",
            "0",
            Box::pin(async {
                Ok(
                    users::list_after(&mut in_a(), &UserFilter::default(), sort, 100, None)
                        .await?
                        .items
                        .len()
                        .to_string(),
                )
            }),
        ),
        (
            "users::create (B's email)",
            "ok",
            Box::pin(async { Ok(outcome(users::create(&mut in_a(), &b_user).await)) }),
        ),
    ];
    assert_outcomes(cases).await;
    let after = snapshot(&test_db, SNAPSHOT).await?;
    assert_eq!(before, after, "tenant B's rows changed");
    assert!(
        before.is_some_and(|s| s.len() > 100),
        "the snapshot must cover tenant B's rows"
    );
    Ok(())
}

/// Template `tpl_mail` v1 of provider `acme`: `POST https://api.example.com/v1/x`, group `send`.
fn mail_template() -> Result<Template, ValidationError> {
    Template::from_json(json!({
        "template_id": "tpl_mail", "version": 1, "provider": "acme",
        "allowed_schemes": ["https"], "allowed_ports": [443], "allowed_hosts": ["api.example.com"],
        "redirect_policy": {"mode": "deny"},
        "path_groups": [{"group_id": "send", "risk_tier": "low", "approval_mode": "none", "methods": ["POST"],
            "path_patterns": ["/v1/x"], "query_allowlist": [], "header_forward_allowlist": [],
            "body_policy": {"max_bytes": 0, "content_types": []}}],
        "network_safety": {"deny_private_ip_ranges": true, "deny_link_local": true, "deny_loopback": true,
            "deny_metadata_ranges": true, "dns_resolution_required": true}
    }))
}

/// Version 1 of secret `secret_ref` of `integration_id`.
fn secret_version(secret_ref: &SecretRef, integration_id: &IntegrationId) -> NewSecretVersion {
    NewSecretVersion {
        secret_ref: secret_ref.clone(),
        integration_id: integration_id.clone(),
        secret_type: SecretType::ApiKey,
        envelope: SecretEnvelope {
            key_id: "kek".into(),
            content_encryption_alg: "A256GCM".into(),
            key_encryption_alg: "dir".into(),
            wrapped_data_key_b64: "AA==".into(),
            iv_b64: "iv".into(),
            ciphertext_b64: "AA==".into(),
            auth_tag_b64: "tag".into(),
            aad_b64: None,
        },
        created_at: None,
    }
}

#[tokio::test]
async fn no_integration_secret_template_or_policy_function_reaches_another_tenants_rows()
-> TestResult {
    let (test_db, db) = two_tenants().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let in_a = || db.tenant(&a);
    let mut sb = db.tenant(&b);

    // Tenant B's rows.
    templates::create_version(&mut sb, &mail_template()?, None).await?;
    let wb = workloads::create(&mut sb, &api_workload(), None, None)
        .await?
        .workload_id;
    let wa = workloads::create(&mut in_a(), &api_workload(), None, None)
        .await?
        .workload_id;
    let write = IntegrationWrite {
        provider: "acme".into(),
        name: "mail".into(),
        template_id: TemplateId::parse("tpl_mail")?,
        secret_material: SecretMaterial {
            kind: "api_key".into(),
            value: "plaintext".into(),
        },
    };
    let ib = integrations::create(&mut sb, &write, &CreateOptions::default())
        .await?
        .integration_id;
    let ia = integrations::create(&mut in_a(), &write, &CreateOptions::default())
        .await?
        .integration_id;
    let sref = SecretRef::parse("sec_b")?;
    envelopes::create_version(&mut sb, &secret_version(&sref, &ib)).await?;
    let strict = CryptoDefaultsUpdate {
        require_temporal_validity: false,
        max_clock_skew_seconds: 120,
    };
    crypto_defaults::upsert(&mut sb, strict).await?;
    let policy = |tenant_id: &str| -> Result<PolicyRule, serde_json::Error> {
        serde_json::from_value(
            json!({"policy_id": format!("pol_{tenant_id}"), "rule_type": "allow",
            "scope": {"tenant_id": tenant_id, "integration_id": ib.as_str(), "action_group": "send",
                "method": "POST", "host": "api.example.com"}}),
        )
    };
    let b_policy = policy("t_b")?;
    policy_rules::create(&mut sb, &b_policy, None).await?;
    let signal = TemplateInvalidationSignal {
        template_id: "tpl_mail".into(),
        version: 1,
        tenant_id: "t_b".into(),
        updated_at: "2026-11-23T10:00:00.000Z".into(),
    };
    templates::persist_invalidation_outbox(&mut sb, &signal).await?;
    let before = snapshot(&test_db, SNAPSHOT_II).await?;

    // What tenant A tries: B's ids, B's records, and its own records naming B's rows.
    let tpl = TemplateId::parse("tpl_mail")?;
    let pid = PolicyId::parse("pol_t_b")?;
    let descriptor: CanonicalRequestDescriptor = serde_json::from_value(json!({
        "tenant_id": "t_a", "workload_id": wa.as_str(), "integration_id": ib.as_str(),
        "template_id": "tpl_mail", "template_version": 1, "method": "POST",
        "canonical_url": "https://api.example.com/v1/x", "matched_path_group_id": "send",
        "normalized_headers": [], "query_keys": []}))?;
    let disable = IntegrationUpdate {
        enabled: Some(false),
        template_id: None,
    };
    let binding = SecretBinding {
        secret_ref: sref.clone(),
        secret_version: 1,
        last_rotated_at: None,
    };
    let page = PageRequest::new(1, 100)?;
    let b_ref_for_a = secret_version(&sref, &ia);
    let a_ref_for_b = secret_version(&SecretRef::parse("sec_a")?, &ib);
    let cases: Vec<(&str, &str, Outcome<'_>)> = vec![
        (
            "integrations::get_by_id",
            "none",
            Box::pin(async { Ok(found(integrations::get_by_id(&mut in_a(), &ib).await?)) }),
        ),
        (
            "integrations::update",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    integrations::update(&mut in_a(), &ib, &disable).await,
                ))
            }),
        ),
        (
            "integrations::bind_secret",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    integrations::bind_secret(&mut in_a(), &ib, &binding).await,
                ))
            }),
        ),
        (
            "integrations::list_by_tenant",
            "1 total 1",
            Box::pin(async {
                let p = integrations::list_by_tenant(&mut in_a(), page).await?;
                Ok(format!("{} total {}", p.items.len(), p.total))
            }),
        ),
        (
            "integrations::get_template_for_execute (B's integration)",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    integrations::get_template_for_execute(&mut in_a(), &wa, &ib).await,
                ))
            }),
        ),
        (
            "integrations::get_template_for_execute (B's workload)",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    integrations::get_template_for_execute(&mut in_a(), &wb, &ia).await,
                ))
            }),
        ),
        (
            "integrations::get_template_for_policy_evaluation (B's integration)",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    integrations::get_template_for_policy_evaluation(&mut in_a(), &wa, &ib).await,
                ))
            }),
        ),
        (
            "integrations::get_template_binding",
            "none",
            Box::pin(async {
                Ok(found(
                    integrations::get_template_binding(&mut in_a(), &ib).await?,
                ))
            }),
        ),
        (
            "templates::get_version",
            "none",
            Box::pin(async { Ok(found(templates::get_version(&mut in_a(), &tpl, 1).await?)) }),
        ),
        (
            "templates::get_latest",
            "none",
            Box::pin(async { Ok(found(templates::get_latest(&mut in_a(), &tpl).await?)) }),
        ),
        (
            "templates::list_versions",
            "0",
            Box::pin(async {
                Ok(templates::list_versions(&mut in_a(), &tpl)
                    .await?
                    .len()
                    .to_string())
            }),
        ),
        (
            "templates::list_latest",
            "0",
            Box::pin(async { Ok(templates::list_latest(&mut in_a()).await?.len().to_string()) }),
        ),
        (
            "templates::persist_invalidation_outbox (B's signal)",
            "validation_error",
            Box::pin(async {
                Ok(outcome(
                    templates::persist_invalidation_outbox(&mut in_a(), &signal).await,
                ))
            }),
        ),
        (
            "envelopes::get_active",
            "none",
            Box::pin(async { Ok(found(envelopes::get_active(&mut in_a(), &sref).await?)) }),
        ),
        (
            "envelopes::get_version",
            "none",
            Box::pin(async { Ok(found(envelopes::get_version(&mut in_a(), &sref, 1).await?)) }),
        ),
        (
            "envelopes::list_versions",
            "0",
            Box::pin(async {
                Ok(envelopes::list_versions(&mut in_a(), &sref)
                    .await?
                    .len()
                    .to_string())
            }),
        ),
        (
            "envelopes::set_active_version",
            "not_found",
            Box::pin(async {
                Ok(outcome(
                    envelopes::set_active_version(&mut in_a(), &sref, 1).await,
                ))
            }),
        ),
        (
            "envelopes::create_version (B's secret_ref)",
            "conflict",
            Box::pin(async {
                Ok(outcome(
                    envelopes::create_version(&mut in_a(), &b_ref_for_a).await,
                ))
            }),
        ),
        (
            "envelopes::create_version (B's integration)",
            "integrity_violation",
            Box::pin(async {
                Ok(outcome(
                    envelopes::create_version(&mut in_a(), &a_ref_for_b).await,
                ))
            }),
        ),
        (
            "crypto_defaults::get",
            "0",
            Box::pin(async {
                Ok(crypto_defaults::get(&mut in_a())
                    .await?
                    .max_clock_skew_seconds
                    .to_string())
            }),
        ),
        (
            "policy_rules::get",
            "none",
            Box::pin(async { Ok(found(policy_rules::get(&mut in_a(), &pid).await?)) }),
        ),
        (
            "policy_rules::disable",
            "not_found",
            Box::pin(async { Ok(outcome(policy_rules::disable(&mut in_a(), &pid).await)) }),
        ),
        (
            "policy_rules::list_for_descriptor",
            "0",
            Box::pin(async {
                Ok(policy_rules::list_for_descriptor(&mut in_a(), &descriptor)
                    .await?
                    .len()
                    .to_string())
            }),
        ),
        (
            "policy_rules::create (B's scope)",
            "validation_error",
            Box::pin(async {
                Ok(outcome(
                    policy_rules::create(&mut in_a(), &b_policy, None).await,
                ))
            }),
        ),
    ];
    assert_outcomes(cases).await;
    let after = snapshot(&test_db, SNAPSHOT_II).await?;
    assert_eq!(before, after, "tenant B's rows changed");
    assert!(
        before.is_some_and(|s| s.matches("t_b").count() >= 7),
        "the snapshot must cover tenant B's rows in every table"
    );
    Ok(())
}

//! One table over every tenant-scoped repository function: called in tenant A's scope, none
//! returns, changes or counts tenant B's rows.

use std::future::Future;
use std::pin::Pin;

use brokerdb::db::paging::{PageRequest, Sort};
use brokerdb::db::{DbError, TxOptions};
use brokerdb::model::{Email, NonEmptyString, SessionId, Timestamp, TokenHash};
use brokerdb::repo::enrollment_tokens::{self, IssueEnrollmentToken};
use brokerdb::repo::sessions::{self, SessionRecord};
use brokerdb::repo::tenants;
use brokerdb::repo::users::{self, CreateHumanUser, UserFilter, UserSort};
use brokerdb::repo::workloads::{
    self, EnrollmentMode, WorkloadCreateRequest, WorkloadUpdateRequest,
};
use brokerdb_testkit::database;

use brokerdb::audit::{AuditEvent, AuditEventType};
use brokerdb::model::{ApprovalStatus, EventId};
use brokerdb::repo::approvals;
use brokerdb::repo::audit_events::{
    self, AuditQueryFilter, AuditRedactionProfile, SsrfGuardDecisionProjection,
};

use crate::repo_approvals::approval;

use crate::TestResult;
use crate::db_scope::tenant;

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
    UNION ALL SELECT row_to_json(x)::text FROM audit_seal_queue x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM audit_seals x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM ssrf_guard_decisions x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM audit_redaction_profiles x WHERE tenant_id = 't_b') s(t)";

fn code(r: Result<impl Sized, DbError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().as_str().into(),
    }
}

#[tokio::test]
async fn no_tenant_scoped_function_reaches_another_tenants_rows() -> TestResult {
    let test_db = database().await;
    let admin = test_db.admin().await;
    admin
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A'), ('t_b', 'B')")
        .await?;
    let db = test_db.db().await;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let (sa, sb) = (db.tenant(&a), db.tenant(&b));

    // Tenant B's rows.
    let wreq = |n: &str| WorkloadCreateRequest {
        name: n.into(),
        ip_allowlist: None,
        enrollment_mode: EnrollmentMode::BrokerCa,
    };
    let wb = workloads::create(&sb, &wreq("api"), None, None).await?;
    let wa = workloads::create(&sa, &wreq("api"), None, None).await?;
    let user = |email: &str| -> Result<CreateHumanUser, Box<dyn std::error::Error>> {
        Ok(CreateHumanUser {
            user_id: None,
            email: Email::parse(email)?,
            roles: vec!["admin".into()],
            enabled: None,
            display_name: None,
            oidc_subject: None,
            oidc_issuer: None,
        })
    };
    let ub = users::create(&sb, &user("b@example.com")?).await?;
    let far = Timestamp::now()
        .checked_add(std::time::Duration::from_secs(3600))
        .ok_or("overflow")?;
    let hb = TokenHash::parse(&"b".repeat(64))?;
    let token = IssueEnrollmentToken {
        token_hash: hb.clone(),
        workload_id: wb.workload_id.clone(),
        expires_at: far,
        created_at: None,
    };
    enrollment_tokens::issue(&sb, None, &token).await?;
    let used = IssueEnrollmentToken {
        token_hash: TokenHash::parse(&"c".repeat(64))?,
        ..token.clone()
    };
    enrollment_tokens::issue(&sb, None, &used).await?;
    enrollment_tokens::consume_once(&sb, None, &used.token_hash, None, Timestamp::now()).await?;
    let session = SessionRecord {
        session_id: SessionId::parse("9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c")?,
        workload_id: wb.workload_id.clone(),
        tenant_id: b.clone(),
        cert_fingerprint256: NonEmptyString::new("cert", "fp")?,
        token_hash: TokenHash::parse(&"d".repeat(64))?,
        expires_at: far,
        dpop_key_thumbprint: None,
        scopes: None,
    };
    sessions::upsert(&sb, &session).await?;
    let b_approval = approval("t_b", "apr_b", 600)?;
    approvals::create(&sb, None, &b_approval).await?;
    let b_event = AuditEvent::new(
        EventId::parse("evt_b")?,
        Timestamp::now(),
        b.clone(),
        who()?,
        AuditEventType::Execute,
    );
    audit_events::append(&sb, None, &b_event).await?;
    let mut b_ssrf: SsrfGuardDecisionProjection = serde_json::from_value(serde_json::json!({
        "event_id": "evt_ssrf_b", "timestamp": "2026-01-01T00:00:00Z", "tenant_id": "t_b",
        "workload_id": "w_1", "integration_id": "int_1", "template_id": "tpl_x", "template_version": 1,
        "destination_host": "example.com", "destination_port": 443, "resolved_ips": ["93.184.216.34"],
        "decision": "denied", "reason_code": "redirect_denied", "correlation_id": "c"}))?;
    audit_events::append_ssrf_guard_decision(&sb, None, &b_ssrf).await?;
    let profile = |t: &str| {
        AuditRedactionProfile::from_json(serde_json::json!({"tenant_id": t, "profile_id": "p",
            "rules": {"message_action": "keep", "metadata_default_action": "keep",
                "metadata_key_actions": {}, "metadata_allow_keys": [], "sensitive_key_patterns": ["key"],
                "canonical_header_value_action": "mask", "policy_identifier_action": "keep",
                "max_depth": 2, "max_collection_size": 10, "max_string_length": 64}}))
    };
    audit_events::upsert_redaction_profile(&sb, None, &profile("t_b")?).await?;
    let before: Option<String> = admin.query_one(SNAPSHOT, &[]).await?.get(0);

    let now = Timestamp::now();
    let session_in_a = SessionRecord {
        tenant_id: a.clone(),
        session_id: SessionId::parse("0b4a7c1e-2d3f-4a5b-8c6d-7e8f9a0b1c2d")?,
        token_hash: TokenHash::parse(&"e".repeat(64))?,
        ..session.clone()
    };
    let sort = Sort::<UserSort>::parse("email", "asc")?;
    let enable = WorkloadUpdateRequest {
        enabled: Some(false),
        ip_allowlist: None,
    };
    let token_in_a = IssueEnrollmentToken {
        token_hash: TokenHash::parse(&"f".repeat(64))?,
        ..token.clone()
    };
    // Tenant A uses B's ids; a projection in A's scope reusing B's event id.
    b_ssrf.tenant_id = a.clone();
    let a_event_named_like_b = AuditEvent {
        tenant_id: a.clone(),
        ..b_event.clone()
    };
    let approval_id_b = b_approval.approval_id.clone();
    let cases: Vec<(&str, &str, Outcome<'_>)> = vec![
        (
            "approvals::get_by_id",
            "none",
            Box::pin(async {
                Ok(approvals::get_by_id(&sa, &approval_id_b)
                    .await?
                    .map_or("none".into(), |_| "found".into()))
            }),
        ),
        (
            "approvals::transition",
            "not_found",
            Box::pin(async {
                Ok(code(
                    approvals::transition(&sa, None, &approval_id_b, ApprovalStatus::Denied, None)
                        .await,
                ))
            }),
        ),
        (
            "approvals::list",
            "0",
            Box::pin(async { Ok(approvals::list(&sa, None, None).await?.len().to_string()) }),
        ),
        (
            "approvals::find_open (B's descriptor)",
            "validation_error",
            Box::pin(async {
                Ok(code(
                    approvals::find_open(&sa, None, &b_approval.canonical_descriptor).await,
                ))
            }),
        ),
        (
            "approvals::create (B's descriptor)",
            "validation_error",
            Box::pin(async { Ok(code(approvals::create(&sa, None, &b_approval).await)) }),
        ),
        (
            "audit_events::append (B's event)",
            "validation_error",
            Box::pin(async { Ok(code(audit_events::append(&sa, None, &b_event).await)) }),
        ),
        (
            "audit_events::append (B's event id)",
            "unique_violation",
            Box::pin(async {
                Ok(code(
                    audit_events::append(&sa, None, &a_event_named_like_b).await,
                ))
            }),
        ),
        (
            "audit_events::query",
            "0",
            Box::pin(async {
                Ok(audit_events::query(&sa, &AuditQueryFilter::default())
                    .await?
                    .items
                    .len()
                    .to_string())
            }),
        ),
        (
            "audit_events::query (tenant_id B)",
            "validation_error",
            Box::pin(async {
                let f = AuditQueryFilter {
                    tenant_id: Some(b.clone()),
                    ..Default::default()
                };
                Ok(code(audit_events::query(&sa, &f).await))
            }),
        ),
        (
            "audit_events::append_ssrf_guard_decision (B's event id)",
            "conflict",
            Box::pin(async {
                Ok(code(
                    audit_events::append_ssrf_guard_decision(&sa, None, &b_ssrf).await,
                ))
            }),
        ),
        (
            "audit_events::get_redaction_profile",
            "none",
            Box::pin(async {
                Ok(audit_events::get_redaction_profile(&sa, None)
                    .await?
                    .map_or("none".into(), |_| "found".into()))
            }),
        ),
        (
            "audit_events::upsert_redaction_profile (B's)",
            "validation_error",
            Box::pin(async {
                let p = profile("t_b").map_err(|_| DbError::validation("profile", "bad"))?;
                Ok(code(
                    audit_events::upsert_redaction_profile(&sa, None, &p).await,
                ))
            }),
        ),
        (
            "tenants::get_own",
            "t_a",
            Box::pin(async {
                Ok(tenants::get_own(&sa)
                    .await?
                    .map(|t| t.tenant_id.to_string())
                    .unwrap_or_default())
            }),
        ),
        (
            "workloads::get_by_id",
            "none",
            Box::pin(async {
                Ok(workloads::get_by_id(&sa, &wb.workload_id)
                    .await?
                    .map_or("none".into(), |_| "found".into()))
            }),
        ),
        (
            "workloads::update",
            "not_found",
            Box::pin(async { Ok(code(workloads::update(&sa, &wb.workload_id, &enable).await)) }),
        ),
        (
            "workloads::list_by_tenant",
            "1 total 1",
            Box::pin(async {
                let p = workloads::list_by_tenant(&sa, PageRequest::new(1, 100)?).await?;
                Ok(format!("{} total {}", p.items.len(), p.total))
            }),
        ),
        (
            "enrollment_tokens::issue (B's workload)",
            "not_found",
            Box::pin(async { Ok(code(enrollment_tokens::issue(&sa, None, &token_in_a).await)) }),
        ),
        (
            "enrollment_tokens::consume_once",
            "not_found",
            Box::pin(async {
                Ok(code(
                    enrollment_tokens::consume_once(&sa, None, &hb, None, now).await,
                ))
            }),
        ),
        (
            "enrollment_tokens::has_consumed",
            "false",
            Box::pin(async {
                Ok(
                    enrollment_tokens::has_consumed_for_workload(&sa, None, &wb.workload_id)
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
                    enrollment_tokens::invalidate_active(&sa, None, &wb.workload_id, now)
                        .await?
                        .to_string(),
                )
            }),
        ),
        (
            "sessions::upsert (B's record)",
            "validation_error",
            Box::pin(async { Ok(code(sessions::upsert(&sa, &session).await)) }),
        ),
        (
            "sessions::upsert (B's workload)",
            "integrity_violation",
            Box::pin(async { Ok(code(sessions::upsert(&sa, &session_in_a).await)) }),
        ),
        (
            "sessions::revoke_by_id",
            "not_found",
            Box::pin(async { Ok(code(sessions::revoke_by_id(&sa, &session.session_id).await)) }),
        ),
        (
            "users::get_by_id",
            "none",
            Box::pin(async {
                Ok(users::get_by_id(&sa, &ub.user_id)
                    .await?
                    .map_or("none".into(), |_| "found".into()))
            }),
        ),
        (
            "users::update_roles",
            "not_found",
            Box::pin(async {
                Ok(code(
                    users::update_roles(&sa, &ub.user_id, &["owner".into()], &who()?, &who()?)
                        .await,
                ))
            }),
        ),
        (
            "users::list",
            "0 total 0",
            Box::pin(async {
                let p = users::list(&sa, &UserFilter::default(), sort, PageRequest::new(1, 100)?)
                    .await?;
                Ok(format!("{} total {}", p.items.len(), p.total))
            }),
        ),
        (
            "users::list_after",
            "0",
            Box::pin(async {
                Ok(
                    users::list_after(&sa, &UserFilter::default(), sort, 100, None)
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
            Box::pin(async {
                Ok(code(
                    users::create(
                        &sa,
                        &user("b@example.com").map_err(|_| DbError::validation("email", "bad"))?,
                    )
                    .await,
                ))
            }),
        ),
        (
            "a caller transaction of tenant B",
            "validation_error",
            Box::pin(async {
                let (inner_db, b, wa) = (db.clone(), b.clone(), wa.workload_id.clone());
                let r = db
                    .tenant(&a)
                    .transaction(&TxOptions::default(), move |tx| {
                        let (db, b, wa) = (inner_db.clone(), b.clone(), wa.clone());
                        Box::pin(async move {
                            enrollment_tokens::invalidate_active(
                                &db.tenant(&b),
                                Some(tx),
                                &wa,
                                Timestamp::now(),
                            )
                            .await
                        })
                    })
                    .await;
                Ok(code(r))
            }),
        ),
    ];
    assert_outcomes(cases).await;
    let after: Option<String> = admin.query_one(SNAPSHOT, &[]).await?.get(0);
    assert_eq!(before, after, "tenant B's rows changed");
    assert!(
        before.is_some_and(|s| s.len() > 100),
        "the snapshot must cover tenant B's rows"
    );
    Ok(())
}

fn who() -> Result<brokerdb::model::NonEmptyString, brokerdb::model::ValidationError> {
    brokerdb::model::NonEmptyString::new("actor", "adm_test")
}

/// Tenant B's rows in the tables of integrations, secrets, templates and policy rules.
const SNAPSHOT_II: &str = "SELECT string_agg(t::text, ',' ORDER BY t::text) FROM (
    SELECT row_to_json(x)::text AS t FROM integrations x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM secrets x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM secret_versions x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM crypto_verification_defaults x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM template_versions x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM template_invalidation_outbox x WHERE tenant_id = 't_b'
    UNION ALL SELECT row_to_json(x)::text FROM policy_rules x WHERE tenant_id = 't_b') s(t)";

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

fn found<T>(r: Option<T>) -> String {
    r.map_or("none".into(), |_| "found".into())
}

#[tokio::test]
async fn no_integration_secret_template_or_policy_function_reaches_another_tenants_rows()
-> TestResult {
    use brokerdb::model::{CanonicalRequestDescriptor, PolicyId, SecretRef, TemplateId};
    use brokerdb::repo::integrations::{
        self, CreateOptions, IntegrationUpdate, IntegrationWrite, SecretMaterial,
    };
    use brokerdb::repo::policy_rules::{self, PolicyRule};
    use brokerdb::repo::secrets::{
        CryptoDefaultsUpdate, NewSecretVersion, SecretEnvelope, SecretType, crypto_defaults,
        envelopes,
    };
    use brokerdb::repo::templates::{self, Template, TemplateInvalidationSignal};
    use serde_json::json;

    let test_db = database().await;
    let admin = test_db.admin().await;
    admin
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A'), ('t_b', 'B')")
        .await?;
    let db = test_db.db().await;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let (sa, sb) = (db.tenant(&a), db.tenant(&b));
    let template = Template::from_json(json!({
        "template_id": "tpl_mail", "version": 1, "provider": "acme",
        "allowed_schemes": ["https"], "allowed_ports": [443], "allowed_hosts": ["api.example.com"],
        "redirect_policy": {"mode": "deny"},
        "path_groups": [{"group_id": "send", "risk_tier": "low", "approval_mode": "none", "methods": ["POST"],
            "path_patterns": ["/v1/x"], "query_allowlist": [], "header_forward_allowlist": [],
            "body_policy": {"max_bytes": 0, "content_types": []}}],
        "network_safety": {"deny_private_ip_ranges": true, "deny_link_local": true, "deny_loopback": true,
            "deny_metadata_ranges": true, "dns_resolution_required": true}
    }))?;
    templates::create_version(&sb, &template, None).await?;
    let wreq = WorkloadCreateRequest {
        name: "api".into(),
        ip_allowlist: None,
        enrollment_mode: EnrollmentMode::BrokerCa,
    };
    let wb = workloads::create(&sb, &wreq, None, None).await?.workload_id;
    let wa = workloads::create(&sa, &wreq, None, None).await?.workload_id;
    let write = IntegrationWrite {
        provider: "acme".into(),
        name: "mail".into(),
        template_id: TemplateId::parse("tpl_mail")?,
        secret_material: SecretMaterial {
            kind: "api_key".into(),
            value: "plaintext".into(),
        },
    };
    let ib = integrations::create(&sb, &write, &CreateOptions::default())
        .await?
        .integration_id;
    let ia = integrations::create(&sa, &write, &CreateOptions::default())
        .await?
        .integration_id;
    let sref = SecretRef::parse("sec_b")?;
    let version = |integration_id: &brokerdb::model::IntegrationId| NewSecretVersion {
        secret_ref: sref.clone(),
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
    };
    envelopes::create_version(&sb, &version(&ib)).await?;
    let strict = CryptoDefaultsUpdate {
        require_temporal_validity: false,
        max_clock_skew_seconds: 120,
    };
    crypto_defaults::upsert(&sb, None, strict).await?;
    let policy = |tenant_id: &str| -> Result<PolicyRule, serde_json::Error> {
        serde_json::from_value(
            json!({"policy_id": format!("pol_{tenant_id}"), "rule_type": "allow",
            "scope": {"tenant_id": tenant_id, "integration_id": ib.as_str(), "action_group": "send",
                "method": "POST", "host": "api.example.com"}}),
        )
    };
    policy_rules::create(&sb, &policy("t_b")?, None).await?;
    let signal = TemplateInvalidationSignal {
        template_id: "tpl_mail".into(),
        version: 1,
        tenant_id: "t_b".into(),
        updated_at: "2026-11-23T10:00:00.000Z".into(),
    };
    templates::persist_invalidation_outbox(&sb, None, &signal).await?;
    let before: Option<String> = admin.query_one(SNAPSHOT_II, &[]).await?.get(0);

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
    let cases: Vec<(&str, &str, Outcome<'_>)> = vec![
        (
            "integrations::get_by_id",
            "none",
            Box::pin(async { Ok(found(integrations::get_by_id(&sa, &ib).await?)) }),
        ),
        (
            "integrations::update",
            "not_found",
            Box::pin(async { Ok(code(integrations::update(&sa, &ib, &disable).await)) }),
        ),
        (
            "integrations::bind_secret",
            "not_found",
            Box::pin(async {
                Ok(code(
                    integrations::bind_secret(&sa, &ib, &sref, 1, None).await,
                ))
            }),
        ),
        (
            "integrations::list_by_tenant",
            "1 total 1",
            Box::pin(async {
                let p = integrations::list_by_tenant(&sa, PageRequest::new(1, 100)?).await?;
                Ok(format!("{} total {}", p.items.len(), p.total))
            }),
        ),
        (
            "integrations::get_template_for_execute (B's integration)",
            "not_found",
            Box::pin(async {
                Ok(code(
                    integrations::get_template_for_execute(&sa, None, &wa, &ib).await,
                ))
            }),
        ),
        (
            "integrations::get_template_for_execute (B's workload)",
            "not_found",
            Box::pin(async {
                Ok(code(
                    integrations::get_template_for_execute(&sa, None, &wb, &ia).await,
                ))
            }),
        ),
        (
            "integrations::get_template_binding",
            "none",
            Box::pin(async {
                Ok(found(
                    integrations::get_template_binding(&sa, None, &ib).await?,
                ))
            }),
        ),
        (
            "templates::get_version",
            "none",
            Box::pin(async { Ok(found(templates::get_version(&sa, None, &tpl, 1).await?)) }),
        ),
        (
            "templates::get_latest",
            "none",
            Box::pin(async { Ok(found(templates::get_latest(&sa, &tpl).await?)) }),
        ),
        (
            "templates::list_versions",
            "0",
            Box::pin(async {
                Ok(templates::list_versions(&sa, None, &tpl)
                    .await?
                    .len()
                    .to_string())
            }),
        ),
        (
            "templates::list_latest",
            "0",
            Box::pin(async { Ok(templates::list_latest(&sa).await?.len().to_string()) }),
        ),
        (
            "templates::persist_invalidation_outbox (B's signal)",
            "validation_error",
            Box::pin(async {
                Ok(code(
                    templates::persist_invalidation_outbox(&sa, None, &signal).await,
                ))
            }),
        ),
        (
            "envelopes::get_active",
            "none",
            Box::pin(async { Ok(found(envelopes::get_active(&sa, &sref).await?)) }),
        ),
        (
            "envelopes::get_version",
            "none",
            Box::pin(async { Ok(found(envelopes::get_version(&sa, &sref, 1).await?)) }),
        ),
        (
            "envelopes::list_versions",
            "0",
            Box::pin(async {
                Ok(envelopes::list_versions(&sa, &sref)
                    .await?
                    .len()
                    .to_string())
            }),
        ),
        (
            "envelopes::set_active_version",
            "not_found",
            Box::pin(async { Ok(code(envelopes::set_active_version(&sa, &sref, 1).await)) }),
        ),
        (
            "envelopes::create_version (B's secret_ref)",
            "conflict",
            Box::pin(async { Ok(code(envelopes::create_version(&sa, &version(&ia)).await)) }),
        ),
        (
            "envelopes::create_version (B's integration)",
            "integrity_violation",
            Box::pin(async {
                let mut v = version(&ib);
                v.secret_ref = SecretRef::parse("sec_a").map_err(DbError::from)?;
                Ok(code(envelopes::create_version(&sa, &v).await))
            }),
        ),
        (
            "crypto_defaults::get",
            "0",
            Box::pin(async {
                Ok(crypto_defaults::get(&sa, None)
                    .await?
                    .max_clock_skew_seconds
                    .to_string())
            }),
        ),
        (
            "policy_rules::get",
            "none",
            Box::pin(async { Ok(found(policy_rules::get(&sa, &pid).await?)) }),
        ),
        (
            "policy_rules::disable",
            "not_found",
            Box::pin(async { Ok(code(policy_rules::disable(&sa, &pid).await)) }),
        ),
        (
            "policy_rules::list_for_descriptor",
            "0",
            Box::pin(async {
                Ok(policy_rules::list_for_descriptor(&sa, None, &descriptor)
                    .await?
                    .len()
                    .to_string())
            }),
        ),
        (
            "policy_rules::create (B's scope)",
            "validation_error",
            Box::pin(async {
                let rule = policy("t_b").map_err(|_| DbError::validation("policy", "bad"))?;
                Ok(code(policy_rules::create(&sa, &rule, None).await))
            }),
        ),
    ];
    assert_outcomes(cases).await;
    let after: Option<String> = admin.query_one(SNAPSHOT_II, &[]).await?.get(0);
    assert_eq!(before, after, "tenant B's rows changed");
    assert!(
        before.is_some_and(|s| s.matches("t_b").count() >= 7),
        "the snapshot must cover tenant B's rows in every table"
    );
    Ok(())
}

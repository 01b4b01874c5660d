//! IntegrationRepository and the execute lookup against real PostgreSQL.

use brokerdb::db::ErrorCode;
use brokerdb::model::{IntegrationId, SecretRef, TemplateId, WorkloadId};
use brokerdb::repo::integrations::{
    self, CreateOptions, ExecutionStatus, IntegrationUpdate, IntegrationWrite, SecretMaterial,
};
use brokerdb::repo::templates::{self, Template};
use brokerdb::repo::workloads::{
    self, EnrollmentMode, WorkloadCreateRequest, WorkloadUpdateRequest,
};
use serde_json::json;

use crate::TestResult;
use crate::db_scope::{seeded, tenant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn template(version: i32) -> Res<Template> {
    Ok(Template::from_json(json!({
        "template_id": "tpl_mail", "version": version, "provider": "acme",
        "allowed_schemes": ["https"], "allowed_ports": [443], "allowed_hosts": ["api.example.com"],
        "redirect_policy": {"mode": "deny"},
        "path_groups": [{"group_id": "send", "risk_tier": "low", "approval_mode": "none", "methods": ["GET"],
            "path_patterns": ["/v1/x"], "query_allowlist": [], "header_forward_allowlist": [],
            "body_policy": {"max_bytes": 0, "content_types": []}}],
        "network_safety": {"deny_private_ip_ranges": true, "deny_link_local": true, "deny_loopback": true,
            "deny_metadata_ranges": true, "dns_resolution_required": true}
    }))?)
}

fn write(name: &str) -> Res<IntegrationWrite> {
    Ok(IntegrationWrite {
        provider: "acme".into(),
        name: name.into(),
        template_id: TemplateId::parse("tpl_mail")?,
        secret_material: SecretMaterial {
            kind: "api_key".into(),
            value: "sk-live-secret".into(),
        },
    })
}

#[tokio::test]
async fn create_validates_pointers_and_enforces_uniqueness_without_storing_the_secret() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    let i = integrations::create(&scope, &write("mail")?, &CreateOptions::default()).await?;
    assert!(i.integration_id.as_str().starts_with("int_") && i.enabled && i.secret_ref.is_none());
    assert!(
        !format!("{:?}", write("x")?).contains("sk-live-secret"),
        "Debug never shows the secret"
    );
    let stored: i64 = test_db.admin().await.query_one("SELECT count(*) FROM integrations WHERE row_to_json(integrations)::text LIKE '%sk-live%'", &[]).await?.get(0);
    assert_eq!(stored, 0, "secret material is not persisted");

    let with_secret = CreateOptions {
        secret_ref: Some(" sec_1 ".into()),
        secret_version: Some(1),
        ..CreateOptions::default()
    };
    assert_eq!(
        integrations::create(&scope, &write("two")?, &with_secret)
            .await?
            .secret_ref
            .as_deref(),
        Some("sec_1")
    );
    for (name, opts, code) in [
        ("mail", CreateOptions::default(), ErrorCode::UniqueViolation),
        ("three", with_secret.clone(), ErrorCode::UniqueViolation),
        (
            "four",
            CreateOptions {
                secret_ref: Some("sec_2".into()),
                ..CreateOptions::default()
            },
            ErrorCode::ValidationError,
        ),
        (
            "five",
            CreateOptions {
                template_version: Some(0),
                ..CreateOptions::default()
            },
            ErrorCode::ValidationError,
        ),
        (
            "six",
            CreateOptions {
                secret_ref: Some(" ".into()),
                secret_version: Some(1),
                ..CreateOptions::default()
            },
            ErrorCode::ValidationError,
        ),
    ] {
        assert_eq!(
            integrations::create(&scope, &write(name)?, &opts)
                .await
                .err()
                .map(|e| e.code()),
            Some(code),
            "{name}"
        );
    }
    let bad_kind = IntegrationWrite {
        secret_material: SecretMaterial {
            kind: "password".into(),
            value: "x".into(),
        },
        ..write("seven")?
    };
    assert_eq!(
        integrations::create(&scope, &bad_kind, &CreateOptions::default())
            .await
            .err()
            .map(|e| e.code()),
        Some(ErrorCode::ValidationError)
    );
    Ok(())
}

#[tokio::test]
async fn update_unpins_the_template_and_bind_secret_moves_the_pointer() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let scope = db.tenant(&a);
    templates::create_version(&scope, &template(1)?, None).await?;
    templates::create_version(&scope, &template(2)?, None).await?;
    let w = workloads::create(
        &scope,
        &WorkloadCreateRequest {
            name: "api".into(),
            ip_allowlist: None,
            enrollment_mode: EnrollmentMode::BrokerCa,
        },
        None,
        None,
    )
    .await?;
    let i = integrations::create(
        &scope,
        &write("mail")?,
        &CreateOptions {
            template_version: Some(1),
            ..CreateOptions::default()
        },
    )
    .await?;
    let lookup =
        integrations::get_template_for_execute(&scope, None, &w.workload_id, &i.integration_id)
            .await?;
    assert_eq!(lookup.template_version, 1, "pinned");

    integrations::update(
        &scope,
        &i.integration_id,
        &IntegrationUpdate {
            enabled: None,
            template_id: Some(TemplateId::parse("tpl_mail")?),
        },
    )
    .await?;
    let lookup =
        integrations::get_template_for_execute(&scope, None, &w.workload_id, &i.integration_id)
            .await?;
    assert_eq!(
        lookup.template_version, 2,
        "setting template_id unpins: latest active"
    );

    let bound = integrations::bind_secret(
        &scope,
        &i.integration_id,
        &SecretRef::parse("sec_9")?,
        3,
        None,
    )
    .await?;
    assert_eq!(
        (
            bound.secret_ref.as_deref(),
            bound.secret_version,
            bound.last_rotated_at.is_some()
        ),
        (Some("sec_9"), Some(3), true)
    );
    assert_eq!(
        integrations::bind_secret(
            &scope,
            &i.integration_id,
            &SecretRef::parse("sec_9")?,
            0,
            None
        )
        .await
        .err()
        .map(|e| e.code()),
        Some(ErrorCode::ValidationError)
    );
    let missing = IntegrationId::parse("int_missing")?;
    assert_eq!(
        integrations::bind_secret(&scope, &missing, &SecretRef::parse("sec_x")?, 1, None)
            .await
            .err()
            .map(|e| e.code()),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        integrations::update(
            &db.tenant(&b),
            &i.integration_id,
            &IntegrationUpdate::default()
        )
        .await
        .err()
        .map(|e| e.code()),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        integrations::get_by_id(&db.tenant(&b), &i.integration_id).await?,
        None
    );
    assert_eq!(
        integrations::list_by_tenant(&scope, Default::default())
            .await?
            .total,
        1
    );
    Ok(())
}

#[tokio::test]
async fn the_execute_lookup_follows_the_gating_table_and_the_pinning_rule() -> TestResult {
    let (test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let scope = db.tenant(&a);
    templates::create_version(&scope, &template(1)?, None).await?;
    let w = workloads::create(
        &scope,
        &WorkloadCreateRequest {
            name: "api".into(),
            ip_allowlist: None,
            enrollment_mode: EnrollmentMode::BrokerCa,
        },
        None,
        None,
    )
    .await?;
    let i = integrations::create(&scope, &write("mail")?, &CreateOptions::default()).await?;
    let look =
        || integrations::get_template_for_execute(&scope, None, &w.workload_id, &i.integration_id);

    let ok = look().await?;
    assert_eq!(
        (
            ok.executable,
            ok.execution_status,
            ok.template_id.as_str(),
            ok.template.provider.as_str()
        ),
        (true, ExecutionStatus::Executable, "tpl_mail", "acme")
    );
    integrations::update(
        &scope,
        &i.integration_id,
        &IntegrationUpdate {
            enabled: Some(false),
            template_id: None,
        },
    )
    .await?;
    assert_eq!(
        look().await?.execution_status,
        ExecutionStatus::IntegrationDisabled
    );
    workloads::update(
        &scope,
        &w.workload_id,
        &WorkloadUpdateRequest {
            enabled: Some(false),
            ip_allowlist: None,
        },
    )
    .await?;
    let both = look().await?;
    assert_eq!(
        (both.executable, both.execution_status),
        (false, ExecutionStatus::WorkloadDisabled),
        "a disabled workload wins"
    );
    let (enabled, t) = integrations::get_template_for_policy_evaluation(
        &scope,
        None,
        &w.workload_id,
        &i.integration_id,
    )
    .await?;
    assert_eq!((enabled, t.version), (false, 1));

    let code =
        |r: Result<_, brokerdb::db::DbError>| r.err().map(|e: brokerdb::db::DbError| e.code());
    let missing_w = WorkloadId::parse("w_none")?;
    assert_eq!(
        code(
            integrations::get_template_for_execute(&scope, None, &missing_w, &i.integration_id)
                .await
        ),
        Some(ErrorCode::NotFound)
    );
    let missing_i = IntegrationId::parse("int_none")?;
    assert_eq!(
        code(
            integrations::get_template_for_execute(&scope, None, &w.workload_id, &missing_i).await
        ),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        code(
            integrations::get_template_for_execute(
                &db.tenant(&b),
                None,
                &w.workload_id,
                &i.integration_id
            )
            .await
        ),
        Some(ErrorCode::NotFound),
        "another tenant's rows are missing"
    );

    // A pinned version that gets disabled does not fall back to another version.
    let pinned = integrations::create(
        &scope,
        &write("pinned")?,
        &CreateOptions {
            template_version: Some(1),
            ..CreateOptions::default()
        },
    )
    .await?;
    templates::create_version(&scope, &template(2)?, None).await?;
    test_db
        .admin()
        .await
        .batch_execute("UPDATE template_versions SET status = 'disabled' WHERE version = 1")
        .await?;
    let none = integrations::get_template_for_execute(
        &scope,
        None,
        &w.workload_id,
        &pinned.integration_id,
    )
    .await;
    assert_eq!(code(none), Some(ErrorCode::NotFound));
    assert_eq!(
        integrations::get_template_binding(&scope, None, &pinned.integration_id).await?,
        None
    );
    let follows = integrations::get_template_binding(&scope, None, &i.integration_id)
        .await?
        .ok_or("unpinned binding resolves")?;
    assert_eq!((follows.template_version, follows.enabled), (2, false));
    Ok(())
}

//! IntegrationRepository and the execute lookup against real PostgreSQL.

use brokerdb::prelude::*;
use brokerdb::repo::integrations::{
    self, CreateOptions, ExecutionStatus, IntegrationUpdate, IntegrationWrite, SecretBinding,
    SecretMaterial,
};
use brokerdb::repo::templates::{self, Template};
use brokerdb::repo::workloads::{
    self, EnrollmentMode, WorkloadCreateRequest, WorkloadUpdateRequest,
};
use brokerdb_testkit::TestDatabase;
use serde_json::json;

use crate::assert_code;
use crate::support::{Error, TestResult, seeded, tenant};

type Res<T> = Result<T, Error>;

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

fn pinned_to(version: i32) -> CreateOptions {
    CreateOptions {
        template_version: Some(version),
        ..CreateOptions::default()
    }
}

fn with_secret() -> CreateOptions {
    CreateOptions {
        secret_ref: Some(" sec_1 ".into()),
        secret_version: Some(1),
        ..CreateOptions::default()
    }
}

async fn api_workload(scope: &mut TenantScope<'_>) -> Res<WorkloadId> {
    let request = WorkloadCreateRequest {
        name: "api".into(),
        ip_allowlist: None,
        enrollment_mode: EnrollmentMode::BrokerCa,
    };
    Ok(workloads::create(scope, &request, None, None)
        .await?
        .workload_id)
}

/// Template `tpl_mail` v1, workload `api` and integration `mail` (unpinned), all enabled.
async fn executable(scope: &mut TenantScope<'_>) -> Res<(WorkloadId, IntegrationId)> {
    templates::create_version(scope, &template(1)?, None).await?;
    let w = api_workload(scope).await?;
    let i = integrations::create(scope, &write("mail")?, &CreateOptions::default()).await?;
    Ok((w, i.integration_id))
}

async fn disable_integration(scope: &mut TenantScope<'_>, i: &IntegrationId) -> TestResult {
    let update = IntegrationUpdate {
        enabled: Some(false),
        template_id: None,
    };
    integrations::update(scope, i, &update).await?;
    Ok(())
}

async fn disable_workload(scope: &mut TenantScope<'_>, w: &WorkloadId) -> TestResult {
    let update = WorkloadUpdateRequest {
        enabled: Some(false),
        ip_allowlist: None,
    };
    workloads::update(scope, w, &update).await?;
    Ok(())
}

async fn disable_template_version(test_db: &TestDatabase, version: i32) -> TestResult {
    test_db
        .admin()
        .await
        .execute(
            "UPDATE template_versions SET status = 'disabled' WHERE version = $1",
            &[&version],
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_new_integration_has_an_int_id_is_enabled_and_points_at_no_secret() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let i = integrations::create(
        &mut db.tenant(&a),
        &write("mail")?,
        &CreateOptions::default(),
    )
    .await?;
    assert!(i.integration_id.as_str().starts_with("int_") && i.enabled && i.secret_ref.is_none());
    Ok(())
}

#[tokio::test]
async fn secret_material_is_never_stored_nor_shown_by_debug() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    integrations::create(
        &mut db.tenant(&a),
        &write("mail")?,
        &CreateOptions::default(),
    )
    .await?;
    assert!(
        !format!("{:?}", write("x")?).contains("sk-live-secret"),
        "Debug never shows the secret"
    );
    let stored: i64 = test_db.admin().await.query_one("SELECT count(*) FROM integrations WHERE row_to_json(integrations)::text LIKE '%sk-live%'", &[]).await?.get(0);
    assert_eq!(stored, 0, "secret material is not persisted");
    Ok(())
}

#[tokio::test]
async fn a_secret_pointer_given_at_creation_is_stored_trimmed() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let created = integrations::create(&mut db.tenant(&a), &write("two")?, &with_secret()).await?;
    assert_eq!(created.secret_ref.as_deref(), Some("sec_1"));
    Ok(())
}

#[tokio::test]
async fn a_second_integration_with_the_same_name_or_secret_ref_is_a_unique_violation() -> TestResult
{
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    integrations::create(&mut scope, &write("mail")?, &CreateOptions::default()).await?;
    integrations::create(&mut scope, &write("two")?, &with_secret()).await?;
    for (name, opts) in [("mail", CreateOptions::default()), ("three", with_secret())] {
        assert_code!(
            integrations::create(&mut scope, &write(name)?, &opts).await,
            UniqueViolation,
            "{name}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn invalid_secret_pointers_template_versions_and_material_types_are_validation_errors()
-> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let bad_kind = IntegrationWrite {
        secret_material: SecretMaterial {
            kind: "password".into(),
            value: "x".into(),
        },
        ..write("seven")?
    };
    for (input, opts) in [
        (
            write("four")?,
            CreateOptions {
                secret_ref: Some("sec_2".into()),
                ..CreateOptions::default()
            },
        ),
        (write("five")?, pinned_to(0)),
        (
            write("six")?,
            CreateOptions {
                secret_ref: Some(" ".into()),
                secret_version: Some(1),
                ..CreateOptions::default()
            },
        ),
        (bad_kind, CreateOptions::default()),
    ] {
        assert_code!(
            integrations::create(&mut scope, &input, &opts).await,
            ValidationError,
            "{}",
            input.name
        );
    }
    Ok(())
}

#[tokio::test]
async fn setting_the_template_id_unpins_the_template_version() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    templates::create_version(&mut scope, &template(1)?, None).await?;
    templates::create_version(&mut scope, &template(2)?, None).await?;
    let w = api_workload(&mut scope).await?;
    let i = integrations::create(&mut scope, &write("mail")?, &pinned_to(1)).await?;
    let lookup = integrations::get_template_for_execute(&mut scope, &w, &i.integration_id).await?;
    assert_eq!(lookup.template_version, 1, "pinned");

    integrations::update(
        &mut scope,
        &i.integration_id,
        &IntegrationUpdate {
            enabled: None,
            template_id: Some(TemplateId::parse("tpl_mail")?),
        },
    )
    .await?;
    let lookup = integrations::get_template_for_execute(&mut scope, &w, &i.integration_id).await?;
    assert_eq!(
        lookup.template_version, 2,
        "setting template_id unpins: latest active"
    );
    Ok(())
}

fn binding(secret_ref: &str, secret_version: i32) -> Res<SecretBinding> {
    Ok(SecretBinding {
        secret_ref: SecretRef::parse(secret_ref)?,
        secret_version,
        last_rotated_at: None,
    })
}

#[tokio::test]
async fn binding_a_secret_points_the_integration_at_it_and_stamps_the_rotation() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let i = integrations::create(&mut scope, &write("mail")?, &CreateOptions::default()).await?;
    let bound =
        integrations::bind_secret(&mut scope, &i.integration_id, &binding("sec_9", 3)?).await?;
    assert_eq!(
        (
            bound.secret_ref.as_deref(),
            bound.secret_version,
            bound.last_rotated_at.is_some()
        ),
        (Some("sec_9"), Some(3), true)
    );
    Ok(())
}

#[tokio::test]
async fn binding_secret_version_zero_is_a_validation_error() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let i = integrations::create(&mut scope, &write("mail")?, &CreateOptions::default()).await?;
    assert_code!(
        integrations::bind_secret(&mut scope, &i.integration_id, &binding("sec_9", 0)?).await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn binding_a_secret_to_an_unknown_integration_is_not_found() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let missing = IntegrationId::parse("int_missing")?;
    assert_code!(
        integrations::bind_secret(&mut db.tenant(&a), &missing, &binding("sec_x", 1)?).await,
        NotFound
    );
    Ok(())
}

#[tokio::test]
async fn another_tenant_can_neither_update_nor_read_an_integration() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let mut scope = db.tenant(&a);
    let i = integrations::create(&mut scope, &write("mail")?, &CreateOptions::default()).await?;
    assert_code!(
        integrations::update(
            &mut db.tenant(&b),
            &i.integration_id,
            &IntegrationUpdate::default()
        )
        .await,
        NotFound
    );
    assert_eq!(
        integrations::get_by_id(&mut db.tenant(&b), &i.integration_id).await?,
        None
    );
    assert_eq!(
        integrations::list_by_tenant(&mut scope, Default::default())
            .await?
            .total,
        1
    );
    Ok(())
}

#[tokio::test]
async fn the_execute_lookup_reports_what_is_disabled_and_a_disabled_workload_wins() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let (w, i) = executable(&mut scope).await?;

    let ok = integrations::get_template_for_execute(&mut scope, &w, &i).await?;
    assert_eq!(
        (
            ok.executable,
            ok.execution_status,
            ok.template_id.as_str(),
            ok.template.provider.as_str()
        ),
        (true, ExecutionStatus::Executable, "tpl_mail", "acme")
    );
    disable_integration(&mut scope, &i).await?;
    assert_eq!(
        integrations::get_template_for_execute(&mut scope, &w, &i)
            .await?
            .execution_status,
        ExecutionStatus::IntegrationDisabled
    );
    disable_workload(&mut scope, &w).await?;
    let both = integrations::get_template_for_execute(&mut scope, &w, &i).await?;
    assert_eq!(
        (both.executable, both.execution_status),
        (false, ExecutionStatus::WorkloadDisabled),
        "a disabled workload wins"
    );
    Ok(())
}

#[tokio::test]
async fn the_policy_evaluation_lookup_gives_the_integration_flag_and_the_template_even_when_disabled()
-> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let (w, i) = executable(&mut scope).await?;
    disable_integration(&mut scope, &i).await?;
    disable_workload(&mut scope, &w).await?;
    let (enabled, t) = integrations::get_template_for_policy_evaluation(&mut scope, &w, &i).await?;
    assert_eq!((enabled, t.version), (false, 1));
    Ok(())
}

#[tokio::test]
async fn the_execute_lookup_of_a_missing_or_foreign_workload_or_integration_is_not_found()
-> TestResult {
    let (_test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let mut scope = db.tenant(&a);
    let (w, i) = executable(&mut scope).await?;
    let missing_w = WorkloadId::parse("w_none")?;
    assert_code!(
        integrations::get_template_for_execute(&mut scope, &missing_w, &i).await,
        NotFound
    );
    let missing_i = IntegrationId::parse("int_none")?;
    assert_code!(
        integrations::get_template_for_execute(&mut scope, &w, &missing_i).await,
        NotFound
    );
    assert_code!(
        integrations::get_template_for_execute(&mut db.tenant(&b), &w, &i).await,
        NotFound,
        "another tenant's rows are missing"
    );
    Ok(())
}

#[tokio::test]
async fn a_pinned_template_version_that_gets_disabled_does_not_fall_back_to_another() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let (w, _) = executable(&mut scope).await?;
    let pinned = integrations::create(&mut scope, &write("pinned")?, &pinned_to(1)).await?;
    templates::create_version(&mut scope, &template(2)?, None).await?;
    disable_template_version(&test_db, 1).await?;
    assert_code!(
        integrations::get_template_for_execute(&mut scope, &w, &pinned.integration_id).await,
        NotFound
    );
    assert_eq!(
        integrations::get_template_binding(&mut scope, &pinned.integration_id).await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn an_unpinned_binding_follows_the_latest_active_template_version() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let (_, i) = executable(&mut scope).await?;
    disable_integration(&mut scope, &i).await?;
    templates::create_version(&mut scope, &template(2)?, None).await?;
    disable_template_version(&test_db, 1).await?;
    let follows = integrations::get_template_binding(&mut scope, &i)
        .await?
        .ok_or("unpinned binding resolves")?;
    assert_eq!((follows.template_version, follows.enabled), (2, false));
    Ok(())
}

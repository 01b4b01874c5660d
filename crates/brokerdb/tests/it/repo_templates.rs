//! TemplateRepository against real PostgreSQL.

use brokerdb::prelude::*;
use brokerdb::repo::templates::{self, Template, TemplateInvalidationSignal};
use brokerdb_testkit::TestDatabase;
use serde_json::json;

use crate::assert_code;
use crate::support::{Error, TestResult, seeded, tenant};

fn template(id: &str, version: i32, provider: &str) -> Result<Template, Error> {
    Ok(Template::from_json(json!({
        "template_id": id, "version": version, "provider": provider,
        "allowed_schemes": ["https"], "allowed_ports": [443], "allowed_hosts": ["api.example.com"],
        "redirect_policy": {"mode": "deny", "max_hops": 0},
        "path_groups": [{"group_id": "send", "risk_tier": "high", "approval_mode": "required", "methods": ["post"],
            "path_patterns": ["/v1/send"], "query_allowlist": [], "header_forward_allowlist": [],
            "body_policy": {"max_bytes": 1024, "content_types": ["application/json"]}}],
        "network_safety": {"deny_private_ip_ranges": true, "deny_link_local": true, "deny_loopback": true,
            "deny_metadata_ranges": true, "dns_resolution_required": true}
    }))?)
}

#[tokio::test]
async fn the_template_contract_is_strict() -> TestResult {
    let ok = serde_json::to_value(template("tpl_mail", 1, "acme")?)?;
    for (path, bad) in [
        ("allowed_schemes", json!(["http"])),
        ("allowed_ports", json!([8443])),
        ("allowed_hosts", json!([])),
        ("template_id", json!("mail")),
        ("version", json!(0)),
        ("unknown_field", json!(1)),
    ] {
        let mut v = ok.clone();
        v[path] = bad;
        assert!(Template::from_json(v).is_err(), "{path}");
    }
    Ok(())
}

/// `tpl_mail` versions 1 (published by `adm_1`) and 3 for tenant A.
async fn mail_versions_1_and_3(scope: &mut TenantScope<'_>) -> TestResult {
    templates::create_version(scope, &template("tpl_mail", 1, "acme")?, Some("adm_1")).await?;
    templates::create_version(scope, &template("tpl_mail", 3, "acme")?, None).await?;
    Ok(())
}

async fn disable(test_db: &TestDatabase, where_clause: &str) -> TestResult {
    let sql = format!("UPDATE template_versions SET status = 'disabled' WHERE {where_clause}");
    test_db.admin().await.batch_execute(&sql).await?;
    Ok(())
}

#[tokio::test]
async fn a_new_template_version_must_exceed_the_latest_and_keep_its_provider() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    mail_versions_1_and_3(&mut scope).await?;
    for t in [
        template("tpl_mail", 3, "acme")?,
        template("tpl_mail", 2, "acme")?,
        template("tpl_mail", 4, "other")?,
    ] {
        assert_code!(
            templates::create_version(&mut scope, &t, None).await,
            Conflict,
            "version {} of {}",
            t.version,
            t.provider
        );
    }
    Ok(())
}

#[tokio::test]
async fn publishing_a_template_for_an_unknown_tenant_is_an_integrity_violation() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let ghost = tenant("t_ghost")?;
    assert_code!(
        templates::create_version(&mut db.tenant(&ghost), &template("tpl_x", 1, "acme")?, None)
            .await,
        IntegrityViolation
    );
    Ok(())
}

#[tokio::test]
async fn reads_see_the_latest_version_and_each_published_one() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let id = TemplateId::parse("tpl_mail")?;
    mail_versions_1_and_3(&mut scope).await?;
    assert_eq!(
        templates::get_latest(&mut scope, &id)
            .await?
            .map(|t| t.version),
        Some(3)
    );
    assert_eq!(
        templates::get_version(&mut scope, &id, 1)
            .await?
            .map(|t| t.version),
        Some(1)
    );
    assert_eq!(templates::get_version(&mut scope, &id, 2).await?, None);
    Ok(())
}

#[tokio::test]
async fn reading_template_version_zero_is_a_validation_error() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    mail_versions_1_and_3(&mut scope).await?;
    let id = TemplateId::parse("tpl_mail")?;
    assert_code!(
        templates::get_version(&mut scope, &id, 0).await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn a_version_disabled_out_of_band_is_hidden_from_reads_but_still_listed() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let id = TemplateId::parse("tpl_mail")?;
    mail_versions_1_and_3(&mut scope).await?;
    disable(&test_db, "version = 3").await?;
    assert_eq!(
        templates::get_latest(&mut scope, &id)
            .await?
            .map(|t| t.version),
        Some(1)
    );
    assert_eq!(templates::get_version(&mut scope, &id, 3).await?, None);
    let all: Vec<i32> = templates::list_versions(&mut scope, &id)
        .await?
        .iter()
        .map(|t| t.version)
        .collect();
    assert_eq!(all, [1, 3]);
    Ok(())
}

#[tokio::test]
async fn list_latest_gives_each_templates_highest_active_version_by_template_id() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    mail_versions_1_and_3(&mut scope).await?;
    disable(&test_db, "version = 3").await?;
    templates::create_version(&mut scope, &template("tpl_chat", 2, "chatco")?, None).await?;
    templates::create_version(&mut scope, &template("tpl_zip", 1, "zipco")?, None).await?;
    disable(&test_db, "template_id = 'tpl_zip'").await?;
    let latest: Vec<(String, i32)> = templates::list_latest(&mut scope)
        .await?
        .into_iter()
        .map(|t| (t.template_id.to_string(), t.version))
        .collect();
    assert_eq!(
        latest,
        [("tpl_chat".to_owned(), 2), ("tpl_mail".to_owned(), 1)],
        "by template id; no active version, no entry"
    );
    Ok(())
}

#[tokio::test]
async fn another_tenant_lists_none_of_the_templates() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    mail_versions_1_and_3(&mut db.tenant(&a)).await?;
    assert!(
        templates::list_latest(&mut db.tenant(&b)).await?.is_empty(),
        "another tenant sees none"
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_publishers_never_land_a_lower_version_after_a_higher_one() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let tasks: Vec<_> = (1..=10)
        .map(|v| {
            let (db, a, t) = (
                db.clone(),
                a.clone(),
                template("tpl_race", v, "acme").map_err(|e| e.to_string()),
            );
            tokio::spawn(async move {
                templates::create_version(&mut db.tenant(&a), &t?, None)
                    .await
                    .map(|t| t.version)
                    .map_err(|e| e.code().as_str().to_owned())
            })
        })
        .collect();
    let mut published = Vec::new();
    for t in tasks {
        match t.await? {
            Ok(v) => published.push(v),
            Err(code) if code == "conflict" => {}
            Err(other) => return Err(other.into()),
        }
    }
    // Each insert gets its transaction id under the publish lock, so xmin order is commit order:
    // versions must increase along it (a lower version never lands after a higher one).
    let in_commit_order: Vec<i32> = test_db
        .admin()
        .await
        .query("SELECT version FROM template_versions WHERE template_id = 'tpl_race' ORDER BY xmin::text::bigint", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        in_commit_order.windows(2).all(|w| w[0] < w[1]),
        "{in_commit_order:?}"
    );
    assert_eq!(in_commit_order.len(), published.len());
    assert!(!published.is_empty());
    Ok(())
}

fn signal(updated_at: &str) -> TemplateInvalidationSignal {
    TemplateInvalidationSignal {
        template_id: "tpl_mail".into(),
        version: 2,
        tenant_id: "t_a".into(),
        updated_at: updated_at.into(),
    }
}

#[tokio::test]
async fn the_invalidation_outbox_is_idempotent_by_signal() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    templates::persist_invalidation_outbox(&mut scope, &signal("2026-02-13T00:00:00Z")).await?;
    templates::persist_invalidation_outbox(&mut scope, &signal("2026-02-13T01:00:00+01:00"))
        .await?;
    let rows: Vec<String> = test_db
        .admin()
        .await
        .query(
            "SELECT payload_json->>'updated_at' FROM template_invalidation_outbox",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        rows,
        ["2026-02-13T00:00:00Z"],
        "one row, the payload exactly as first received"
    );
    Ok(())
}

#[tokio::test]
async fn an_invalidation_signal_for_another_tenant_is_a_validation_error() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let other_tenant = TemplateInvalidationSignal {
        tenant_id: "t_b".into(),
        ..signal("2026-02-13T00:00:00Z")
    };
    assert_code!(
        templates::persist_invalidation_outbox(&mut db.tenant(&a), &other_tenant).await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn an_invalidation_signal_without_an_rfc_3339_time_is_a_validation_error() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    assert_code!(
        templates::persist_invalidation_outbox(&mut db.tenant(&a), &signal("2026-02-13 00:00:00Z"))
            .await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn an_invalidation_signal_of_an_unknown_tenant_is_an_integrity_violation() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let ghost = tenant("t_ghost")?;
    let unknown = TemplateInvalidationSignal {
        tenant_id: "t_ghost".into(),
        ..signal("2026-02-13T00:00:00Z")
    };
    assert_code!(
        templates::persist_invalidation_outbox(&mut db.tenant(&ghost), &unknown).await,
        IntegrityViolation
    );
    Ok(())
}

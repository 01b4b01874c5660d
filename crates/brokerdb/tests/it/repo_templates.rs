//! TemplateRepository against real PostgreSQL.

use brokerdb::db::ErrorCode;
use brokerdb::model::TemplateId;
use brokerdb::repo::templates::{self, Template, TemplateInvalidationSignal};
use serde_json::json;

use crate::TestResult;
use crate::db_scope::{seeded, tenant};

fn template(
    id: &str,
    version: i32,
    provider: &str,
) -> Result<Template, Box<dyn std::error::Error>> {
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

#[tokio::test]
async fn versions_only_increase_the_provider_never_changes_and_reads_see_active_versions()
-> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    let id = TemplateId::parse("tpl_mail")?;
    templates::create_version(&scope, &template("tpl_mail", 1, "acme")?, Some("adm_1")).await?;
    templates::create_version(&scope, &template("tpl_mail", 3, "acme")?, None).await?;
    for (t, code) in [
        (template("tpl_mail", 3, "acme")?, ErrorCode::Conflict),
        (template("tpl_mail", 2, "acme")?, ErrorCode::Conflict),
        (template("tpl_mail", 4, "other")?, ErrorCode::Conflict),
    ] {
        assert_eq!(
            templates::create_version(&scope, &t, None)
                .await
                .err()
                .map(|e| e.code()),
            Some(code)
        );
    }
    let ghost = tenant("t_ghost")?;
    let unknown =
        templates::create_version(&db.tenant(&ghost), &template("tpl_x", 1, "acme")?, None).await;
    assert_eq!(
        unknown.err().map(|e| e.code()),
        Some(ErrorCode::IntegrityViolation)
    );

    assert_eq!(
        templates::get_latest(&scope, &id).await?.map(|t| t.version),
        Some(3)
    );
    assert_eq!(
        templates::get_version(&scope, None, &id, 1)
            .await?
            .map(|t| t.version),
        Some(1)
    );
    assert_eq!(templates::get_version(&scope, None, &id, 2).await?, None);
    assert_eq!(
        templates::get_version(&scope, None, &id, 0)
            .await
            .err()
            .map(|e| e.code()),
        Some(ErrorCode::ValidationError)
    );

    // Disabled out of band: hidden from reads, still in the full listing.
    test_db
        .admin()
        .await
        .batch_execute("UPDATE template_versions SET status = 'disabled' WHERE version = 3")
        .await?;
    assert_eq!(
        templates::get_latest(&scope, &id).await?.map(|t| t.version),
        Some(1)
    );
    assert_eq!(templates::get_version(&scope, None, &id, 3).await?, None);
    let all: Vec<i32> = templates::list_versions(&scope, None, &id)
        .await?
        .iter()
        .map(|t| t.version)
        .collect();
    assert_eq!(all, [1, 3]);

    templates::create_version(&scope, &template("tpl_chat", 2, "chatco")?, None).await?;
    templates::create_version(&scope, &template("tpl_zip", 1, "zipco")?, None).await?;
    test_db
        .admin()
        .await
        .batch_execute(
            "UPDATE template_versions SET status = 'disabled' WHERE template_id = 'tpl_zip'",
        )
        .await?;
    let latest: Vec<(String, i32)> = templates::list_latest(&scope)
        .await?
        .into_iter()
        .map(|t| (t.template_id.to_string(), t.version))
        .collect();
    assert_eq!(
        latest,
        [("tpl_chat".to_owned(), 2), ("tpl_mail".to_owned(), 1)],
        "by template id; no active version, no entry"
    );
    let b = tenant("t_b")?;
    assert!(
        templates::list_latest(&db.tenant(&b)).await?.is_empty(),
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
                templates::create_version(&db.tenant(&a), &t?, None)
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

#[tokio::test]
async fn the_invalidation_outbox_is_idempotent_by_signal() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    let signal = |at: &str| TemplateInvalidationSignal {
        template_id: "tpl_mail".into(),
        version: 2,
        tenant_id: "t_a".into(),
        updated_at: at.into(),
    };
    templates::persist_invalidation_outbox(&scope, None, &signal("2026-02-13T00:00:00Z")).await?;
    templates::persist_invalidation_outbox(&scope, None, &signal("2026-02-13T01:00:00+01:00"))
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
    let other_tenant = TemplateInvalidationSignal {
        tenant_id: "t_b".into(),
        ..signal("2026-02-13T00:00:00Z")
    };
    assert_eq!(
        templates::persist_invalidation_outbox(&scope, None, &other_tenant)
            .await
            .err()
            .map(|e| e.code()),
        Some(ErrorCode::ValidationError)
    );
    assert_eq!(
        templates::persist_invalidation_outbox(&scope, None, &signal("2026-02-13 00:00:00Z"))
            .await
            .err()
            .map(|e| e.code()),
        Some(ErrorCode::ValidationError)
    );
    let ghost = tenant("t_ghost")?;
    let unknown = TemplateInvalidationSignal {
        tenant_id: "t_ghost".into(),
        ..signal("2026-02-13T00:00:00Z")
    };
    assert_eq!(
        templates::persist_invalidation_outbox(&db.tenant(&ghost), None, &unknown)
            .await
            .err()
            .map(|e| e.code()),
        Some(ErrorCode::IntegrityViolation)
    );
    Ok(())
}

//! `/v1/templates`: publishing immutable versions (audited), the latest of each, every version
//! of one, one version; errors, roles and tenant isolation.

use brokerdb::repo::api_tokens::ApiTokenRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Answer, Api, Error};
use crate::TestResult;

/// The body publishing `version` of a template for provider `acme` with one path group `send`
/// (`POST /v1/x`) on `api.example.com`.
pub fn template_body(version: i32) -> Value {
    json!({
        "version": version, "provider": "acme", "description": "mail",
        "allowedSchemes": ["https"], "allowedPorts": [443], "allowedHosts": ["api.example.com"],
        "redirectPolicy": {"mode": "deny", "maxHops": 0},
        "pathGroups": [{"groupId": "send", "riskTier": "low", "approvalMode": "none",
            "methods": ["POST"], "pathPatterns": ["/v1/x"], "queryAllowlist": [],
            "headerForwardAllowlist": [], "bodyPolicy": {"maxBytes": 1024, "contentTypes": ["application/json"]},
            "constraints": {"note": "kept as given"}}],
        "networkSafety": {"denyPrivateIpRanges": true, "denyLinkLocal": true, "denyLoopback": true,
            "denyMetadataRanges": true, "dnsResolutionRequired": true}
    })
}

/// Publishes `version` of `template_id` as `token`.
pub async fn publish(
    api: &Api,
    token: &str,
    template_id: &str,
    version: i32,
) -> Result<Answer, Error> {
    api.call(
        Method::POST,
        &format!("/v1/templates/{template_id}/versions"),
        Some(token),
        Some(&template_body(version)),
    )
    .await
}

/// The actors of the audit events with `action`, oldest first.
pub async fn actors_of(api: &Api, action: &str) -> Result<Vec<(String, String)>, Error> {
    let rows = api
        .db
        .admin()
        .await
        .query(
            "SELECT event_json->'metadata'->>'actor', tenant_id FROM audit_events
             WHERE event_json->'metadata'->>'action' = $1 ORDER BY tenant_id, created_at",
            &[&action],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn versions(body: &Value) -> Vec<i64> {
    body["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["version"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn publishing_returns_201_with_location_and_is_read_back_by_every_read_route() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let a = publish(&api, &admin, "tpl_mail", 1).await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.headers["location"], "/v1/templates/tpl_mail/versions/1");
    assert_eq!(a.body["templateId"], "tpl_mail");
    assert_eq!(a.body["version"], 1);
    assert_eq!(a.body["provider"], "acme");
    assert_eq!(a.body["pathGroups"][0]["methods"], json!(["POST"]));
    assert_eq!(a.body["pathGroups"][0]["bodyPolicy"]["maxBytes"], 1024);
    assert_eq!(
        a.body["pathGroups"][0]["constraints"],
        json!({"note": "kept as given"})
    );
    assert_eq!(a.body["networkSafety"]["denyLoopback"], true);
    assert_eq!(
        a.body["redirectPolicy"],
        json!({"mode": "deny", "maxHops": 0})
    );

    let one = api
        .get("/v1/templates/tpl_mail/versions/1", &auditor)
        .await?;
    assert_eq!((one.status, &one.body), (StatusCode::OK, &a.body));

    assert_eq!(
        publish(&api, &admin, "tpl_mail", 3).await?.status,
        StatusCode::CREATED
    );
    assert_eq!(
        publish(&api, &admin, "tpl_other", 1).await?.status,
        StatusCode::CREATED
    );
    let all = api.get("/v1/templates/tpl_mail/versions", &auditor).await?;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(versions(&all.body), [1, 3]);
    let latest = api.get("/v1/templates", &auditor).await?;
    assert_eq!(latest.status, StatusCode::OK, "{}", latest.body);
    let ids: Vec<(&str, i64)> = latest.body["items"]
        .as_array()
        .ok_or("no items")?
        .iter()
        .filter_map(|t| Some((t["templateId"].as_str()?, t["version"].as_i64()?)))
        .collect();
    assert_eq!(ids, [("tpl_mail", 3), ("tpl_other", 1)]);

    assert_eq!(
        actors_of(&api, "template.version_published").await?,
        vec![("admin@t_a".to_owned(), "t_a".to_owned()); 3]
    );
    Ok(())
}

#[tokio::test]
async fn publishing_refuses_old_versions_other_providers_invalid_templates_and_lower_roles()
-> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    assert_eq!(
        publish(&api, &admin, "tpl_mail", 2).await?.status,
        StatusCode::CREATED
    );
    // Not above the latest: 409.
    for v in [1, 2] {
        let a = publish(&api, &admin, "tpl_mail", v).await?;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::CONFLICT, "conflict"),
            "{v}"
        );
    }
    // Another provider: 409.
    let mut other = template_body(5);
    other["provider"] = json!("globex");
    let a = api
        .call(
            Method::POST,
            "/v1/templates/tpl_mail/versions",
            Some(&admin),
            Some(&other),
        )
        .await?;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "conflict"));

    // Invalid bodies: 400 naming the field.
    let cases: [(&str, Value, &str); 8] = [
        ("provider", json!(" "), "provider"),
        ("allowedPorts", json!([8443]), "allowedPorts"),
        ("allowedSchemes", json!(["http"]), "allowedSchemes"),
        ("version", json!(0), "version"),
        (
            "redirectPolicy",
            json!({"mode": "follow"}),
            "redirectPolicy.mode",
        ),
        ("tenantId", json!("t_b"), "tenantId"),
        ("templateId", json!("tpl_x"), "templateId"),
        ("pathGroups", json!([]), "pathGroups"),
    ];
    for (key, value, field) in cases {
        let mut body = template_body(9);
        body[key] = value;
        let a = api
            .call(
                Method::POST,
                "/v1/templates/tpl_mail/versions",
                Some(&admin),
                Some(&body),
            )
            .await?;
        assert_eq!(
            (a.status, a.code(), a.field()),
            (StatusCode::BAD_REQUEST, "validation_error", field),
            "{key}: {}",
            a.body
        );
    }
    let mut body = template_body(9);
    body["pathGroups"][0]["riskTier"] = json!("extreme");
    let a = api
        .call(
            Method::POST,
            "/v1/templates/tpl_mail/versions",
            Some(&admin),
            Some(&body),
        )
        .await?;
    assert_eq!(
        (a.status, a.field()),
        (StatusCode::BAD_REQUEST, "pathGroups.riskTier")
    );
    let mut body = template_body(9);
    body["pathGroups"][0]["methods"] = json!(["TRACE"]);
    let a = api
        .call(
            Method::POST,
            "/v1/templates/tpl_mail/versions",
            Some(&admin),
            Some(&body),
        )
        .await?;
    assert_eq!(
        (a.status, a.field()),
        (StatusCode::BAD_REQUEST, "pathGroups[0].methods[0]")
    );
    let a = publish(&api, &admin, "Mail", 9).await?;
    assert_eq!(
        (a.status, a.field()),
        (StatusCode::BAD_REQUEST, "templateId")
    );

    // Roles below admin: 403, nothing written.
    for role in [ApiTokenRole::Auditor, ApiTokenRole::Operator] {
        let token = api.token(Some("t_a"), role).await?;
        let a = publish(&api, &token, "tpl_mail", 9).await?;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));
    }
    let all = api.get("/v1/templates/tpl_mail/versions", &admin).await?;
    assert_eq!(versions(&all.body), [2]);
    assert_eq!(
        actors_of(&api, "template.version_published").await?.len(),
        1
    );
    Ok(())
}

#[tokio::test]
async fn reads_answer_404_for_missing_templates_and_400_for_malformed_paths() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    publish(&api, &admin, "tpl_mail", 1).await?;
    for (path, status, field) in [
        ("/v1/templates/tpl_none/versions", StatusCode::NOT_FOUND, ""),
        (
            "/v1/templates/tpl_mail/versions/2",
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "/v1/templates/tpl_none/versions/1",
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "/v1/templates/tpl_mail/versions/0",
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (
            "/v1/templates/tpl_mail/versions/one",
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (
            "/v1/templates/BAD/versions",
            StatusCode::BAD_REQUEST,
            "templateId",
        ),
        (
            "/v1/templates/BAD/versions/1",
            StatusCode::BAD_REQUEST,
            "templateId",
        ),
    ] {
        let a = api.get(path, &admin).await?;
        assert_eq!((a.status, a.field()), (status, field), "{path}: {}", a.body);
    }
    // A system token does not act in a tenant.
    let system = api.token(None, ApiTokenRole::Admin).await?;
    assert_eq!(
        api.get("/v1/templates", &system).await?.status,
        StatusCode::FORBIDDEN
    );
    Ok(())
}

/// Tenant B's admin token on tenant A's templates: never seen, and publishing the same id in B
/// makes B's own template, leaving A's alone.
#[tokio::test]
async fn another_tenants_templates_are_never_seen_nor_changed() -> TestResult {
    let api = Api::start().await?;
    let a_admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let b_admin = api.token(Some("t_b"), ApiTokenRole::Admin).await?;
    publish(&api, &a_admin, "tpl_mail", 2).await?;
    let routes: [(Method, &str, Option<Value>, StatusCode); 4] = [
        (Method::GET, "/v1/templates", None, StatusCode::OK),
        (
            Method::GET,
            "/v1/templates/tpl_mail/versions",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/v1/templates/tpl_mail/versions/2",
            None,
            StatusCode::NOT_FOUND,
        ),
        // Version 1 is below A's 2, yet B may publish it: B's template is its own.
        (
            Method::POST,
            "/v1/templates/tpl_mail/versions",
            Some(template_body(1)),
            StatusCode::CREATED,
        ),
    ];
    for (method, path, body, expected) in routes {
        let a = api
            .call(method.clone(), path, Some(&b_admin), body.as_ref())
            .await?;
        assert_eq!(a.status, expected, "{method} {path}: {}", a.body);
        if a.status == StatusCode::OK {
            assert_eq!(a.body["items"], json!([]), "{path}");
        }
    }
    let a = api.get("/v1/templates/tpl_mail/versions", &a_admin).await?;
    assert_eq!(versions(&a.body), [2]);
    let b = api.get("/v1/templates/tpl_mail/versions", &b_admin).await?;
    assert_eq!(versions(&b.body), [1]);
    Ok(())
}

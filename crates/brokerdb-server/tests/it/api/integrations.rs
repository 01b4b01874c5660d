//! `/v1/integrations`: create (audited, template checked, no plaintext secret accepted), the
//! paged list, get, patch, binding a secret version, the execute lookup; errors, roles and
//! tenant isolation.

use brokerdb::model::TenantId;
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::workloads::{self, EnrollmentMode, WorkloadCreateRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::secrets::{envelope, write_version};
use super::templates::{actors_of, publish};
use super::{Answer, Api, Error};
use crate::TestResult;

/// Creates integration `id` named `name` on `tpl_mail` as `token`.
pub async fn create_integration(
    api: &Api,
    token: &str,
    id: &str,
    name: &str,
) -> Result<Answer, Error> {
    api.call(
        Method::POST,
        "/v1/integrations",
        Some(token),
        Some(
            &json!({"integrationId": id, "provider": "acme", "name": name,
                     "templateId": "tpl_mail", "secretType": "api_key"}),
        ),
    )
    .await
}

/// Tenant A with template `tpl_mail` v1 and integration `int_mail`; returns A's admin token.
pub async fn integration_of_a(api: &Api) -> Result<String, Error> {
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let p = publish(api, &admin, "tpl_mail", 1).await?;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let c = create_integration(api, &admin, "int_mail", "mail").await?;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    Ok(admin)
}

/// A workload of `tenant` (there is no workloads route in this module), returning its id.
async fn workload(api: &Api, tenant: &str, name: &str) -> Result<String, Error> {
    let t = TenantId::parse(tenant)?;
    let w = workloads::create(
        &mut api.handle.tenant(&t),
        &WorkloadCreateRequest {
            name: name.into(),
            ip_allowlist: None,
            enrollment_mode: EnrollmentMode::BrokerCa,
        },
        None,
        None,
    )
    .await?;
    Ok(w.workload_id.to_string())
}

async fn patch(api: &Api, token: &str, path: &str, body: Value) -> Result<Answer, Error> {
    api.call(Method::PATCH, path, Some(token), Some(&body))
        .await
}

#[tokio::test]
async fn create_returns_201_with_location_and_writes_its_audit_event() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    publish(&api, &admin, "tpl_mail", 1).await?;
    let a = create_integration(&api, &admin, "int_mail", "mail").await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.headers["location"], "/v1/integrations/int_mail");
    assert_eq!(a.body["integrationId"], "int_mail");
    assert_eq!(a.body["tenantId"], "t_a");
    assert_eq!(a.body["templateId"], "tpl_mail");
    assert_eq!(a.body["enabled"], true);
    assert!(a.body.get("secretId").is_none(), "{}", a.body);
    let got = api.get("/v1/integrations/int_mail", &auditor).await?;
    assert_eq!((got.status, &got.body), (StatusCode::OK, &a.body));

    // Generated id, pinned version, created disabled.
    let b = api
        .call(
            Method::POST,
            "/v1/integrations",
            Some(&admin),
            Some(
                &json!({"provider": "acme", "name": "second", "templateId": "tpl_mail",
                         "templateVersion": 1, "enabled": false,
                         "secretType": "oauth_refresh_token"}),
            ),
        )
        .await?;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.body);
    let id = b.body["integrationId"].as_str().ok_or("no id")?;
    assert!(id.starts_with("int_") && id.len() == 36, "{id}");
    assert_eq!(b.body["enabled"], false);

    assert_eq!(
        actors_of(&api, "integration.created").await?,
        vec![("admin@t_a".to_owned(), "t_a".to_owned()); 2]
    );
    Ok(())
}

#[tokio::test]
async fn create_refuses_bad_bodies_missing_templates_duplicates_and_lower_roles() -> TestResult {
    let api = Api::start().await?;
    let admin = integration_of_a(&api).await?;
    let base = json!({"provider": "acme", "name": "other", "templateId": "tpl_mail",
                      "secretType": "api_key"});
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let cases: [(Value, StatusCode, &str); 11] = [
        (with("name", json!("  ")), StatusCode::BAD_REQUEST, "name"),
        (
            with("provider", json!("")),
            StatusCode::BAD_REQUEST,
            "provider",
        ),
        // Plaintext secret material is not accepted at all.
        (
            with(
                "secretMaterial",
                json!({"type": "api_key", "value": "sk-live"}),
            ),
            StatusCode::BAD_REQUEST,
            "secretMaterial",
        ),
        (
            with("secretType", json!("password")),
            StatusCode::BAD_REQUEST,
            "secretType",
        ),
        (
            with("templateId", json!("mail")),
            StatusCode::BAD_REQUEST,
            "templateId",
        ),
        (
            with("integrationId", json!("a:b")),
            StatusCode::BAD_REQUEST,
            "integrationId",
        ),
        (
            with("tenantId", json!("t_b")),
            StatusCode::BAD_REQUEST,
            "tenantId",
        ),
        (
            with("templateVersion", json!(0)),
            StatusCode::BAD_REQUEST,
            "templateVersion",
        ),
        (
            with("templateId", json!("tpl_none")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "templateId",
        ),
        (
            with("templateVersion", json!(2)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "templateVersion",
        ),
        (with("name", json!("mail")), StatusCode::CONFLICT, "name"),
    ];
    for (body, status, field) in cases {
        let a = api
            .call(Method::POST, "/v1/integrations", Some(&admin), Some(&body))
            .await?;
        assert_eq!((a.status, a.field()), (status, field), "{body}: {}", a.body);
        assert!(
            !a.body.to_string().contains("sk-live"),
            "a value was echoed"
        );
    }
    let dup = create_integration(&api, &admin, "int_mail", "third").await?;
    assert_eq!(
        (dup.status, dup.code(), dup.field()),
        (StatusCode::CONFLICT, "unique_violation", "integrationId")
    );
    for role in [ApiTokenRole::Auditor, ApiTokenRole::Operator] {
        let token = api.token(Some("t_a"), role).await?;
        let a = create_integration(&api, &token, "int_x", "x").await?;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));
    }
    // Only the one successful create was audited.
    assert_eq!(actors_of(&api, "integration.created").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn the_list_pages_oldest_first_and_get_answers_404_or_400() -> TestResult {
    let api = Api::start().await?;
    let admin = integration_of_a(&api).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    for (id, name) in [("int_b", "b"), ("int_c", "c")] {
        create_integration(&api, &admin, id, name).await?;
    }
    let page = api
        .get("/v1/integrations?page=1&pageSize=2", &auditor)
        .await?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let ids: Vec<&str> = page.body["items"]
        .as_array()
        .ok_or("no items")?
        .iter()
        .filter_map(|i| i["integrationId"].as_str())
        .collect();
    assert_eq!(ids, ["int_mail", "int_b"]);
    assert_eq!(page.body["total"], 3);
    assert_eq!(page.body["totalPages"], 2);
    assert_eq!(page.body["pageSize"], 2);
    assert_eq!(page.body["totalIsEstimate"], false);
    let second = api
        .get("/v1/integrations?page=2&pageSize=2", &auditor)
        .await?;
    assert_eq!(second.body["items"][0]["integrationId"], "int_c");

    for (path, status, field) in [
        (
            "/v1/integrations?pageSize=0",
            StatusCode::BAD_REQUEST,
            "pageSize",
        ),
        ("/v1/integrations?page=0", StatusCode::BAD_REQUEST, "page"),
        (
            "/v1/integrations?sort=name",
            StatusCode::BAD_REQUEST,
            "sort",
        ),
        ("/v1/integrations/int_none", StatusCode::NOT_FOUND, ""),
        (
            "/v1/integrations/a:b",
            StatusCode::BAD_REQUEST,
            "integrationId",
        ),
    ] {
        let a = api.get(path, &auditor).await?;
        assert_eq!((a.status, a.field()), (status, field), "{path}: {}", a.body);
    }
    Ok(())
}

#[tokio::test]
async fn patch_changes_the_flag_and_template_and_is_audited() -> TestResult {
    let api = Api::start().await?;
    let admin = integration_of_a(&api).await?;
    publish(&api, &admin, "tpl_next", 1).await?;
    let path = "/v1/integrations/int_mail";
    let a = patch(&api, &admin, path, json!({"enabled": false})).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["enabled"], false);
    let a = patch(
        &api,
        &admin,
        path,
        json!({"templateId": "tpl_next", "enabled": true}),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        (&a.body["templateId"], &a.body["enabled"]),
        (&json!("tpl_next"), &json!(true))
    );

    for (p, body, status, field) in [
        (path, json!({}), StatusCode::BAD_REQUEST, "body"),
        (
            path,
            json!({"enabled": "yes"}),
            StatusCode::BAD_REQUEST,
            "enabled",
        ),
        (path, json!({"name": "x"}), StatusCode::BAD_REQUEST, "name"),
        (
            path,
            json!({"templateId": "nope"}),
            StatusCode::BAD_REQUEST,
            "templateId",
        ),
        (
            path,
            json!({"templateId": "tpl_none"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "templateId",
        ),
        (
            "/v1/integrations/int_none",
            json!({"enabled": true}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "/v1/integrations/a:b",
            json!({"enabled": true}),
            StatusCode::BAD_REQUEST,
            "integrationId",
        ),
    ] {
        let a = patch(&api, &admin, p, body.clone()).await?;
        assert_eq!(
            (a.status, a.field()),
            (status, field),
            "{p} {body}: {}",
            a.body
        );
    }
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let a = patch(&api, &operator, path, json!({"enabled": false})).await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let now = api.get(path, &admin).await?;
    assert_eq!(now.body["enabled"], true, "refused changes left it alone");
    assert_eq!(
        actors_of(&api, "integration.updated").await?,
        vec![("admin@t_a".to_owned(), "t_a".to_owned()); 2]
    );
    Ok(())
}

#[tokio::test]
async fn binding_a_secret_points_at_an_existing_version_of_its_own_secret() -> TestResult {
    let api = Api::start().await?;
    let admin = integration_of_a(&api).await?;
    create_integration(&api, &admin, "int_two", "two").await?;
    for _ in 0..2 {
        let w = write_version(&api, &admin, "sec_mail", "int_mail", &envelope()).await?;
        assert_eq!(w.status, StatusCode::CREATED, "{}", w.body);
    }
    let w = write_version(&api, &admin, "sec_two", "int_two", &envelope()).await?;
    assert_eq!(w.status, StatusCode::CREATED, "{}", w.body);

    let path = "/v1/integrations/int_mail/secret";
    let bind = |body: Value| {
        let (api, admin) = (&api, &admin);
        async move { api.call(Method::PUT, path, Some(admin), Some(&body)).await }
    };
    let a = bind(json!({"secretId": "sec_mail", "secretVersion": 1})).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["secretId"], "sec_mail");
    assert_eq!(a.body["secretVersion"], 1);
    assert!(
        a.body["lastRotatedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    for (body, status, field) in [
        (
            json!({"secretId": "sec_mail", "secretVersion": 3}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "secretVersion",
        ),
        (
            json!({"secretId": "sec_none", "secretVersion": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "secretVersion",
        ),
        (
            json!({"secretId": "sec_two", "secretVersion": 1}),
            StatusCode::CONFLICT,
            "",
        ),
        (
            json!({"secretId": "sec_mail", "secretVersion": 0}),
            StatusCode::BAD_REQUEST,
            "secretVersion",
        ),
        (
            json!({"secretId": "a:b", "secretVersion": 1}),
            StatusCode::BAD_REQUEST,
            "secretId",
        ),
        (
            json!({"secretId": "sec_mail"}),
            StatusCode::BAD_REQUEST,
            "secretVersion",
        ),
    ] {
        let a = bind(body.clone()).await?;
        assert_eq!((a.status, a.field()), (status, field), "{body}: {}", a.body);
    }
    let a = api
        .call(
            Method::PUT,
            "/v1/integrations/int_none/secret",
            Some(&admin),
            Some(&json!({"secretId": "sec_mail", "secretVersion": 1})),
        )
        .await?;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let a = api
        .call(
            Method::PUT,
            path,
            Some(&operator),
            Some(&json!({"secretId": "sec_mail", "secretVersion": 2})),
        )
        .await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);

    let a = bind(json!({"secretId": "sec_mail", "secretVersion": 2})).await?;
    assert_eq!(a.body["secretVersion"], 2);
    assert_eq!(
        actors_of(&api, "integration.secret_bound").await?,
        vec![("admin@t_a".to_owned(), "t_a".to_owned()); 2]
    );
    Ok(())
}

#[tokio::test]
async fn the_execute_lookup_gates_and_resolves_the_template() -> TestResult {
    let api = Api::start().await?;
    let admin = integration_of_a(&api).await?;
    publish(&api, &admin, "tpl_mail", 2).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let w = workload(&api, "t_a", "api").await?;
    let path = format!("/v1/integrations/int_mail/execute-lookup?workloadId={w}");
    let a = api.get(&path, &operator).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["executable"], true);
    assert_eq!(a.body["executionStatus"], "executable");
    assert_eq!(a.body["workloadEnabled"], true);
    assert_eq!(a.body["integrationEnabled"], true);
    assert_eq!(a.body["templateId"], "tpl_mail");
    assert_eq!(a.body["templateVersion"], 2, "the latest active version");
    assert_eq!(a.body["template"]["version"], 2);
    assert_eq!(
        a.body["template"]["allowedHosts"],
        json!(["api.example.com"])
    );

    patch(
        &api,
        &admin,
        "/v1/integrations/int_mail",
        json!({"enabled": false}),
    )
    .await?;
    let a = api.get(&path, &operator).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["executable"], false);
    assert_eq!(a.body["executionStatus"], "integration_disabled");

    for (p, status, field) in [
        (
            "/v1/integrations/int_mail/execute-lookup".to_owned(),
            StatusCode::BAD_REQUEST,
            "workloadId",
        ),
        (
            "/v1/integrations/int_mail/execute-lookup?workloadId=a:b".to_owned(),
            StatusCode::BAD_REQUEST,
            "workloadId",
        ),
        (
            "/v1/integrations/int_mail/execute-lookup?workloadId=w_none".to_owned(),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            format!("/v1/integrations/int_none/execute-lookup?workloadId={w}"),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            format!("/v1/integrations/a:b/execute-lookup?workloadId={w}"),
            StatusCode::BAD_REQUEST,
            "integrationId",
        ),
    ] {
        let a = api.get(&p, &operator).await?;
        assert_eq!((a.status, a.field()), (status, field), "{p}: {}", a.body);
    }
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    assert_eq!(
        api.get(&path, &auditor).await?.status,
        StatusCode::FORBIDDEN
    );
    Ok(())
}

/// Tenant B's admin token on tenant A's integration: never seen, changed, bound or confirmed.
#[tokio::test]
async fn another_tenants_integrations_are_never_seen_changed_or_confirmed() -> TestResult {
    let api = Api::start().await?;
    let a_admin = integration_of_a(&api).await?;
    let w = write_version(&api, &a_admin, "sec_mail", "int_mail", &envelope()).await?;
    assert_eq!(w.status, StatusCode::CREATED, "{}", w.body);
    let b_admin = api.token(Some("t_b"), ApiTokenRole::Admin).await?;
    let b_workload = workload(&api, "t_b", "b-api").await?;
    let a_workload = workload(&api, "t_a", "a-api").await?;
    let lookup = format!("/v1/integrations/int_mail/execute-lookup?workloadId={b_workload}");
    let a_lookup = format!("/v1/integrations/int_mail/execute-lookup?workloadId={a_workload}");
    let routes: [(Method, &str, Option<Value>, StatusCode); 6] = [
        (Method::GET, "/v1/integrations", None, StatusCode::OK),
        (
            Method::GET,
            "/v1/integrations/int_mail",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            "/v1/integrations/int_mail",
            Some(json!({"enabled": false})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            "/v1/integrations/int_mail/secret",
            Some(json!({"secretId": "sec_mail", "secretVersion": 1})),
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, &lookup, None, StatusCode::NOT_FOUND),
        (Method::GET, &a_lookup, None, StatusCode::NOT_FOUND),
    ];
    for (method, path, body, expected) in routes {
        let a = api
            .call(method.clone(), path, Some(&b_admin), body.as_ref())
            .await?;
        assert_eq!(a.status, expected, "{method} {path}: {}", a.body);
        if a.status == StatusCode::OK {
            assert_eq!(a.body["items"], json!([]), "{path}");
            assert_eq!(a.body["total"], 0);
        }
    }
    // B's own integration cannot be bound to A's secret: it does not exist for B.
    publish(&api, &b_admin, "tpl_mail", 1).await?;
    create_integration(&api, &b_admin, "int_b", "mail").await?;
    let a = api
        .call(
            Method::PUT,
            "/v1/integrations/int_b/secret",
            Some(&b_admin),
            Some(&json!({"secretId": "sec_mail", "secretVersion": 1})),
        )
        .await?;
    assert_eq!(
        (a.status, a.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "secretVersion")
    );
    // A's integration is unchanged.
    let a = api.get("/v1/integrations/int_mail", &a_admin).await?;
    assert_eq!(a.body["enabled"], true);
    assert!(a.body.get("secretId").is_none());
    Ok(())
}

/// Every route of integrations, secrets, templates and policy rules is in the OpenAPI document
/// with its method, bearer security and the statuses every route can answer.
#[tokio::test]
async fn the_openapi_document_lists_every_route_of_these_modules() -> TestResult {
    let api = Api::start().await?;
    let doc: Value = api
        .http
        .get(format!("{}/openapi.json", api.base))
        .send()
        .await?
        .json()
        .await?;
    let routes = [
        ("get", "/v1/integrations"),
        ("post", "/v1/integrations"),
        ("get", "/v1/integrations/{integrationId}"),
        ("patch", "/v1/integrations/{integrationId}"),
        ("put", "/v1/integrations/{integrationId}/secret"),
        ("get", "/v1/integrations/{integrationId}/execute-lookup"),
        ("get", "/v1/secrets/{secretId}/versions"),
        ("post", "/v1/secrets/{secretId}/versions"),
        ("put", "/v1/secrets/{secretId}/active-version"),
        ("get", "/v1/templates"),
        ("get", "/v1/templates/{templateId}/versions"),
        ("post", "/v1/templates/{templateId}/versions"),
        ("get", "/v1/templates/{templateId}/versions/{version}"),
        ("post", "/v1/policy-rules"),
        ("get", "/v1/policy-rules/{policyId}"),
        ("post", "/v1/policy-rules/{policyId}/disable"),
        ("post", "/v1/policy-rules/match"),
    ];
    for (method, path) in routes {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
        for status in ["401", "403", "429", "503", "504"] {
            assert!(
                op["responses"][status].is_object(),
                "{method} {path} does not document {status}"
            );
        }
    }
    // The wire types are the server's own: camelCase, no secret material.
    let schemas = &doc["components"]["schemas"];
    let out = schemas["SecretVersionOut"]["properties"]
        .as_object()
        .ok_or("no SecretVersionOut")?;
    assert!(out.contains_key("keyId") && !out.contains_key("ciphertextB64"));
    assert!(schemas["CreateIntegrationIn"]["properties"]["secretType"].is_object());
    Ok(())
}

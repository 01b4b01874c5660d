//! `/v1/policy-rules`: create (normalized, audited, tenant from the token), get, disable
//! (audited), the descriptor match; errors, roles and tenant isolation.

use brokerdb::repo::api_tokens::ApiTokenRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::templates::actors_of;
use super::{Answer, Api, Error};
use crate::TestResult;

fn scope(extra: Value) -> Value {
    let mut s = json!({"integrationId": "int_1", "actionGroup": "send", "method": "POST",
                       "host": "api.example.com"});
    if let (Some(o), Some(e)) = (s.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    s
}

fn allow(id: &str, extra: Value) -> Value {
    json!({"policyId": id, "ruleType": "allow", "scope": scope(extra)})
}

fn descriptor(extra: Value) -> Value {
    let mut d = json!({"workloadId": "w_1", "integrationId": "int_1", "templateId": "tpl_mail",
        "templateVersion": 2, "method": "POST",
        "canonicalUrl": "https://API.Example.com:8443/v1/send?b=1&a=2",
        "matchedPathGroupId": "send", "normalizedHeaders": [{"name": "content-type", "value": "application/json"}],
        "queryKeys": ["b", "a"]});
    if let (Some(o), Some(e)) = (d.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    d
}

async fn create(api: &Api, token: &str, body: &Value) -> Result<Answer, Error> {
    api.call(Method::POST, "/v1/policy-rules", Some(token), Some(body))
        .await
}

async fn matching(api: &Api, token: &str, descriptor: Value) -> Result<Answer, Error> {
    api.call(
        Method::POST,
        "/v1/policy-rules/match",
        Some(token),
        Some(&json!({"descriptor": descriptor})),
    )
    .await
}

fn ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["policyId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn create_normalizes_returns_201_with_location_and_is_audited() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let a = create(
        &api,
        &admin,
        &json!({
            "ruleType": "approval_required",
            "scope": {"workloadId": " w_1 ", "integrationId": " int_1", "templateId": "",
                "actionGroup": "send ", "method": " patch ", "host": " Bücher.DE:443 ",
                "queryKeys": [" to", "cc "]},
            "constraints": {"recipientAllowlist": ["b@example.com", "a@example.com"],
                "recipientDomainAllowlist": ["Example.COM"], "requireMfaApproval": true,
                "maxBodyBytes": 1024, "allowedQueryKeys": ["z", "a"]}
        }),
    )
    .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let id = a.body["policyId"].as_str().ok_or("no id")?.to_owned();
    assert!(id.starts_with("pol_") && id.len() == 36, "{id}");
    assert_eq!(
        a.headers["location"],
        format!("/v1/policy-rules/{id}").as_str()
    );
    assert_eq!(
        a.body,
        json!({
            "policyId": id, "ruleType": "approval_required",
            "scope": {"tenantId": "t_a", "workloadId": "w_1", "integrationId": "int_1",
                "actionGroup": "send", "method": "PATCH", "host": "xn--bcher-kva.de",
                "queryKeys": ["cc", "to"]},
            "constraints": {"recipientAllowlist": ["a@example.com", "b@example.com"],
                "recipientDomainAllowlist": ["example.com"], "requireMfaApproval": true,
                "maxBodyBytes": 1024, "allowedQueryKeys": ["a", "z"]}
        })
    );
    let got = api.get(&format!("/v1/policy-rules/{id}"), &auditor).await?;
    assert_eq!((got.status, &got.body), (StatusCode::OK, &a.body));

    let rl = create(
        &api,
        &admin,
        &json!({"policyId": "pol_rl", "ruleType": "rate_limit", "scope": scope(json!({})),
                "rateLimit": {"maxRequests": 10, "intervalSeconds": 60}}),
    )
    .await?;
    assert_eq!(rl.status, StatusCode::CREATED, "{}", rl.body);
    assert_eq!(
        rl.body["rateLimit"],
        json!({"maxRequests": 10, "intervalSeconds": 60})
    );

    let events = api
        .db
        .admin()
        .await
        .query(
            "SELECT event_json->'metadata'->>'actor', event_json->'metadata'->>'policy_id'
             FROM audit_events WHERE event_json->'metadata'->>'action' = 'policy_rule.created'
             ORDER BY 2",
            &[],
        )
        .await?;
    let mut events: Vec<(String, String)> = events.iter().map(|r| (r.get(0), r.get(1))).collect();
    events.sort();
    let mut expected = vec![
        ("admin@t_a".to_owned(), id),
        ("admin@t_a".to_owned(), "pol_rl".to_owned()),
    ];
    expected.sort();
    assert_eq!(events, expected);
    Ok(())
}

#[tokio::test]
async fn create_refuses_a_tenant_in_the_body_invalid_rules_duplicates_and_lower_roles() -> TestResult
{
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    assert_eq!(
        create(&api, &admin, &allow("pol_1", json!({})))
            .await?
            .status,
        StatusCode::CREATED
    );
    let rate = json!({"maxRequests": 1, "intervalSeconds": 1});
    let cases: [(Value, StatusCode, &str); 10] = [
        (
            allow("pol_2", json!({"tenantId": "t_b"})),
            StatusCode::BAD_REQUEST,
            "scope.tenantId",
        ),
        (
            allow("pol_2", json!({"method": "TRACE"})),
            StatusCode::BAD_REQUEST,
            "scope.method",
        ),
        (
            allow("pol_2", json!({"host": "a b"})),
            StatusCode::BAD_REQUEST,
            "scope.host",
        ),
        (
            allow("pol_2", json!({"integrationId": " "})),
            StatusCode::BAD_REQUEST,
            "scope.integrationId",
        ),
        (
            allow("pol_2", json!({"templateVersion": 0})),
            StatusCode::BAD_REQUEST,
            "scope.templateVersion",
        ),
        (allow("a:b", json!({})), StatusCode::BAD_REQUEST, "policyId"),
        (
            json!({"policyId": "pol_2", "ruleType": "allow", "scope": scope(json!({})), "rateLimit": rate}),
            StatusCode::BAD_REQUEST,
            "rateLimit",
        ),
        (
            json!({"policyId": "pol_2", "ruleType": "rate_limit", "scope": scope(json!({}))}),
            StatusCode::BAD_REQUEST,
            "rateLimit",
        ),
        (
            json!({"policyId": "pol_2", "ruleType": "allow", "scope": scope(json!({})),
                   "constraints": {"maxBodyBytes": -1}}),
            StatusCode::BAD_REQUEST,
            "constraints.maxBodyBytes",
        ),
        (allow("pol_1", json!({})), StatusCode::CONFLICT, "policyId"),
    ];
    for (body, status, field) in cases {
        let a = create(&api, &admin, &body).await?;
        assert_eq!((a.status, a.field()), (status, field), "{body}: {}", a.body);
    }
    let a = create(
        &api,
        &admin,
        &json!({"ruleType": "allow", "scope": scope(json!({})), "tenantId": "t_a"}),
    )
    .await?;
    assert_eq!((a.status, a.field()), (StatusCode::BAD_REQUEST, "tenantId"));
    for role in [ApiTokenRole::Auditor, ApiTokenRole::Operator] {
        let token = api.token(Some("t_a"), role).await?;
        let a = create(&api, &token, &allow("pol_3", json!({}))).await?;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));
    }
    assert_eq!(actors_of(&api, "policy_rule.created").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn disabling_hides_the_rule_is_idempotent_and_audited() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    create(&api, &admin, &allow("pol_1", json!({}))).await?;
    let disable = |id: &'static str, token: String| {
        let api = &api;
        async move {
            api.call(
                Method::POST,
                &format!("/v1/policy-rules/{id}/disable"),
                Some(&token),
                None,
            )
            .await
        }
    };
    let a = disable("pol_1", operator.clone()).await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        api.get("/v1/policy-rules/pol_1", &operator).await?.status,
        StatusCode::OK
    );
    for _ in 0..2 {
        let a = disable("pol_1", admin.clone()).await?;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    }
    let a = api.get("/v1/policy-rules/pol_1", &admin).await?;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"));
    let a = disable("pol_none", admin.clone()).await?;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = disable("a:b", admin.clone()).await?;
    assert_eq!((a.status, a.field()), (StatusCode::BAD_REQUEST, "policyId"));
    let a = api.get("/v1/policy-rules/a:b", &admin).await?;
    assert_eq!((a.status, a.field()), (StatusCode::BAD_REQUEST, "policyId"));
    let a = matching(&api, &operator, descriptor(json!({}))).await?;
    assert_eq!(
        ids(&a.body),
        Vec::<String>::new(),
        "a disabled rule never matches"
    );
    assert_eq!(
        actors_of(&api, "policy_rule.disabled").await?,
        vec![("admin@t_a".to_owned(), "t_a".to_owned()); 2]
    );
    Ok(())
}

#[tokio::test]
async fn match_returns_the_matching_rules_most_specific_first() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    for body in [
        allow("pol_any", json!({})),
        allow("pol_w", json!({"workloadId": "w_1"})),
        allow(
            "pol_wq",
            json!({"workloadId": "w_1", "queryKeys": ["a", "b"]}),
        ),
        allow("pol_other_w", json!({"workloadId": "w_2"})),
        allow("pol_get", json!({"method": "GET"})),
    ] {
        let a = create(&api, &admin, &body).await?;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }
    let a = matching(&api, &operator, descriptor(json!({}))).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(ids(&a.body), ["pol_wq", "pol_w", "pol_any"]);
    assert_eq!(a.body["items"][0]["scope"]["queryKeys"], json!(["a", "b"]));

    for (d, field) in [
        (
            descriptor(json!({"tenantId": "t_a"})),
            "descriptor.tenantId",
        ),
        (descriptor(json!({"method": "post"})), "descriptor.method"),
        (
            descriptor(json!({"canonicalUrl": "not a url"})),
            "descriptor.canonicalUrl",
        ),
        (
            descriptor(json!({"templateVersion": 0})),
            "descriptor.templateVersion",
        ),
        (
            descriptor(json!({"queryKeys": ["a", "a"]})),
            "descriptor.queryKeys[1]",
        ),
    ] {
        let a = matching(&api, &operator, d.clone()).await?;
        assert_eq!(
            (a.status, a.field()),
            (StatusCode::BAD_REQUEST, field),
            "{d}: {}",
            a.body
        );
    }
    let mut no_keys = descriptor(json!({}));
    if let Some(o) = no_keys.as_object_mut() {
        o.remove("queryKeys");
    }
    let a = matching(&api, &operator, no_keys).await?;
    assert_eq!(
        (a.status, a.field()),
        (StatusCode::BAD_REQUEST, "descriptor.queryKeys")
    );
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let a = matching(&api, &auditor, descriptor(json!({}))).await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    Ok(())
}

/// Tenant B's admin token on tenant A's rules: never read, disabled or matched.
#[tokio::test]
async fn another_tenants_rules_are_never_seen_disabled_or_matched() -> TestResult {
    let api = Api::start().await?;
    let a_admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let b_admin = api.token(Some("t_b"), ApiTokenRole::Admin).await?;
    create(&api, &a_admin, &allow("pol_a", json!({}))).await?;
    let routes: [(Method, &str, Option<Value>, StatusCode); 3] = [
        (
            Method::GET,
            "/v1/policy-rules/pol_a",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/v1/policy-rules/pol_a/disable",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/v1/policy-rules/match",
            Some(json!({"descriptor": descriptor(json!({}))})),
            StatusCode::OK,
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
    // A's rule is still enabled and matches for A.
    let a = api.get("/v1/policy-rules/pol_a", &a_admin).await?;
    assert_eq!(a.status, StatusCode::OK);
    let a = matching(&api, &a_admin, descriptor(json!({}))).await?;
    assert_eq!(ids(&a.body), ["pol_a"]);
    assert!(actors_of(&api, "policy_rule.disabled").await?.is_empty());
    Ok(())
}

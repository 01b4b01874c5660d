//! The cached read routes answer a write made through the API at once: every write route
//! busts the read cache after its commit.

use brokerdb::model::TenantId;
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::workloads::{self, EnrollmentMode, WorkloadCreateRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::integrations::integration_of_a;
use super::templates::publish;
use super::{Answer, Api, Error};
use crate::TestResult;

async fn put_roles(api: &Api, token: &str, user: &str, roles: Value) -> Result<Answer, Error> {
    api.call(
        Method::PUT,
        &format!("/v1/users/{user}/roles"),
        Some(token),
        Some(&json!({ "roles": roles })),
    )
    .await
}

#[tokio::test]
async fn a_cached_user_shows_new_roles_and_a_created_user_at_once() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;

    // Unknown first: the "not found" is cached…
    for _ in 0..2 {
        let a = api.get("/v1/users/u_cached", &auditor).await?;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
    }
    // …and creating the user busts it.
    let created = api
        .call(
            Method::POST,
            "/v1/users",
            Some(&admin),
            Some(&json!({"userId": "u_cached", "email": "c@example.com", "roles": ["auditor"]})),
        )
        .await?;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let a = api.get("/v1/users/u_cached", &auditor).await?;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["roles"], json!(["auditor"]));
    // Cached now; replacing the roles busts it.
    assert_eq!(
        api.get("/v1/users/u_cached", &auditor).await?.body["roles"],
        json!(["auditor"])
    );
    let put = put_roles(&api, &admin, "u_cached", json!(["operator", "admin"])).await?;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let a = api.get("/v1/users/u_cached", &auditor).await?;
    assert_eq!(a.body["roles"], json!(["admin", "operator"]));
    Ok(())
}

fn descriptor() -> Value {
    json!({"descriptor": {"workloadId": "w_1", "integrationId": "int_1", "templateId": "tpl_mail",
        "templateVersion": 2, "method": "POST",
        "canonicalUrl": "https://api.example.com/v1/send?a=1",
        "matchedPathGroupId": "send", "normalizedHeaders": [], "queryKeys": ["a"]}})
}

async fn matched(api: &Api, token: &str) -> Result<Vec<String>, Error> {
    let a = api
        .call(
            Method::POST,
            "/v1/policy-rules/match",
            Some(token),
            Some(&descriptor()),
        )
        .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    Ok(a.body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|r| r["policyId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

#[tokio::test]
async fn a_cached_policy_match_shows_a_created_and_a_disabled_rule_at_once() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    assert!(matched(&api, &operator).await?.is_empty());
    assert!(matched(&api, &operator).await?.is_empty());
    let rule = json!({"policyId": "pol_c", "ruleType": "allow", "scope": {"integrationId": "int_1",
        "actionGroup": "send", "method": "POST", "host": "api.example.com"}});
    let c = api
        .call(Method::POST, "/v1/policy-rules", Some(&admin), Some(&rule))
        .await?;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    assert_eq!(matched(&api, &operator).await?, ["pol_c"]);
    assert_eq!(matched(&api, &operator).await?, ["pol_c"]);
    let d = api
        .call(
            Method::POST,
            "/v1/policy-rules/pol_c/disable",
            Some(&admin),
            None,
        )
        .await?;
    assert_eq!(d.status, StatusCode::NO_CONTENT, "{}", d.body);
    assert!(matched(&api, &operator).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_published_version_is_read_at_once_with_its_outbox_row_written_alongside() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let path = "/v1/templates/tpl_mail/versions/1";
    assert_eq!(api.get(path, &auditor).await?.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get(path, &auditor).await?.status, StatusCode::NOT_FOUND);
    let p = publish(&api, &admin, "tpl_mail", 1).await?;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let a = api.get(path, &auditor).await?;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["version"], 1);

    let rows = api
        .db
        .admin()
        .await
        .query(
            "SELECT tenant_id, template_id, version, status::text, payload_json
               FROM template_invalidation_outbox ORDER BY version",
            &[],
        )
        .await?;
    assert_eq!(rows.len(), 1, "one outbox row per published version");
    let (tenant, template, version, status, payload): (String, String, i32, String, Value) = (
        rows[0].try_get(0)?,
        rows[0].try_get(1)?,
        rows[0].try_get(2)?,
        rows[0].try_get(3)?,
        rows[0].try_get(4)?,
    );
    assert_eq!(
        (tenant.as_str(), template.as_str(), version),
        ("t_a", "tpl_mail", 1)
    );
    assert_eq!(status, "pending");
    assert_eq!(payload["template_id"], "tpl_mail");
    assert_eq!(payload["tenant_id"], "t_a");

    // A refused publication (version not above the latest) writes no outbox row.
    let again = publish(&api, &admin, "tpl_mail", 1).await?;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let n: i64 = api
        .db
        .admin()
        .await
        .query_one("SELECT count(*) FROM template_invalidation_outbox", &[])
        .await?
        .try_get(0)?;
    assert_eq!(n, 1);
    Ok(())
}

#[tokio::test]
async fn a_cached_execute_lookup_follows_versions_workloads_and_integrations_at_once() -> TestResult
{
    let api = Api::start().await?;
    let admin = integration_of_a(&api).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    // Not there yet: the "not found" is cached, then the workload route busts it.
    let missing = "/v1/integrations/int_mail/execute-lookup?workloadId=w_new";
    assert_eq!(
        api.get(missing, &operator).await?.status,
        StatusCode::NOT_FOUND
    );
    let w = api
        .call(
            Method::POST,
            "/v1/workloads",
            Some(&admin),
            Some(&json!({"workloadId": "w_new", "name": "new", "enrollmentMode": "broker_ca"})),
        )
        .await?;
    assert_eq!(w.status, StatusCode::CREATED, "{}", w.body);
    let a = api.get(missing, &operator).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["templateVersion"], 1);

    // A workload written around the API: its writer busts the cache after the commit.
    let t = TenantId::parse("t_a")?;
    let other = workloads::create(
        &mut api.handle.tenant(&t),
        &WorkloadCreateRequest {
            name: "api".into(),
            ip_allowlist: None,
            enrollment_mode: EnrollmentMode::BrokerCa,
        },
        None,
        None,
    )
    .await?;
    api.cache
        .invalidate(&t, brokerdb_cache::Resource::ExecuteLookup)
        .await?;
    let path = format!(
        "/v1/integrations/int_mail/execute-lookup?workloadId={}",
        other.workload_id
    );
    assert_eq!(api.get(&path, &operator).await?.body["templateVersion"], 1);

    publish(&api, &admin, "tpl_mail", 2).await?;
    assert_eq!(api.get(&path, &operator).await?.body["templateVersion"], 2);

    let patched = api
        .call(
            Method::PATCH,
            &format!("/v1/workloads/{}", other.workload_id),
            Some(&admin),
            Some(&json!({"enabled": false})),
        )
        .await?;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let a = api.get(&path, &operator).await?;
    assert_eq!(a.body["executionStatus"], "workload_disabled");
    Ok(())
}

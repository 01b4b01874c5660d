//! Bad input at scale (issue 18, item 6) through the HTTP API: bodies (mutations of valid ones,
//! arbitrary JSON, raw bytes) and query strings (arbitrary parameters, garbage cursors) against
//! real routes. Whatever a client sends, the answer is a success or a 4xx error envelope naming
//! a field: never a 5xx, a dropped connection or a panic. Cases are drawn from proptest
//! strategies inside the async test (no shrinking; a failure prints its input).

use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_testkit::props::{hostile_string, json, mutated};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json as j};

use super::{Api, answer};
use crate::TestResult;

/// Cases per route: each is one HTTP round trip (and maybe a write).
const CASES: usize = 500;

/// `n` values of `strategy`.
fn sample<S: Strategy>(strategy: S, n: usize) -> Result<Vec<S::Value>, String> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .map(|t| t.current())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Bodies for one route: mostly mutations of a valid body, some arbitrary JSON, some bytes.
fn bodies(valid: Value) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => mutated(valid).prop_map(|v| v.to_string().into_bytes()),
        1 => json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..48),
        1 => hostile_string().prop_map(|s| format!("{{\"s\": {}}}", Value::from(s)).into_bytes()),
    ]
}

/// A 4xx answer is the error envelope with a code (and a message).
fn acceptable(status: StatusCode, body: &Value) -> bool {
    status.is_success()
        || (status.is_client_error()
            && body["error"]["code"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
            && body["error"]["message"].as_str().is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_body_on_the_write_routes_is_a_success_or_a_4xx_envelope() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let descriptor = j!({"workloadId": "w_1", "integrationId": "int_1", "templateId": "tpl_mail",
        "templateVersion": 2, "method": "POST", "canonicalUrl": "https://api.example.com/v3/send",
        "matchedPathGroupId": "send", "normalizedHeaders": [{"name": "x-id", "value": "1"}],
        "queryKeys": ["q"]});
    let routes: Vec<(&str, Value)> = vec![
        (
            "/v1/users",
            j!({"userId": "u_alice", "email": "Alice@Example.com",
            "roles": ["operator", "admin"], "displayName": "Alice"}),
        ),
        (
            "/v1/workloads",
            j!({"workloadId": "w_api", "name": "billing api",
            "enrollmentMode": "broker_ca", "ipAllowlist": ["10.0.0.0/8", " 192.168.1.7 "]}),
        ),
        (
            "/v1/approvals",
            j!({"descriptor": descriptor, "actionGroup": "send", "riskTier": "high",
            "expiresAt": "2999-01-01T00:00:00Z"}),
        ),
        (
            "/v1/projects",
            j!({"name": "JIVE", "repoUrl": "https://github.com/example/jive",
            "webhookSecret": "s3cret", "config": {"prdFile": "docs/prd.md"}}),
        ),
    ];
    for (path, valid) in routes {
        let url = format!("{}{path}", api.base);
        for body in sample(bodies(valid), CASES)? {
            let response = api
                .http
                .post(&url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await?;
            let a = answer(response).await?;
            assert!(
                acceptable(a.status, &a.body),
                "POST {path} {:?} → {} {}",
                String::from_utf8_lossy(&body),
                a.status,
                a.body
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_query_on_the_list_routes_is_a_success_or_a_4xx_envelope() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let name = prop::sample::select(vec![
        "page",
        "pageSize",
        "q",
        "isActive",
        "roleId",
        "createdFrom",
        "createdTo",
        "sortField",
        "sortDirection",
        "limit",
        "cursor",
        "decision",
        "timeMin",
        "timeMax",
        "workloadId",
        "type",
        "updatedSince",
        "unknown",
    ]);
    let value = prop_oneof![
        hostile_string(),
        "-?[0-9]{1,22}",
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,44}",
        Just("2026-02-13T00:00:00Z".to_owned()),
        Just("2026-02-13".to_owned()),
    ];
    let queries = prop::collection::vec((name, value), 0..4).prop_map(|pairs| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    });
    for path in [
        "/v1/users",
        "/v1/workloads",
        "/v1/audit/events",
        "/v1/projects",
    ] {
        for query in sample(queries.clone(), CASES)? {
            let a = api
                .call(Method::GET, &format!("{path}?{query}"), Some(&token), None)
                .await?;
            assert!(
                acceptable(a.status, &a.body),
                "GET {path}?{query} → {} {}",
                a.status,
                a.body
            );
        }
    }
    Ok(())
}

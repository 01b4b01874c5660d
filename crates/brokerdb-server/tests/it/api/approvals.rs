//! `/v1/approvals`: create with its audit event and in-flight dedupe, list, get, transitions
//! (the state table, exactly one winner among concurrent deciders), roles and tenant isolation.

use brokerdb::model::CanonicalRequestDescriptor;
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_redis::ConnSettings;
use brokerdb_redis::canonicalizer::{ApprovalOnceEntry, CanonicalizerCache, CanonicalizerOptions};
use brokerdb_server::config::RedisEndpoint;
use brokerdb_server::services::Redis;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Answer, Api, Error};
use crate::TestResult;

/// A descriptor body (no tenant: the token's) of `workload`'s Gmail send.
pub fn descriptor(workload: &str) -> Value {
    json!({"workloadId": workload, "integrationId": "int_gmail", "templateId": "tpl_gmail",
        "templateVersion": 1, "method": "POST",
        "canonicalUrl": "https://Gmail.GoogleAPIs.com:443/gmail/v1/users/me/messages/send",
        "matchedPathGroupId": "gmail_send",
        "normalizedHeaders": [{"name": "content-type", "value": "application/json"}],
        "queryKeys": [], "bodySha256Base64": null})
}

/// A create body for `workload`'s Gmail send, expiring far in the future.
pub fn new_approval(workload: &str) -> Value {
    json!({"descriptor": descriptor(workload), "actionGroup": "gmail_send", "riskTier": "high",
        "expiresAt": "2999-01-01T00:00:00Z"})
}

/// Creates an approval as `token`; returns its id.
pub async fn create(api: &Api, token: &str, body: &Value) -> Result<String, Error> {
    let a = api
        .call(Method::POST, "/v1/approvals", Some(token), Some(body))
        .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    Ok(a.body["approvalId"]
        .as_str()
        .ok_or("no approvalId")?
        .to_owned())
}

async fn transition(api: &Api, token: &str, id: &str, body: Value) -> Result<Answer, Error> {
    api.call(
        Method::POST,
        &format!("/v1/approvals/{id}/transition"),
        Some(token),
        Some(&body),
    )
    .await
}

/// `(event_type, actor, action)` of the audit events about approval `id`, oldest first.
async fn events_of(api: &Api, id: &str) -> Result<Vec<(String, String, String)>, Error> {
    let rows = api
        .db
        .admin()
        .await
        .query(
            "SELECT event_type::text, event_json->'metadata'->>'actor', event_json->'metadata'->>'action'
             FROM audit_events WHERE event_json->'metadata'->>'approval_id' = $1
             ORDER BY created_at, event_id",
            &[&id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The library's descriptor that [`descriptor`]`(workload)` is in `tenant`.
fn model(tenant: &str, workload: &str) -> Result<CanonicalRequestDescriptor, Error> {
    Ok(serde_json::from_value(json!({
        "tenant_id": tenant, "workload_id": workload, "integration_id": "int_gmail",
        "template_id": "tpl_gmail", "template_version": 1, "method": "POST",
        "canonical_url": "https://Gmail.GoogleAPIs.com:443/gmail/v1/users/me/messages/send",
        "matched_path_group_id": "gmail_send",
        "normalized_headers": [{"name": "content-type", "value": "application/json"}],
        "query_keys": [], "body_sha256_base64": null}))?)
}

#[tokio::test]
async fn create_returns_201_with_location_and_writes_approval_created_in_the_same_transaction()
-> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let a = api
        .call(
            Method::POST,
            "/v1/approvals",
            Some(&token),
            Some(&new_approval("w_1")),
        )
        .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let id = a.body["approvalId"].as_str().ok_or("no id")?.to_owned();
    assert!(id.starts_with("apr_") && id.len() == 36, "{id}");
    assert_eq!(
        a.headers["location"],
        format!("/v1/approvals/{id}").as_str()
    );
    assert_eq!(a.body["tenantId"], "t_a");
    assert_eq!(a.body["status"], "pending");
    assert_eq!(a.body["expiresAt"], "2999-01-01T00:00:00.000Z");
    assert_eq!(
        a.body["summary"],
        json!({"integrationId": "int_gmail", "actionGroup": "gmail_send", "riskTier": "high",
            "destinationHost": "gmail.googleapis.com", "method": "POST",
            "path": "/gmail/v1/users/me/messages/send"}),
        "the summary is the descriptor's request"
    );
    // The descriptor comes back as given: `null` kept, absent stays absent.
    assert_eq!(a.body["descriptor"], descriptor("w_1"));
    assert_eq!(
        a.body["descriptorSha256"],
        model("t_a", "w_1")?.sha256().as_str()
    );
    assert_eq!(
        a.body["correlationId"],
        a.headers["x-request-id"].to_str()?,
        "the correlation id is the request id"
    );
    let got = api.get(&format!("/v1/approvals/{id}"), &token).await?;
    assert_eq!((got.status, &got.body), (StatusCode::OK, &a.body));

    assert_eq!(
        events_of(&api, &id).await?,
        [(
            "approval_created".to_owned(),
            "operator@t_a".to_owned(),
            "approval.created".to_owned()
        )]
    );
    let row = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT tenant_id, workload_id, integration_id, action_group, risk_tier::text
             FROM audit_events WHERE event_json->'metadata'->>'approval_id' = $1",
            &[&id],
        )
        .await?;
    let cols: (String, String, String, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(
        cols,
        (
            "t_a".into(),
            "w_1".into(),
            "int_gmail".into(),
            "gmail_send".into(),
            "high".into()
        )
    );
    Ok(())
}

#[tokio::test]
async fn a_second_create_of_an_in_flight_descriptor_is_409_pointing_at_the_in_flight_one()
-> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let first = create(&api, &token, &new_approval("w_1")).await?;

    let dup = api
        .call(
            Method::POST,
            "/v1/approvals",
            Some(&token),
            Some(&new_approval("w_1")),
        )
        .await?;
    assert_eq!(
        (dup.status, dup.code(), dup.field()),
        (StatusCode::CONFLICT, "unique_violation", "descriptor")
    );
    assert_eq!(
        dup.headers["location"],
        format!("/v1/approvals/{first}").as_str()
    );
    // The envelope says nothing about the existing approval or the request.
    let text = dup.body.to_string();
    for secret in [first.as_str(), "gmail", "w_1", "apr_"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(
        dup.body["error"]
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec![
            "code".to_owned(),
            "field".to_owned(),
            "message".to_owned(),
            "requestId".to_owned()
        ])
    );
    let created: i64 = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM audit_events WHERE event_type = 'approval_created'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(created, 1, "the refused create left an audit event");

    // Another request (the body hash absent instead of null) is another key.
    let mut other = new_approval("w_1");
    other["descriptor"]
        .as_object_mut()
        .ok_or("not an object")?
        .remove("bodySha256Base64");
    create(&api, &token, &other).await?;

    // Approved is still in flight; executed frees the key.
    let a = transition(&api, &token, &first, json!({"to": "approved"})).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let dup = api
        .call(
            Method::POST,
            "/v1/approvals",
            Some(&token),
            Some(&new_approval("w_1")),
        )
        .await?;
    assert_eq!(
        (dup.status, dup.code()),
        (StatusCode::CONFLICT, "unique_violation")
    );
    assert_eq!(
        dup.headers["location"],
        format!("/v1/approvals/{first}").as_str()
    );
    let a = transition(&api, &token, &first, json!({"to": "executed"})).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let again = create(&api, &token, &new_approval("w_1")).await?;
    assert_ne!(again, first);
    Ok(())
}

#[tokio::test]
async fn bad_create_bodies_are_400_naming_the_field_without_echoing_it() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let with = |path: &[&str], value: Value| -> Result<Value, Error> {
        let mut body = new_approval("w_1");
        let (last, parents) = path.split_last().ok_or("empty path")?;
        let mut at = &mut body;
        for p in parents {
            at = &mut at[*p];
        }
        at.as_object_mut()
            .ok_or("not an object")?
            .insert((*last).to_owned(), value);
        Ok(body)
    };
    let cases = [
        (
            with(&["descriptor", "tenantId"], json!("t_b"))?,
            "descriptor.tenantId",
        ),
        (with(&["tenantId"], json!("t_b"))?, "tenantId"),
        (
            with(&["descriptor", "method"], json!("post"))?,
            "descriptor.method",
        ),
        (
            with(&["descriptor", "canonicalUrl"], json!("not-a-url-SECRET"))?,
            "descriptor.canonicalUrl",
        ),
        (
            with(&["descriptor", "templateVersion"], json!(0))?,
            "descriptor.templateVersion",
        ),
        (
            with(&["descriptor", "workloadId"], json!(" w_1"))?,
            "descriptor.workloadId",
        ),
        (
            with(&["descriptor", "integrationId"], json!("bad id SECRET"))?,
            "descriptor.integrationId",
        ),
        (
            with(&["expiresAt"], json!("2000-01-01T00:00:00Z"))?,
            "expiresAt",
        ),
        (with(&["expiresAt"], json!("tomorrow SECRET"))?, "expiresAt"),
        (with(&["riskTier"], json!("extreme-SECRET"))?, "riskTier"),
        (with(&["actionGroup"], json!(""))?, "actionGroup"),
        (with(&["approvalId"], json!("apr_mine"))?, "approvalId"),
    ];
    for (body, field) in cases {
        let a = api
            .call(Method::POST, "/v1/approvals", Some(&token), Some(&body))
            .await?;
        assert_eq!(
            (a.status, a.code(), a.field()),
            (StatusCode::BAD_REQUEST, "validation_error", field),
            "{body}"
        );
        assert!(!a.body.to_string().contains("SECRET"), "{}", a.body);
    }
    let mut missing = new_approval("w_1");
    missing["descriptor"]
        .as_object_mut()
        .ok_or("not an object")?
        .remove("workloadId");
    let a = api
        .call(Method::POST, "/v1/approvals", Some(&token), Some(&missing))
        .await?;
    assert_eq!(
        (a.status, a.field()),
        (StatusCode::BAD_REQUEST, "descriptor.workloadId")
    );
    let count: i64 = api
        .db
        .admin()
        .await
        .query_one("SELECT count(*) FROM approval_requests", &[])
        .await?
        .get(0);
    assert_eq!(count, 0);
    Ok(())
}

#[tokio::test]
async fn list_filters_by_status_and_limits_and_get_answers_400_and_404() -> TestResult {
    let api = Api::start().await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let mut ids = Vec::new();
    for w in ["w_1", "w_2", "w_3"] {
        ids.push(create(&api, &operator, &new_approval(w)).await?);
    }
    let a = transition(&api, &operator, &ids[1], json!({"to": "denied"})).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let listed = |a: &Answer| -> Vec<String> {
        a.body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["approvalId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (query, expected) in [
        ("", vec![2, 1, 0]),
        ("?status=pending", vec![2, 0]),
        ("?status=denied", vec![1]),
        ("?status=executed", vec![]),
        ("?limit=1", vec![2]),
        ("?status=pending&limit=1", vec![2]),
    ] {
        let a = api.get(&format!("/v1/approvals{query}"), &auditor).await?;
        assert_eq!(a.status, StatusCode::OK, "{query}: {}", a.body);
        let expected: Vec<String> = expected
            .into_iter()
            .map(|i: usize| ids[i].clone())
            .collect();
        assert_eq!(listed(&a), expected, "{query}");
    }
    for (query, field) in [
        ("?status=open", "status"),
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=ten", "limit"),
        ("?tenantId=t_b", "tenantId"),
        ("?cursor=x", "cursor"),
    ] {
        let a = api.get(&format!("/v1/approvals{query}"), &auditor).await?;
        assert_eq!(
            (a.status, a.field()),
            (StatusCode::BAD_REQUEST, field),
            "{query}: {}",
            a.body
        );
    }
    let a = api.get("/v1/approvals/bad%20id", &auditor).await?;
    assert_eq!(
        (a.status, a.code(), a.field()),
        (StatusCode::BAD_REQUEST, "validation_error", "approvalId")
    );
    let a = api.get("/v1/approvals/apr_missing", &auditor).await?;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"));
    Ok(())
}

#[tokio::test]
async fn transitions_follow_the_state_table_and_each_change_is_audited() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let id = create(&api, &token, &new_approval("w_1")).await?;

    // Not from pending: executed; never back to pending.
    let a = transition(&api, &token, &id, json!({"to": "executed"})).await?;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "state_transition_invalid")
    );
    let a = transition(&api, &token, &id, json!({"to": "pending"})).await?;
    assert_eq!(
        (a.status, a.code(), a.field()),
        (StatusCode::BAD_REQUEST, "validation_error", "to")
    );

    let a = transition(
        &api,
        &token,
        &id,
        json!({"to": "approved", "reason": "looks fine"}),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        (a.body["approvalId"].as_str(), a.body["status"].as_str()),
        (Some(id.as_str()), Some("approved"))
    );
    // The same move again changes nothing: 409, no second event.
    let a = transition(&api, &token, &id, json!({"to": "approved"})).await?;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "state_transition_invalid")
    );
    for to in ["denied", "canceled", "expired"] {
        let a = transition(&api, &token, &id, json!({"to": to})).await?;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::CONFLICT, "state_transition_invalid"),
            "approved → {to}"
        );
    }
    let a = transition(&api, &token, &id, json!({"to": "executed"})).await?;
    assert_eq!(
        (a.status, &a.body["status"]),
        (StatusCode::OK, &json!("executed"))
    );
    let a = transition(&api, &token, &id, json!({"to": "executed"})).await?;
    assert_eq!(a.status, StatusCode::CONFLICT, "executed once only");

    assert_eq!(
        events_of(&api, &id).await?,
        [
            (
                "approval_created".into(),
                "operator@t_a".into(),
                "approval.created".into()
            ),
            (
                "approval_decided".into(),
                "operator@t_a".into(),
                "approval.approved".into()
            ),
            (
                "approval_decided".into(),
                "operator@t_a".into(),
                "approval.executed".into()
            ),
        ]
    );
    let reason: Option<String> = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT event_json->'metadata'->>'reason' FROM audit_events
             WHERE event_json->'metadata'->>'action' = 'approval.approved'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(reason.as_deref(), Some("looks fine"));

    // Every terminal state refuses every move.
    for (end, then) in [
        ("denied", "approved"),
        ("canceled", "denied"),
        ("expired", "canceled"),
    ] {
        let other = create(&api, &token, &new_approval(&format!("w_{end}"))).await?;
        let a = transition(&api, &token, &other, json!({"to": end})).await?;
        assert_eq!(a.status, StatusCode::OK, "{end}: {}", a.body);
        let a = transition(&api, &token, &other, json!({"to": then})).await?;
        assert_eq!(a.status, StatusCode::CONFLICT, "{end} → {then}");
    }

    // Bad input (on a pending approval, so only the input is at fault).
    let pending = create(&api, &token, &new_approval("w_pending")).await?;
    let path = format!("/v1/approvals/{pending}/transition");
    let path = path.as_str();
    for (path, body, status, field) in [
        (
            "/v1/approvals/apr_missing/transition",
            json!({"to": "approved"}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "/v1/approvals/bad%20id/transition",
            json!({"to": "approved"}),
            StatusCode::BAD_REQUEST,
            "approvalId",
        ),
        (path, json!({"to": "maybe"}), StatusCode::BAD_REQUEST, "to"),
        (path, json!({}), StatusCode::BAD_REQUEST, "to"),
        (
            path,
            json!({"to": "denied", "decidedAt": "2020-01-01T00:00:00Z"}),
            StatusCode::BAD_REQUEST,
            "decidedAt",
        ),
        (
            path,
            json!({"to": "denied", "tenantId": "t_b"}),
            StatusCode::BAD_REQUEST,
            "tenantId",
        ),
        (
            path,
            json!({"to": "denied", "reason": "x".repeat(501)}),
            StatusCode::BAD_REQUEST,
            "reason",
        ),
    ] {
        let a = api
            .call(Method::POST, path, Some(&token), Some(&body))
            .await?;
        assert_eq!((a.status, a.field()), (status, field), "{path} {body}");
    }
    let got = api.get(&format!("/v1/approvals/{pending}"), &token).await?;
    assert_eq!(got.body["status"], "pending", "no bad request changed it");
    Ok(())
}

#[tokio::test]
async fn of_ten_concurrent_deciders_exactly_one_gets_200() -> TestResult {
    let api = Api::start().await?;
    let approver = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let denier = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let id = create(&api, &approver, &new_approval("w_race")).await?;
    let url = format!("{}/v1/approvals/{id}/transition", api.base);
    let calls = (0..10).map(|i| {
        let (token, to) = if i % 2 == 0 {
            (&approver, "approved")
        } else {
            (&denier, "denied")
        };
        let req = api
            .http
            .post(&url)
            .bearer_auth(token)
            .json(&json!({"to": to}));
        async move { super::answer(req.send().await?).await }
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut winners = Vec::new();
    for a in answers {
        let a = a?;
        match a.status {
            StatusCode::OK => {
                winners.push(a.body["status"].as_str().unwrap_or_default().to_owned())
            }
            StatusCode::CONFLICT => assert_eq!(a.code(), "state_transition_invalid"),
            other => return Err(format!("unexpected {other}: {}", a.body).into()),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let got = api.get(&format!("/v1/approvals/{id}"), &approver).await?;
    assert_eq!(got.body["status"].as_str(), Some(winners[0].as_str()));
    let decided: i64 = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM audit_events WHERE event_type = 'approval_decided'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(decided, 1, "one decision, one event");
    Ok(())
}

#[tokio::test]
async fn a_decision_removes_the_approve_once_cache_entry() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    // A workload no other test uses: the test Redis is shared.
    let workload = format!("w_cache_{}", uuid::Uuid::new_v4().simple());
    let created = api
        .call(
            Method::POST,
            "/v1/approvals",
            Some(&token),
            Some(&new_approval(&workload)),
        )
        .await?;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["approvalId"]
        .as_str()
        .ok_or("no id")?
        .to_owned();
    let d = model("t_a", &workload)?;
    assert_eq!(created.body["descriptorSha256"], d.sha256().as_str());

    let r = brokerdb_testkit::redis().await;
    let conn = Redis {
        endpoint: RedisEndpoint::parse(r.url(), None)?,
        embedded: None,
    }
    .connect(ConnSettings::default())
    .await?;
    let cache = CanonicalizerCache::new(conn, CanonicalizerOptions::default())?;
    let entry = ApprovalOnceEntry {
        approval_id: id.clone(),
        status: brokerdb::model::ApprovalStatus::Pending,
        expires_at: brokerdb::model::Timestamp::parse("2999-01-01T00:00:00Z")?,
        template_id: "tpl_gmail".into(),
        template_version: 1,
    };
    cache.set_approval_once_cache(&d, &entry, 600).await?;
    assert!(cache.get_approval_once_cache(&d).await?.is_some());
    let a = transition(&api, &token, &id, json!({"to": "denied"})).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(cache.get_approval_once_cache(&d).await?, None);
    Ok(())
}

#[tokio::test]
async fn roles_operator_decides_auditor_reads_system_tokens_are_refused() -> TestResult {
    let api = Api::start().await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let system = api.token(None, ApiTokenRole::Admin).await?;
    let id = create(&api, &operator, &new_approval("w_1")).await?;
    let get = format!("/v1/approvals/{id}");
    let decide = format!("/v1/approvals/{id}/transition");
    let approve = json!({"to": "approved"});
    let new = new_approval("w_2");
    for (token, method, path, body, expected) in [
        (
            &auditor,
            Method::POST,
            "/v1/approvals",
            Some(&new),
            StatusCode::FORBIDDEN,
        ),
        (
            &auditor,
            Method::POST,
            decide.as_str(),
            Some(&approve),
            StatusCode::FORBIDDEN,
        ),
        (&auditor, Method::GET, "/v1/approvals", None, StatusCode::OK),
        (&auditor, Method::GET, get.as_str(), None, StatusCode::OK),
        (
            &system,
            Method::GET,
            "/v1/approvals",
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &system,
            Method::GET,
            get.as_str(),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &system,
            Method::POST,
            "/v1/approvals",
            Some(&new),
            StatusCode::FORBIDDEN,
        ),
        (
            &system,
            Method::POST,
            decide.as_str(),
            Some(&approve),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let a = api.call(method.clone(), path, Some(token), body).await?;
        assert_eq!(a.status, expected, "{method} {path}: {}", a.body);
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(a.code(), "forbidden");
        }
    }
    let a = api.call(Method::GET, "/v1/approvals", None, None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let got = api.get(&get, &auditor).await?;
    assert_eq!(got.body["status"], "pending", "nothing was decided");
    Ok(())
}

/// Tenant B's tokens on tenant A's approval: never seen, changed or confirmed to exist.
#[tokio::test]
async fn another_tenants_approvals_are_never_seen_changed_or_confirmed() -> TestResult {
    let api = Api::start().await?;
    let a_op = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let b_admin = api.token(Some("t_b"), ApiTokenRole::Admin).await?;
    let id = create(&api, &a_op, &new_approval("w_shared")).await?;
    let get = format!("/v1/approvals/{id}");
    let decide = format!("/v1/approvals/{id}/transition");
    let routes: [(Method, &str, Option<Value>, StatusCode); 7] = [
        (Method::GET, &get, None, StatusCode::NOT_FOUND),
        (
            Method::POST,
            &decide,
            Some(json!({"to": "approved"})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            &decide,
            Some(json!({"to": "canceled"})),
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, "/v1/approvals", None, StatusCode::OK),
        (
            Method::GET,
            "/v1/approvals?status=pending",
            None,
            StatusCode::OK,
        ),
        // The same request in B is B's own key: created, with no hint of A's.
        (
            Method::POST,
            "/v1/approvals",
            Some(new_approval("w_shared")),
            StatusCode::CREATED,
        ),
        (
            Method::GET,
            "/v1/approvals?status=pending",
            None,
            StatusCode::OK,
        ),
    ];
    for (i, (method, path, body, expected)) in routes.into_iter().enumerate() {
        let a = api
            .call(method.clone(), path, Some(&b_admin), body.as_ref())
            .await?;
        assert_eq!(a.status, expected, "{method} {path}: {}", a.body);
        assert!(
            !a.body.to_string().contains(&id),
            "{method} {path}: {}",
            a.body
        );
        if a.status == StatusCode::NOT_FOUND {
            assert_eq!(a.code(), "not_found");
        }
        if a.status == StatusCode::OK {
            let items = a.body["items"].as_array().ok_or("no items")?;
            let expected_len = if i == 6 { 1 } else { 0 };
            assert_eq!(items.len(), expected_len, "{path}");
            assert!(items.iter().all(|x| x["tenantId"] == "t_b"));
        }
        if a.status == StatusCode::CREATED {
            assert!(a.headers.get("location").is_some());
            assert_eq!(a.body["tenantId"], "t_b");
        }
    }
    let got = api.get(&get, &a_op).await?;
    assert_eq!(got.body["status"], "pending", "A's approval is unchanged");
    let decided: i64 = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM audit_events WHERE event_type = 'approval_decided'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(decided, 0);
    Ok(())
}

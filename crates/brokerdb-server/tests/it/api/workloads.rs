//! `/v1/workloads` (list, create, get, update), enrollment tokens (issue, consume once — 20
//! concurrent consumers, one winner) and workload sessions (list as metadata, revoke): success
//! shapes, error statuses, roles, audit events and tenant isolation.

use brokerdb::model::{NonEmptyString, SessionId, TenantId, Timestamp, TokenHash, WorkloadId};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::sessions::{self, SessionRecord};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Api, Error};
use crate::TestResult;

/// Creates workload `id` in `t_a`'s scope of `token` through the API.
async fn create_workload(api: &Api, token: &str, id: &str, name: &str) -> Result<Value, Error> {
    let a = api
        .call(
            Method::POST,
            "/v1/workloads",
            Some(token),
            Some(&json!({"workloadId": id, "name": name, "enrollmentMode": "broker_ca"})),
        )
        .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    Ok(a.body)
}

/// `(actor, tenant, metadata)` of every audit event whose metadata `action` is `action`.
async fn events(api: &Api, action: &str) -> Result<Vec<(String, String, Value)>, Error> {
    let rows = api
        .db
        .admin()
        .await
        .query(
            "SELECT event_json->'metadata'->>'actor', tenant_id, event_json->'metadata'
             FROM audit_events WHERE event_json->'metadata'->>'action' = $1
             ORDER BY \"timestamp\", event_id",
            &[&action],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Stores a session of workload `w` in `tenant` (the API has no route that creates one).
async fn session(
    api: &Api,
    tenant: &str,
    w: &str,
    id: &str,
    hash: char,
) -> Result<SessionRecord, Error> {
    let t = TenantId::parse(tenant)?;
    let rec = SessionRecord {
        session_id: SessionId::parse(id)?,
        workload_id: WorkloadId::parse(w)?,
        tenant_id: t.clone(),
        cert_fingerprint256: NonEmptyString::new("cert_fingerprint_256", "sha256:cafe")?,
        token_hash: TokenHash::parse(&hash.to_string().repeat(64))?,
        expires_at: Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 3_600_000)?,
        dpop_key_thumbprint: None,
        scopes: Some(vec!["read".into(), "write".into()]),
    };
    Ok(sessions::upsert(&mut api.handle.tenant(&t), &rec).await?)
}

const S1: &str = "11111111-1111-4111-8111-111111111111";
const S2: &str = "22222222-2222-4222-8222-222222222222";
const S3: &str = "33333333-3333-4333-8333-333333333333";

#[tokio::test]
async fn workloads_are_created_read_listed_and_updated_with_their_audit_events() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let a = api
        .call(
            Method::POST,
            "/v1/workloads",
            Some(&admin),
            Some(&json!({"workloadId": "w_api", "name": "  billing api ",
                         "enrollmentMode": "broker_ca",
                         "ipAllowlist": ["10.0.0.0/8", " 192.168.1.7 "]})),
        )
        .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.headers["location"], "/v1/workloads/w_api");
    assert_eq!(a.body["workloadId"], "w_api");
    assert_eq!(a.body["tenantId"], "t_a");
    assert_eq!(a.body["name"], "billing api");
    assert_eq!(a.body["enabled"], true);
    assert_eq!(
        a.body["mtlsSanUri"],
        "spiffe://broker/tenants/t_a/workloads/w_api"
    );
    assert_eq!(a.body["ipAllowlist"].as_array().map(Vec::len), Some(2));
    assert!(
        a.body["createdAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    // A generated id, an own SAN URI.
    let b = api
        .call(
            Method::POST,
            "/v1/workloads",
            Some(&admin),
            Some(&json!({"name": "batch", "enrollmentMode": "external_ca",
                         "mtlsSanUri": "spiffe://corp/batch"})),
        )
        .await?;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.body);
    assert!(
        b.body["workloadId"]
            .as_str()
            .is_some_and(|id| id.starts_with("w_"))
    );
    assert_eq!(b.body["mtlsSanUri"], "spiffe://corp/batch");

    // The auditor reads.
    let got = api.get("/v1/workloads/w_api", &auditor).await?;
    assert_eq!((got.status, &got.body), (StatusCode::OK, &a.body));
    let list = api.get("/v1/workloads?pageSize=1", &auditor).await?;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["items"], json!([a.body]));
    assert_eq!(
        (
            &list.body["page"],
            &list.body["pageSize"],
            &list.body["total"]
        ),
        (&json!(1), &json!(1), &json!(2))
    );
    assert_eq!(list.body["totalPages"], 2);
    assert_eq!(list.body["totalIsEstimate"], false);
    let page2 = api.get("/v1/workloads?page=2&pageSize=1", &auditor).await?;
    assert_eq!(page2.body["items"][0]["workloadId"], b.body["workloadId"]);

    // PATCH changes only the fields given.
    let p = api
        .call(
            Method::PATCH,
            "/v1/workloads/w_api",
            Some(&admin),
            Some(&json!({"enabled": false})),
        )
        .await?;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.body["enabled"], false);
    assert_eq!(p.body["ipAllowlist"], a.body["ipAllowlist"]);
    let p = api
        .call(
            Method::PATCH,
            "/v1/workloads/w_api",
            Some(&admin),
            Some(&json!({"ipAllowlist": []})),
        )
        .await?;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(
        (&p.body["enabled"], &p.body["ipAllowlist"]),
        (&json!(false), &json!([]))
    );

    let created = events(&api, "workload.created").await?;
    assert_eq!(created.len(), 2);
    assert_eq!(
        (created[0].0.as_str(), created[0].1.as_str()),
        ("admin@t_a", "t_a")
    );
    assert_eq!(created[0].2["workload_id"], "w_api");
    let updated = events(&api, "workload.updated").await?;
    let fields: Vec<(&str, &Value)> = updated
        .iter()
        .map(|(actor, _, m)| (actor.as_str(), &m["fields"]))
        .collect();
    assert_eq!(
        fields,
        [
            ("admin@t_a", &json!(["enabled"])),
            ("admin@t_a", &json!(["ipAllowlist"]))
        ]
    );
    Ok(())
}

/// A request and what it must answer: method, path, token, body, status, field at fault.
type Case<'a> = (Method, &'a str, &'a str, Option<Value>, StatusCode, &'a str);

#[tokio::test]
async fn workload_routes_refuse_bad_input_missing_rows_duplicates_and_lower_roles() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let system = api.token(None, ApiTokenRole::Admin).await?;
    create_workload(&api, &admin, "w_1", "one").await?;
    let ok = json!({"name": "two", "enrollmentMode": "broker_ca"});
    let cases: Vec<Case> = vec![
        // 400, the field named.
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"name": "x", "enrollmentMode": "broker_ca", "tenantId": "t_b"})),
            StatusCode::BAD_REQUEST,
            "tenantId",
        ),
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"name": "   ", "enrollmentMode": "broker_ca"})),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"name": "n".repeat(201), "enrollmentMode": "broker_ca"})),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"name": "x"})),
            StatusCode::BAD_REQUEST,
            "enrollmentMode",
        ),
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"name": "x", "enrollmentMode": "magic"})),
            StatusCode::BAD_REQUEST,
            "enrollmentMode",
        ),
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"name": "x", "enrollmentMode": "broker_ca", "workloadId": "w:bad"})),
            StatusCode::BAD_REQUEST,
            "workloadId",
        ),
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"name": "x", "enrollmentMode": "broker_ca",
                     "ipAllowlist": ["10.0.0.1", "not-an-ip"]})),
            StatusCode::BAD_REQUEST,
            "ipAllowlist[1]",
        ),
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"name": "x", "enrollmentMode": "broker_ca",
                     "mtlsSanUri": "spiffe://broker/tenants/t_b/workloads/w_x"})),
            StatusCode::BAD_REQUEST,
            "mtlsSanUri",
        ),
        (
            Method::GET,
            "/v1/workloads?pageSize=0",
            &admin,
            None,
            StatusCode::BAD_REQUEST,
            "pageSize",
        ),
        (
            Method::GET,
            "/v1/workloads?page=0",
            &admin,
            None,
            StatusCode::BAD_REQUEST,
            "page",
        ),
        (
            Method::GET,
            "/v1/workloads?sort=name",
            &admin,
            None,
            StatusCode::BAD_REQUEST,
            "sort",
        ),
        (
            Method::GET,
            "/v1/workloads/w:1",
            &admin,
            None,
            StatusCode::BAD_REQUEST,
            "workloadId",
        ),
        (
            Method::PATCH,
            "/v1/workloads/w_1",
            &admin,
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            Method::PATCH,
            "/v1/workloads/w_1",
            &admin,
            Some(json!({"name": "renamed"})),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            Method::PATCH,
            "/v1/workloads/w_1",
            &admin,
            Some(json!({"ipAllowlist": ["300.1.1.1"]})),
            StatusCode::BAD_REQUEST,
            "ipAllowlist[0]",
        ),
        (
            Method::PATCH,
            "/v1/workloads/w_1",
            &admin,
            Some(json!({"enabled": "yes"})),
            StatusCode::BAD_REQUEST,
            "enabled",
        ),
        // 404.
        (
            Method::GET,
            "/v1/workloads/w_none",
            &admin,
            None,
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            Method::PATCH,
            "/v1/workloads/w_none",
            &admin,
            Some(json!({"enabled": false})),
            StatusCode::NOT_FOUND,
            "",
        ),
        // 409, the field named.
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"name": "one", "enrollmentMode": "broker_ca"})),
            StatusCode::CONFLICT,
            "name",
        ),
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"workloadId": "w_1", "name": "other", "enrollmentMode": "broker_ca"})),
            StatusCode::CONFLICT,
            "workloadId",
        ),
        (
            Method::POST,
            "/v1/workloads",
            &admin,
            Some(json!({"name": "other", "enrollmentMode": "broker_ca",
                     "mtlsSanUri": "spiffe://broker/tenants/t_a/workloads/w_1"})),
            StatusCode::CONFLICT,
            "mtlsSanUri",
        ),
        // 403: configuration needs admin; a system token has no tenant.
        (
            Method::POST,
            "/v1/workloads",
            &operator,
            Some(ok.clone()),
            StatusCode::FORBIDDEN,
            "",
        ),
        (
            Method::PATCH,
            "/v1/workloads/w_1",
            &operator,
            Some(json!({"enabled": false})),
            StatusCode::FORBIDDEN,
            "",
        ),
        (
            Method::GET,
            "/v1/workloads",
            &system,
            None,
            StatusCode::FORBIDDEN,
            "",
        ),
    ];
    for (method, path, token, body, status, field) in cases {
        let a = api
            .call(method.clone(), path, Some(token), body.as_ref())
            .await?;
        assert_eq!(
            (a.status, a.field()),
            (status, field),
            "{method} {path} {body:?}: {}",
            a.body
        );
    }
    // Nothing above changed w_1 or created a workload, and no event was written for a refusal.
    let w1 = api.get("/v1/workloads/w_1", &operator).await?;
    assert_eq!(
        (w1.status, &w1.body["enabled"]),
        (StatusCode::OK, &json!(true))
    );
    let list = api.get("/v1/workloads", &admin).await?;
    assert_eq!(list.body["total"], 1);
    assert_eq!(events(&api, "workload.created").await?.len(), 1);
    assert!(events(&api, "workload.updated").await?.is_empty());
    // The name's limit counts characters; exactly 200 is fine.
    let a = api
        .call(
            Method::POST,
            "/v1/workloads",
            Some(&admin),
            Some(&json!({"name": "é".repeat(200), "enrollmentMode": "broker_ca"})),
        )
        .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    Ok(())
}

/// SHA-256 hex of a token, as the service stores it.
fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Issues an enrollment token for `w` as `token`; returns the response body.
async fn issue(api: &Api, token: &str, w: &str, body: Value) -> Result<Value, Error> {
    let a = api
        .call(
            Method::POST,
            &format!("/v1/workloads/{w}/enrollment-tokens"),
            Some(token),
            Some(&body),
        )
        .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.headers["cache-control"], "no-store");
    Ok(a.body)
}

#[tokio::test]
async fn an_enrollment_token_is_shown_once_stored_as_a_hash_and_consumed_once() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    create_workload(&api, &admin, "w_e", "enrolled").await?;
    create_workload(&api, &admin, "w_other", "other").await?;

    let issued = issue(&api, &operator, "w_e", json!({"ttlSeconds": 600})).await?;
    let token = issued["token"].as_str().ok_or("no token")?.to_owned();
    assert!(token.starts_with("et_") && token.len() == 67, "{token}");
    assert_eq!(issued["workloadId"], "w_e");
    let (created, expires) = (
        Timestamp::parse(issued["createdAt"].as_str().ok_or("createdAt")?)?,
        Timestamp::parse(issued["expiresAt"].as_str().ok_or("expiresAt")?)?,
    );
    assert_eq!(expires.unix_millis() - created.unix_millis(), 600_000);
    // Only the hash is stored; the token is nowhere in the table or the audit log.
    let db = api.db.admin().await;
    let stored: Vec<String> = db
        .query("SELECT token_hash FROM enrollment_tokens", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, [sha256_hex(&token)]);
    let leaks: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM enrollment_tokens t WHERE t::text LIKE '%' || $1 || '%')
                  + (SELECT count(*) FROM audit_events e WHERE e::text LIKE '%' || $1 || '%'
                                                          OR e::text LIKE '%' || $2 || '%')",
            &[&&token[3..], &sha256_hex(&token)],
        )
        .await?
        .get(0);
    assert_eq!(leaks, 0);
    // The default lifetime is an hour.
    let default = issue(&api, &operator, "w_e", json!({})).await?;
    let (c, e) = (
        Timestamp::parse(default["createdAt"].as_str().ok_or("createdAt")?)?,
        Timestamp::parse(default["expiresAt"].as_str().ok_or("expiresAt")?)?,
    );
    assert_eq!(e.unix_millis() - c.unix_millis(), 3_600_000);

    // Another workload's id in the body: 404, and the token stays usable.
    let consume = |body: Value, t: &str| {
        let t = t.to_owned();
        let api = &api;
        async move {
            api.call(
                Method::POST,
                "/v1/enrollment-tokens/consume",
                Some(&t),
                Some(&body),
            )
            .await
        }
    };
    let wrong = consume(json!({"token": token, "workloadId": "w_other"}), &operator).await?;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let first = consume(json!({"token": token, "workloadId": "w_e"}), &operator).await?;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["workloadId"], "w_e");
    assert_eq!(first.body["tenantId"], "t_a");
    assert!(first.body["usedAt"].as_str().is_some());
    assert!(first.body.get("token").is_none() && first.body.get("tokenHash").is_none());
    let again = consume(json!({"token": token}), &operator).await?;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let unknown = consume(json!({"token": "et_never-issued"}), &operator).await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let issued_events = events(&api, "enrollment_token.issued").await?;
    assert_eq!(issued_events.len(), 2);
    assert_eq!(issued_events[0].0, "operator@t_a");
    assert_eq!(issued_events[0].2["workload_id"], "w_e");
    let consumed = events(&api, "enrollment_token.consumed").await?;
    let consumed: Vec<(&str, &str, &Value)> = consumed
        .iter()
        .map(|(a, t, m)| (a.as_str(), t.as_str(), &m["workload_id"]))
        .collect();
    assert_eq!(consumed, [("operator@t_a", "t_a", &json!("w_e"))]);

    // Errors.
    let t2 = default["token"].as_str().ok_or("no token")?;
    let cases: Vec<(&str, Value, &str, StatusCode, &str)> = vec![
        (
            "/v1/workloads/w_e/enrollment-tokens",
            json!({"ttlSeconds": 59}),
            &operator,
            StatusCode::BAD_REQUEST,
            "ttlSeconds",
        ),
        (
            "/v1/workloads/w_e/enrollment-tokens",
            json!({"ttlSeconds": 604_801}),
            &operator,
            StatusCode::BAD_REQUEST,
            "ttlSeconds",
        ),
        (
            "/v1/workloads/w_e/enrollment-tokens",
            json!({"ttlSeconds": "1h"}),
            &operator,
            StatusCode::BAD_REQUEST,
            "ttlSeconds",
        ),
        (
            "/v1/workloads/w_e/enrollment-tokens",
            json!({"tokenHash": "ab"}),
            &operator,
            StatusCode::BAD_REQUEST,
            "tokenHash",
        ),
        (
            "/v1/workloads/w:e/enrollment-tokens",
            json!({}),
            &operator,
            StatusCode::BAD_REQUEST,
            "workloadId",
        ),
        (
            "/v1/workloads/w_none/enrollment-tokens",
            json!({}),
            &operator,
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "/v1/workloads/w_e/enrollment-tokens",
            json!({}),
            &auditor,
            StatusCode::FORBIDDEN,
            "",
        ),
        (
            "/v1/enrollment-tokens/consume",
            json!({}),
            &operator,
            StatusCode::BAD_REQUEST,
            "token",
        ),
        (
            "/v1/enrollment-tokens/consume",
            json!({"token": ""}),
            &operator,
            StatusCode::BAD_REQUEST,
            "token",
        ),
        (
            "/v1/enrollment-tokens/consume",
            json!({"token": "x".repeat(257)}),
            &operator,
            StatusCode::BAD_REQUEST,
            "token",
        ),
        (
            "/v1/enrollment-tokens/consume",
            json!({"token": t2, "workloadId": "w/e"}),
            &operator,
            StatusCode::BAD_REQUEST,
            "workloadId",
        ),
        (
            "/v1/enrollment-tokens/consume",
            json!({"token": t2, "tenantId": "t_a"}),
            &operator,
            StatusCode::BAD_REQUEST,
            "tenantId",
        ),
        (
            "/v1/enrollment-tokens/consume",
            json!({"token": t2}),
            &auditor,
            StatusCode::FORBIDDEN,
            "",
        ),
    ];
    for (path, body, t, status, field) in cases {
        let a = api.call(Method::POST, path, Some(t), Some(&body)).await?;
        assert_eq!(
            (a.status, a.field()),
            (status, field),
            "{path} {body}: {}",
            a.body
        );
    }
    // None of the refusals consumed the second token.
    let ok = consume(json!({"token": t2}), &operator).await?;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    Ok(())
}

#[tokio::test]
async fn of_twenty_concurrent_http_consumers_of_one_token_exactly_one_wins() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    create_workload(&api, &admin, "w_race", "race").await?;
    let issued = issue(&api, &operator, "w_race", json!({})).await?;
    let body = json!({"token": issued["token"]});
    let answers = join_all((0..20).map(|_| {
        api.call(
            Method::POST,
            "/v1/enrollment-tokens/consume",
            Some(&operator),
            Some(&body),
        )
    }))
    .await;
    let mut statuses = Vec::new();
    for a in answers {
        statuses.push(a?.status.as_u16());
    }
    statuses.sort_unstable();
    let mut expected = vec![200];
    expected.extend([404; 19]);
    assert_eq!(statuses, expected);
    assert_eq!(events(&api, "enrollment_token.consumed").await?.len(), 1);
    let used: i64 = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM enrollment_tokens WHERE used_at IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(used, 1);
    Ok(())
}

#[tokio::test]
async fn a_workloads_sessions_are_listed_as_metadata_and_revoked_by_an_operator() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    create_workload(&api, &admin, "w_s", "sessions").await?;
    create_workload(&api, &admin, "w_quiet", "quiet").await?;
    session(&api, "t_a", "w_s", S1, 'a').await?;
    session(&api, "t_a", "w_s", S2, 'b').await?;
    session(&api, "t_a", "w_s", S3, 'c').await?;
    api.db
        .admin()
        .await
        .batch_execute(&format!(
            "UPDATE workload_sessions SET created_at = '2024-05-01T00:00:00Z' WHERE session_id = '{S1}';
             UPDATE workload_sessions SET created_at = '2024-05-02T00:00:00Z' WHERE session_id = '{S2}';
             UPDATE workload_sessions SET created_at = '2024-05-03T00:00:00Z' WHERE session_id = '{S3}';"
        ))
        .await?;

    let all = api.get("/v1/workloads/w_s/sessions", &auditor).await?;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let ids: Vec<&str> = all.body["items"]
        .as_array()
        .ok_or("no items")?
        .iter()
        .filter_map(|s| s["sessionId"].as_str())
        .collect();
    assert_eq!(ids, [S3, S2, S1], "newest first");
    let s = &all.body["items"][0];
    assert_eq!(s["workloadId"], "w_s");
    assert_eq!(s["certFingerprint256"], "sha256:cafe");
    assert_eq!(s["scopes"], json!(["read", "write"]));
    assert_eq!(s["createdAt"], "2024-05-03T00:00:00.000Z");
    assert!(s["expiresAt"].as_str().is_some() && s.get("revokedAt").is_none());
    assert!(all.body.get("nextCursor").is_none());
    let text = all.body.to_string();
    assert!(
        !text.contains(&"a".repeat(64)) && !text.contains("tokenHash"),
        "no token hash in a listing: {text}"
    );
    // Keyset pages.
    let p1 = api
        .get("/v1/workloads/w_s/sessions?limit=2", &auditor)
        .await?;
    assert_eq!(p1.body["items"].as_array().map(Vec::len), Some(2));
    let cursor = p1.body["nextCursor"].as_str().ok_or("no cursor")?;
    let p2 = api
        .get(
            &format!("/v1/workloads/w_s/sessions?limit=2&cursor={cursor}"),
            &auditor,
        )
        .await?;
    assert_eq!(p2.status, StatusCode::OK, "{}", p2.body);
    assert_eq!(p2.body["items"][0]["sessionId"], S1);
    assert!(p2.body.get("nextCursor").is_none());
    let quiet = api.get("/v1/workloads/w_quiet/sessions", &auditor).await?;
    assert_eq!(
        (quiet.status, &quiet.body["items"]),
        (StatusCode::OK, &json!([]))
    );

    // Revoke: 204, shown as revoked, audited; again keeps the first time.
    let path = format!("/v1/sessions/{S2}/revoke");
    let r = api.call(Method::POST, &path, Some(&operator), None).await?;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let after = api.get("/v1/workloads/w_s/sessions", &auditor).await?;
    let revoked_at = after.body["items"][1]["revokedAt"].clone();
    assert!(revoked_at.is_string(), "{}", after.body);
    assert!(after.body["items"][0].get("revokedAt").is_none());
    let hash = TokenHash::parse(&"b".repeat(64))?;
    assert!(
        sessions::get_by_token_hash(&mut api.handle.system(), &hash)
            .await?
            .is_none()
    );
    let r = api.call(Method::POST, &path, Some(&operator), None).await?;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let again = api.get("/v1/workloads/w_s/sessions", &auditor).await?;
    assert_eq!(again.body["items"][1]["revokedAt"], revoked_at);
    let revoked = events(&api, "session.revoked").await?;
    assert_eq!(revoked.len(), 2);
    assert_eq!(
        (revoked[0].0.as_str(), &revoked[0].2["session_id"]),
        ("operator@t_a", &json!(S2))
    );

    // Errors.
    let cases: Vec<(Method, String, &str, StatusCode, &str)> = vec![
        (
            Method::GET,
            "/v1/workloads/w_s/sessions?limit=0".into(),
            &auditor,
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        (
            Method::GET,
            "/v1/workloads/w_s/sessions?limit=101".into(),
            &auditor,
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        (
            Method::GET,
            "/v1/workloads/w_s/sessions?cursor=forged.cursor".into(),
            &auditor,
            StatusCode::BAD_REQUEST,
            "cursor",
        ),
        // A cursor of another workload's list.
        (
            Method::GET,
            format!("/v1/workloads/w_quiet/sessions?cursor={cursor}"),
            &auditor,
            StatusCode::BAD_REQUEST,
            "cursor",
        ),
        (
            Method::GET,
            "/v1/workloads/w_s/sessions?page=1".into(),
            &auditor,
            StatusCode::BAD_REQUEST,
            "page",
        ),
        (
            Method::GET,
            "/v1/workloads/w:s/sessions".into(),
            &auditor,
            StatusCode::BAD_REQUEST,
            "workloadId",
        ),
        (
            Method::GET,
            "/v1/workloads/w_none/sessions".into(),
            &auditor,
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            Method::POST,
            "/v1/sessions/not-a-uuid/revoke".into(),
            &operator,
            StatusCode::BAD_REQUEST,
            "sessionId",
        ),
        (
            Method::POST,
            "/v1/sessions/44444444-4444-4444-8444-444444444444/revoke".into(),
            &operator,
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            Method::POST,
            format!("/v1/sessions/{S1}/revoke"),
            &auditor,
            StatusCode::FORBIDDEN,
            "",
        ),
    ];
    for (method, path, t, status, field) in cases {
        let a = api.call(method.clone(), &path, Some(t), None).await?;
        assert_eq!(
            (a.status, a.field()),
            (status, field),
            "{method} {path}: {}",
            a.body
        );
    }
    // S1 was not revoked by the auditor's attempt.
    let hash = TokenHash::parse(&"a".repeat(64))?;
    assert!(
        sessions::get_by_token_hash(&mut api.handle.system(), &hash)
            .await?
            .is_some()
    );
    assert_eq!(events(&api, "session.revoked").await?.len(), 2);
    Ok(())
}

/// Every route of this module, called with tenant B's tokens on tenant A's rows: never seen,
/// changed or confirmed to exist.
#[tokio::test]
async fn tenant_b_never_sees_changes_or_confirms_tenant_as_workloads_tokens_or_sessions()
-> TestResult {
    let api = Api::start().await?;
    let a_admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let a_operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let b_admin = api.token(Some("t_b"), ApiTokenRole::Admin).await?;
    create_workload(&api, &a_admin, "w_of_a", "shared-name").await?;
    session(&api, "t_a", "w_of_a", S1, 'a').await?;
    let issued = issue(&api, &a_operator, "w_of_a", json!({})).await?;
    let a_token = issued["token"].as_str().ok_or("no token")?;

    let routes: Vec<(Method, String, Option<Value>, StatusCode)> = vec![
        (
            Method::GET,
            "/v1/workloads/w_of_a".into(),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            "/v1/workloads/w_of_a".into(),
            Some(json!({"enabled": false})),
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, "/v1/workloads".into(), None, StatusCode::OK),
        (
            Method::GET,
            "/v1/workloads/w_of_a/sessions".into(),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/v1/workloads/w_of_a/enrollment-tokens".into(),
            Some(json!({})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/v1/enrollment-tokens/consume".into(),
            Some(json!({"token": a_token})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/v1/enrollment-tokens/consume".into(),
            Some(json!({"token": a_token, "workloadId": "w_of_a"})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            format!("/v1/sessions/{S1}/revoke"),
            None,
            StatusCode::NOT_FOUND,
        ),
        // A's workload id and name are free in B's answers: the same 409 would confirm them.
        (
            Method::POST,
            "/v1/workloads".into(),
            Some(json!({"name": "shared-name", "enrollmentMode": "broker_ca"})),
            StatusCode::CREATED,
        ),
    ];
    for (method, path, body, expected) in routes {
        let a = api
            .call(method.clone(), &path, Some(&b_admin), body.as_ref())
            .await?;
        assert_eq!(a.status, expected, "{method} {path}: {}", a.body);
        if method == Method::GET && a.status == StatusCode::OK {
            assert_eq!(
                (&a.body["items"], &a.body["total"]),
                (&json!([]), &json!(0)),
                "{path}"
            );
        }
        if a.status == StatusCode::NOT_FOUND {
            assert_eq!(a.code(), "not_found");
        }
    }
    // A's rows are untouched: enabled, the session live, the token still consumable once.
    let w = api.get("/v1/workloads/w_of_a", &a_admin).await?;
    assert_eq!(
        (w.status, &w.body["enabled"]),
        (StatusCode::OK, &json!(true))
    );
    let hash = TokenHash::parse(&"a".repeat(64))?;
    assert!(
        sessions::get_by_token_hash(&mut api.handle.system(), &hash)
            .await?
            .is_some()
    );
    let c = api
        .call(
            Method::POST,
            "/v1/enrollment-tokens/consume",
            Some(&a_operator),
            Some(&json!({"token": a_token})),
        )
        .await?;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    // No event was written in either tenant for B's refused attempts.
    assert!(events(&api, "workload.updated").await?.is_empty());
    assert!(events(&api, "session.revoked").await?.is_empty());
    let consumed = events(&api, "enrollment_token.consumed").await?;
    assert_eq!(consumed.len(), 1);
    assert_eq!(consumed[0].0, "operator@t_a");
    Ok(())
}

//! `/v1/projects` over HTTP: CRUD with a write-only webhook secret, 404 across tenants,
//! artifact upserts announced on the project's Redis channel, webhook intake (401 and nothing
//! stored on a bad signature, deduplicated redeliveries, one scan job per push) and the MCP log.

use std::time::Duration;

use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_projects::SecretBytes;
use brokerdb_projects::intake::github_signature;
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Answer, Api, Error, answer};
use crate::TestResult;

const SECRET: &str = "whsec-test-value";

async fn create_project(api: &Api, token: &str, name: &str) -> Result<Value, Error> {
    let a = api
        .call(
            Method::POST,
            "/v1/projects",
            Some(token),
            Some(&json!({
                "name": name,
                "repoUrl": "https://github.com/example/jive",
                "webhookSecret": SECRET,
                "config": {"prdFile": "docs/prd.md"},
            })),
        )
        .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    Ok(a.body)
}

async fn deliver(
    api: &Api,
    token: &str,
    project: &str,
    event: &str,
    signature: Option<&str>,
    payload: &[u8],
) -> Result<Answer, Error> {
    let mut req = api
        .http
        .post(format!(
            "{}/v1/projects/{project}/webhooks/github",
            api.base
        ))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .body(payload.to_vec());
    if let Some(sig) = signature {
        req = req.header("x-hub-signature-256", sig);
    }
    answer(req.send().await?).await
}

fn sign(payload: &[u8]) -> String {
    github_signature(&SecretBytes::new(SECRET.as_bytes().to_vec()), payload)
}

async fn count(api: &Api, sql: &str) -> Result<i64, Error> {
    Ok(api.db.admin().await.query_one(sql, &[]).await?.get(0))
}

#[tokio::test]
async fn projects_are_created_listed_changed_and_deleted_without_showing_the_secret() -> TestResult
{
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let created = create_project(&api, &admin, "Jive").await?;
    let id = created["projectId"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("prj_"));
    assert_eq!(created["hasWebhookSecret"], true);
    assert_eq!(created["config"], json!({"prdFile": "docs/prd.md"}));
    assert!(created.get("webhookSecret").is_none());
    assert!(!created.to_string().contains(SECRET));

    let got = api.get(&format!("/v1/projects/{id}"), &auditor).await?;
    assert_eq!((got.status, &got.body), (StatusCode::OK, &created));

    create_project(&api, &admin, "Second").await?;
    let page = api.get("/v1/projects?limit=1", &auditor).await?;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["items"][0]["name"], "Second");
    let cursor = page.body["nextCursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let next = api
        .get(&format!("/v1/projects?limit=1&cursor={cursor}"), &auditor)
        .await?;
    assert_eq!(next.body["items"][0]["projectId"], id.as_str());
    assert!(next.body.get("nextCursor").is_none());

    let changed = api
        .call(
            Method::PATCH,
            &format!("/v1/projects/{id}"),
            Some(&admin),
            Some(&json!({"name": "Jive 2", "removeWebhookSecret": true})),
        )
        .await?;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(
        (&changed.body["name"], &changed.body["hasWebhookSecret"]),
        (&json!("Jive 2"), &json!(false))
    );
    let empty = api
        .call(
            Method::PATCH,
            &format!("/v1/projects/{id}"),
            Some(&admin),
            Some(&json!({})),
        )
        .await?;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    // An auditor cannot write.
    let denied = api
        .call(
            Method::DELETE,
            &format!("/v1/projects/{id}"),
            Some(&auditor),
            None,
        )
        .await?;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let deleted = api
        .call(
            Method::DELETE,
            &format!("/v1/projects/{id}"),
            Some(&admin),
            None,
        )
        .await?;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = api.get(&format!("/v1/projects/{id}"), &auditor).await?;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let bad = api.get("/v1/projects/not%20an%20id", &auditor).await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn another_tenants_project_is_404_on_every_route() -> TestResult {
    let api = Api::start().await?;
    let a = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let b = api.token(Some("t_b"), ApiTokenRole::Admin).await?;
    let id = create_project(&api, &a, "Jive").await?["projectId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let artifact = json!({"path": "docs/prd.md", "name": "PRD", "type": "prd"});
    let call = json!({"actorType": "agent", "actorId": "a1", "tool": "read", "scope": "project", "result": "success"});
    let cases: [(Method, String, Option<&Value>); 8] = [
        (Method::GET, format!("/v1/projects/{id}"), None),
        (
            Method::PATCH,
            format!("/v1/projects/{id}"),
            Some(&json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/v1/projects/{id}"), None),
        (
            Method::PUT,
            format!("/v1/projects/{id}/artifacts"),
            Some(&artifact),
        ),
        (Method::GET, format!("/v1/projects/{id}/artifacts"), None),
        (Method::GET, format!("/v1/projects/{id}/mcp-log"), None),
        (
            Method::POST,
            format!("/v1/projects/{id}/mcp-log"),
            Some(&call),
        ),
        (
            Method::GET,
            format!("/v1/projects/{id}/artifacts?type=prd"),
            None,
        ),
    ];
    for (method, path, body) in cases {
        let answer = api.call(method.clone(), &path, Some(&b), body).await?;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            answer.body
        );
    }
    let payload = br#"{"ref":"refs/heads/main"}"#;
    let delivered = deliver(&api, &b, &id, "push", Some(&sign(payload)), payload).await?;
    assert_eq!(delivered.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&api, "SELECT count(*) FROM webhook_events").await?, 0);
    assert_eq!(count(&api, "SELECT count(*) FROM artifacts").await?, 0);
    assert_eq!(count(&api, "SELECT count(*) FROM projects").await?, 1);
    Ok(())
}

#[tokio::test]
async fn an_artifact_upsert_is_announced_on_the_projects_channel() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let id = create_project(&api, &admin, "Jive").await?["projectId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut sub = api._redis.client().get_async_pubsub().await?;
    sub.subscribe(format!("broker:projects:project:{{t_a}}:{id}"))
        .await?;
    let mut messages = sub.into_on_message();

    let body = json!({"path": "docs/prd.md", "name": "PRD", "type": "prd", "dependencies": []});
    let put = api
        .call(
            Method::PUT,
            &format!("/v1/projects/{id}/artifacts"),
            Some(&operator),
            Some(&body),
        )
        .await?;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(
        (&put.body["version"], &put.body["type"]),
        (&json!(1), &json!("prd"))
    );
    let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await?
        .ok_or("subscription ended")?;
    let event: Value = serde_json::from_str(&message.get_payload::<String>()?)?;
    assert_eq!(event["type"], "artifact_updated");
    assert_eq!(event["artifactId"], put.body["artifactId"]);
    assert_eq!(
        (&event["path"], &event["version"]),
        (&json!("docs/prd.md"), &json!(1))
    );

    // The same content again changes nothing and announces nothing; a change bumps the version.
    let same = api
        .call(
            Method::PUT,
            &format!("/v1/projects/{id}/artifacts"),
            Some(&operator),
            Some(&body),
        )
        .await?;
    assert_eq!(same.body["version"], 1);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), messages.next())
            .await
            .is_err()
    );
    let renamed = json!({"path": "docs/prd.md", "name": "The PRD", "type": "prd"});
    let bumped = api
        .call(
            Method::PUT,
            &format!("/v1/projects/{id}/artifacts"),
            Some(&operator),
            Some(&renamed),
        )
        .await?;
    assert_eq!(bumped.body["version"], 2);
    let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await?
        .ok_or("subscription ended")?;
    let event: Value = serde_json::from_str(&message.get_payload::<String>()?)?;
    assert_eq!(event["version"], 2);

    let story = json!({"path": "docs/e1/s1.md", "name": "Story 1", "type": "story"});
    api.call(
        Method::PUT,
        &format!("/v1/projects/{id}/artifacts"),
        Some(&operator),
        Some(&story),
    )
    .await?;
    let prds = api
        .get(&format!("/v1/projects/{id}/artifacts?type=prd"), &operator)
        .await?;
    assert_eq!(prds.status, StatusCode::OK, "{}", prds.body);
    assert_eq!(prds.body["items"].as_array().map(Vec::len), Some(1));
    let all = api
        .get(&format!("/v1/projects/{id}/artifacts?limit=1"), &operator)
        .await?;
    assert_eq!(all.body["items"][0]["path"], "docs/e1/s1.md");
    assert!(all.body["nextCursor"].is_string());
    let bad = api
        .get(
            &format!("/v1/projects/{id}/artifacts?type=novel"),
            &operator,
        )
        .await?;
    assert_eq!((bad.status, bad.field()), (StatusCode::BAD_REQUEST, "type"));
    Ok(())
}

#[tokio::test]
async fn webhook_deliveries_are_verified_deduplicated_and_scanned_once() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let id = create_project(&api, &admin, "Jive").await?["projectId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let payload = br#"{"ref":"refs/heads/main","after":"abc"}"#;

    // Wrong secret, no signature: 401, nothing stored.
    let wrong = github_signature(&SecretBytes::new(b"other".to_vec()), payload);
    for sig in [Some(wrong.as_str()), None] {
        let a = deliver(&api, &operator, &id, "push", sig, payload).await?;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        );
    }
    assert_eq!(count(&api, "SELECT count(*) FROM webhook_events").await?, 0);

    let sig = sign(payload);
    let first = deliver(&api, &operator, &id, "push", Some(&sig), payload).await?;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    assert_eq!(first.body["outcome"], "created");
    assert!(first.body["scanJobId"].is_i64());
    let again = deliver(&api, &operator, &id, "push", Some(&sig), payload).await?;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["outcome"], "duplicate_in_flight");
    assert_eq!(again.body["eventId"], first.body["eventId"]);
    assert_eq!(count(&api, "SELECT count(*) FROM webhook_events").await?, 1);
    assert_eq!(
        count(
            &api,
            "SELECT count(*) FROM jobs WHERE queue = 'artifact-scan'"
        )
        .await?,
        1
    );
    let project = api.get(&format!("/v1/projects/{id}"), &operator).await?;
    assert!(project.body["lastSeenAt"].is_string());

    // Bad source or missing event header: 400.
    let missing_event = api
        .http
        .post(format!("{}/v1/projects/{id}/webhooks/github", api.base))
        .bearer_auth(&operator)
        .header("x-hub-signature-256", &sig)
        .header("content-type", "application/json")
        .body(payload.to_vec())
        .send()
        .await?;
    assert_eq!(missing_event.status(), StatusCode::BAD_REQUEST);
    let bad_source = api
        .call(
            Method::POST,
            &format!("/v1/projects/{id}/webhooks/svn"),
            Some(&operator),
            Some(&json!({})),
        )
        .await?;
    assert_eq!(bad_source.status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn mcp_calls_are_logged_and_queried() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let id = create_project(&api, &admin, "Jive").await?["projectId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for (actor, tool) in [("a1", "read"), ("a1", "write"), ("a2", "read")] {
        let call = json!({"actorType": "agent", "actorId": actor, "tool": tool, "scope": "project",
                          "args": {"b": 1, "a": [2]}, "result": "success"});
        let a = api
            .call(
                Method::POST,
                &format!("/v1/projects/{id}/mcp-log"),
                Some(&operator),
                Some(&call),
            )
            .await?;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        assert_eq!(a.body["argsHash"].as_str().map(str::len), Some(64));
    }
    let a1 = api
        .get(&format!("/v1/projects/{id}/mcp-log?actorId=a1"), &operator)
        .await?;
    assert_eq!(a1.status, StatusCode::OK, "{}", a1.body);
    assert_eq!(a1.body["items"].as_array().map(Vec::len), Some(2));
    let reads = api
        .get(
            &format!("/v1/projects/{id}/mcp-log?tool=read&limit=1"),
            &operator,
        )
        .await?;
    assert_eq!(reads.body["items"][0]["actorId"], "a2");
    assert!(reads.body["nextCursor"].is_string());
    let bad = api
        .call(
            Method::POST,
            &format!("/v1/projects/{id}/mcp-log"),
            Some(&operator),
            Some(&json!({"actorType": "agent", "actorId": "a", "tool": "t", "scope": "s", "result": "maybe"})),
        )
        .await?;
    assert_eq!(
        (bad.status, bad.field()),
        (StatusCode::BAD_REQUEST, "result")
    );
    Ok(())
}

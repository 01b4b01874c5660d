//! The error envelope for every failure the service itself detects: bad bodies, bad queries,
//! unknown routes and methods, limits, timeouts; request ids; HTTP metrics.

use std::time::Duration;

use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_server::api::ApiSettings;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::Api;
use crate::TestResult;

#[tokio::test]
async fn bad_bodies_are_4xx_naming_the_field_without_echoing_values() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let url = format!("{}/v1/users", api.base);
    let post = |body: String, content_type: &'static str| {
        api.http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
    };
    let cases: Vec<(String, &str, StatusCode, &str)> = vec![
        (
            "{\"email\": ".into(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            "[1, 2]".into(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            json!({"email": "x@example.com", "roles": ["admin"], "s3cretField": 1}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "s3cretField",
        ),
        (
            json!({"roles": ["admin"]}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (
            json!({"email": "x@example.com", "roles": "admin"}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "roles",
        ),
        (
            json!({"email": "x@example.com", "roles": ["s3cret-role"]}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "roles[0]",
        ),
        (
            json!({"email": "not-an-email-s3cret", "roles": ["admin"]}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (
            json!({"email": "x@example.com", "roles": []}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "roles",
        ),
        (
            json!({"email": "x@example.com", "roles": ["admin"], "isActive": "yes-s3cret"})
                .to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "isActive",
        ),
        (
            json!({"email": "x@example.com", "roles": ["admin"], "displayName": "s3cret\u{0}x"}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "displayName",
        ),
        (
            json!({"email": "x@example.com", "roles": ["admin"], "displayName": "s3cret".repeat(40)}).to_string(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "displayName",
        ),
        (
            json!({"email": "x@example.com", "roles": ["admin"]}).to_string(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
        ),
        (
            format!("{{\"email\": \"{}\"}}", "a".repeat(1024 * 1024 + 10)),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "body",
        ),
    ];
    for (body, content_type, status, field) in cases {
        let a = super::answer(post(body, content_type).send().await?).await?;
        assert_eq!(a.status, status, "{field}: {}", a.body);
        assert_eq!(
            (a.code(), a.field()),
            ("validation_error", field),
            "{}",
            a.body
        );
        let message = a.body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.contains("s3cret"), "value echoed: {message}");
    }
    Ok(())
}

#[tokio::test]
async fn bad_queries_are_400_naming_the_parameter() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    for (query, field) in [
        ("s3cret=1", "s3cret"),
        ("page=abc", "page"),
        ("page=0", "page"),
        ("pageSize=101", "page_size"),
        ("isActive=maybe", "isActive"),
        ("roleId=superuser", "roleId"),
        ("createdFrom=yesterday", "createdFrom"),
        ("createdTo=2024-13-45", "createdTo"),
        ("sortField=password", "sortField"),
        ("sortDirection=up", "sortDirection"),
        ("cursor=forged", "cursor"),
        ("limit=0", "limit"),
        ("limit=5&page=2", "cursor"),
        ("q=a&q=b", "q"),
        ("q=s3cret%00", "q"),
    ] {
        let a = api.get(&format!("/v1/users?{query}"), &token).await?;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}: {}", a.body);
        assert_eq!(a.code(), "validation_error", "{query}");
        assert!(
            a.field() == field || a.field() == brokerdb_server::api::error::camel_field(field),
            "{query}: field {} ({})",
            a.field(),
            a.body
        );
    }
    Ok(())
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let a = api.get("/v1/nothing-here", &token).await?;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"));
    let a = api
        .call(Method::DELETE, "/v1/users", Some(&token), None)
        .await?;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{}", a.body);
    assert_eq!(a.code(), "method_not_allowed");
    let a = api.get("/v1/users/u_nobody", &token).await?;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"));
    let a = api.get("/v1/users/not%20an%20id", &token).await?;
    assert_eq!((a.status, a.field()), (StatusCode::BAD_REQUEST, "userId"));
    Ok(())
}

#[tokio::test]
async fn a_request_id_is_kept_when_safe_and_replaced_when_not() -> TestResult {
    let api = Api::start().await?;
    let get = |id: &'static str| {
        api.http
            .get(format!("{}/healthz", api.base))
            .header("x-request-id", id)
            .send()
    };
    let r = get("trace-123.abc").await?;
    assert_eq!(r.headers()["x-request-id"], "trace-123.abc");
    let r = get("bad id with spaces").await?;
    let replaced = r.headers()["x-request-id"].to_str()?.to_owned();
    assert_ne!(replaced, "bad id with spaces");
    assert_eq!(replaced.len(), 36, "a UUID: {replaced}");
    Ok(())
}

#[tokio::test]
async fn the_concurrency_limit_is_503_and_the_timeout_504() -> TestResult {
    let full = Api::with(ApiSettings {
        max_concurrent_requests: 0,
        ..ApiSettings::default()
    })
    .await?;
    let r = super::answer(
        full.http
            .get(format!("{}/healthz", full.base))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );

    let slow = Api::with(ApiSettings {
        request_timeout: Duration::ZERO,
        ..ApiSettings::default()
    })
    .await?;
    let token = slow.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let a = slow.get("/v1/users", &token).await?;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::GATEWAY_TIMEOUT, "timeout")
    );
    Ok(())
}

#[tokio::test]
async fn requests_are_counted_by_route_template_not_by_path() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    api.get("/v1/users/u_some_id_123", &token).await?;
    let metrics = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await?
        .text()
        .await?;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("brokerdb_http_requests_total")
                && l.contains("route=\"/v1/users/{userId}\"")
                && l.contains("status=\"404\"")
        })
        .ok_or("no request counter for the route template")?;
    assert!(!metrics.contains("u_some_id_123"), "{line}");
    assert!(metrics.contains("brokerdb_http_request_duration_seconds_bucket"));
    Ok(())
}

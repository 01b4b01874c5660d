//! Authentication, roles, tenant scope from the token, revocation and the per-token rate limit.

use std::time::Duration;

use brokerdb::model::NonEmptyString;
use brokerdb::repo::api_tokens::{self, Actor, ApiTokenRole};
use brokerdb_server::api::ApiSettings;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Api, Error};
use crate::TestResult;

#[tokio::test]
async fn missing_malformed_and_unknown_tokens_are_401_with_www_authenticate() -> TestResult {
    let api = Api::start().await?;
    let url = format!("{}/v1/users", api.base);
    let cases = [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer "),
        Some("Bearer bdb_000000000000_nottherealsecret"),
        Some("Bearer something-else"),
    ];
    for header in cases {
        let mut req = api.http.get(&url);
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        let a = super::answer(req.send().await?).await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{header:?}: {}", a.body);
        assert_eq!(a.code(), "unauthenticated");
        assert_eq!(
            a.headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer realm=\"brokerdb\"")
        );
        let id = a.headers.get("x-request-id").and_then(|v| v.to_str().ok());
        assert_eq!(
            id,
            a.body["error"]["requestId"].as_str(),
            "request id in body and header"
        );
    }
    Ok(())
}

#[tokio::test]
async fn roles_decide_what_a_token_may_do() -> TestResult {
    let api = Api::start().await?;
    let new_user = |n: u32| json!({"email": format!("r{n}@example.com"), "roles": ["operator"]});
    for (n, role, expected) in [
        (1, ApiTokenRole::Auditor, StatusCode::FORBIDDEN),
        (2, ApiTokenRole::Operator, StatusCode::FORBIDDEN),
        (3, ApiTokenRole::Admin, StatusCode::CREATED),
    ] {
        let token = api.token(Some("t_a"), role).await?;
        let a = api
            .call(Method::POST, "/v1/users", Some(&token), Some(&new_user(n)))
            .await?;
        assert_eq!(a.status, expected, "{role}: {}", a.body);
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(a.code(), "forbidden");
        }
        // Every role reads.
        assert_eq!(api.get("/v1/users", &token).await?.status, StatusCode::OK);
    }
    // A system token does not act in a tenant.
    let system = api.token(None, ApiTokenRole::Admin).await?;
    let a = api.get("/v1/users", &system).await?;
    assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));
    Ok(())
}

#[tokio::test]
async fn a_revoked_token_is_refused_within_the_cache_lifetime() -> TestResult {
    let api = Api::with(ApiSettings {
        token_cache_ttl: Duration::from_millis(200),
        ..ApiSettings::default()
    })
    .await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    assert_eq!(api.get("/v1/users", &token).await?.status, StatusCode::OK);
    let token_id = token.split('_').nth(1).ok_or("token without id")?;
    let by = Actor {
        actor: NonEmptyString::new("actor", "test")?,
        correlation_id: NonEmptyString::new("correlation_id", "test")?,
    };
    api_tokens::revoke(&mut api.handle.system(), token_id, &by).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a = api.get("/v1/users", &token).await?;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    // The token's use was recorded while it worked.
    let used: Option<std::time::SystemTime> = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT last_used_at FROM api_tokens WHERE token_id = $1",
            &[&token_id],
        )
        .await?
        .get(0);
    assert!(used.is_some());
    Ok(())
}

#[tokio::test]
async fn a_token_over_its_rate_limit_gets_429_with_retry_after() -> TestResult {
    let api = Api::with(ApiSettings {
        rate_limit_requests: 3,
        rate_limit_window_seconds: 60,
        ..ApiSettings::default()
    })
    .await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let other = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    for _ in 0..3 {
        assert_eq!(api.get("/v1/users", &token).await?.status, StatusCode::OK);
    }
    let a = api.get("/v1/users", &token).await?;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let retry: u64 = a
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or("no Retry-After")?;
    assert!((1..=60).contains(&retry), "{retry}");
    // The limit is per token.
    assert_eq!(api.get("/v1/users", &other).await?.status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_leased_rate_limit_still_admits_exactly_the_limit() -> TestResult {
    // 100 per window: the service leases 2 hits at a time from Redis.
    let api = Api::with(ApiSettings {
        rate_limit_requests: 100,
        rate_limit_window_seconds: 60,
        ..ApiSettings::default()
    })
    .await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..110 {
        *statuses
            .entry(api.get("/v1/tenant", &token).await?.status.as_u16())
            .or_insert(0) += 1;
    }
    assert_eq!(statuses, [(200, 100), (429, 10)].into_iter().collect());
    Ok(())
}

/// Every tenant route, called with tenant B's admin token on tenant A's rows: never seen,
/// never changed, never confirmed to exist.
#[tokio::test]
async fn a_tenant_token_never_sees_changes_or_learns_of_another_tenants_rows() -> TestResult {
    let api = Api::start().await?;
    let a_admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let b_admin = api.token(Some("t_b"), ApiTokenRole::Admin).await?;
    let created = api
        .call(
            Method::POST,
            "/v1/users",
            Some(&a_admin),
            Some(&json!({"userId": "u_of_a", "email": "only-a@example.com", "roles": ["admin"]})),
        )
        .await?;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    let routes: [(Method, &str, Option<serde_json::Value>, StatusCode); 4] = [
        (Method::GET, "/v1/users/u_of_a", None, StatusCode::NOT_FOUND),
        (
            Method::PUT,
            "/v1/users/u_of_a/roles",
            Some(json!({"roles": ["owner"]})),
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, "/v1/users?q=only-a", None, StatusCode::OK),
        // The same email is free in B: emails are unique per tenant, and A's is not revealed.
        (
            Method::POST,
            "/v1/users",
            Some(json!({"email": "only-a@example.com", "roles": ["admin"]})),
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
            assert_eq!(a.body["total"], json!(0));
        }
    }
    // A's user is unchanged.
    let a = api.get("/v1/users/u_of_a", &a_admin).await?;
    assert_eq!(a.body["roles"], json!(["admin"]));
    Ok(())
}

/// Tokens are hashed at rest: nothing in the table is the token.
#[tokio::test]
async fn only_a_hash_of_the_token_is_stored() -> Result<(), Error> {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let dump: String = api
        .db
        .admin()
        .await
        .query_one("SELECT string_agg(t::text, ' ') FROM api_tokens t", &[])
        .await?
        .get(0);
    let secret = token.rsplit('_').next().ok_or("no secret part")?;
    assert!(!dump.contains(secret));
    Ok(())
}

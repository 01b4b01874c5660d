//! The console's JSON routes refuse in guard order (401, 409 ENV_DISABLED, 403, 409
//! HASH_MISMATCH), check their inputs (404, 422) and need the admin connection (503).

use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_repair::Registry;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Console, admin_token, send, serve};
use crate::TestResult;
use crate::api::{Answer, Api, Error};

const LIST: &str = "/api/ops/db/repairs";
const PREVIEW: &str = "/api/ops/db/repairs/preview";
const EXECUTE: &str = "/api/ops/db/repairs/execute";
const RUNS: &str = "/api/ops/db/repairs/runs";

/// R-001 and its hash.
fn first() -> Result<(String, String), Error> {
    let p = Registry::builtin()?.list().first().ok_or("no playbook")?;
    Ok((p.id.clone(), p.hash.clone()))
}

/// Each route once, with a valid body (execute with R-001's hash), as `headers` send it.
async fn every_route(api: &Api, headers: &[(&str, &str)]) -> Result<Vec<Answer>, Error> {
    let (id, hash) = first()?;
    let preview = json!({"repairId": id});
    let execute = json!({"repairId": id, "expectedHash": hash});
    Ok(vec![
        send(api, Method::GET, LIST, headers, None).await?,
        send(api, Method::POST, PREVIEW, headers, Some(&preview)).await?,
        send(api, Method::POST, EXECUTE, headers, Some(&execute)).await?,
        send(api, Method::GET, RUNS, headers, None).await?,
    ])
}

fn assert_all(answers: &[Answer], status: StatusCode, code: &str, case: &str) {
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(
            (a.status, a.code()),
            (status, code),
            "{case}, route {i}: {}",
            a.body
        );
    }
}

/// `hash` with its first digit changed.
fn flipped(hash: &str) -> String {
    let first = if hash.starts_with('0') { '1' } else { '0' };
    format!("{first}{}", &hash[1..])
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn no_principal_is_401_whatever_else_is_wrong() -> TestResult {
    let api = serve(Console {
        env: Some("production"),
        admins: None,
        ..Console::default()
    })
    .await?;
    assert_all(
        &every_route(&api, &[]).await?,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "no token in production",
    );
    let invalid = every_route(&api, &[("authorization", "Bearer not-a-token")]).await?;
    assert_all(
        &invalid,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "invalid token",
    );
    // A wrong body or query does not get past guard 1 either.
    let a = send(&api, Method::POST, EXECUTE, &[], Some(&json!({"x": 1}))).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = send(&api, Method::GET, &format!("{RUNS}?limit=0&x=1"), &[], None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn an_environment_other_than_staging_or_development_is_409_env_disabled() -> TestResult {
    for env in [Some("production"), None, Some("prod")] {
        let api = serve(Console {
            env,
            ..Console::default()
        })
        .await?;
        let admin = bearer(&admin_token(&api).await?);
        let answers = every_route(&api, &[("authorization", &admin)]).await?;
        assert_all(&answers, StatusCode::CONFLICT, "ENV_DISABLED", "admin");
        let message = answers[0].body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains("staging or development"), "{message}");
        // Production and a principal that is no admin: the environment answers first.
        let other = bearer(&api.token(Some("t_b"), ApiTokenRole::Admin).await?);
        let answers = every_route(&api, &[("authorization", &other)]).await?;
        assert_all(&answers, StatusCode::CONFLICT, "ENV_DISABLED", "non-admin");
    }
    Ok(())
}

#[tokio::test]
async fn a_principal_outside_the_allowlist_is_403_and_an_empty_list_denies_all() -> TestResult {
    for admins in [Some("someone-else, another"), Some(""), None] {
        let api = serve(Console {
            admins,
            ..Console::default()
        })
        .await?;
        let token = bearer(&admin_token(&api).await?);
        let answers = every_route(&api, &[("authorization", &token)]).await?;
        assert_all(&answers, StatusCode::FORBIDDEN, "forbidden", "not an admin");
    }
    // Any role counts once listed: the allowlist decides, not the token's role.
    let api = serve(Console {
        admins: Some("auditor@t_a"),
        ..Console::default()
    })
    .await?;
    let auditor = bearer(&api.token(Some("t_a"), ApiTokenRole::Auditor).await?);
    let a = send(
        &api,
        Method::GET,
        LIST,
        &[("authorization", &auditor)],
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    Ok(())
}

#[tokio::test]
async fn an_admin_lists_the_registry_and_a_wrong_hash_is_409_hash_mismatch() -> TestResult {
    let api = serve(Console::default()).await?;
    let token = admin_token(&api).await?;
    let list = api.get(LIST, &token).await?;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let registry = Registry::builtin()?;
    let repairs = list.body["repairs"].as_array().ok_or("no repairs")?;
    assert_eq!(repairs.len(), registry.list().len());
    for (got, p) in repairs.iter().zip(registry.list()) {
        assert_eq!(got["id"], p.id.as_str());
        assert_eq!(got["title"], p.title.as_str());
        assert_eq!(got["description"], p.description.as_str());
        assert_eq!(got["hash"], p.hash.as_str());
        assert_eq!(got["statementCount"], p.statements.len());
        let after: Vec<String> = p.required_after.iter().map(ToString::to_string).collect();
        assert_eq!(got["requiredAfter"], json!(after));
        assert!(got["requiredBefore"].is_array());
    }
    let (id, hash) = first()?;
    let wrong = flipped(&hash);
    let a = api
        .call(
            Method::POST,
            EXECUTE,
            Some(&token),
            Some(&json!({"repairId": id, "expectedHash": wrong})),
        )
        .await?;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::CONFLICT, "HASH_MISMATCH")
    );
    // A non-admin with a wrong hash hears about authorization, not the hash.
    let other = api.token(Some("t_b"), ApiTokenRole::Admin).await?;
    let a = api
        .call(
            Method::POST,
            EXECUTE,
            Some(&other),
            Some(&json!({"repairId": id, "expectedHash": wrong})),
        )
        .await?;
    assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));
    Ok(())
}

#[tokio::test]
async fn the_proxy_header_names_the_principal_only_when_trusted() -> TestResult {
    let user = [("x-forwarded-user", "alice@example.com")];
    let trusted = serve(Console {
        admins: Some("alice@example.com"),
        proxy: Some("x-forwarded-user"),
        ..Console::default()
    })
    .await?;
    let a = send(&trusted, Method::GET, LIST, &user, None).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Another user through the proxy is known but not an admin.
    let a = send(
        &trusted,
        Method::GET,
        LIST,
        &[("x-forwarded-user", "bob")],
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // An invalid bearer token does not fall back to the header.
    let mut both = user.to_vec();
    both.push(("authorization", "Bearer nope"));
    let a = send(&trusted, Method::GET, LIST, &both, None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);

    // Not trusted: a client-sent copy is ignored.
    let untrusted = serve(Console {
        admins: Some("alice@example.com"),
        ..Console::default()
    })
    .await?;
    let a = send(&untrusted, Method::GET, LIST, &user, None).await?;
    assert_eq!(
        (a.status, a.code()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    Ok(())
}

#[tokio::test]
async fn unknown_playbooks_are_404_and_invalid_bodies_422_naming_the_field() -> TestResult {
    let api = serve(Console::default()).await?;
    let token = admin_token(&api).await?;
    let (id, hash) = first()?;
    let post = |path: &'static str, body: Value| {
        let (api, token) = (&api, token.clone());
        async move {
            api.call(Method::POST, path, Some(&token), Some(&body))
                .await
        }
    };
    for (path, body) in [
        (PREVIEW, json!({"repairId": "R-999"})),
        (EXECUTE, json!({"repairId": "R-999", "expectedHash": hash})),
    ] {
        let a = post(path, body).await?;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let cases = [
        (PREVIEW, json!({}), "repairId"),
        (PREVIEW, json!({"repairId": 7}), "repairId"),
        (PREVIEW, json!({"repairId": "drop table"}), "repairId"),
        (PREVIEW, json!({"repairId": id, "extra": 1}), "extra"),
        (EXECUTE, json!({"repairId": id}), "expectedHash"),
        (
            EXECUTE,
            json!({"repairId": id, "expectedHash": "abc"}),
            "expectedHash",
        ),
        (
            EXECUTE,
            json!({"repairId": "R-1", "expectedHash": hash}),
            "repairId",
        ),
    ];
    for (path, body, field) in cases {
        let a = post(path, body.clone()).await?;
        assert_eq!(
            (a.status, a.code(), a.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_error", field),
            "{path} {body}"
        );
    }
    // A body that is not a JSON object is malformed (400), as everywhere in the API.
    let a = api
        .call(Method::POST, PREVIEW, Some(&token), Some(&json!([1])))
        .await?;
    assert_eq!((a.status, a.field()), (StatusCode::BAD_REQUEST, "body"));
    // The ledger's query parameters are checked like every keyset list's (400).
    for (query, field) in [
        ("limit=0", "limit"),
        ("cursor=forged", "cursor"),
        ("x=1", "x"),
    ] {
        let a = api.get(&format!("{RUNS}?{query}"), &token).await?;
        assert_eq!(
            (a.status, a.code(), a.field()),
            (StatusCode::BAD_REQUEST, "validation_error", field),
            "{query}: {}",
            a.body
        );
    }
    Ok(())
}

#[tokio::test]
async fn without_the_admin_connection_the_routes_answer_503_after_the_guards() -> TestResult {
    let api = serve(Console {
        admin: false,
        ..Console::default()
    })
    .await?;
    assert_all(
        &every_route(&api, &[]).await?,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "no token",
    );
    let token = bearer(&admin_token(&api).await?);
    let answers = every_route(&api, &[("authorization", &token)]).await?;
    assert_all(
        &answers,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "no admin",
    );
    let message = answers[0].body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("DATABASE_URL"), "{message}");
    Ok(())
}

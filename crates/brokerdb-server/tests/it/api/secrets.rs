//! `/v1/secrets/{secretId}`: writing versions from client-encrypted envelopes (audited), the
//! versions' metadata, choosing the active version; no response ever carries the encrypted
//! material; errors, roles and tenant isolation.

use brokerdb::repo::api_tokens::ApiTokenRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::integrations::{create_integration, integration_of_a};
use super::templates::{actors_of, publish};
use super::{Answer, Api, Error};
use crate::TestResult;

/// Base64 of `super-secret-ciphertext-marker`: must never appear in a response.
const CIPHERTEXT: &str = "c3VwZXItc2VjcmV0LWNpcGhlcnRleHQtbWFya2Vy";
/// Base64 of `wrapped-key-marker`.
const WRAPPED_KEY: &str = "d3JhcHBlZC1rZXktbWFya2Vy";
/// Base64 of `aad-marker`.
const AAD: &str = "YWFkLW1hcmtlcg==";
const IV: &str = "aXYtbWFya2VyLWl2";
const TAG: &str = "dGFnLW1hcmtlci10YWc=";

/// An envelope whose every encrypted part is a recognizable marker.
pub fn envelope() -> Value {
    json!({"keyId": "kek-2026.11:a", "contentEncryptionAlg": "A256GCM",
           "keyEncryptionAlg": "RSA-OAEP-256", "wrappedDataKeyB64": WRAPPED_KEY, "ivB64": IV,
           "ciphertextB64": CIPHERTEXT, "authTagB64": TAG, "aadB64": AAD})
}

/// Writes a version of `secret` for `integration` as `token`.
pub async fn write_version(
    api: &Api,
    token: &str,
    secret: &str,
    integration: &str,
    envelope: &Value,
) -> Result<Answer, Error> {
    api.call(
        Method::POST,
        &format!("/v1/secrets/{secret}/versions"),
        Some(token),
        Some(&json!({"integrationId": integration, "secretType": "api_key", "envelope": envelope})),
    )
    .await
}

/// Fails when a response body holds any part of the encrypted material.
fn assert_no_material(a: &Answer) {
    let text = a.body.to_string();
    for marker in [CIPHERTEXT, WRAPPED_KEY, AAD, IV, TAG] {
        assert!(!text.contains(marker), "a response leaked {marker}: {text}");
    }
    for key in [
        "ciphertextB64",
        "wrappedDataKeyB64",
        "ivB64",
        "authTagB64",
        "aadB64",
    ] {
        let as_key = format!("\"{key}\":");
        assert!(!text.contains(&as_key), "a response has {key}: {text}");
    }
}

#[tokio::test]
async fn no_response_of_the_secret_routes_carries_the_encrypted_material() -> TestResult {
    let api = Api::start().await?;
    let admin = integration_of_a(&api).await?;
    let auditor = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let mut answers = Vec::new();

    let v1 = write_version(&api, &admin, "sec_mail", "int_mail", &envelope()).await?;
    assert_eq!(v1.status, StatusCode::CREATED, "{}", v1.body);
    assert_eq!(v1.body["secretId"], "sec_mail");
    assert_eq!(v1.body["integrationId"], "int_mail");
    assert_eq!(v1.body["secretType"], "api_key");
    assert_eq!(v1.body["version"], 1);
    assert_eq!(v1.body["active"], true);
    assert_eq!(v1.body["keyId"], "kek-2026.11:a");
    assert_eq!(v1.body["contentEncryptionAlg"], "A256GCM");
    assert_eq!(v1.body["keyEncryptionAlg"], "RSA-OAEP-256");
    answers.push(v1);
    let v2 = write_version(&api, &admin, "sec_mail", "int_mail", &envelope()).await?;
    assert_eq!(
        (v2.status, &v2.body["version"]),
        (StatusCode::CREATED, &json!(2))
    );
    answers.push(v2);

    let list = api.get("/v1/secrets/sec_mail/versions", &auditor).await?;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["secretId"], "sec_mail");
    assert_eq!(list.body["activeVersion"], 2);
    let items = list.body["items"].as_array().ok_or("no items")?;
    let summary: Vec<(i64, bool)> = items
        .iter()
        .filter_map(|v| Some((v["version"].as_i64()?, v["active"].as_bool()?)))
        .collect();
    assert_eq!(summary, [(1, false), (2, true)]);
    answers.push(list);

    // Roll back to version 1.
    let set = api
        .call(
            Method::PUT,
            "/v1/secrets/sec_mail/active-version",
            Some(&admin),
            Some(&json!({"version": 1})),
        )
        .await?;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(
        (&set.body["version"], &set.body["active"]),
        (&json!(1), &json!(true))
    );
    answers.push(set);
    let list = api.get("/v1/secrets/sec_mail/versions", &auditor).await?;
    assert_eq!(list.body["activeVersion"], 1);
    answers.push(list);

    // Error answers carry none of it either (a bad envelope is refused without echoing).
    let mut bad = envelope();
    bad["contentEncryptionAlg"] = json!("A128GCM");
    answers.push(write_version(&api, &admin, "sec_mail", "int_mail", &bad).await?);
    let mut bad = envelope();
    bad["extra"] = json!(CIPHERTEXT);
    answers.push(write_version(&api, &admin, "sec_mail", "int_mail", &bad).await?);

    for a in &answers {
        assert_no_material(a);
    }
    // The material is stored (for the broker to decrypt), and the audit events hold only ids.
    let stored: i64 = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM secret_versions WHERE ciphertext_b64 = $1",
            &[&CIPHERTEXT],
        )
        .await?
        .get(0);
    assert_eq!(stored, 2);
    let events: String = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT string_agg(event_json::text, ' ') FROM audit_events",
            &[],
        )
        .await?
        .get(0);
    assert!(!events.contains(CIPHERTEXT) && !events.contains(WRAPPED_KEY));
    assert_eq!(
        actors_of(&api, "secret.version_created").await?,
        vec![("admin@t_a".to_owned(), "t_a".to_owned()); 2]
    );
    assert_eq!(
        actors_of(&api, "secret.active_version_set").await?,
        vec![("admin@t_a".to_owned(), "t_a".to_owned())]
    );
    Ok(())
}

#[tokio::test]
async fn writing_a_version_refuses_bad_envelopes_unknown_integrations_and_mismatches() -> TestResult
{
    let api = Api::start().await?;
    let admin = integration_of_a(&api).await?;
    create_integration(&api, &admin, "int_two", "two").await?;
    let ok = write_version(&api, &admin, "sec_mail", "int_mail", &envelope()).await?;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);

    let with = |key: &str, value: Value| {
        let mut e = envelope();
        e[key] = value;
        e
    };
    for (e, field) in [
        (
            with("contentEncryptionAlg", json!("A128GCM")),
            "envelope.contentEncryptionAlg",
        ),
        (
            with("ciphertextB64", json!("not base64!")),
            "envelope.ciphertextB64",
        ),
        (
            with("wrappedDataKeyB64", json!("")),
            "envelope.wrappedDataKeyB64",
        ),
        (with("keyId", json!("bad key")), "envelope.keyId"),
        (with("ivB64", json!(" ")), "envelope.ivB64"),
        (with("nonce", json!("x")), "envelope.nonce"),
    ] {
        let a = write_version(&api, &admin, "sec_mail", "int_mail", &e).await?;
        assert_eq!(
            (a.status, a.code(), a.field()),
            (StatusCode::BAD_REQUEST, "validation_error", field),
            "{e}: {}",
            a.body
        );
    }
    let a = write_version(&api, &admin, "a:b", "int_mail", &envelope()).await?;
    assert_eq!((a.status, a.field()), (StatusCode::BAD_REQUEST, "secretId"));
    let a = write_version(&api, &admin, "sec_mail", "a:b", &envelope()).await?;
    assert_eq!(
        (a.status, a.field()),
        (StatusCode::BAD_REQUEST, "integrationId")
    );
    let a = api
        .call(
            Method::POST,
            "/v1/secrets/sec_mail/versions",
            Some(&admin),
            Some(&json!({"integrationId": "int_mail", "secretType": "password", "envelope": envelope()})),
        )
        .await?;
    assert_eq!(
        (a.status, a.field()),
        (StatusCode::BAD_REQUEST, "secretType")
    );

    // Unknown integration: 422. Another integration's secret, or another type: 409. A second
    // secret for an integration that has one: 409.
    let a = write_version(&api, &admin, "sec_new", "int_none", &envelope()).await?;
    assert_eq!(
        (a.status, a.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "integrationId")
    );
    let a = write_version(&api, &admin, "sec_mail", "int_two", &envelope()).await?;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "conflict"));
    let a = api
        .call(
            Method::POST,
            "/v1/secrets/sec_mail/versions",
            Some(&admin),
            Some(
                &json!({"integrationId": "int_mail", "secretType": "oauth_refresh_token",
                         "envelope": envelope()}),
            ),
        )
        .await?;
    assert_eq!((a.status, a.code()), (StatusCode::CONFLICT, "conflict"));
    let a = write_version(&api, &admin, "sec_other", "int_mail", &envelope()).await?;
    assert_eq!(
        (a.status, a.field()),
        (StatusCode::CONFLICT, "integrationId"),
        "{}",
        a.body
    );

    for role in [ApiTokenRole::Auditor, ApiTokenRole::Operator] {
        let token = api.token(Some("t_a"), role).await?;
        let a = write_version(&api, &token, "sec_mail", "int_mail", &envelope()).await?;
        assert_eq!((a.status, a.code()), (StatusCode::FORBIDDEN, "forbidden"));
    }
    let list = api.get("/v1/secrets/sec_mail/versions", &admin).await?;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(actors_of(&api, "secret.version_created").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn reading_and_setting_the_active_version_answer_404_400_and_403() -> TestResult {
    let api = Api::start().await?;
    let admin = integration_of_a(&api).await?;
    write_version(&api, &admin, "sec_mail", "int_mail", &envelope()).await?;
    for (path, status, field) in [
        ("/v1/secrets/sec_none/versions", StatusCode::NOT_FOUND, ""),
        (
            "/v1/secrets/a:b/versions",
            StatusCode::BAD_REQUEST,
            "secretId",
        ),
    ] {
        let a = api.get(path, &admin).await?;
        assert_eq!((a.status, a.field()), (status, field), "{path}: {}", a.body);
    }
    let put = |path: &'static str, body: Value, token: String| {
        let api = &api;
        async move { api.call(Method::PUT, path, Some(&token), Some(&body)).await }
    };
    for (path, body, status, field) in [
        (
            "/v1/secrets/sec_mail/active-version",
            json!({"version": 2}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "/v1/secrets/sec_none/active-version",
            json!({"version": 1}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "/v1/secrets/sec_mail/active-version",
            json!({"version": 0}),
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (
            "/v1/secrets/sec_mail/active-version",
            json!({"version": "1"}),
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (
            "/v1/secrets/sec_mail/active-version",
            json!({}),
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (
            "/v1/secrets/a:b/active-version",
            json!({"version": 1}),
            StatusCode::BAD_REQUEST,
            "secretId",
        ),
    ] {
        let a = put(path, body.clone(), admin.clone()).await?;
        assert_eq!(
            (a.status, a.field()),
            (status, field),
            "{path} {body}: {}",
            a.body
        );
    }
    for role in [ApiTokenRole::Auditor, ApiTokenRole::Operator] {
        let token = api.token(Some("t_a"), role).await?;
        let a = put(
            "/v1/secrets/sec_mail/active-version",
            json!({"version": 1}),
            token,
        )
        .await?;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }
    assert!(
        actors_of(&api, "secret.active_version_set")
            .await?
            .is_empty()
    );
    Ok(())
}

/// Tenant B's admin token on tenant A's secret: never listed, never changed; writing a version
/// under A's id is refused as taken without saying whose it is, and A's secret is unchanged.
#[tokio::test]
async fn another_tenants_secrets_are_never_seen_or_changed() -> TestResult {
    let api = Api::start().await?;
    let a_admin = integration_of_a(&api).await?;
    write_version(&api, &a_admin, "sec_mail", "int_mail", &envelope()).await?;
    write_version(&api, &a_admin, "sec_mail", "int_mail", &envelope()).await?;
    let b_admin = api.token(Some("t_b"), ApiTokenRole::Admin).await?;
    publish(&api, &b_admin, "tpl_mail", 1).await?;
    create_integration(&api, &b_admin, "int_b", "mail").await?;
    let routes: [(Method, &str, Option<Value>, StatusCode); 4] = [
        (
            Method::GET,
            "/v1/secrets/sec_mail/versions",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            "/v1/secrets/sec_mail/active-version",
            Some(json!({"version": 1})),
            StatusCode::NOT_FOUND,
        ),
        // A's integration does not exist for B.
        (
            Method::POST,
            "/v1/secrets/sec_b/versions",
            Some(
                json!({"integrationId": "int_mail", "secretType": "api_key", "envelope": envelope()}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // Secret ids are global: A's is taken, and that is all B learns.
        (
            Method::POST,
            "/v1/secrets/sec_mail/versions",
            Some(
                json!({"integrationId": "int_b", "secretType": "api_key", "envelope": envelope()}),
            ),
            StatusCode::CONFLICT,
        ),
    ];
    for (method, path, body, expected) in routes {
        let a = api
            .call(method.clone(), path, Some(&b_admin), body.as_ref())
            .await?;
        assert_eq!(a.status, expected, "{method} {path}: {}", a.body);
        assert_no_material(&a);
        assert!(!a.body.to_string().contains("t_a"), "{}", a.body);
    }
    let a = api.get("/v1/secrets/sec_mail/versions", &a_admin).await?;
    assert_eq!(a.body["activeVersion"], 2);
    assert_eq!(a.body["items"].as_array().map(Vec::len), Some(2));
    Ok(())
}

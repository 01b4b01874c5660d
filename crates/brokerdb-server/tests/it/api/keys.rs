//! `/v1/keys/manifest`: the published public keys for any token, the strong ETag of the body,
//! 304 on `If-None-Match`, `Cache-Control`, and a changed keyset changing the ETag.

use brokerdb::model::{Kid, NonEmptyString, Timestamp};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb::repo::secrets::keyset::{self, WeakEtag};
use brokerdb::repo::secrets::manifest_keys::{self, ManifestKeyAlg, NewManifestSigningKey};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Api, Error};
use crate::TestResult;

fn x(kid: &str) -> String {
    // Any base64url text serves as a public coordinate here.
    format!("{kid}-11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
}

/// Records key `kid` (retired: published for verification), its private half "in a KMS".
async fn add_key(api: &Api, kid: &str, created_at: &str) -> Result<(), Error> {
    let key = NewManifestSigningKey {
        kid: Kid::parse(kid)?,
        alg: ManifestKeyAlg::EdDSA,
        public_jwk: serde_json::from_value(json!({
            "kid": kid, "kty": "OKP", "crv": "Ed25519", "x": x(kid), "alg": "EdDSA", "use": "sig"
        }))?,
        private_key_ref: NonEmptyString::new("private_key_ref", "kms://keys/PRIVATE-REF")?,
        created_at: Timestamp::parse(created_at)?,
    };
    manifest_keys::create(&mut api.handle.system(), &key).await?;
    Ok(())
}

/// `GET /v1/keys/manifest` with `token` and an optional `If-None-Match`: status, headers, raw
/// body.
async fn fetch(
    api: &Api,
    token: &str,
    if_none_match: Option<&str>,
) -> Result<(StatusCode, HeaderMap, Vec<u8>), Error> {
    let mut req = api
        .http
        .get(format!("{}/v1/keys/manifest", api.base))
        .bearer_auth(token);
    if let Some(tag) = if_none_match {
        req = req.header("if-none-match", tag);
    }
    let response = req.send().await?;
    let (status, headers) = (response.status(), response.headers().clone());
    Ok((status, headers, response.bytes().await?.to_vec()))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_keyset_round_trips_200_then_304_and_a_changed_keyset_changes_the_etag() -> TestResult {
    let api = Api::start().await?;
    let auditor = api.token(Some("t_b"), ApiTokenRole::Auditor).await?;
    let system = api.token(None, ApiTokenRole::Auditor).await?;

    // Not published yet.
    let (status, _, body) = fetch(&api, &auditor, None).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body: Value = serde_json::from_slice(&body)?;
    assert_eq!(body["error"]["code"], "not_found");

    add_key(&api, "mk-1", "2026-11-01T00:00:00Z").await?;
    manifest_keys::set_active(
        &mut api.handle.system(),
        &Kid::parse("mk-1")?,
        Timestamp::parse("2026-11-02T00:00:00Z")?,
    )
    .await?;
    keyset::persist_metadata(
        &mut api.handle.system(),
        &WeakEtag::parse("W/\"v1\"")?,
        Timestamp::parse("2026-11-02T00:00:00Z")?,
        120,
    )
    .await?;
    // Written around the API: the writer busts the service's cache after its commit.
    api.cache.invalidate_manifest_keyset().await?;

    let (status, headers, bytes) = fetch(&api, &auditor, None).await?;
    assert_eq!(status, StatusCode::OK);
    let etag = header(&headers, "etag").to_owned();
    assert_eq!(
        etag,
        format!("\"{}\"", hex::encode(Sha256::digest(&bytes))),
        "a strong ETag of the body's bytes"
    );
    assert_eq!(header(&headers, "cache-control"), "max-age=60");
    assert_eq!(header(&headers, "content-type"), "application/json");
    let body: Value = serde_json::from_slice(&bytes)?;
    assert_eq!(
        body,
        json!({"keys": [{"kid": "mk-1", "kty": "OKP", "crv": "Ed25519", "x": x("mk-1"),
            "alg": "EdDSA", "use": "sig"}]})
    );
    let text = String::from_utf8(bytes.clone())?;
    assert!(!text.contains("PRIVATE") && !text.contains("kms"), "{text}");

    // Revalidation: 304, no body, the same validators.
    for tag in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
    ] {
        let (status, headers, body) = fetch(&api, &auditor, Some(&tag)).await?;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{tag}");
        assert!(body.is_empty());
        assert_eq!(header(&headers, "etag"), etag);
        assert_eq!(header(&headers, "cache-control"), "max-age=60");
    }
    let (status, _, _) = fetch(&api, &auditor, Some("\"stale\"")).await?;
    assert_eq!(status, StatusCode::OK);

    // A system token reads the same keyset.
    let (status, headers, same) = fetch(&api, &system, Some(&etag)).await?;
    assert_eq!((status, same.len()), (StatusCode::NOT_MODIFIED, 0));
    assert_eq!(header(&headers, "etag"), etag);

    // A new key changes the body and so the ETag; the old one no longer matches.
    add_key(&api, "mk-2", "2026-11-03T00:00:00Z").await?;
    api.cache.invalidate_manifest_keyset().await?;
    let (status, headers, bytes) = fetch(&api, &auditor, Some(&etag)).await?;
    assert_eq!(status, StatusCode::OK);
    let etag2 = header(&headers, "etag").to_owned();
    assert_ne!(etag2, etag);
    let body: Value = serde_json::from_slice(&bytes)?;
    let kids: Vec<&str> = body["keys"]
        .as_array()
        .ok_or("no keys")?
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids, ["mk-1", "mk-2"], "active first");
    let (status, _, _) = fetch(&api, &auditor, Some(&etag2)).await?;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // Revoking it removes it: the body, and so the ETag, is the first one again.
    manifest_keys::revoke(
        &mut api.handle.system(),
        &Kid::parse("mk-2")?,
        Timestamp::parse("2026-11-04T00:00:00Z")?,
    )
    .await?;
    api.cache.invalidate_manifest_keyset().await?;
    let (status, headers, _) = fetch(&api, &auditor, None).await?;
    assert_eq!(
        (status, header(&headers, "etag")),
        (StatusCode::OK, etag.as_str())
    );
    Ok(())
}

#[tokio::test]
async fn every_valid_token_reads_the_keyset_and_no_token_does_not() -> TestResult {
    let api = Api::start().await?;
    add_key(&api, "mk-1", "2026-11-01T00:00:00Z").await?;
    keyset::persist_metadata(
        &mut api.handle.system(),
        &WeakEtag::parse("W/\"v1\"")?,
        Timestamp::parse("2026-11-02T00:00:00Z")?,
        60,
    )
    .await?;
    let mut etags = Vec::new();
    for (tenant, role) in [
        (Some("t_a"), ApiTokenRole::Auditor),
        (Some("t_b"), ApiTokenRole::Operator),
        (Some("t_a"), ApiTokenRole::Admin),
        (None, ApiTokenRole::Admin),
    ] {
        let token = api.token(tenant, role).await?;
        let (status, headers, _) = fetch(&api, &token, None).await?;
        assert_eq!(status, StatusCode::OK, "{tenant:?} {role}");
        etags.push(header(&headers, "etag").to_owned());
    }
    etags.dedup();
    assert_eq!(etags.len(), 1, "the same keyset for every token");
    let a = api
        .call(reqwest::Method::GET, "/v1/keys/manifest", None, None)
        .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.headers.get("etag").is_none());
    Ok(())
}

/// The OpenAPI document lists these routes with every status they answer.
#[tokio::test]
async fn the_openapi_document_lists_the_approvals_audit_and_keys_routes() -> TestResult {
    let api = Api::start().await?;
    let doc = api
        .call(reqwest::Method::GET, "/openapi.json", None, None)
        .await?;
    assert_eq!(doc.status, StatusCode::OK);
    for (path, method, statuses) in [
        ("/v1/approvals", "get", &["200", "400", "401", "403"][..]),
        (
            "/v1/approvals",
            "post",
            &["201", "400", "401", "403", "409", "413", "415"],
        ),
        (
            "/v1/approvals/{approvalId}",
            "get",
            &["200", "400", "403", "404"],
        ),
        (
            "/v1/approvals/{approvalId}/transition",
            "post",
            &["200", "400", "403", "404", "409"],
        ),
        ("/v1/audit/events", "get", &["200", "400", "401", "403"]),
        ("/v1/audit/verify", "get", &["200", "400", "401", "403"]),
        ("/v1/keys/manifest", "get", &["200", "304", "401", "404"]),
    ] {
        let responses = &doc.body["paths"][path][method]["responses"];
        for status in statuses {
            assert!(
                responses.get(*status).is_some(),
                "{method} {path} lacks {status}"
            );
        }
    }
    Ok(())
}

//! SecretRepository (envelopes, manifest signing keys, keyset ETag, crypto defaults) against
//! real PostgreSQL.

use std::sync::Arc;

use brokerdb::db::{Db, ErrorCode, TxOptions, run_in_transaction};
use brokerdb::model::{IntegrationId, Kid, NonEmptyString, SecretRef, TemplateId, Timestamp};
use brokerdb::repo::integrations::{self, CreateOptions, IntegrationWrite, SecretMaterial};
use brokerdb::repo::secrets::{
    CryptoDefaultsUpdate, ManifestKey, ManifestKeyAlg, ManifestKeyStatus, NewManifestSigningKey,
    NewSecretVersion, SecretEnvelope, SecretType, WeakEtag, crypto_defaults, envelopes, keyset,
    manifest_keys,
};
use serde_json::json;

use crate::TestResult;
use crate::db_scope::{seeded, tenant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;
type Mutation = Box<dyn Fn(&mut SecretEnvelope)>;

fn envelope(ciphertext: &str) -> SecretEnvelope {
    SecretEnvelope {
        key_id: "kek-2026.11:a".into(),
        content_encryption_alg: "A256GCM".into(),
        key_encryption_alg: "RSA-OAEP-256".into(),
        wrapped_data_key_b64: "AAECAw==".into(),
        iv_b64: "iv".into(),
        ciphertext_b64: ciphertext.into(),
        auth_tag_b64: "tag".into(),
        aad_b64: None,
    }
}

fn new_version(secret_ref: &str, integration: &IntegrationId) -> Res<NewSecretVersion> {
    Ok(NewSecretVersion {
        secret_ref: SecretRef::parse(secret_ref)?,
        integration_id: integration.clone(),
        secret_type: SecretType::ApiKey,
        envelope: envelope("c2VjcmV0"),
        created_at: None,
    })
}

async fn integration(db: &Db, tenant_id: &str, name: &str) -> Res<IntegrationId> {
    let t = tenant(tenant_id)?;
    let write = IntegrationWrite {
        provider: "acme".into(),
        name: name.into(),
        template_id: TemplateId::parse("tpl_mail")?,
        secret_material: SecretMaterial {
            kind: "api_key".into(),
            value: "plaintext".into(),
        },
    };
    Ok(
        integrations::create(&db.tenant(&t), &write, &CreateOptions::default())
            .await?
            .integration_id,
    )
}

fn code<T>(r: Result<T, brokerdb::db::DbError>) -> Option<ErrorCode> {
    r.err().map(|e| e.code())
}

#[tokio::test]
async fn each_new_version_is_the_next_number_and_becomes_active_and_rollback_is_allowed()
-> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    let int = integration(&db, "t_a", "mail").await?;
    let sref = SecretRef::parse("sec_mail")?;
    assert_eq!(envelopes::get_active(&scope, &sref).await?, None);
    assert!(envelopes::list_versions(&scope, &sref).await?.is_empty());

    let mut input = new_version(" sec_mail ", &int)?;
    input.envelope.aad_b64 = Some("YWFk".into());
    let v1 = envelopes::create_version(&scope, &input).await?;
    assert_eq!((v1.version, v1.secret_ref.as_str()), (1, "sec_mail"));
    assert_eq!((v1.tenant_id.as_str(), &v1.integration_id), ("t_a", &int));
    assert_eq!(v1.envelope.aad_b64.as_deref(), Some("YWFk"));
    let at = Timestamp::parse("2026-01-02T03:04:05.678+01:00")?;
    input.created_at = Some(at);
    input.envelope.aad_b64 = None;
    let v2 = envelopes::create_version(&scope, &input).await?;
    assert_eq!((v2.version, v2.created_at), (2, at));
    assert_eq!(
        envelopes::get_active(&scope, &sref).await?,
        Some(v2.clone())
    );
    assert_eq!(
        envelopes::get_version(&scope, &sref, 1).await?,
        Some(v1.clone())
    );
    assert_eq!(envelopes::get_version(&scope, &sref, 3).await?, None);
    assert_eq!(
        envelopes::list_versions(&scope, &sref).await?,
        vec![v1.clone(), v2.clone()]
    );

    envelopes::set_active_version(&scope, &sref, 1).await?;
    assert_eq!(envelopes::get_active(&scope, &sref).await?, Some(v1));
    let v3 = envelopes::create_version(&scope, &input).await?;
    assert_eq!(v3.version, 3, "numbering continues after a rollback");
    assert_eq!(envelopes::get_active(&scope, &sref).await?, Some(v3));

    let missing = SecretRef::parse("sec_none")?;
    assert_eq!(
        code(envelopes::set_active_version(&scope, &sref, 9).await),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        code(envelopes::set_active_version(&scope, &missing, 1).await),
        Some(ErrorCode::NotFound)
    );
    for v in [0, -1] {
        assert_eq!(
            code(envelopes::get_version(&scope, &sref, v).await),
            Some(ErrorCode::ValidationError)
        );
        assert_eq!(
            code(envelopes::set_active_version(&scope, &sref, v).await),
            Some(ErrorCode::ValidationError)
        );
    }
    Ok(())
}

#[tokio::test]
async fn envelope_rules_and_bounds_are_validation_errors_that_never_quote_the_value() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let scope = db.tenant(&a);
    let int = integration(&db, "t_a", "mail").await?;
    let big = "A".repeat(4 * (1_048_576 / 3 + 1));
    let max_ciphertext = base64_of(1_048_576);
    let cases: Vec<(&str, Mutation)> = vec![
        ("key_id", Box::new(|e| e.key_id = "bad key!".into())),
        ("key_id", Box::new(|e| e.key_id = "k".repeat(129))),
        (
            "content_encryption_alg",
            Box::new(|e| e.content_encryption_alg = "A128GCM".into()),
        ),
        (
            "key_encryption_alg",
            Box::new(|e| e.key_encryption_alg = "  ".into()),
        ),
        (
            "wrapped_data_key_b64",
            Box::new(|e| e.wrapped_data_key_b64 = "QR==".into()),
        ),
        (
            "wrapped_data_key_b64",
            Box::new(|e| e.wrapped_data_key_b64 = base64_of(16_385)),
        ),
        ("iv_b64", Box::new(|e| e.iv_b64 = String::new())),
        ("auth_tag_b64", Box::new(|e| e.auth_tag_b64 = " ".into())),
        (
            "ciphertext_b64",
            Box::new(|e| e.ciphertext_b64 = "not base64".into()),
        ),
        (
            "ciphertext_b64",
            Box::new(move |e| e.ciphertext_b64 = big.clone()),
        ),
        ("aad_b64", Box::new(|e| e.aad_b64 = Some(String::new()))),
        ("aad_b64", Box::new(|e| e.aad_b64 = Some(base64_of(16_385)))),
    ];
    for (field, mutate) in &cases {
        let mut input = new_version("sec_x", &int)?;
        mutate(&mut input.envelope);
        let err = envelopes::create_version(&scope, &input)
            .await
            .err()
            .ok_or("accepted an invalid envelope")?;
        assert_eq!(err.code(), ErrorCode::ValidationError, "{field}");
        let text = err.to_string();
        assert!(text.contains(field), "{field}: {text}");
        assert!(text.len() < 200, "the value is not quoted: {field}");
    }
    let mut at_the_bounds = new_version("sec_x", &int)?;
    at_the_bounds.envelope.ciphertext_b64 = max_ciphertext;
    at_the_bounds.envelope.wrapped_data_key_b64 = base64_of(16_384);
    assert_eq!(
        envelopes::create_version(&scope, &at_the_bounds)
            .await?
            .version,
        1
    );
    let written: i64 = test_db
        .admin()
        .await
        .query_one("SELECT count(*) FROM secret_versions", &[])
        .await?
        .get(0);
    assert_eq!(written, 1, "rejected envelopes wrote nothing");
    let strict = serde_json::from_value::<SecretEnvelope>(json!({
        "key_id": "k", "content_encryption_alg": "A256GCM", "key_encryption_alg": "x",
        "wrapped_data_key_b64": "AA==", "iv_b64": "i", "ciphertext_b64": "AA==", "auth_tag_b64": "t",
        "plaintext": "oops"
    }));
    assert!(strict.is_err(), "unknown envelope properties are rejected");
    Ok(())
}

fn base64_of(bytes: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(vec![7_u8; bytes])
}

#[tokio::test]
async fn a_secret_keeps_its_integration_type_and_tenant() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let (sa, sb) = (db.tenant(&a), db.tenant(&b));
    let int = integration(&db, "t_a", "mail").await?;
    let other = integration(&db, "t_a", "chat").await?;
    let int_b = integration(&db, "t_b", "mail").await?;
    envelopes::create_version(&sa, &new_version("sec_1", &int)?).await?;

    assert_eq!(
        code(envelopes::create_version(&sa, &new_version("sec_1", &other)?).await),
        Some(ErrorCode::Conflict)
    );
    let mut retyped = new_version("sec_1", &int)?;
    retyped.secret_type = SecretType::OauthRefreshToken;
    assert_eq!(
        code(envelopes::create_version(&sa, &retyped).await),
        Some(ErrorCode::Conflict)
    );
    // Tenant B cannot see the secret, cannot write to it, and learns nothing about it.
    let sref = SecretRef::parse("sec_1")?;
    assert_eq!(envelopes::get_active(&sb, &sref).await?, None);
    assert!(envelopes::list_versions(&sb, &sref).await?.is_empty());
    assert_eq!(
        code(envelopes::set_active_version(&sb, &sref, 1).await),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        code(envelopes::create_version(&sb, &new_version("sec_1", &int_b)?).await),
        Some(ErrorCode::Conflict)
    );
    // An integration of another tenant (or none) cannot own a secret here.
    assert_eq!(
        code(envelopes::create_version(&sa, &new_version("sec_2", &int_b)?).await),
        Some(ErrorCode::IntegrityViolation)
    );
    assert_eq!(
        envelopes::list_versions(&sa, &sref).await?.len(),
        1,
        "nothing was written by the refused calls"
    );
    Ok(())
}

#[tokio::test]
async fn twenty_concurrent_writers_get_versions_one_to_twenty_and_the_last_is_active() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let int = integration(&db, "t_a", "mail").await?;
    let db = Arc::new(db);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (db, input) = (Arc::clone(&db), new_version("sec_hot", &int)?);
        tasks.push(tokio::spawn(async move {
            let a = tenant("t_a").map_err(|e| e.to_string())?;
            envelopes::create_version(&db.tenant(&a), &input)
                .await
                .map(|v| v.version)
                .map_err(|e| e.to_string())
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await??);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=20).collect::<Vec<i32>>());
    let row = test_db
        .admin()
        .await
        .query_one(
            "SELECT count(*), max(s.active_version), array_agg(v.version ORDER BY v.version)
               FROM secrets s JOIN secret_versions v USING (secret_ref)",
            &[],
        )
        .await?;
    let (n, active, stored): (i64, i32, Vec<i32>) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (n, active),
        (20, 20),
        "one secret, its active version the last"
    );
    assert_eq!(stored, (1..=20).collect::<Vec<i32>>());
    Ok(())
}

fn jwk(kid: &str) -> Res<ManifestKey> {
    Ok(serde_json::from_value(json!({
        "kid": kid, "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "alg": "EdDSA", "use": "sig"
    }))?)
}

fn key(kid: &str, created_at: &str) -> Res<NewManifestSigningKey> {
    Ok(NewManifestSigningKey {
        kid: Kid::parse(kid)?,
        alg: ManifestKeyAlg::EdDSA,
        public_jwk: jwk(kid)?,
        private_key_ref: NonEmptyString::new("private_key_ref", "kms://keys/1")?,
        created_at: Timestamp::parse(created_at)?,
    })
}

#[tokio::test]
async fn manifest_keys_follow_their_lifecycle_with_at_most_one_active() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let sys = db.system();
    let t0 = "2026-11-01T00:00:00.000Z";
    let k1 = manifest_keys::create(&sys, None, &key("mk-1", t0)?).await?;
    assert_eq!(k1.status, ManifestKeyStatus::Retired);
    assert_eq!(k1.retired_at, Some(Timestamp::parse(t0)?));
    assert_eq!((k1.activated_at, k1.revoked_at), (None, None));
    let json = serde_json::to_value(&k1)?;
    assert!(json.get("activated_at").is_none() && json.get("revoked_at").is_none());
    assert_eq!(
        code(manifest_keys::create(&sys, None, &key("mk-1", t0)?).await),
        Some(ErrorCode::UniqueViolation)
    );
    assert_eq!(manifest_keys::get_active(&sys, None).await?, None);

    let (kid1, kid2) = (Kid::parse("mk-1")?, Kid::parse("mk-2")?);
    let t1 = Timestamp::parse("2026-11-02T00:00:00Z")?;
    let active = manifest_keys::set_active(&sys, None, &kid1, t1).await?;
    assert_eq!(
        (active.status, active.activated_at, active.retired_at),
        (ManifestKeyStatus::Active, Some(t1), None)
    );
    manifest_keys::create(&sys, None, &key("mk-2", "2026-11-03T00:00:00Z")?).await?;
    assert_eq!(
        code(manifest_keys::set_active(&sys, None, &kid2, t1).await),
        Some(ErrorCode::UniqueViolation),
        "the active key is not demoted implicitly"
    );

    // Rotation: retire the old key and activate the new one in one transaction.
    let t2 = Timestamp::parse("2026-11-04T00:00:00Z")?;
    let (k1c, k2c, dbc) = (kid1.clone(), kid2.clone(), db.clone());
    run_in_transaction(&sys, None, &TxOptions::DEFAULT, move |tx| {
        let (k1, k2, db) = (k1c.clone(), k2c.clone(), dbc.clone());
        Box::pin(async move {
            let sys = db.system();
            manifest_keys::retire(&sys, Some(&mut *tx), &k1, t2).await?;
            manifest_keys::set_active(&sys, Some(tx), &k2, t2).await
        })
    })
    .await?;
    let now_active = manifest_keys::get_active(&sys, None).await?.ok_or("none")?;
    assert_eq!(now_active.kid, kid2);
    let retired = manifest_keys::retire(&sys, None, &kid1, t2).await?;
    assert_eq!(
        (retired.status, retired.activated_at, retired.retired_at),
        (ManifestKeyStatus::Retired, Some(t1), Some(t2)),
        "retiring keeps activated_at"
    );
    let again = manifest_keys::retire(&sys, None, &kid1, t1).await?;
    assert_eq!(again, retired, "same status: unchanged, nothing written");

    let t3 = Timestamp::parse("2026-11-05T00:00:00Z")?;
    let revoked = manifest_keys::revoke(&sys, None, &kid1, t3).await?;
    assert_eq!(
        (revoked.status, revoked.revoked_at, revoked.retired_at),
        (ManifestKeyStatus::Revoked, Some(t3), Some(t2))
    );
    assert_eq!(
        manifest_keys::revoke(&sys, None, &kid1, t1).await?,
        revoked,
        "revoking twice keeps the first revoked_at"
    );
    assert_eq!(
        code(manifest_keys::retire(&sys, None, &kid1, t3).await),
        Some(ErrorCode::StateTransitionInvalid)
    );
    assert_eq!(
        code(manifest_keys::set_active(&sys, None, &kid1, t3).await),
        Some(ErrorCode::StateTransitionInvalid)
    );
    let ghost = Kid::parse("mk-none")?;
    assert_eq!(
        code(manifest_keys::set_active(&sys, None, &ghost, t3).await),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        code(manifest_keys::revoke(&sys, None, &ghost, t3).await),
        Some(ErrorCode::NotFound)
    );
    // Re-activating the active key rewrites activated_at.
    let re = manifest_keys::set_active(&sys, None, &kid2, t3).await?;
    assert_eq!(re.activated_at, Some(t3));
    Ok(())
}

#[tokio::test]
async fn two_concurrent_activations_of_different_keys_leave_one_active() -> TestResult {
    let (test_db, db) = seeded().await?;
    for round in 0..5 {
        let sys = db.system();
        let kids = [format!("r{round}-a"), format!("r{round}-b")];
        for kid in &kids {
            manifest_keys::create(&sys, None, &key(kid, "2026-11-01T00:00:00Z")?).await?;
        }
        let at = Timestamp::now();
        let (ka, kb) = (Kid::parse(&kids[0])?, Kid::parse(&kids[1])?);
        let (ra, rb) = tokio::join!(
            manifest_keys::set_active(&sys, None, &ka, at),
            manifest_keys::set_active(&sys, None, &kb, at)
        );
        let codes = [code(ra), code(rb)];
        assert!(
            codes.contains(&None) && codes.contains(&Some(ErrorCode::UniqueViolation)),
            "{codes:?}"
        );
        let active: i64 = test_db
            .admin()
            .await
            .query_one(
                "SELECT count(*) FROM manifest_signing_keys WHERE status = 'active'",
                &[],
            )
            .await?
            .get(0);
        assert_eq!(active, 1);
        let winner = manifest_keys::get_active(&sys, None).await?.ok_or("none")?;
        manifest_keys::retire(&sys, None, &winner.kid, at).await?;
    }
    Ok(())
}

#[tokio::test]
async fn public_jwks_are_strict() -> TestResult {
    let good = json!({"kid": "k", "kty": "EC", "crv": "P-256", "x": "x", "y": "y", "alg": "ES256", "use": "sig"});
    assert!(serde_json::from_value::<ManifestKey>(good.clone()).is_ok());
    for (field, value) in [
        ("use", json!("enc")),
        ("kty", json!("RSA")),
        ("crv", json!("P-384")),
        ("alg", json!("RS256")),
        ("extra", json!(1)),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        assert!(
            serde_json::from_value::<ManifestKey>(bad).is_err(),
            "{field}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_keyset_lists_active_then_retired_keys_with_the_stored_etag() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let sys = db.system();
    let etag = WeakEtag::parse("W/\"keys-2026-11-23\"")?;
    let generated = Timestamp::parse("2026-11-23T10:00:00.000Z")?;
    assert_eq!(keyset::list_verification_keys(&sys, None).await?, None);
    assert_eq!(
        code(keyset::persist_metadata(&sys, None, &etag, generated, 60).await),
        Some(ErrorCode::NotFound),
        "no active or retired key yet"
    );
    for (kid, created) in [
        ("old", "2026-01-01T00:00:00Z"),
        ("new", "2026-06-01T00:00:00Z"),
        ("cur", "2026-03-01T00:00:00Z"),
        ("bad", "2026-09-01T00:00:00Z"),
    ] {
        manifest_keys::create(&sys, None, &key(kid, created)?).await?;
    }
    let at = Timestamp::now();
    manifest_keys::set_active(&sys, None, &Kid::parse("cur")?, at).await?;
    manifest_keys::revoke(&sys, None, &Kid::parse("bad")?, at).await?;
    for bad in [29, 301] {
        assert_eq!(
            code(keyset::persist_metadata(&sys, None, &etag, generated, bad).await),
            Some(ErrorCode::ValidationError)
        );
    }
    keyset::persist_metadata(&sys, None, &etag, generated, 60).await?;
    let published = keyset::list_verification_keys(&sys, None)
        .await?
        .ok_or("no keyset")?;
    let kids: Vec<&str> = published
        .manifest_keys
        .keys
        .iter()
        .map(|k| k.kid.as_str())
        .collect();
    assert_eq!(kids, ["cur", "new", "old"], "active first, revoked never");
    assert_eq!(
        serde_json::to_value(&published)?,
        json!({
            "manifest_keys": {"keys": [jwk("cur")?, jwk("new")?, jwk("old")?]},
            "etag": "W/\"keys-2026-11-23\"", "generated_at": "2026-11-23T10:00:00.000Z", "max_age_seconds": 60
        })
    );
    // Overwrite: all three values change.
    let etag2 = WeakEtag::parse("W/\"v2\"")?;
    keyset::persist_metadata(&sys, None, &etag2, at, 300).await?;
    let again = keyset::list_verification_keys(&sys, None)
        .await?
        .ok_or("no keyset")?;
    assert_eq!(
        (again.etag, again.generated_at, again.max_age_seconds),
        (etag2, at, 300)
    );
    for kid in ["cur", "new", "old"] {
        manifest_keys::revoke(&sys, None, &Kid::parse(kid)?, at).await?;
    }
    assert_eq!(
        code(keyset::list_verification_keys(&sys, None).await),
        Some(ErrorCode::NotFound),
        "metadata without any publishable key"
    );
    Ok(())
}

#[test]
fn weak_etags_follow_the_pattern_exactly() {
    for good in ["W/\"a\"", "W/\"keys-2026-11-23\"", "W/\"\"\"", "W/\"ü ∑\""] {
        assert!(WeakEtag::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "\"a\"",
        "W/\"\"",
        "W/a",
        "w/\"a\"",
        " W/\"a\"",
        "W/\"a\" ",
        "W/\"a\nb\"",
        "W/\"a",
    ] {
        assert!(WeakEtag::parse(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn crypto_defaults_fail_closed_until_set_and_stay_per_tenant() -> TestResult {
    let (test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let (sa, sb) = (db.tenant(&a), db.tenant(&b));
    let fresh = crypto_defaults::get(&sa, None).await?;
    assert_eq!(
        (
            fresh.tenant_id.as_str(),
            fresh.require_temporal_validity,
            fresh.max_clock_skew_seconds
        ),
        ("t_a", true, 0)
    );
    let admin = test_db.admin().await;
    let rows: i64 = admin
        .query_one("SELECT count(*) FROM crypto_verification_defaults", &[])
        .await?
        .get(0);
    assert_eq!(rows, 0, "reading the defaults writes nothing");

    for skew in [-1, 301] {
        let update = CryptoDefaultsUpdate {
            require_temporal_validity: false,
            max_clock_skew_seconds: skew,
        };
        assert_eq!(
            code(crypto_defaults::upsert(&sa, None, update).await),
            Some(ErrorCode::ValidationError)
        );
    }
    let update = CryptoDefaultsUpdate {
        require_temporal_validity: false,
        max_clock_skew_seconds: 300,
    };
    let set = crypto_defaults::upsert(&sa, None, update).await?;
    assert_eq!(
        (set.require_temporal_validity, set.max_clock_skew_seconds),
        (false, 300)
    );
    assert_eq!(crypto_defaults::get(&sa, None).await?, set);
    let update = CryptoDefaultsUpdate {
        require_temporal_validity: true,
        max_clock_skew_seconds: 30,
    };
    assert_eq!(
        crypto_defaults::upsert(&sa, None, update)
            .await?
            .max_clock_skew_seconds,
        30
    );
    assert_eq!(
        crypto_defaults::get(&sb, None)
            .await?
            .max_clock_skew_seconds,
        0,
        "tenant B keeps its fail-closed defaults"
    );
    let ghost = tenant("t_ghost")?;
    assert_eq!(
        code(crypto_defaults::upsert(&db.tenant(&ghost), None, update).await),
        Some(ErrorCode::IntegrityViolation)
    );
    assert!(
        serde_json::from_value::<CryptoDefaultsUpdate>(json!({"require_temporal_validity": true}))
            .is_err(),
        "all fields are required"
    );
    Ok(())
}

//! SecretRepository (envelopes, manifest signing keys, keyset ETag, crypto defaults) against
//! real PostgreSQL.

use std::sync::Arc;

use brokerdb::model::Kid;
use brokerdb::prelude::*;
use brokerdb::repo::integrations::{self, CreateOptions, IntegrationWrite, SecretMaterial};
use brokerdb::repo::secrets::{
    CryptoDefaultsUpdate, ManifestKey, ManifestKeyAlg, ManifestKeyStatus, NewManifestSigningKey,
    NewSecretVersion, SecretEnvelope, SecretEnvelopeVersion, SecretType, WeakEtag, crypto_defaults,
    envelopes, keyset, manifest_keys,
};
use serde_json::json;

use crate::assert_code;
use crate::support::{Error, TestResult, code, count_rows, seeded, tenant};

type Res<T> = Result<T, Error>;
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
        integrations::create(&mut db.tenant(&t), &write, &CreateOptions::default())
            .await?
            .integration_id,
    )
}

/// Two versions of `sec_mail` for tenant A: v1 (with AAD, created now), then v2 (created at a
/// given instant), which is active.
struct TwoVersions {
    sref: SecretRef,
    input: NewSecretVersion,
    v1: SecretEnvelopeVersion,
    v2: SecretEnvelopeVersion,
    v2_created_at: Timestamp,
}

async fn two_versions(scope: &mut TenantScope<'_>, int: &IntegrationId) -> Res<TwoVersions> {
    let mut input = new_version(" sec_mail ", int)?;
    input.envelope.aad_b64 = Some("YWFk".into());
    let v1 = envelopes::create_version(scope, &input).await?;
    let at = Timestamp::parse("2026-01-02T03:04:05.678+01:00")?;
    input.created_at = Some(at);
    input.envelope.aad_b64 = None;
    let v2 = envelopes::create_version(scope, &input).await?;
    Ok(TwoVersions {
        sref: SecretRef::parse("sec_mail")?,
        input,
        v1,
        v2,
        v2_created_at: at,
    })
}

#[tokio::test]
async fn each_new_version_is_the_next_number_and_becomes_active() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let int = integration(&db, "t_a", "mail").await?;
    let sref = SecretRef::parse("sec_mail")?;
    assert_eq!(envelopes::get_active(&mut scope, &sref).await?, None);
    assert!(
        envelopes::list_versions(&mut scope, &sref)
            .await?
            .is_empty()
    );

    let TwoVersions {
        v1,
        v2,
        v2_created_at,
        ..
    } = two_versions(&mut scope, &int).await?;
    assert_eq!((v1.version, v1.secret_ref.as_str()), (1, "sec_mail"));
    assert_eq!((v1.tenant_id.as_str(), &v1.integration_id), ("t_a", &int));
    assert_eq!(v1.envelope.aad_b64.as_deref(), Some("YWFk"));
    assert_eq!((v2.version, v2.created_at), (2, v2_created_at));
    assert_eq!(
        envelopes::get_active(&mut scope, &sref).await?,
        Some(v2.clone())
    );
    assert_eq!(
        envelopes::get_version(&mut scope, &sref, 1).await?,
        Some(v1.clone())
    );
    assert_eq!(envelopes::get_version(&mut scope, &sref, 3).await?, None);
    assert_eq!(
        envelopes::list_versions(&mut scope, &sref).await?,
        vec![v1, v2]
    );
    Ok(())
}

#[tokio::test]
async fn an_older_version_can_be_made_active_again_and_numbering_continues_after_it() -> TestResult
{
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let int = integration(&db, "t_a", "mail").await?;
    let TwoVersions {
        sref, input, v1, ..
    } = two_versions(&mut scope, &int).await?;

    envelopes::set_active_version(&mut scope, &sref, 1).await?;
    assert_eq!(envelopes::get_active(&mut scope, &sref).await?, Some(v1));
    let v3 = envelopes::create_version(&mut scope, &input).await?;
    assert_eq!(v3.version, 3, "numbering continues after a rollback");
    assert_eq!(envelopes::get_active(&mut scope, &sref).await?, Some(v3));
    Ok(())
}

#[tokio::test]
async fn activating_a_missing_version_or_secret_is_not_found() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let int = integration(&db, "t_a", "mail").await?;
    let TwoVersions { sref, .. } = two_versions(&mut scope, &int).await?;
    let missing = SecretRef::parse("sec_none")?;
    assert_code!(
        envelopes::set_active_version(&mut scope, &sref, 9).await,
        NotFound
    );
    assert_code!(
        envelopes::set_active_version(&mut scope, &missing, 1).await,
        NotFound
    );
    Ok(())
}

#[tokio::test]
async fn version_numbers_below_one_are_validation_errors() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let int = integration(&db, "t_a", "mail").await?;
    let TwoVersions { sref, .. } = two_versions(&mut scope, &int).await?;
    for v in [0, -1] {
        assert_code!(
            envelopes::get_version(&mut scope, &sref, v).await,
            ValidationError,
            "get_version {v}"
        );
        assert_code!(
            envelopes::set_active_version(&mut scope, &sref, v).await,
            ValidationError,
            "set_active_version {v}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn envelope_rules_and_bounds_are_validation_errors_that_never_quote_the_value() -> TestResult
{
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
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
        let err = envelopes::create_version(&mut scope, &input)
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
        envelopes::create_version(&mut scope, &at_the_bounds)
            .await?
            .version,
        1
    );
    assert_eq!(
        count_rows(&test_db, "secret_versions").await?,
        1,
        "rejected envelopes wrote nothing"
    );
    Ok(())
}

#[test]
fn an_envelope_with_unknown_properties_does_not_deserialize() {
    let strict = serde_json::from_value::<SecretEnvelope>(json!({
        "key_id": "k", "content_encryption_alg": "A256GCM", "key_encryption_alg": "x",
        "wrapped_data_key_b64": "AA==", "iv_b64": "i", "ciphertext_b64": "AA==", "auth_tag_b64": "t",
        "plaintext": "oops"
    }));
    assert!(strict.is_err(), "unknown envelope properties are rejected");
}

fn base64_of(bytes: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(vec![7_u8; bytes])
}

#[tokio::test]
async fn a_secret_keeps_its_integration_and_its_type() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut sa = db.tenant(&a);
    let int = integration(&db, "t_a", "mail").await?;
    let other = integration(&db, "t_a", "chat").await?;
    envelopes::create_version(&mut sa, &new_version("sec_1", &int)?).await?;

    assert_code!(
        envelopes::create_version(&mut sa, &new_version("sec_1", &other)?).await,
        Conflict
    );
    let mut retyped = new_version("sec_1", &int)?;
    retyped.secret_type = SecretType::OauthRefreshToken;
    assert_code!(envelopes::create_version(&mut sa, &retyped).await, Conflict);
    let sref = SecretRef::parse("sec_1")?;
    assert_eq!(
        envelopes::list_versions(&mut sa, &sref).await?.len(),
        1,
        "nothing was written by the refused calls"
    );
    Ok(())
}

#[tokio::test]
async fn another_tenant_can_neither_see_nor_write_a_secret_and_learns_nothing_about_it()
-> TestResult {
    let (_test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let (mut sa, mut sb) = (db.tenant(&a), db.tenant(&b));
    let int = integration(&db, "t_a", "mail").await?;
    let int_b = integration(&db, "t_b", "mail").await?;
    envelopes::create_version(&mut sa, &new_version("sec_1", &int)?).await?;

    let sref = SecretRef::parse("sec_1")?;
    assert_eq!(envelopes::get_active(&mut sb, &sref).await?, None);
    assert!(envelopes::list_versions(&mut sb, &sref).await?.is_empty());
    assert_code!(
        envelopes::set_active_version(&mut sb, &sref, 1).await,
        NotFound
    );
    assert_code!(
        envelopes::create_version(&mut sb, &new_version("sec_1", &int_b)?).await,
        Conflict
    );
    assert_eq!(
        envelopes::list_versions(&mut sa, &sref).await?.len(),
        1,
        "nothing was written by the refused calls"
    );
    Ok(())
}

#[tokio::test]
async fn an_integration_of_another_tenant_cannot_own_a_secret() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut sa = db.tenant(&a);
    let int_b = integration(&db, "t_b", "mail").await?;
    assert_code!(
        envelopes::create_version(&mut sa, &new_version("sec_2", &int_b)?).await,
        IntegrityViolation
    );
    assert!(
        envelopes::list_versions(&mut sa, &SecretRef::parse("sec_2")?)
            .await?
            .is_empty(),
        "nothing was written by the refused call"
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
            envelopes::create_version(&mut db.tenant(&a), &input)
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

/// The instants of the manifest-key lifecycle: created, activated, rotated, revoked.
const T0: &str = "2026-11-01T00:00:00.000Z";
const T1: &str = "2026-11-02T00:00:00Z";
const T2: &str = "2026-11-04T00:00:00Z";
const T3: &str = "2026-11-05T00:00:00Z";

fn at(instant: &str) -> Res<Timestamp> {
    Ok(Timestamp::parse(instant)?)
}

/// `mk-1` created at T0 and active since T1.
async fn active_key(sys: &mut SystemScope<'_>) -> Res<Kid> {
    manifest_keys::create(sys, &key("mk-1", T0)?).await?;
    let kid = Kid::parse("mk-1")?;
    manifest_keys::set_active(sys, &kid, at(T1)?).await?;
    Ok(kid)
}

/// `mk-1` created at T0, active since T1, retired at T2.
async fn retired_key(sys: &mut SystemScope<'_>) -> Res<Kid> {
    let kid = active_key(sys).await?;
    manifest_keys::retire(sys, &kid, at(T2)?).await?;
    Ok(kid)
}

/// `mk-1` created at T0, active since T1, retired at T2, revoked at T3.
async fn revoked_key(sys: &mut SystemScope<'_>) -> Res<Kid> {
    let kid = retired_key(sys).await?;
    manifest_keys::revoke(sys, &kid, at(T3)?).await?;
    Ok(kid)
}

#[tokio::test]
async fn a_new_manifest_key_is_published_as_retired_and_not_active() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    let k1 = manifest_keys::create(&mut sys, &key("mk-1", T0)?).await?;
    assert_eq!(k1.status, ManifestKeyStatus::Retired);
    assert_eq!(k1.retired_at, Some(at(T0)?));
    assert_eq!((k1.activated_at, k1.revoked_at), (None, None));
    let json = serde_json::to_value(&k1)?;
    assert!(json.get("activated_at").is_none() && json.get("revoked_at").is_none());
    assert_eq!(manifest_keys::get_active(&mut sys).await?, None);
    Ok(())
}

#[tokio::test]
async fn a_second_manifest_key_with_the_same_kid_is_a_unique_violation() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    manifest_keys::create(&mut sys, &key("mk-1", T0)?).await?;
    assert_code!(
        manifest_keys::create(&mut sys, &key("mk-1", T0)?).await,
        UniqueViolation
    );
    Ok(())
}

#[tokio::test]
async fn activating_a_manifest_key_stamps_activated_at_and_clears_retired_at() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    manifest_keys::create(&mut sys, &key("mk-1", T0)?).await?;
    let active = manifest_keys::set_active(&mut sys, &Kid::parse("mk-1")?, at(T1)?).await?;
    assert_eq!(
        (active.status, active.activated_at, active.retired_at),
        (ManifestKeyStatus::Active, Some(at(T1)?), None)
    );
    Ok(())
}

#[tokio::test]
async fn activating_a_second_manifest_key_does_not_demote_the_active_one() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    active_key(&mut sys).await?;
    manifest_keys::create(&mut sys, &key("mk-2", "2026-11-03T00:00:00Z")?).await?;
    assert_code!(
        manifest_keys::set_active(&mut sys, &Kid::parse("mk-2")?, at(T1)?).await,
        UniqueViolation,
        "the active key is not demoted implicitly"
    );
    Ok(())
}

#[tokio::test]
async fn rotation_retires_the_old_key_and_activates_the_new_one_in_one_transaction() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    let kid1 = active_key(&mut sys).await?;
    manifest_keys::create(&mut sys, &key("mk-2", "2026-11-03T00:00:00Z")?).await?;
    let kid2 = Kid::parse("mk-2")?;

    let t2 = at(T2)?;
    let (old, new) = (kid1.clone(), kid2.clone());
    db.system()
        .transaction(&TxOptions::DEFAULT, move |tx| {
            let (old, new) = (old.clone(), new.clone());
            Box::pin(async move {
                manifest_keys::retire(tx, &old, t2).await?;
                manifest_keys::set_active(tx, &new, t2).await
            })
        })
        .await?;
    let now_active = manifest_keys::get_active(&mut sys).await?.ok_or("none")?;
    assert_eq!(now_active.kid, kid2);
    let retired = manifest_keys::retire(&mut sys, &kid1, t2).await?;
    assert_eq!(
        (retired.status, retired.activated_at, retired.retired_at),
        (ManifestKeyStatus::Retired, Some(at(T1)?), Some(t2)),
        "retiring keeps activated_at"
    );
    Ok(())
}

#[tokio::test]
async fn retiring_a_retired_manifest_key_returns_it_unchanged() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    let kid = active_key(&mut sys).await?;
    let retired = manifest_keys::retire(&mut sys, &kid, at(T2)?).await?;
    let again = manifest_keys::retire(&mut sys, &kid, at(T1)?).await?;
    assert_eq!(again, retired, "same status: unchanged, nothing written");
    Ok(())
}

#[tokio::test]
async fn revoking_a_manifest_key_stamps_revoked_at_once_and_keeps_retired_at() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    let kid = retired_key(&mut sys).await?;
    let revoked = manifest_keys::revoke(&mut sys, &kid, at(T3)?).await?;
    assert_eq!(
        (revoked.status, revoked.revoked_at, revoked.retired_at),
        (ManifestKeyStatus::Revoked, Some(at(T3)?), Some(at(T2)?))
    );
    assert_eq!(
        manifest_keys::revoke(&mut sys, &kid, at(T1)?).await?,
        revoked,
        "revoking twice keeps the first revoked_at"
    );
    Ok(())
}

#[tokio::test]
async fn a_revoked_manifest_key_can_be_neither_retired_nor_activated() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    let kid = revoked_key(&mut sys).await?;
    assert_code!(
        manifest_keys::retire(&mut sys, &kid, at(T3)?).await,
        StateTransitionInvalid
    );
    assert_code!(
        manifest_keys::set_active(&mut sys, &kid, at(T3)?).await,
        StateTransitionInvalid
    );
    Ok(())
}

#[tokio::test]
async fn activating_or_revoking_an_unknown_manifest_key_is_not_found() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    let ghost = Kid::parse("mk-none")?;
    assert_code!(
        manifest_keys::set_active(&mut sys, &ghost, at(T3)?).await,
        NotFound
    );
    assert_code!(
        manifest_keys::revoke(&mut sys, &ghost, at(T3)?).await,
        NotFound
    );
    Ok(())
}

#[tokio::test]
async fn re_activating_the_active_manifest_key_rewrites_activated_at() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    let kid = active_key(&mut sys).await?;
    let re = manifest_keys::set_active(&mut sys, &kid, at(T3)?).await?;
    assert_eq!(re.activated_at, Some(at(T3)?));
    Ok(())
}

#[tokio::test]
async fn two_concurrent_activations_of_different_keys_leave_one_active() -> TestResult {
    let (test_db, db) = seeded().await?;
    for round in 0..5 {
        let (mut sys, mut sys_a, mut sys_b) = (db.system(), db.system(), db.system());
        let kids = [format!("r{round}-a"), format!("r{round}-b")];
        for kid in &kids {
            manifest_keys::create(&mut sys, &key(kid, "2026-11-01T00:00:00Z")?).await?;
        }
        let at = Timestamp::now();
        let (ka, kb) = (Kid::parse(&kids[0])?, Kid::parse(&kids[1])?);
        let (ra, rb) = tokio::join!(
            manifest_keys::set_active(&mut sys_a, &ka, at),
            manifest_keys::set_active(&mut sys_b, &kb, at)
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
        let winner = manifest_keys::get_active(&mut sys).await?.ok_or("none")?;
        manifest_keys::retire(&mut sys, &winner.kid, at).await?;
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

fn keyset_etag() -> Res<WeakEtag> {
    Ok(WeakEtag::parse("W/\"keys-2026-11-23\"")?)
}

fn keyset_generated_at() -> Res<Timestamp> {
    at("2026-11-23T10:00:00.000Z")
}

/// Four keys: `cur` active, `new` and `old` retired, `bad` revoked (all changed at `at`).
async fn four_keys(sys: &mut SystemScope<'_>, at: Timestamp) -> TestResult {
    for (kid, created) in [
        ("old", "2026-01-01T00:00:00Z"),
        ("new", "2026-06-01T00:00:00Z"),
        ("cur", "2026-03-01T00:00:00Z"),
        ("bad", "2026-09-01T00:00:00Z"),
    ] {
        manifest_keys::create(sys, &key(kid, created)?).await?;
    }
    manifest_keys::set_active(sys, &Kid::parse("cur")?, at).await?;
    manifest_keys::revoke(sys, &Kid::parse("bad")?, at).await?;
    Ok(())
}

/// [`four_keys`] with the keyset metadata persisted (etag, generated at, 60 s).
async fn published_keyset(sys: &mut SystemScope<'_>, at: Timestamp) -> TestResult {
    four_keys(sys, at).await?;
    keyset::persist_metadata(sys, &keyset_etag()?, keyset_generated_at()?, 60).await?;
    Ok(())
}

#[tokio::test]
async fn there_is_no_keyset_before_its_metadata_is_persisted() -> TestResult {
    let (_test_db, db) = seeded().await?;
    assert_eq!(
        keyset::list_verification_keys(&mut db.system()).await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn keyset_metadata_cannot_be_persisted_before_a_key_is_active_or_retired() -> TestResult {
    let (_test_db, db) = seeded().await?;
    assert_code!(
        keyset::persist_metadata(
            &mut db.system(),
            &keyset_etag()?,
            keyset_generated_at()?,
            60
        )
        .await,
        NotFound,
        "no active or retired key yet"
    );
    Ok(())
}

#[tokio::test]
async fn a_keyset_max_age_outside_30_to_300_seconds_is_a_validation_error() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    four_keys(&mut sys, Timestamp::now()).await?;
    for bad in [29, 301] {
        assert_code!(
            keyset::persist_metadata(&mut sys, &keyset_etag()?, keyset_generated_at()?, bad).await,
            ValidationError,
            "{bad}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_keyset_lists_active_then_retired_keys_with_the_stored_etag() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    published_keyset(&mut sys, Timestamp::now()).await?;
    let published = keyset::list_verification_keys(&mut sys)
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
    Ok(())
}

#[tokio::test]
async fn persisting_keyset_metadata_again_overwrites_all_three_values() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    let at = Timestamp::now();
    published_keyset(&mut sys, at).await?;
    let etag2 = WeakEtag::parse("W/\"v2\"")?;
    keyset::persist_metadata(&mut sys, &etag2, at, 300).await?;
    let again = keyset::list_verification_keys(&mut sys)
        .await?
        .ok_or("no keyset")?;
    assert_eq!(
        (again.etag, again.generated_at, again.max_age_seconds),
        (etag2, at, 300)
    );
    Ok(())
}

#[tokio::test]
async fn keyset_metadata_without_any_publishable_key_is_not_found() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let mut sys = db.system();
    let at = Timestamp::now();
    published_keyset(&mut sys, at).await?;
    for kid in ["cur", "new", "old"] {
        manifest_keys::revoke(&mut sys, &Kid::parse(kid)?, at).await?;
    }
    assert_code!(
        keyset::list_verification_keys(&mut sys).await,
        NotFound,
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

fn defaults(require_temporal_validity: bool, max_clock_skew_seconds: i32) -> CryptoDefaultsUpdate {
    CryptoDefaultsUpdate {
        require_temporal_validity,
        max_clock_skew_seconds,
    }
}

#[tokio::test]
async fn crypto_defaults_fail_closed_until_set_and_reading_them_writes_nothing() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let fresh = crypto_defaults::get(&mut db.tenant(&a)).await?;
    assert_eq!(
        (
            fresh.tenant_id.as_str(),
            fresh.require_temporal_validity,
            fresh.max_clock_skew_seconds
        ),
        ("t_a", true, 0)
    );
    assert_eq!(
        count_rows(&test_db, "crypto_verification_defaults").await?,
        0,
        "reading the defaults writes nothing"
    );
    Ok(())
}

#[tokio::test]
async fn a_clock_skew_outside_0_to_300_seconds_is_a_validation_error() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    for skew in [-1, 301] {
        assert_code!(
            crypto_defaults::upsert(&mut db.tenant(&a), defaults(false, skew)).await,
            ValidationError,
            "{skew}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn crypto_defaults_are_set_then_overwritten_and_stay_per_tenant() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let (mut sa, mut sb) = (db.tenant(&a), db.tenant(&b));
    let set = crypto_defaults::upsert(&mut sa, defaults(false, 300)).await?;
    assert_eq!(
        (set.require_temporal_validity, set.max_clock_skew_seconds),
        (false, 300)
    );
    assert_eq!(crypto_defaults::get(&mut sa).await?, set);
    assert_eq!(
        crypto_defaults::upsert(&mut sa, defaults(true, 30))
            .await?
            .max_clock_skew_seconds,
        30
    );
    assert_eq!(
        crypto_defaults::get(&mut sb).await?.max_clock_skew_seconds,
        0,
        "tenant B keeps its fail-closed defaults"
    );
    Ok(())
}

#[tokio::test]
async fn crypto_defaults_of_an_unknown_tenant_are_an_integrity_violation() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let ghost = tenant("t_ghost")?;
    assert_code!(
        crypto_defaults::upsert(&mut db.tenant(&ghost), defaults(true, 30)).await,
        IntegrityViolation
    );
    Ok(())
}

#[test]
fn a_crypto_defaults_update_needs_every_field() {
    assert!(
        serde_json::from_value::<CryptoDefaultsUpdate>(json!({"require_temporal_validity": true}))
            .is_err(),
        "all fields are required"
    );
}

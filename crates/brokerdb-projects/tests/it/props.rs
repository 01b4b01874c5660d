//! Bad input at scale (issue 18, item 6) for the project store: webhook signature headers, the
//! canonical JSON of MCP arguments, stored secret envelopes, ids and labels, and the project
//! fields through `projects::create` on a real database. Each property asserts a typed error or
//! a valid value, never a panic, plus the round trip where one exists.

use brokerdb::repo::tenants;
use brokerdb::scalar::TenantId;
use brokerdb_projects::intake::{SignatureError, github_signature, verify_github_signature};
use brokerdb_projects::mcp_log::{args_hash, canonical_json};
use brokerdb_projects::projects::{self, NewProject};
use brokerdb_projects::{ArtifactType, ProjectId, SecretBytes, SecretKey, WebhookSource};
use brokerdb_testkit::props::{config, config_with, hostile_string, json};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::Value;

proptest! {
    #![proptest_config(config())]

    /// A delivery signed with the secret verifies (header padding tolerated); any other header
    /// is `Missing`, `Malformed` or `Mismatch`, never a panic; one changed hex digit is a
    /// `Mismatch`.
    #[test]
    fn webhook_signatures_verify_exactly(
        secret in prop::collection::vec(any::<u8>(), 1..64),
        payload in prop::collection::vec(any::<u8>(), 0..256),
        header in prop_oneof![hostile_string(), "sha256=[0-9a-fA-F]{0,70}", "[a-z0-9]{0,8}=[0-9a-f]{64}"],
        flip in 0usize..64,
    ) {
        let secret = SecretBytes::new(secret);
        let good = github_signature(&secret, &payload);
        prop_assert!(verify_github_signature(&secret, &payload, Some(&good)).is_ok());
        let padded = format!(" {good}\t");
        prop_assert!(verify_github_signature(&secret, &payload, Some(&padded)).is_ok());
        prop_assert_eq!(verify_github_signature(&secret, &payload, None).err(), Some(SignatureError::Missing));
        let mut bytes = good.into_bytes();
        let at = "sha256=".len() + flip;
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(verify_github_signature(&secret, &payload, Some(&flipped)).err(), Some(SignatureError::Mismatch));
        if let Err(e) = verify_github_signature(&secret, &payload, Some(&header)) {
            prop_assert!(matches!(e, SignatureError::Malformed | SignatureError::Mismatch | SignatureError::Missing));
        }
    }

    /// MCP arguments are hashed over their canonical JSON: it is JSON that parses back to the
    /// same value, canonicalising that again gives the same bytes (idempotent), and key order
    /// of the input does not matter.
    #[test]
    fn canonical_json_is_a_fixed_point(v in json()) {
        let c = canonical_json(&v);
        let back: Value = serde_json::from_str(&c).map_err(|e| TestCaseError::fail(format!("{c}: {e}")))?;
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(canonical_json(&back), c.clone());
        prop_assert_eq!(args_hash(&back), args_hash(&v));
        let reordered: Value = serde_json::from_str(&serde_json::to_string_pretty(&v).map_err(|e| TestCaseError::fail(e.to_string()))?)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(canonical_json(&reordered), c);
    }

    /// A stored secret envelope that is not one this key sealed is a typed error, never a
    /// panic or a secret.
    #[test]
    fn foreign_secret_envelopes_do_not_open(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        prop_assert!(SecretKey::from_bytes([3; 32]).open(&bytes).is_err());
    }

    /// Ids and labels: a typed error, or a value whose text parses to itself.
    #[test]
    fn ids_and_labels_parse_to_fixed_points(s in prop_oneof![hostile_string(), "[ ]?prj_[a-z0-9._-]{0,130}[ ]?", "[a-z_]{1,14}"]) {
        match ProjectId::parse(&s) {
            Ok(id) => prop_assert_eq!(ProjectId::parse(id.as_str()).ok(), Some(id.clone())),
            Err(e) => prop_assert!(!e.field.is_empty()),
        }
        match ArtifactType::parse(&s) {
            Ok(t) => prop_assert_eq!(t.as_str(), s.as_str()),
            Err(e) => prop_assert!(!e.field.is_empty()),
        }
        match WebhookSource::parse(&s) {
            Ok(t) => prop_assert_eq!(t.as_str(), s.as_str()),
            Err(e) => prop_assert!(!e.field.is_empty()),
        }
    }
}

/// Project fields from a client (name, repository URL, config, secret) through
/// `projects::create` on a real database: a `validation_error`, or a project whose stored
/// fields are accepted again unchanged (an `https://` URL with a host, ≤ 2000 characters).
#[test]
fn project_fields_are_validated_or_stored_as_fixed_points() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let test_db = rt.block_on(brokerdb_testkit::database());
    let db = rt.block_on(test_db.db());
    let tenant = TenantId::generate();
    rt.block_on(tenants::create(
        &mut db.system(),
        "Props",
        Some(tenant.clone()),
    ))?;
    let key = SecretKey::random();
    let url = prop_oneof![
        hostile_string(),
        "[ ]?(https|http|HTTPS|ftp)://[a-zA-Z0-9.:@\\[\\]-]{0,30}(/[ -~]{0,20})?[ ]?",
        Just(format!("https://example.com/{}", "a".repeat(1990))),
    ];
    let config = prop_oneof![
        Just(None),
        json().prop_map(|v| match v {
            Value::Object(m) => Some(m),
            other => Some(serde_json::Map::from_iter([("v".to_owned(), other)])),
        }),
    ];
    let secret = proptest::option::of(prop::collection::vec(any::<u8>(), 0..1100));
    let mut runner = TestRunner::new(config_with(300));
    runner
        .run(
            &(hostile_string(), url, config, secret),
            |(name, repo_url, config, secret)| {
                let input = NewProject {
                    name,
                    repo_url,
                    webhook_secret: secret.map(SecretBytes::new),
                    config,
                };
                let created = rt.block_on(projects::create(&mut db.tenant(&tenant), &key, &input));
                match created {
                    Ok(p) => {
                        prop_assert!(
                            p.repo_url.starts_with("https://")
                                && p.repo_url.chars().count() <= 2000
                        );
                        let again = NewProject {
                            name: p.name.clone(),
                            repo_url: p.repo_url.clone(),
                            webhook_secret: None,
                            config: Some(p.config.clone()),
                        };
                        let second = rt
                            .block_on(projects::create(&mut db.tenant(&tenant), &key, &again))
                            .map_err(|e| TestCaseError::fail(format!("{again:?}: {e}")))?;
                        prop_assert_eq!(
                            (&second.name, &second.repo_url, &second.config),
                            (&p.name, &p.repo_url, &p.config)
                        );
                    }
                    Err(e) => {
                        let code = e.as_db().map(|d| d.code().as_str());
                        prop_assert_eq!(code, Some("validation_error"), "{:?}: {}", input, e);
                    }
                }
                Ok(())
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

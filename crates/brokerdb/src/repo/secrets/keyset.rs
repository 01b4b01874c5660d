//! The published verification keyset and its caller-supplied ETag, global (system
//! scope). The keyset is named `manifest_signing`; the module stores the ETag it is given and
//! never computes it.

use serde::{Deserialize, Serialize};

use super::manifest_keys::{ManifestKey, ManifestKeys};
use crate::db::{DbError, SystemExec};
use crate::model::{Timestamp, ValidationError};

const REPO: &str = "manifest_keyset";
const UPSERT: &str =
    "INSERT INTO manifest_keyset_metadata (keyset_name, etag, generated_at, max_age_seconds)
     SELECT 'manifest_signing', $1, $2, $3
      WHERE EXISTS (SELECT 1 FROM manifest_signing_keys WHERE status IN ('active', 'retired'))
     ON CONFLICT (keyset_name) DO UPDATE SET etag = EXCLUDED.etag,
       generated_at = EXCLUDED.generated_at, max_age_seconds = EXCLUDED.max_age_seconds
     RETURNING 1";
const WITH_KEYS: &str = "SELECT m.etag, m.generated_at, m.max_age_seconds,
       (SELECT COALESCE(jsonb_agg(k.public_jwk ORDER BY k.status = 'active' DESC, k.created_at DESC, k.kid), '[]'::jsonb)
          FROM manifest_signing_keys k WHERE k.status IN ('active', 'retired'))
     FROM manifest_keyset_metadata m WHERE m.keyset_name = 'manifest_signing'";

/// A weak HTTP ETag, `^W/".+"$`: `W/"`, at least one character other than a line terminator,
/// then `"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WeakEtag(String);

impl TryFrom<String> for WeakEtag {
    type Error = ValidationError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<WeakEtag> for String {
    fn from(etag: WeakEtag) -> Self {
        etag.0
    }
}

impl WeakEtag {
    /// Validates the pattern exactly (no trimming).
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let inner = s.strip_prefix("W/\"").and_then(|r| r.strip_suffix('"'));
        let is_line_end = |c: char| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
        match inner {
            Some(inner) if !inner.is_empty() && !inner.chars().any(is_line_end) => {
                Ok(Self(s.to_owned()))
            }
            _ => Err(ValidationError::new("etag", "must be a weak ETag: W/\"…\"")),
        }
    }

    /// The ETag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `ManifestVerificationKeysetWithEtag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationKeyset {
    /// Active and retired keys (never revoked): active first, then newest first, then by kid.
    pub manifest_keys: ManifestKeys,
    /// As last persisted.
    pub etag: WeakEtag,
    /// As last persisted.
    pub generated_at: Timestamp,
    /// Cache lifetime, 30..300 s.
    pub max_age_seconds: i32,
}

/// Creates or overwrites the keyset metadata. `max_age_seconds` must be 30..300
/// (`validation_error`); no active or retired key → `not_found`.
pub async fn persist_metadata(
    exec: &mut impl SystemExec,
    etag: &WeakEtag,
    generated_at: Timestamp,
    max_age_seconds: i32,
) -> Result<(), DbError> {
    if !(30..=300).contains(&max_age_seconds) {
        return Err(ValidationError::new("max_age_seconds", "must be an integer 30..300").into());
    }
    exec.op(REPO, "persist_metadata")
        .query_found(
            "active or retired manifest signing key",
            UPSERT,
            &[&etag.as_str(), &generated_at, &max_age_seconds],
            |_| Ok(()),
        )
        .await
}

/// The published keyset with its metadata. No metadata → `None`; metadata but no active or
/// retired key → `not_found`.
pub async fn list_verification_keys(
    exec: &mut impl SystemExec,
) -> Result<Option<VerificationKeyset>, DbError> {
    exec.op(REPO, "list_verification_keys")
        .query_opt(WITH_KEYS, &[], from_row)
        .await?
        .transpose()
}

/// A keyset row: `None` inside when metadata exists but no key does (reported as `not_found`).
fn from_row(row: &tokio_postgres::Row) -> Result<Result<VerificationKeyset, DbError>, DbError> {
    let keys: Vec<ManifestKey> =
        serde_json::from_value(row.try_get(3)?).map_err(|_| DbError::Unexpected {
            message: "stored public JWK violates its contract".into(),
        })?;
    if keys.is_empty() {
        return Ok(Err(DbError::not_found(
            "active or retired manifest signing key",
        )));
    }
    let etag: String = row.try_get(0)?;
    Ok(Ok(VerificationKeyset {
        manifest_keys: ManifestKeys { keys },
        etag: WeakEtag::parse(&etag).map_err(|_| DbError::Unexpected {
            message: "stored etag violates its contract".into(),
        })?,
        generated_at: row.try_get(1)?,
        max_age_seconds: row.try_get(2)?,
    }))
}

//! Manifest signing keys: global records in the system scope, with the lifecycle
//! `retired ⇄ active`, either → `revoked` (terminal). At most one key is active: the partial
//! unique index `uq_manifest_signing_keys_single_active` enforces it, so two concurrent
//! activations of different keys leave exactly one active and the other gets `unique_violation`.
//!
//! Every change is one conditional `UPDATE … WHERE status …`; only when it changes nothing is
//! the row read to tell "missing" from "not allowed" from "already there".

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use crate::db::{DbError, SystemExec};
use crate::model::{Kid, NonEmptyString, Timestamp};
pub use crate::model::{ManifestKeyAlg, ManifestKeyStatus};

const REPO: &str = "manifest_keys";
macro_rules! cols {
    () => {
        "kid, alg::text, public_jwk, private_key_ref, status::text, created_at, activated_at, retired_at, revoked_at"
    };
}
const INSERT: &str = concat!(
    "INSERT INTO manifest_signing_keys (kid, alg, public_jwk, private_key_ref, status, created_at, retired_at) \
     VALUES ($1, $2::text::manifest_signing_algorithm, $3, $4, 'retired', $5, $5) RETURNING ",
    cols!()
);
const ACTIVATE: &str = concat!(
    "UPDATE manifest_signing_keys SET status = 'active', activated_at = $2, retired_at = NULL, revoked_at = NULL \
     WHERE kid = $1 AND status <> 'revoked' RETURNING ",
    cols!()
);
const TRANSITION: &str = concat!(
    "UPDATE manifest_signing_keys SET status = $2::text::manifest_signing_key_status, \
       retired_at = CASE WHEN $2 = 'retired' THEN $3 ELSE retired_at END, \
       revoked_at = CASE WHEN $2 = 'revoked' THEN $3 ELSE revoked_at END \
     WHERE kid = $1 AND status::text <> $2 AND status <> 'revoked' RETURNING ",
    cols!()
);
const BY_KID: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM manifest_signing_keys WHERE kid = $1"
);
const ACTIVE: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM manifest_signing_keys WHERE status = 'active' \
     ORDER BY activated_at DESC, created_at DESC, kid LIMIT 1"
);

/// JWK key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    /// Octet key pair (Ed25519).
    #[serde(rename = "OKP")]
    Okp,
    /// Elliptic curve (P-256).
    #[serde(rename = "EC")]
    Ec,
}

/// JWK curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Curve {
    /// Ed25519.
    Ed25519,
    /// NIST P-256.
    #[serde(rename = "P-256")]
    P256,
}

/// JWK `use`: only signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyUse {
    /// `"sig"`.
    #[serde(rename = "sig")]
    Sig,
}

/// One key of `ManifestKeys` (a public JWK); strict when deserialized, and
/// every value a Rust caller can build is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestKey {
    /// Key id as published.
    pub kid: String,
    /// `OKP` or `EC`.
    pub kty: KeyType,
    /// Curve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<Curve>,
    /// Public x coordinate (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public y coordinate (base64url, EC only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Algorithm.
    pub alg: ManifestKeyAlg,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub key_use: KeyUse,
}

/// `ManifestKeys`: the published verification keyset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestKeys {
    /// Active key first, then retired keys, newest first.
    pub keys: Vec<ManifestKey>,
}

/// Where [`transition`] may move a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTransition {
    /// Stop signing, keep verifying.
    Retire,
    /// Withdraw for good.
    Revoke,
}

impl KeyTransition {
    fn target(self) -> ManifestKeyStatus {
        match self {
            Self::Retire => ManifestKeyStatus::Retired,
            Self::Revoke => ManifestKeyStatus::Revoked,
        }
    }
}

/// Input of [`create`].
#[derive(Debug, Clone)]
pub struct NewManifestSigningKey {
    /// Unique key id.
    pub kid: Kid,
    /// Algorithm.
    pub alg: ManifestKeyAlg,
    /// Public half as published (not cross-checked with `kid`/`alg`, as in the original).
    pub public_jwk: ManifestKey,
    /// Where the private half lives (never the key itself).
    pub private_key_ref: NonEmptyString,
    /// Creation time; also the initial `retired_at`.
    pub created_at: Timestamp,
}

/// `ManifestSigningKeyRecord`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestSigningKeyRecord {
    /// Key id.
    pub kid: Kid,
    /// Algorithm.
    pub alg: ManifestKeyAlg,
    /// Public JWK.
    pub public_jwk: ManifestKey,
    /// Reference to the private key.
    pub private_key_ref: String,
    /// Lifecycle status.
    pub status: ManifestKeyStatus,
    /// Created.
    pub created_at: Timestamp,
    /// Last activation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<Timestamp>,
    /// Last retirement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<Timestamp>,
    /// Revocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

fn unexpected(message: &'static str) -> DbError {
    DbError::Unexpected {
        message: message.into(),
    }
}

fn from_row(row: &Row) -> Result<ManifestSigningKeyRecord, DbError> {
    let alg = ManifestKeyAlg::parse(row.try_get(1)?)
        .map_err(|_| unexpected("unknown manifest key algorithm"))?;
    let jwk: serde_json::Value = row.try_get(2)?;
    Ok(ManifestSigningKeyRecord {
        kid: row.try_get(0)?,
        alg,
        public_jwk: serde_json::from_value(jwk)
            .map_err(|_| unexpected("stored public JWK violates its contract"))?,
        private_key_ref: row.try_get(3)?,
        status: ManifestKeyStatus::parse(row.try_get(4)?)
            .map_err(|_| unexpected("unknown manifest key status"))?,
        created_at: row.try_get(5)?,
        activated_at: row.try_get(6)?,
        retired_at: row.try_get(7)?,
        revoked_at: row.try_get(8)?,
    })
}

/// Records a new key with status `retired` (published for verification, not yet signing) and
/// `retired_at = created_at`. Duplicate kid → `unique_violation`.
pub async fn create(
    exec: &mut impl SystemExec,
    key: &NewManifestSigningKey,
) -> Result<ManifestSigningKeyRecord, DbError> {
    let jwk = serde_json::to_value(&key.public_jwk).map_err(|_| unexpected("JWK encoding"))?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
        &key.kid,
        &key.alg.as_str(),
        &jwk,
        &key.private_key_ref,
        &key.created_at,
    ];
    exec.op(REPO, "create")
        .query_one(INSERT, &params, from_row)
        .await
}

/// Makes a key the active signing key: sets `activated_at`, clears `retired_at`/`revoked_at`.
/// Missing → `not_found`; revoked → `state_transition_invalid`; another key active →
/// `unique_violation` (it is not demoted: retire it and activate this one in one transaction).
pub async fn set_active(
    exec: &mut impl SystemExec,
    kid: &Kid,
    activated_at: Timestamp,
) -> Result<ManifestSigningKeyRecord, DbError> {
    let activated = exec
        .op(REPO, "set_active")
        .query_opt(ACTIVATE, &[kid, &activated_at], from_row)
        .await?;
    if let Some(key) = activated {
        return Ok(key);
    }
    match current(exec, kid).await? {
        None => Err(DbError::not_found("manifest signing key")),
        Some(_) => Err(DbError::StateTransitionInvalid {
            message: "a revoked key cannot be activated".into(),
        }),
    }
}

/// The key as stored, to tell which error a refused change gets (read only then).
async fn current(
    exec: &mut impl SystemExec,
    kid: &Kid,
) -> Result<Option<ManifestSigningKeyRecord>, DbError> {
    exec.op(REPO, "get_by_kid")
        .query_opt(BY_KID, &[kid], from_row)
        .await
}

/// Retires or revokes a key, stamping `retired_at` or `revoked_at` with `at` (other timestamps
/// kept). Missing → `not_found`; revoked → retired is `state_transition_invalid`; already in the
/// target status → returned unchanged, nothing written.
pub async fn transition(
    exec: &mut impl SystemExec,
    kid: &Kid,
    to: KeyTransition,
    at: Timestamp,
) -> Result<ManifestSigningKeyRecord, DbError> {
    let target = to.target();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [kid, &target.as_str(), &at];
    let changed = exec
        .op(REPO, "transition")
        .query_opt(TRANSITION, &params, from_row)
        .await?;
    if let Some(key) = changed {
        return Ok(key);
    }
    match current(exec, kid).await? {
        None => Err(DbError::not_found("manifest signing key")),
        Some(key) if key.status == target => Ok(key),
        Some(_) => Err(DbError::StateTransitionInvalid {
            message: "a revoked key cannot be retired".into(),
        }),
    }
}

/// [`transition`] to `retired`.
pub async fn retire(
    exec: &mut impl SystemExec,
    kid: &Kid,
    retired_at: Timestamp,
) -> Result<ManifestSigningKeyRecord, DbError> {
    transition(exec, kid, KeyTransition::Retire, retired_at).await
}

/// [`transition`] to `revoked`.
pub async fn revoke(
    exec: &mut impl SystemExec,
    kid: &Kid,
    revoked_at: Timestamp,
) -> Result<ManifestSigningKeyRecord, DbError> {
    transition(exec, kid, KeyTransition::Revoke, revoked_at).await
}

/// The active key, or `None`.
pub async fn get_active(
    exec: &mut impl SystemExec,
) -> Result<Option<ManifestSigningKeyRecord>, DbError> {
    exec.op(REPO, "get_active")
        .query_opt(ACTIVE, &[], from_row)
        .await
}

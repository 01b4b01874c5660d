//! Secret envelopes: encrypted secret material, one immutable row per version, with
//! the secret's `active_version` pointing at one of them.
//!
//! Versions are dense per `secret_ref`: a writer takes a transaction-scoped advisory lock on the
//! `secret_ref` before reading the highest version, so concurrent writers queue instead of
//! colliding, and each gets the next number (the original let the loser fail on uniqueness).

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use crate::db::{DbError, Exec, TenantExec, TxOptions};
pub use crate::model::SecretType;
use crate::model::{
    IntegrationId, Kid, SecretRef, TenantId, Timestamp, ValidationError, aad_b64, ciphertext_b64,
    trimmed_non_empty, wrapped_data_key_b64,
};

const REPO: &str = "secrets";
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended('brokerdb.secret:' || $1, 0))";
const OWNER: &str =
    "SELECT integration_id, type::text, (SELECT max(version) FROM secret_versions v WHERE v.secret_ref = s.secret_ref)
     FROM secrets s WHERE secret_ref = $1";
/// Inserts nothing when the integration is not this tenant's, so another tenant's integration
/// is reported as a missing reference (not as a uniqueness clash that would reveal it).
const INSERT_SECRET: &str = "INSERT INTO secrets (secret_ref, tenant_id, integration_id, type, active_version)
     SELECT $1, $2, $3, $4::text::secret_type, $5 WHERE EXISTS (SELECT 1 FROM integrations WHERE integration_id = $3)";
macro_rules! version_cols {
    () => {
        "v.version, v.key_id, v.content_encryption_alg, v.key_encryption_alg, v.wrapped_data_key_b64, v.iv_b64, \
         v.ciphertext_b64, v.auth_tag_b64, v.aad_b64, v.created_at"
    };
}
const INSERT_VERSION: &str = concat!(
    "WITH v AS (INSERT INTO secret_versions (tenant_id, secret_ref, version, key_id, content_encryption_alg, \
       key_encryption_alg, wrapped_data_key_b64, iv_b64, ciphertext_b64, auth_tag_b64, aad_b64, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, COALESCE($12, date_trunc('milliseconds', now()))) RETURNING *), \
     s AS (UPDATE secrets SET active_version = $3 WHERE secret_ref = $2 RETURNING integration_id, type) \
     SELECT s.integration_id, s.type::text, ",
    version_cols!(),
    " FROM v, s"
);
const ACTIVE: &str = concat!(
    "SELECT s.integration_id, s.type::text, ",
    version_cols!(),
    " FROM secrets s JOIN secret_versions v ON v.secret_ref = s.secret_ref AND v.version = s.active_version \
     WHERE s.secret_ref = $1"
);
const ONE_VERSION: &str = concat!(
    "SELECT s.integration_id, s.type::text, ",
    version_cols!(),
    " FROM secrets s JOIN secret_versions v ON v.secret_ref = s.secret_ref \
     WHERE s.secret_ref = $1 AND v.version = $2"
);
const ALL_VERSIONS: &str = concat!(
    "SELECT s.integration_id, s.type::text, ",
    version_cols!(),
    " FROM secrets s JOIN secret_versions v ON v.secret_ref = s.secret_ref \
     WHERE s.secret_ref = $1 ORDER BY v.version"
);
const SET_ACTIVE: &str = "UPDATE secrets s SET active_version = $2 WHERE secret_ref = $1
     AND EXISTS (SELECT 1 FROM secret_versions v WHERE v.secret_ref = $1 AND v.version = $2)";

/// `SecretEnvelope`: AES-256-GCM ciphertext with its wrapped data key. Strict when deserialized.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretEnvelope {
    /// The key-encryption key's id: 1..128 chars of `[A-Za-z0-9._:-]`.
    pub key_id: String,
    /// Always `A256GCM`.
    pub content_encryption_alg: String,
    /// How the data key is wrapped (non-empty).
    pub key_encryption_alg: String,
    /// Base64 of 1..16 384 bytes.
    pub wrapped_data_key_b64: String,
    /// Non-empty.
    pub iv_b64: String,
    /// Base64 of 1..1 048 576 bytes.
    pub ciphertext_b64: String,
    /// Non-empty.
    pub auth_tag_b64: String,
    /// Base64 of 1..16 384 bytes, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_b64: Option<String>,
}

impl std::fmt::Debug for SecretEnvelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretEnvelope")
            .field("key_id", &self.key_id)
            .field("key_encryption_alg", &self.key_encryption_alg)
            .finish_non_exhaustive()
    }
}

impl SecretEnvelope {
    /// Checks the envelope rules (a valid `key_id`, `content_encryption_alg` `A256GCM`, the
    /// other fields non-empty, canonical base64 for the wrapped key, ciphertext and AAD) and the
    /// decoded-size bounds (`MAX_*_BYTES` in [`crate::model`]); the base64 fields are trimmed.
    /// Errors never quote the values.
    pub fn validated(&self) -> Result<Self, ValidationError> {
        let key_id = Kid::parse(&self.key_id)
            .map_err(|e| e.with_field("envelope.key_id"))?
            .into_inner();
        if self.content_encryption_alg != "A256GCM" {
            return Err(ValidationError::new(
                "envelope.content_encryption_alg",
                "must be A256GCM",
            ));
        }
        let nested = |e: ValidationError| {
            let field = format!("envelope.{}", e.field);
            e.with_field(field)
        };
        Ok(Self {
            key_id,
            content_encryption_alg: self.content_encryption_alg.clone(),
            key_encryption_alg: trimmed_non_empty("key_encryption_alg", &self.key_encryption_alg)
                .map_err(nested)?
                .to_owned(),
            wrapped_data_key_b64: wrapped_data_key_b64(&self.wrapped_data_key_b64)
                .map_err(nested)?
                .into_inner(),
            iv_b64: trimmed_non_empty("iv_b64", &self.iv_b64)
                .map_err(nested)?
                .to_owned(),
            ciphertext_b64: ciphertext_b64(&self.ciphertext_b64)
                .map_err(nested)?
                .into_inner(),
            auth_tag_b64: trimmed_non_empty("auth_tag_b64", &self.auth_tag_b64)
                .map_err(nested)?
                .to_owned(),
            aad_b64: self
                .aad_b64
                .as_deref()
                .map(|a| aad_b64(a).map(|p| p.into_inner()))
                .transpose()
                .map_err(nested)?,
        })
    }
}

/// Input of [`create_version`].
#[derive(Debug, Clone)]
pub struct NewSecretVersion {
    /// The secret; created on its first version.
    pub secret_ref: SecretRef,
    /// Owning integration (same tenant; fixed once the secret exists).
    pub integration_id: IntegrationId,
    /// Fixed once the secret exists.
    pub secret_type: SecretType,
    /// The encrypted material.
    pub envelope: SecretEnvelope,
    /// Defaults to now.
    pub created_at: Option<Timestamp>,
}

/// `SecretEnvelopeVersion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretEnvelopeVersion {
    /// The secret.
    pub secret_ref: SecretRef,
    /// Owner tenant.
    pub tenant_id: TenantId,
    /// Owning integration.
    pub integration_id: IntegrationId,
    /// Kind of material.
    pub secret_type: SecretType,
    /// 1, 2, 3, … with no gap.
    pub version: i32,
    /// The encrypted material.
    pub envelope: SecretEnvelope,
    /// When the version was written.
    pub created_at: Timestamp,
}

fn from_row(
    tenant: &TenantId,
    secret_ref: &SecretRef,
    row: &Row,
) -> Result<SecretEnvelopeVersion, DbError> {
    let kind: String = row.try_get(1)?;
    Ok(SecretEnvelopeVersion {
        secret_ref: secret_ref.clone(),
        tenant_id: tenant.clone(),
        integration_id: row.try_get(0)?,
        secret_type: SecretType::parse(&kind).map_err(|_| DbError::Unexpected {
            message: "unknown secret type".into(),
        })?,
        version: row.try_get(2)?,
        envelope: SecretEnvelope {
            key_id: row.try_get(3)?,
            content_encryption_alg: row.try_get(4)?,
            key_encryption_alg: row.try_get(5)?,
            wrapped_data_key_b64: row.try_get(6)?,
            iv_b64: row.try_get(7)?,
            ciphertext_b64: row.try_get(8)?,
            auth_tag_b64: row.try_get(9)?,
            aad_b64: row.try_get(10)?,
        },
        created_at: row.try_get(11)?,
    })
}

fn positive_version(version: i32) -> Result<i32, ValidationError> {
    match version >= 1 {
        true => Ok(version),
        false => Err(ValidationError::new("version", "must be an integer ≥ 1")),
    }
}

/// Writes the next version of a secret and makes it active, atomically (in a transaction of its
/// own on the scope, in the caller's on a [`crate::db::TenantTx`]), creating the secret on its
/// first version. An existing secret with another integration or type, or a `secret_ref` taken
/// by another tenant → `conflict`; unknown integration → `integrity_violation`. Concurrent
/// writers each get the next version: no gap, no duplicate.
pub async fn create_version(
    exec: &mut impl TenantExec,
    input: &NewSecretVersion,
) -> Result<SecretEnvelopeVersion, DbError> {
    let envelope = input.envelope.validated()?;
    let (tenant, input) = (exec.tenant_id().clone(), input.clone());
    exec.op(REPO, "create_version")
        .atomic(&TxOptions::DEFAULT, move |tx| {
            let (tenant, input, e) = (tenant.clone(), input.clone(), envelope.clone());
            Box::pin(async move {
                tx.query(LOCK, &[&input.secret_ref]).await?;
                let next = match tx.query_opt(OWNER, &[&input.secret_ref]).await? {
                    Some(row) => {
                        let (integration, kind): (IntegrationId, String) =
                            (row.try_get(0)?, row.try_get(1)?);
                        if integration != input.integration_id || kind != input.secret_type.as_str()
                        {
                            return Err(DbError::Conflict {
                                message: "the secret belongs to another integration or type".into(),
                            });
                        }
                        row.try_get::<_, Option<i32>>(2)?.unwrap_or(0) + 1
                    }
                    None => {
                        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
                            &input.secret_ref,
                            &tenant,
                            &input.integration_id,
                            &input.secret_type.as_str(),
                            &1_i32,
                        ];
                        let inserted = tx
                            .execute(INSERT_SECRET, &params)
                            .await
                            .map_err(taken_by_another_tenant)?;
                        if inserted == 0 {
                            return Err(DbError::IntegrityViolation {
                                field: "integration_id".into(),
                            });
                        }
                        1
                    }
                };
                let rows = tx
                    .query(
                        INSERT_VERSION,
                        &[
                            &tenant,
                            &input.secret_ref,
                            &next,
                            &e.key_id,
                            &e.content_encryption_alg,
                            &e.key_encryption_alg,
                            &e.wrapped_data_key_b64,
                            &e.iv_b64,
                            &e.ciphertext_b64,
                            &e.auth_tag_b64,
                            &e.aad_b64,
                            &input.created_at,
                        ],
                    )
                    .await?;
                match rows.first() {
                    Some(row) => from_row(&tenant, &input.secret_ref, row),
                    None => Err(DbError::returned_nothing()),
                }
            })
        })
        .await
}

/// `secret_ref` is globally unique: invisible to this tenant's RLS view means another tenant
/// holds it, which is reported as a conflict (nothing is revealed about that tenant).
fn taken_by_another_tenant(err: DbError) -> DbError {
    match err {
        DbError::UniqueViolation { ref field } if field == "secret_ref" => DbError::Conflict {
            message: "the secret_ref is taken".into(),
        },
        other => other,
    }
}

/// The version the secret's `active_version` names, or `None` when the secret is missing.
pub async fn get_active(
    exec: &mut impl TenantExec,
    secret_ref: &SecretRef,
) -> Result<Option<SecretEnvelopeVersion>, DbError> {
    let tenant = exec.tenant_id().clone();
    exec.op(REPO, "get_active")
        .query_opt(ACTIVE, &[secret_ref], |row| {
            from_row(&tenant, secret_ref, row)
        })
        .await
}

/// One version (`version ≥ 1`, else `validation_error`), or `None`.
pub async fn get_version(
    exec: &mut impl TenantExec,
    secret_ref: &SecretRef,
    version: i32,
) -> Result<Option<SecretEnvelopeVersion>, DbError> {
    let version = positive_version(version)?;
    let tenant = exec.tenant_id().clone();
    exec.op(REPO, "get_version")
        .query_opt(ONE_VERSION, &[secret_ref, &version], |row| {
            from_row(&tenant, secret_ref, row)
        })
        .await
}

/// Points `active_version` at an existing version (older ones allowed: rollback), in one
/// conditional statement. Missing secret or version → `not_found`.
pub async fn set_active_version(
    exec: &mut impl TenantExec,
    secret_ref: &SecretRef,
    version: i32,
) -> Result<(), DbError> {
    let version = positive_version(version)?;
    let changed = exec
        .op(REPO, "set_active_version")
        .execute(SET_ACTIVE, &[secret_ref, &version])
        .await?;
    match changed {
        0 => Err(DbError::not_found("secret version")),
        _ => Ok(()),
    }
}

/// Every version of a secret by version ascending (empty when the secret is missing).
pub async fn list_versions(
    exec: &mut impl TenantExec,
    secret_ref: &SecretRef,
) -> Result<Vec<SecretEnvelopeVersion>, DbError> {
    let tenant = exec.tenant_id().clone();
    exec.op(REPO, "list_versions")
        .query_all(ALL_VERSIONS, &[secret_ref], |row| {
            from_row(&tenant, secret_ref, row)
        })
        .await
}

//! Per-tenant crypto verification defaults. A tenant without a row gets the
//! fail-closed defaults: temporal validity required, zero clock skew.

use serde::{Deserialize, Serialize};

use crate::db::{DbError, TenantExec};
use crate::model::{TenantId, ValidationError};

const REPO: &str = "crypto_defaults";
const GET: &str =
    "SELECT require_temporal_validity, max_clock_skew_seconds FROM crypto_verification_defaults";
const UPSERT: &str = "INSERT INTO crypto_verification_defaults (tenant_id, require_temporal_validity, max_clock_skew_seconds)
     VALUES ($1, $2, $3)
     ON CONFLICT (tenant_id) DO UPDATE SET require_temporal_validity = EXCLUDED.require_temporal_validity,
       max_clock_skew_seconds = EXCLUDED.max_clock_skew_seconds
     RETURNING require_temporal_validity, max_clock_skew_seconds";

/// The largest accepted clock skew, in seconds.
pub const MAX_CLOCK_SKEW_SECONDS: i32 = 300;

/// `CryptoVerificationDefaults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CryptoVerificationDefaults {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Reject signatures outside their validity window.
    pub require_temporal_validity: bool,
    /// Tolerated clock skew, 0..300 s.
    pub max_clock_skew_seconds: i32,
}

/// The writable part of [`CryptoVerificationDefaults`]; strict when deserialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CryptoDefaultsUpdate {
    /// Reject signatures outside their validity window.
    pub require_temporal_validity: bool,
    /// Tolerated clock skew, 0..300 s.
    pub max_clock_skew_seconds: i32,
}

/// The tenant's defaults; without a row, the fail-closed defaults (nothing is written).
pub async fn get(exec: &mut impl TenantExec) -> Result<CryptoVerificationDefaults, DbError> {
    let tenant = exec.tenant_id().clone();
    let stored = exec
        .op(REPO, "get")
        .query_opt(GET, &[], |row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .await?;
    let (require_temporal_validity, max_clock_skew_seconds) = stored.unwrap_or((true, 0));
    Ok(CryptoVerificationDefaults {
        tenant_id: tenant,
        require_temporal_validity,
        max_clock_skew_seconds,
    })
}

/// Creates or overwrites the tenant's defaults. Skew outside 0..300 → `validation_error`;
/// unknown tenant → `integrity_violation`.
pub async fn upsert(
    exec: &mut impl TenantExec,
    update: CryptoDefaultsUpdate,
) -> Result<CryptoVerificationDefaults, DbError> {
    if !(0..=MAX_CLOCK_SKEW_SECONDS).contains(&update.max_clock_skew_seconds) {
        return Err(
            ValidationError::new("max_clock_skew_seconds", "must be an integer 0..300").into(),
        );
    }
    let tenant = exec.tenant_id().clone();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [
        &tenant,
        &update.require_temporal_validity,
        &update.max_clock_skew_seconds,
    ];
    exec.op(REPO, "upsert")
        .query_one(UPSERT, &params, |row| {
            Ok(CryptoVerificationDefaults {
                tenant_id: tenant.clone(),
                require_temporal_validity: row.try_get(0)?,
                max_clock_skew_seconds: row.try_get(1)?,
            })
        })
        .await
}

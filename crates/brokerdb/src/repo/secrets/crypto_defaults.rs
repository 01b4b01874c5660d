//! Per-tenant crypto verification defaults (spec §8.4). A tenant without a row gets the
//! fail-closed defaults: temporal validity required, zero clock skew.

use serde::{Deserialize, Serialize};

use crate::db::{DbError, TenantScope, Tx};
use crate::model::{TenantId, ValidationError};
use crate::repo::query_in;

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
/// Tx-capable.
pub async fn get(
    scope: &TenantScope<'_>,
    tx: Option<&mut Tx<'_>>,
) -> Result<CryptoVerificationDefaults, DbError> {
    let rows = scope
        .db()
        .observe(REPO, "get", query_in(scope, tx, GET, &[]))
        .await?;
    let (require_temporal_validity, max_clock_skew_seconds) = match rows.first() {
        Some(row) => (row.try_get(0)?, row.try_get(1)?),
        None => (true, 0),
    };
    Ok(CryptoVerificationDefaults {
        tenant_id: scope.tenant_id().clone(),
        require_temporal_validity,
        max_clock_skew_seconds,
    })
}

/// Creates or overwrites the tenant's defaults. Skew outside 0..300 → `validation_error`;
/// unknown tenant → `integrity_violation`. Tx-capable.
pub async fn upsert(
    scope: &TenantScope<'_>,
    tx: Option<&mut Tx<'_>>,
    update: CryptoDefaultsUpdate,
) -> Result<CryptoVerificationDefaults, DbError> {
    if !(0..=MAX_CLOCK_SKEW_SECONDS).contains(&update.max_clock_skew_seconds) {
        return Err(
            ValidationError::new("max_clock_skew_seconds", "must be an integer 0..300").into(),
        );
    }
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [
        scope.tenant_id(),
        &update.require_temporal_validity,
        &update.max_clock_skew_seconds,
    ];
    let rows = scope
        .db()
        .observe(REPO, "upsert", query_in(scope, tx, UPSERT, &params))
        .await?;
    let row = rows
        .first()
        .ok_or(DbError::not_found("crypto verification defaults"))?;
    Ok(CryptoVerificationDefaults {
        tenant_id: scope.tenant_id().clone(),
        require_temporal_validity: row.try_get(0)?,
        max_clock_skew_seconds: row.try_get(1)?,
    })
}

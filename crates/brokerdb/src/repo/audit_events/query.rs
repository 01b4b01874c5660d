//! The audit query: a tenant's events, newest first, keyset-paged.
//!
//! The query shape is one of five fixed statements, chosen by the most selective equality
//! filter present (workload, integration, action group, decision, or none). Each leads with the
//! columns of one index (`tenant_id, <filter>, timestamp DESC …`), so every filter combination
//! is an index range scan that stops after `limit + 1` rows; the other filters are residual.
//! Optional bounds are never `$n IS NULL OR …` (which a generic plan cannot use as an index
//! condition): absent bounds become `±infinity`, and the cursor is a row comparison
//! `(timestamp, event_id) < ($8, $9)` that starts the scan right after the previous page.

use tokio_postgres::types::Json;

use super::REPO;
use crate::audit::AuditEvent;
use crate::db::paging::{KeysetPage, decode_cursor};
use crate::db::{DbError, TenantExec};
use crate::model::{
    AuditDecision, IntegrationId, NonEmptyString, TenantId, Timestamp, ValidationError, WorkloadId,
};

/// The list a cursor is bound to (with the tenant).
const SORT_TAG: &str = "audit_events:timestamp_desc,event_id_desc";

/// `$1` tenant, `$2`–`$5` optional equality filters, `$6`/`$7` time bounds (inclusive),
/// `$8`/`$9` the cursor (exclusive), `$10` limit. `$driver` repeats one filter as a plain
/// equality so the planner uses that filter's index.
macro_rules! audit_query {
    ($driver:literal) => {
        concat!(
            "SELECT event_json FROM audit_events WHERE tenant_id = $1 ",
            $driver,
            " AND ($2::text IS NULL OR workload_id = $2) AND ($3::text IS NULL OR integration_id = $3) \
             AND ($4::text IS NULL OR action_group = $4) \
             AND ($5::text IS NULL OR decision = $5::text::audit_decision) \
             AND \"timestamp\" >= COALESCE($6, '-infinity'::timestamptz) \
             AND \"timestamp\" <= COALESCE($7, 'infinity'::timestamptz) \
             AND (\"timestamp\", event_id) < (COALESCE($8, 'infinity'::timestamptz), COALESCE($9, ''::text)) \
             ORDER BY \"timestamp\" DESC, event_id DESC LIMIT $10"
        )
    };
}

const BY_TENANT: &str = audit_query!("");
const BY_WORKLOAD: &str = audit_query!("AND workload_id = $2");
/// The statement [`query`] runs when a workload filter is given (public for the bench).
pub const QUERY_BY_WORKLOAD_SQL: &str = BY_WORKLOAD;
const BY_INTEGRATION: &str = audit_query!("AND integration_id = $3");
const BY_ACTION_GROUP: &str = audit_query!("AND action_group = $4");
const BY_DECISION: &str = audit_query!("AND decision = $5::text::audit_decision");

/// `AuditQueryFilter`: every field optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditQueryFilter {
    /// `timestamp ≥ time_min`.
    pub time_min: Option<Timestamp>,
    /// `timestamp ≤ time_max`.
    pub time_max: Option<Timestamp>,
    /// When given, must be the scope's tenant (else `validation_error`).
    pub tenant_id: Option<TenantId>,
    /// Equality filter.
    pub workload_id: Option<WorkloadId>,
    /// Equality filter.
    pub integration_id: Option<IntegrationId>,
    /// Equality filter.
    pub action_group: Option<NonEmptyString>,
    /// Equality filter.
    pub decision: Option<AuditDecision>,
    /// 1..=200, default 100.
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl AuditQueryFilter {
    /// The statement [`query`] runs for this filter combination (module docs). Parameters:
    /// `$1` tenant, `$2` workload, `$3` integration, `$4` action group, `$5` decision,
    /// `$6`/`$7` time bounds, `$8`/`$9` cursor timestamp and event id, `$10` row limit. Public
    /// for EXPLAIN checks and the bench.
    pub fn statement(&self) -> &'static str {
        if self.workload_id.is_some() {
            BY_WORKLOAD
        } else if self.integration_id.is_some() {
            BY_INTEGRATION
        } else if self.action_group.is_some() {
            BY_ACTION_GROUP
        } else if self.decision.is_some() {
            BY_DECISION
        } else {
            BY_TENANT
        }
    }
}

/// Checks `limit` (1..=200, default 100).
pub(crate) fn checked_limit(limit: Option<i64>) -> Result<i64, ValidationError> {
    let limit = limit.unwrap_or(100);
    if (1..=200).contains(&limit) {
        Ok(limit)
    } else {
        Err(ValidationError::new(
            "limit",
            "must be an integer from 1 to 200",
        ))
    }
}

/// A cursor's `(timestamp, event_id)`.
pub(crate) fn cursor_position(
    values: Option<[String; 2]>,
) -> Result<(Option<Timestamp>, Option<String>), ValidationError> {
    match values {
        None => Ok((None, None)),
        Some([at, id]) => Ok((
            Some(Timestamp::parse(&at).map_err(|e| e.with_field("cursor"))?),
            Some(id),
        )),
    }
}

/// The scope's events matching `filter`, ordered `timestamp` desc then `event_id` desc.
///
/// Deviations from the original that close its weaknesses: the tenant is always the scope's (no
/// cross-tenant query); the cursor is HMAC-signed and bound to the tenant, so a tampered,
/// malformed or other-tenant cursor is a `validation_error`; `next_cursor` is present only when
/// another row exists (`limit + 1` is fetched), so a full last page has none.
pub async fn query(
    exec: &mut impl TenantExec,
    filter: &AuditQueryFilter,
) -> Result<KeysetPage<AuditEvent>, DbError> {
    let limit = checked_limit(filter.limit)?;
    let tenant = exec.tenant_id().clone();
    if filter.tenant_id.as_ref().is_some_and(|t| *t != tenant) {
        return Err(ValidationError::new("tenant_id", "does not match the tenant scope").into());
    }
    let key = exec.db().cursor_key().clone();
    let cursor = decode_cursor(&key, tenant.as_str(), SORT_TAG, filter.cursor.as_deref())?;
    let (after_at, after_id) = cursor_position(cursor)?;
    let decision = filter.decision.map(AuditDecision::as_str);
    let fetch = limit + 1;
    let items = exec
        .op(REPO, "query")
        .query_all(
            filter.statement(),
            &[
                &tenant,
                &filter.workload_id,
                &filter.integration_id,
                &filter.action_group,
                &decision,
                &filter.time_min,
                &filter.time_max,
                &after_at,
                &after_id,
                &fetch,
            ],
            |row| {
                // Straight from the jsonb bytes into the contract (no intermediate Value).
                row.try_get::<_, Json<AuditEvent>>(0)
                    .ok()
                    .map(|Json(e)| e)
                    .filter(|e| e.validate().is_ok())
                    .ok_or(DbError::Unexpected {
                        message: "stored audit event violates its contract".into(),
                    })
            },
        )
        .await?;
    Ok(KeysetPage::from_rows(
        &key,
        tenant.as_str(),
        SORT_TAG,
        items,
        limit,
        |e| vec![e.timestamp.to_string(), e.event_id.to_string()],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_selective_filter_drives_the_statement() -> Result<(), ValidationError> {
        let mut f = AuditQueryFilter {
            decision: Some(AuditDecision::Denied),
            ..Default::default()
        };
        assert_eq!(f.statement(), BY_DECISION);
        f.action_group = Some(NonEmptyString::new("action_group", "send")?);
        assert_eq!(f.statement(), BY_ACTION_GROUP);
        f.integration_id = Some(IntegrationId::parse("int_1")?);
        assert_eq!(f.statement(), BY_INTEGRATION);
        f.workload_id = Some(WorkloadId::parse("w_1")?);
        assert_eq!(f.statement(), BY_WORKLOAD);
        assert_eq!(AuditQueryFilter::default().statement(), BY_TENANT);
        Ok(())
    }

    #[test]
    fn limits_outside_1_to_200_are_rejected() {
        assert_eq!(checked_limit(None), Ok(100));
        assert_eq!(checked_limit(Some(200)), Ok(200));
        assert!(checked_limit(Some(0)).is_err());
        assert!(checked_limit(Some(201)).is_err());
    }
}

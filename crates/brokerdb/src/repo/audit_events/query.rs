//! The audit query: a tenant's events, newest first, keyset-paged.
//!
//! Each combination of present filters and cursor is its own statement (a *shape*, see
//! [`crate::db::listing`]), built once from the fixed fragments below: a present filter is one
//! plain bound condition, an absent one is not in the text, and the cursor's row comparison
//! `("timestamp", event_id) < ($n, $m)` is only in the shapes after a cursor. So each filter is an
//! index condition under generic plans too: the unfiltered shapes read
//! `idx_audit_events_tenant_timestamp_event` from the cursor on, and an equality filter reads its
//! own `(tenant_id, <filter>, "timestamp" DESC, event_id DESC)` index (migration 0013), both in
//! the list's order, stopping after `limit + 1` rows.

use tokio_postgres::types::{Json, ToSql};

use super::REPO;
use crate::audit::AuditEvent;
use crate::db::listing::statement;
use crate::db::paging::{KeysetPage, decode_cursor};
use crate::db::{DbError, TenantExec};
use crate::model::{
    AuditDecision, IntegrationId, NonEmptyString, TenantId, Timestamp, ValidationError, WorkloadId,
};

/// The list a cursor is bound to (with the tenant).
const SORT_TAG: &str = "audit_events:timestamp_desc,event_id_desc";

/// The conditions of the optional filters, in parameter order (after `$1`, the tenant); `{}` is
/// the parameter number.
const FILTERS: [&str; 6] = [
    "workload_id = ${}",
    "integration_id = ${}",
    "action_group = ${}",
    "decision = ${}::text::audit_decision",
    "\"timestamp\" >= ${}",
    "\"timestamp\" <= ${}",
];

/// The text of a shape: `present` has bit `i` set when `FILTERS[i]` applies, bit 6 after a
/// cursor.
fn shape(present: u32) -> String {
    let mut sql = String::from("SELECT event_json FROM audit_events WHERE tenant_id = $1");
    let mut n = 2;
    for (i, condition) in FILTERS.iter().enumerate() {
        if present & (1 << i) != 0 {
            sql.push_str(" AND ");
            sql.push_str(&condition.replace("{}", &n.to_string()));
            n += 1;
        }
    }
    if present & (1 << 6) != 0 {
        sql.push_str(&format!(
            " AND (\"timestamp\", event_id) < (${n}::timestamptz, ${}::text)",
            n + 1
        ));
        n += 2;
    }
    sql.push_str(&format!(
        " ORDER BY \"timestamp\" DESC, event_id DESC LIMIT ${n}"
    ));
    sql
}

/// The statement [`query`] runs when only a workload filter is given, on the first page:
/// `$1` tenant, `$2` workload, `$3` the row limit (public for the bench; equal to that shape's
/// text, which a unit test checks).
pub const QUERY_BY_WORKLOAD_SQL: &str = "SELECT event_json FROM audit_events WHERE tenant_id = $1 \
     AND workload_id = $2 ORDER BY \"timestamp\" DESC, event_id DESC LIMIT $3";

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
    /// The shape bits: which of workload, integration, action group, decision, `time_min`,
    /// `time_max` and cursor are present.
    fn present(&self) -> u32 {
        [
            self.workload_id.is_some(),
            self.integration_id.is_some(),
            self.action_group.is_some(),
            self.decision.is_some(),
            self.time_min.is_some(),
            self.time_max.is_some(),
            self.cursor.is_some(),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, on)| u32::from(on) << i)
        .sum()
    }

    /// The statement [`query`] runs for this filter (module docs). Parameters: `$1` the tenant,
    /// then each present filter in the order workload, integration, action group, decision,
    /// `time_min`, `time_max`; then, with a cursor, its timestamp and event id; last the row
    /// limit (`limit + 1`). Public for plan guards and benchmarks.
    pub fn statement(&self) -> &'static str {
        let present = self.present();
        statement("audit_events", present, || shape(present))
    }
}

pub(crate) use crate::db::paging::{checked_limit, timestamp_cursor as cursor_position};

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
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant];
    let optional: [Option<&(dyn ToSql + Sync)>; 8] = [
        filter.workload_id.as_ref().map(|v| v as _),
        filter.integration_id.as_ref().map(|v| v as _),
        filter.action_group.as_ref().map(|v| v as _),
        decision.as_ref().map(|v| v as _),
        filter.time_min.as_ref().map(|v| v as _),
        filter.time_max.as_ref().map(|v| v as _),
        after_at.as_ref().map(|v| v as _),
        after_id.as_ref().map(|v| v as _),
    ];
    params.extend(optional.into_iter().flatten());
    params.push(&fetch);
    let items = exec
        .op(REPO, "query")
        .query_all(filter.statement(), &params, |row| {
            // Straight from the jsonb bytes into the contract (no intermediate Value).
            row.try_get::<_, Json<AuditEvent>>(0)
                .ok()
                .map(|Json(e)| e)
                .filter(|e| e.validate().is_ok())
                .ok_or(DbError::Unexpected {
                    message: "stored audit event violates its contract".into(),
                })
        })
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
    fn each_present_filter_is_one_bound_condition_and_the_cursor_only_after_one()
    -> Result<(), ValidationError> {
        assert_eq!(
            AuditQueryFilter::default().statement(),
            "SELECT event_json FROM audit_events WHERE tenant_id = $1 \
             ORDER BY \"timestamp\" DESC, event_id DESC LIMIT $2"
        );
        let f = AuditQueryFilter {
            integration_id: Some(IntegrationId::parse("int_1")?),
            decision: Some(AuditDecision::Denied),
            time_max: Some(Timestamp::parse("2026-01-01T00:00:00.000Z")?),
            cursor: Some("c".into()),
            ..Default::default()
        };
        assert_eq!(
            f.statement(),
            "SELECT event_json FROM audit_events WHERE tenant_id = $1 AND integration_id = $2 \
             AND decision = $3::text::audit_decision AND \"timestamp\" <= $4 \
             AND (\"timestamp\", event_id) < ($5::timestamptz, $6::text) \
             ORDER BY \"timestamp\" DESC, event_id DESC LIMIT $7"
        );
        for bits in 0..128 {
            assert!(!shape(bits).contains("IS NULL"), "{}", shape(bits));
        }
        Ok(())
    }

    #[test]
    fn the_bench_statement_is_the_workload_shape() -> Result<(), ValidationError> {
        let f = AuditQueryFilter {
            workload_id: Some(WorkloadId::parse("w_1")?),
            ..Default::default()
        };
        assert_eq!(f.statement(), QUERY_BY_WORKLOAD_SQL);
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

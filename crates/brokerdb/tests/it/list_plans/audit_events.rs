//! Plan guards of the audit query at a million events in a tenant: every combination of the
//! equality filters, the time bounds and the cursor.

use brokerdb::model::{AuditDecision, Timestamp};
use brokerdb::repo::audit_events::AuditQueryFilter;

use super::{As, Check, Failures, Mode, ORDERED_PAGE, TENANT_RUNS, connect, explain};
use crate::TestResult;

/// The filter of shape `bits` in `tenant` (bit 0 workload, 1 integration, 2 action group, 3 decision,
/// 4 `time_min`, 5 `time_max`, 6 cursor) and its parameter values, in the statement's order.
fn case(
    tenant: &'static str,
    bits: u32,
) -> Result<(AuditQueryFilter, Vec<&'static str>), crate::support::Error> {
    let on = |i: u32| bits & (1 << i) != 0;
    let mut params = vec![tenant];
    let mut f = AuditQueryFilter::default();
    if on(0) {
        f.workload_id = Some("w_17".parse()?);
        params.push("w_17");
    }
    if on(1) {
        f.integration_id = Some("int_5".parse()?);
        params.push("int_5");
    }
    if on(2) {
        f.action_group = Some("grp_3".parse()?);
        params.push("grp_3");
    }
    if on(3) {
        f.decision = Some(AuditDecision::Denied);
        params.push("denied");
    }
    if on(4) {
        f.time_min = Some(Timestamp::parse("2024-03-01T00:00:00.000Z")?);
        params.push("2024-03-01T00:00:00.000Z");
    }
    if on(5) {
        f.time_max = Some(Timestamp::parse("2024-09-01T00:00:00.000Z")?);
        params.push("2024-09-01T00:00:00.000Z");
    }
    if on(6) {
        // Only the presence of a cursor picks the shape; the values are bound below.
        f.cursor = Some("cursor".into());
        params.extend(["2024-06-01T00:00:00.000Z", "evt_500000"]);
    }
    params.push("101");
    Ok((f, params))
}

#[tokio::test]
async fn every_audit_query_shape_reads_an_index_in_order_under_custom_and_generic_plans()
-> TestResult {
    let mut failures = Failures::default();
    for (mode, tenant) in TENANT_RUNS {
        let client = connect(As::Tenant(tenant)).await?;
        for bits in 0..128 {
            let (filter, params) = case(tenant, bits)?;
            let plan = explain(&client, mode, filter.statement(), &params).await?;
            failures.check(&plan, ORDERED_PAGE);
            let equalities: Vec<&str> =
                ["workload_id", "integration_id", "action_group", "decision"]
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| bits & (1 << i) != 0)
                    .map(|(_, column)| column)
                    .collect();
            if !equalities.is_empty() {
                failures.expect(&plan, plan.index_cond_on_any(&equalities));
            }
        }
    }
    failures.assert_none("the audit query");
    Ok(())
}

#[tokio::test]
async fn the_sealers_claim_reads_each_unsealed_row_by_its_key() -> TestResult {
    // The scale database's million events are all unsealed (the sealer is never run on it), and
    // from horizon 0 every one of them qualifies: a plan that scans the events or the seals
    // would make each batch cost O(table) (a claim by hash joins did: ~12,000 rows/s at 360,000
    // events).
    let client = connect(As::System).await?;
    let mut failures = Failures::default();
    for mode in [Mode::Custom, Mode::Generic] {
        let plan = explain(
            &client,
            mode,
            brokerdb::audit::SEAL_CLAIM_TENANT_SQL,
            &["0", "5000", "18446744073709551615"],
        )
        .await?;
        failures.check(&plan, &[Check::NoSeqScan]);
    }
    failures.assert_none("the sealer's claim");
    Ok(())
}
